//! How text becomes terms: one analyzer per purpose, registered on every tenant index.

use std::cell::RefCell;
use std::collections::HashMap;

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, TextAnalyzer, TokenStream as _,
};

/// Lowercased, ASCII-folded ("café" -> "cafe") and stemmed in the store's language.
pub(crate) const CATALOG_ANALYZER: &str = "catalog";
/// Lowercased and folded, not stemmed: whole words, for spelling corrections.
pub(crate) const WORDS_ANALYZER: &str = "catalog_words";
/// A whole SKU as one lowercased token.
pub(crate) const SKU_ANALYZER: &str = "catalog_sku";

/// The stemming language for a store locale such as `en`, `de-CH` or `fr_FR`; English for
/// anything unknown.
pub fn language_for_locale(locale: &str) -> Language {
    let code = locale
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match code.as_str() {
        "ar" => Language::Arabic,
        "da" => Language::Danish,
        "nl" => Language::Dutch,
        "fi" => Language::Finnish,
        "fr" => Language::French,
        "de" => Language::German,
        "el" => Language::Greek,
        "hu" => Language::Hungarian,
        "it" => Language::Italian,
        "no" | "nb" | "nn" => Language::Norwegian,
        "pt" => Language::Portuguese,
        "ro" => Language::Romanian,
        "ru" => Language::Russian,
        "es" => Language::Spanish,
        "sv" => Language::Swedish,
        "ta" => Language::Tamil,
        "tr" => Language::Turkish,
        _ => Language::English,
    }
}

/// The two-letter code stored with an index, the inverse of [`language_for_locale`].
pub(crate) fn language_code(language: Language) -> &'static str {
    match language {
        Language::Arabic => "ar",
        Language::Danish => "da",
        Language::Dutch => "nl",
        Language::English => "en",
        Language::Finnish => "fi",
        Language::French => "fr",
        Language::German => "de",
        Language::Greek => "el",
        Language::Hungarian => "hu",
        Language::Italian => "it",
        Language::Norwegian => "no",
        Language::Portuguese => "pt",
        Language::Romanian => "ro",
        Language::Russian => "ru",
        Language::Spanish => "es",
        Language::Swedish => "sv",
        Language::Tamil => "ta",
        Language::Turkish => "tr",
    }
}

fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

pub(crate) fn catalog_analyzer(language: Language) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(language))
        .build()
}

/// Registers the analyzers the schema names; `language` chooses the stemmer.
pub(crate) fn register(index: &Index, language: Language) {
    let tokenizers = index.tokenizers();
    tokenizers.register(CATALOG_ANALYZER, catalog_analyzer(language));
    tokenizers.register(WORDS_ANALYZER, words_analyzer());
    tokenizers.register(
        SKU_ANALYZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

/// One word of a query or a document, as typed and as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// Byte range in the analysed text.
    pub from: usize,
    pub to: usize,
    /// Lowercased and folded, not stemmed.
    pub folded: String,
    /// As the catalog analyzer indexes it.
    pub stem: String,
}

/// One thread's analyzers for a language, with the stems it has worked out.
struct Analyzers {
    folder: TextAnalyzer,
    stemmer: TextAnalyzer,
    /// Stem of each folded word seen: a catalog's words recur from hit to hit and query to
    /// query, and stemming is the dearest part of analysis.
    stems: HashMap<String, String>,
}

/// Folded words whose stems a thread keeps at most per language; past it, it starts over.
const STEMS_KEPT: usize = 50_000;

thread_local! {
    /// Analyzers are cheap to run and comparatively dear to build: one set per thread.
    static ANALYZERS: RefCell<HashMap<&'static str, Analyzers>> = RefCell::new(HashMap::new());
}

/// Splits `text` into words, each with its folded and stemmed form.
pub(crate) fn words(language: Language, text: &str) -> Vec<Word> {
    ANALYZERS.with(|cell| {
        let mut analyzers = cell.borrow_mut();
        let Analyzers {
            folder,
            stemmer,
            stems,
        } = analyzers
            .entry(language_code(language))
            .or_insert_with(|| Analyzers {
                folder: words_analyzer(),
                stemmer: catalog_analyzer(language),
                stems: HashMap::new(),
            });
        let mut found = Vec::new();
        let mut stream = folder.token_stream(text);
        while let Some(token) = stream.next() {
            let folded = token.text.clone();
            // The stemming analyzer splits, lowercases and folds as the folder does, so a
            // folded word goes through it as one token: its stem is the word's.
            let stem = match stems.get(&folded) {
                Some(stem) => stem.clone(),
                None => {
                    let mut stem = folded.clone();
                    let mut one = stemmer.token_stream(&folded);
                    if let Some(t) = one.next() {
                        stem.clone_from(&t.text);
                    }
                    if stems.len() >= STEMS_KEPT {
                        stems.clear();
                    }
                    stems.insert(folded.clone(), stem.clone());
                    stem
                }
            };
            found.push(Word {
                from: token.offset_from,
                to: token.offset_to,
                stem,
                folded,
            });
        }
        found
    })
}

/// Edits a word of this many characters may contain and still match: none below 4
/// characters, one from 4, two from 8.
pub(crate) fn allowed_typos(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions costing one),
/// the metric the fuzzy queries use.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Whether a word of a text could be `typed` mistyped, or (for the word being typed) the
/// start of one: the rule the queries apply ([`allowed_typos`] edits, adjacent
/// transpositions counting one), reused to decide what to highlight. Built once per query
/// word: each test is then a walk of a Levenshtein automaton over the word's bytes.
pub(crate) struct WordMatcher {
    typed: String,
    prefix: bool,
    /// None when no typo is allowed: only the word itself (or, as a prefix, its start).
    automaton: Option<levenshtein_automata::DFA>,
}

impl WordMatcher {
    /// Matches words within `typed`'s allowed typos of it; with `prefix`, words whose start
    /// is.
    pub(crate) fn new(typed: &str, prefix: bool) -> Self {
        let allowed = allowed_typos(typed);
        let automaton = (allowed > 0).then(|| {
            let builder = crate::fuzzy::levenshtein(allowed);
            if prefix {
                builder.build_prefix_dfa(typed)
            } else {
                builder.build_dfa(typed)
            }
        });
        Self {
            typed: typed.to_owned(),
            prefix,
            automaton,
        }
    }

    /// Whether `indexed` matches.
    pub(crate) fn matches(&self, indexed: &str) -> bool {
        if indexed == self.typed || (self.prefix && indexed.starts_with(&self.typed)) {
            return true;
        }
        self.automaton
            .as_ref()
            .is_some_and(|a| matches!(a.eval(indexed), levenshtein_automata::Distance::Exact(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_stemmed() {
        let w = words(Language::English, "Café Running-Shoes");
        let folded: Vec<&str> = w.iter().map(|w| w.folded.as_str()).collect();
        let stems: Vec<&str> = w.iter().map(|w| w.stem.as_str()).collect();
        assert_eq!(folded, ["cafe", "running", "shoes"]);
        assert_eq!(stems, ["cafe", "run", "shoe"]);
        assert_eq!(&"Café Running-Shoes"[w[0].from..w[0].to], "Café");
    }

    #[test]
    fn stems_are_the_indexs_own_however_often_a_word_comes_back() {
        // The stems the index stores for a text, token by token.
        let index_stems = |language: Language, text: &str| {
            let mut analyzer = catalog_analyzer(language);
            let mut stream = analyzer.token_stream(text);
            let mut out = Vec::new();
            while let Some(t) = stream.next() {
                out.push(t.text.clone());
            }
            out
        };
        let texts = [
            (
                Language::English,
                "Happiness: dying, lying; ÉCOLE généralement running runs",
            ),
            (
                Language::French,
                "Chaussures généralement élégantes, chaussure élégante",
            ),
            (Language::German, "Häuser Haus Hausschuhe 123abc"),
        ];
        for _ in 0..2 {
            for (language, text) in texts {
                let stems: Vec<String> =
                    words(language, text).into_iter().map(|w| w.stem).collect();
                assert_eq!(stems, index_stems(language, text), "{text}");
            }
        }
    }

    #[test]
    fn typo_allowance_grows_with_length() {
        assert_eq!(allowed_typos("mug"), 0);
        assert_eq!(allowed_typos("mugs"), 1);
        assert_eq!(allowed_typos("notebook"), 2);
    }

    #[test]
    fn transpositions_cost_one() {
        assert_eq!(edit_distance("iphnoe", "iphone"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert!(WordMatcher::new("iphno", false).matches("iphon"));
        assert!(WordMatcher::new("ipho", true).matches("iphon"));
        assert!(WordMatcher::new("ipho", true).matches("iphone"));
        assert!(WordMatcher::new("ihpo", true).matches("iphone"));
        assert!(!WordMatcher::new("ihpo", false).matches("iphone"));
        assert!(!WordMatcher::new("mug", false).matches("mud"));
        assert!(WordMatcher::new("mug", true).matches("mugs"));
        assert!(!WordMatcher::new("notebook", false).matches("nightbook"));
        assert!(WordMatcher::new("notebook", false).matches("ntoebok"));
    }

    #[test]
    fn locales_choose_stemmers() {
        assert_eq!(language_for_locale("de-CH"), Language::German);
        assert_eq!(language_for_locale("fr_FR"), Language::French);
        assert_eq!(language_for_locale("xx"), Language::English);
        assert_eq!(language_code(language_for_locale("sv")), "sv");
    }
}
