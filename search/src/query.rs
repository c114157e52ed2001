//! Catalog queries: typo-tolerant, prefix-aware words, exact SKUs, filters, facet counts,
//! sorting, highlighting and "did you mean".

use std::collections::HashMap;
use std::ops::Bound;

use tantivy::collector::{
    Collector, Count, FacetCollector, FacetCounts, SegmentCollector, TopDocs,
};
use tantivy::columnar::Column;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Facet, IndexRecordOption, Value as _};
use tantivy::tokenizer::Language;
use tantivy::{DocAddress, DocId, Order, Score, SegmentReader, TantivyDocument, Term};

use crate::analysis::{Word, WordMatcher, allowed_typos, edit_distance, words};
use crate::fuzzy::{FuzzyWords, Within, levenshtein};
use crate::{SearchError, TenantIndex};

/// Upper bounds (exclusive, minor units) of the price ranges counted for every search; the
/// last range has no upper bound.
pub const PRICE_BUCKET_BOUNDS: [i64; 4] = [2_500, 5_000, 10_000, 20_000];

/// Most words of a query that are looked at; the rest are ignored.
const MAX_QUERY_WORDS: usize = 8;

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (newest first when there is no query).
    #[default]
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Most recently created first.
    Newest,
}

impl Sort {
    /// Parses the `sort` parameter: `relevance`, `price-asc`, `price-desc`, `newest`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "relevance" | "" => Some(Self::Relevance),
            "price-asc" => Some(Self::PriceAsc),
            "price-desc" => Some(Self::PriceDesc),
            "newest" => Some(Self::Newest),
            _ => None,
        }
    }

    /// The parameter value, the inverse of [`Sort::parse`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevance => "relevance",
            Self::PriceAsc => "price-asc",
            Self::PriceDesc => "price-desc",
            Self::Newest => "newest",
        }
    }
}

/// A price range in minor units: `min` inclusive, `max` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriceRange {
    /// Lowest price included.
    pub min: Option<i64>,
    /// Prices from this one up are excluded.
    pub max: Option<i64>,
}

impl PriceRange {
    /// Parses `min-max` in minor units, either side optional (`-2500`, `20000-`).
    pub fn parse(s: &str) -> Option<Self> {
        let (min, max) = s.split_once('-')?;
        let side = |v: &str| -> Option<Option<i64>> {
            let v = v.trim();
            if v.is_empty() {
                Some(None)
            } else {
                v.parse::<i64>().ok().filter(|n| *n >= 0).map(Some)
            }
        };
        let range = Self {
            min: side(min)?,
            max: side(max)?,
        };
        (range.min.is_some() || range.max.is_some()).then_some(range)
    }

    /// The parameter value, the inverse of [`PriceRange::parse`].
    pub fn as_param(&self) -> String {
        let side = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        format!("{}-{}", side(self.min), side(self.max))
    }
}

/// Merchant-defined synonyms: groups of words or phrases that find each other.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    by_word: HashMap<String, Vec<String>>,
}

impl Synonyms {
    /// Builds the lookup from groups such as `["tee", "t-shirt"]`; every member of a group
    /// finds the products matching any other.
    pub fn new(groups: &[Vec<String>]) -> Self {
        let mut by_word: HashMap<String, Vec<String>> = HashMap::new();
        for group in groups {
            for member in group {
                let key = fold(member);
                if key.is_empty() {
                    continue;
                }
                let others = by_word.entry(key.clone()).or_default();
                for other in group {
                    let other = fold(other);
                    if other != key && !other.is_empty() && !others.contains(&other) {
                        others.push(other);
                    }
                }
            }
        }
        Self { by_word }
    }

    fn of(&self, folded: &str) -> &[String] {
        self.by_word.get(folded).map_or(&[], Vec::as_slice)
    }
}

fn fold(text: &str) -> String {
    words(Language::English, text)
        .into_iter()
        .map(|w| w.folded)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Narrowing of the results; each is also a facet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only products in the collection with this handle.
    pub collection: Option<String>,
    /// Only this vendor (exact).
    pub vendor: Option<String>,
    /// Only this product type (exact).
    pub product_type: Option<String>,
    /// Only prices in this range.
    pub price: Option<PriceRange>,
    /// Only products that can be bought now.
    pub in_stock: bool,
}

/// One search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// What the shopper typed.
    pub query: String,
    /// Filters.
    pub filters: Filters,
    /// Drafts and archived products too (admin only).
    pub include_unpublished: bool,
    /// Order.
    pub sort: Sort,
    /// Results skipped (pagination).
    pub offset: usize,
    /// Results returned (at least 1).
    pub limit: usize,
    /// Count facets.
    pub facets: bool,
    /// Highlight titles and cut description snippets.
    pub highlight: bool,
    /// Suggest a corrected query when nothing matches.
    pub correct: bool,
}

/// One matching product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Product id.
    pub product_id: String,
    /// URL handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Title as HTML with matched words in `<mark>` (escaped; empty unless highlighting).
    pub title_html: String,
    /// Part of the description around the first match, as escaped HTML with `<mark>`.
    pub snippet_html: String,
    /// Vendor.
    pub vendor: String,
    /// Lowest price in minor units.
    pub price_minor: i64,
    /// Whether it can be bought now.
    pub in_stock: bool,
}

/// A facet value and how many results have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    /// The value (collection handle, vendor, type).
    pub value: String,
    /// Matching results with it.
    pub count: u64,
}

/// A price range and how many results fall in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceCount {
    /// The range.
    pub range: PriceRange,
    /// Matching results in it.
    pub count: u64,
}

/// Counts per facet value over all results (not just the page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Per collection handle, most first.
    pub collections: Vec<FacetCount>,
    /// Per vendor, most first.
    pub vendors: Vec<FacetCount>,
    /// Per product type, most first.
    pub types: Vec<FacetCount>,
    /// Per price range, cheapest first (empty ranges included).
    pub prices: Vec<PriceCount>,
    /// Results in stock.
    pub in_stock: u64,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// All matches.
    pub total: usize,
    /// The requested page.
    pub hits: Vec<Hit>,
    /// Counts, when requested.
    pub facets: Facets,
    /// A corrected query that has results, when this one had none.
    pub correction: Option<String>,
}

/// Runs `request` against one tenant's index.
pub fn search(
    index: &TenantIndex,
    request: &SearchRequest,
    synonyms: &Synonyms,
) -> Result<SearchResults, SearchError> {
    let language = index.language();
    let typed = query_words(language, &request.query);
    let query = build_query(
        index,
        &request.query,
        &typed,
        &request.filters,
        request.include_unpublished,
        synonyms,
    );
    let searcher = index.searcher();
    let limit = request.limit.max(1);
    let top = TopDocs::with_limit(limit).and_offset(request.offset);
    let facets = FacetCounters::new(request.facets);
    let sort = match request.sort {
        Sort::Relevance if typed.is_empty() => Sort::Newest,
        other => other,
    };
    let (addresses, (total, counts)) = match sort {
        Sort::Relevance => {
            // Equal scores go newest first, so the order does not depend on how documents
            // happen to be laid out in segments (an index rebuilt from scratch ranks alike).
            let top = top.tweak_score(|segment: &SegmentReader| {
                let created = segment.fast_fields().date("created_at").ok();
                move |doc: DocId, score: Score| {
                    let micros = created
                        .as_ref()
                        .and_then(|c| c.first(doc))
                        .map_or(0, |d| d.into_timestamp_micros());
                    (score, micros)
                }
            });
            let (top, rest) = searcher.search(&query, &(top, (Count, facets)))?;
            (top.into_iter().map(|(_, a)| a).collect::<Vec<_>>(), rest)
        }
        Sort::PriceAsc | Sort::PriceDesc => {
            let order = if sort == Sort::PriceAsc {
                Order::Asc
            } else {
                Order::Desc
            };
            let top = top.order_by_fast_field::<i64>("price_minor", order);
            let (top, rest) = searcher.search(&query, &(top, (Count, facets)))?;
            (top.into_iter().map(|(_, a)| a).collect(), rest)
        }
        Sort::Newest => {
            let top = top.order_by_fast_field::<tantivy::DateTime>("created_at", Order::Desc);
            let (top, rest) = searcher.search(&query, &(top, (Count, facets)))?;
            (top.into_iter().map(|(_, a)| a).collect(), rest)
        }
    };
    let highlighter = request.highlight.then(|| Highlighter::new(&typed));
    let mut hits = Vec::with_capacity(addresses.len());
    for address in addresses {
        hits.push(load_hit(index, &searcher, address, highlighter.as_ref())?);
    }
    let correction = if total == 0 && request.correct && !typed.is_empty() {
        correct(index, request, &typed, synonyms)?
    } else {
        None
    };
    Ok(SearchResults {
        total,
        hits,
        facets: counts.into_facets(),
        correction,
    })
}

/// The words of a query as the index sees them, the last one marked as possibly unfinished.
#[derive(Debug, Clone)]
struct Typed {
    word: Word,
    last: bool,
}

fn query_words(language: Language, query: &str) -> Vec<Typed> {
    let mut list = words(language, query);
    list.truncate(MAX_QUERY_WORDS);
    // The last word is only a prefix while it is being typed: not after a trailing space.
    let trailing_space = query.ends_with(char::is_whitespace);
    let n = list.len();
    list.into_iter()
        .enumerate()
        .map(|(i, word)| Typed {
            word,
            last: i + 1 == n && !trailing_space,
        })
        .collect()
}

fn boxed(query: impl Query) -> Box<dyn Query> {
    Box::new(query)
}

fn build_query(
    index: &TenantIndex,
    raw: &str,
    typed: &[Typed],
    filters: &Filters,
    include_unpublished: bool,
    synonyms: &Synonyms,
) -> Box<dyn Query> {
    let f = index.fields();
    let text_query: Box<dyn Query> = if typed.is_empty() {
        boxed(AllQuery)
    } else {
        let mut all_words = Vec::with_capacity(typed.len());
        for t in typed {
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            let stem_title = Term::from_field_text(f.title, &t.word.stem);
            let stem_text = Term::from_field_text(f.text, &t.word.stem);
            alternatives.push((
                Occur::Should,
                boxed(BoostQuery::new(
                    boxed(TermQuery::new(
                        stem_title.clone(),
                        IndexRecordOption::WithFreqs,
                    )),
                    3.0,
                )),
            ));
            alternatives.push((
                Occur::Should,
                boxed(TermQuery::new(stem_text, IndexRecordOption::WithFreqs)),
            ));
            let typos = allowed_typos(&t.word.folded);
            if typos > 0 {
                alternatives.push((
                    Occur::Should,
                    boxed(BoostQuery::new(
                        boxed(FuzzyWords::new(f.title, &t.word.stem, typos, false)),
                        1.5,
                    )),
                ));
                // Typos are forgiven in names, not in descriptions: "cafe" must not find
                // every product whose description says "care".
                alternatives.push((
                    Occur::Should,
                    boxed(BoostQuery::new(
                        boxed(FuzzyWords::new(f.words, &t.word.folded, typos, false)),
                        0.5,
                    )),
                ));
            }
            if t.last {
                alternatives.push((
                    Occur::Should,
                    boxed(BoostQuery::new(
                        boxed(FuzzyWords::new(f.words, &t.word.folded, typos, true)),
                        0.5,
                    )),
                ));
            }
            for synonym in synonyms.of(&t.word.folded) {
                let parts: Vec<Box<dyn Query>> = words(index.language(), synonym)
                    .into_iter()
                    .map(|w| {
                        boxed(TermQuery::new(
                            Term::from_field_text(f.text, &w.stem),
                            IndexRecordOption::WithFreqs,
                        ))
                    })
                    .collect();
                if !parts.is_empty() {
                    alternatives.push((Occur::Should, boxed(BooleanQuery::intersection(parts))));
                }
            }
            all_words.push((Occur::Must, boxed(BooleanQuery::new(alternatives))));
        }
        let words_query = boxed(BooleanQuery::new(all_words));
        let sku = raw.trim().to_lowercase();
        if sku.is_empty() {
            words_query
        } else {
            // An exact SKU outranks any text match.
            let sku_query = boxed(ConstScoreQuery::new(
                boxed(TermQuery::new(
                    Term::from_field_text(f.skus, &sku),
                    IndexRecordOption::Basic,
                )),
                1_000.0,
            ));
            boxed(BooleanQuery::new(vec![
                (Occur::Should, words_query),
                (Occur::Should, sku_query),
            ]))
        }
    };
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query)];
    let mut filter = |query: Box<dyn Query>| {
        clauses.push((Occur::Must, boxed(ConstScoreQuery::new(query, 0.0))));
    };
    let term = |t: Term| boxed(TermQuery::new(t, IndexRecordOption::Basic));
    if !include_unpublished {
        filter(term(Term::from_field_bool(f.published, true)));
    }
    if let Some(handle) = &filters.collection {
        filter(term(Term::from_facet(
            f.collections,
            &Facet::from_path([handle]),
        )));
    }
    if let Some(vendor) = &filters.vendor {
        filter(term(Term::from_facet(
            f.vendor_facet,
            &Facet::from_path([vendor]),
        )));
    }
    if let Some(kind) = &filters.product_type {
        filter(term(Term::from_facet(
            f.type_facet,
            &Facet::from_path([kind]),
        )));
    }
    if filters.in_stock {
        filter(term(Term::from_field_bool(f.in_stock, true)));
    }
    if let Some(range) = filters.price {
        let lower = range.min.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_i64(f.price_minor, v))
        });
        let upper = range.max.map_or(Bound::Unbounded, |v| {
            Bound::Excluded(Term::from_field_i64(f.price_minor, v))
        });
        filter(boxed(RangeQuery::new(lower, upper)));
    }
    boxed(BooleanQuery::new(clauses))
}

fn load_hit(
    index: &TenantIndex,
    searcher: &tantivy::Searcher,
    address: DocAddress,
    highlighter: Option<&Highlighter>,
) -> Result<Hit, SearchError> {
    let f = index.fields();
    let doc: TantivyDocument = searcher.doc(address)?;
    let text = |field| {
        doc.get_first(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let title = text(f.title);
    let (title_html, snippet_html) = if let Some(highlighter) = highlighter {
        let language = index.language();
        (
            mark(language, &title, highlighter, None),
            mark(
                language,
                &text(f.description),
                highlighter,
                Some(SNIPPET_BYTES),
            ),
        )
    } else {
        (String::new(), String::new())
    };
    Ok(Hit {
        product_id: text(f.product_id),
        handle: text(f.handle),
        title,
        title_html,
        snippet_html,
        vendor: text(f.vendor),
        price_minor: doc
            .get_first(f.price_minor)
            .and_then(|v| v.as_i64())
            .unwrap_or(0),
        in_stock: doc
            .get_first(f.in_stock)
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
    })
}

/// Longest description snippet, in bytes of source text.
const SNIPPET_BYTES: usize = 180;

/// What a hit's words are tested against to be highlighted: each query word's stem (with
/// its allowed typos) and, for the word being typed, its start.
struct Highlighter {
    stems: Vec<WordMatcher>,
    prefixes: Vec<WordMatcher>,
}

impl Highlighter {
    fn new(typed: &[Typed]) -> Self {
        Self {
            stems: typed
                .iter()
                .map(|t| WordMatcher::new(&t.word.stem, false))
                .collect(),
            prefixes: typed
                .iter()
                .filter(|t| t.last)
                .map(|t| WordMatcher::new(&t.word.folded, true))
                .collect(),
        }
    }

    fn hit(&self, w: &Word) -> bool {
        self.stems.iter().any(|m| m.matches(&w.stem))
            || self.prefixes.iter().any(|m| m.matches(&w.folded))
    }
}

/// Bytes of a description looked through for a snippet: a match further in is not shown
/// (the snippet then starts at the beginning), so a long description costs no more than a
/// short one.
const SNIPPET_SEARCHED_BYTES: usize = 2_000;

/// `text` as escaped HTML with the words the query matched in `<mark>`; with `window`, only
/// about that many bytes around the first match within [`SNIPPET_SEARCHED_BYTES`] (the
/// start when nothing matched there).
fn mark(
    language: Language,
    text: &str,
    highlighter: &Highlighter,
    window: Option<usize>,
) -> String {
    // With a window, only the text's start is analysed, cut at a space (a word cut in two
    // could match as a prefix).
    let analysed = match window {
        Some(size) if text.len() > SNIPPET_SEARCHED_BYTES + size => {
            let mut cut = SNIPPET_SEARCHED_BYTES + size;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let head = &text[..cut];
            head.rfind(char::is_whitespace)
                .map_or(head, |at| &head[..at])
        }
        _ => text,
    };
    let found = words(language, analysed);
    let marked: Vec<&Word> = found.iter().filter(|w| highlighter.hit(w)).collect();
    let (start, end) = match window {
        None => (0, text.len()),
        Some(size) => {
            let first = marked
                .first()
                .map(|w| w.from)
                .filter(|from| *from <= SNIPPET_SEARCHED_BYTES)
                .unwrap_or(0);
            let mut start = first.saturating_sub(size / 3);
            // Start at a word boundary.
            if start > 0 {
                start = found
                    .iter()
                    .map(|w| w.from)
                    .find(|from| *from >= start)
                    .unwrap_or(first);
            }
            let mut end = (start + size).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            if end < text.len() {
                end = found
                    .iter()
                    .rev()
                    .map(|w| w.to)
                    .find(|to| *to <= end && *to > start)
                    .unwrap_or(end);
            }
            (start, end)
        }
    };
    let mut html = String::new();
    if start > 0 {
        html.push('…');
    }
    let mut at = start;
    for w in marked.iter().filter(|w| w.from >= start && w.to <= end) {
        html.push_str(&escape(&text[at..w.from]));
        html.push_str("<mark>");
        html.push_str(&escape(&text[w.from..w.to]));
        html.push_str("</mark>");
        at = w.to;
    }
    html.push_str(&escape(&text[at..end]));
    if end < text.len() {
        html.push('…');
    }
    html
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// For a query without results: each word replaced by the closest word in the catalog
/// (at most two edits, the commonest on ties), if the result then finds something.
fn correct(
    index: &TenantIndex,
    request: &SearchRequest,
    typed: &[Typed],
    synonyms: &Synonyms,
) -> Result<Option<String>, SearchError> {
    let f = index.fields();
    let searcher = index.searcher();
    let mut best: Vec<Option<(usize, u32, String)>> = vec![None; typed.len()];
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(f.words)?;
        for (t, slot) in typed.iter().zip(best.iter_mut()) {
            let typed = &t.word.folded;
            let limit: u8 = if typed.chars().count() < 5 { 1 } else { 2 };
            // Only the terms within `limit` edits, found by walking the term dictionary
            // with a Levenshtein automaton instead of reading every term.
            let within = Within(levenshtein(limit).build_dfa(typed));
            let mut stream = inverted.terms().search(within).into_stream()?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                let freq = stream.value().doc_freq;
                let distance = edit_distance(typed, term);
                if distance > usize::from(limit) {
                    continue;
                }
                let better = match slot {
                    None => true,
                    Some((d, n, _)) => distance < *d || (distance == *d && freq > *n),
                };
                if better {
                    *slot = Some((distance, freq, term.to_owned()));
                }
            }
        }
    }
    let corrected: Vec<String> = typed
        .iter()
        .zip(best)
        .map(|(t, b)| b.map_or_else(|| t.word.folded.clone(), |(_, _, w)| w))
        .collect();
    let original: Vec<&str> = typed.iter().map(|t| t.word.folded.as_str()).collect();
    if corrected
        .iter()
        .map(String::as_str)
        .eq(original.iter().copied())
    {
        return Ok(None);
    }
    let candidate = corrected.join(" ");
    let check = SearchRequest {
        query: format!("{candidate} "),
        limit: 1,
        facets: false,
        highlight: false,
        correct: false,
        offset: 0,
        ..request.clone()
    };
    let found = search(index, &check, synonyms)?;
    Ok((found.total > 0).then_some(candidate))
}

/// The facet collectors of one search, or none.
struct FacetCounters {
    enabled: bool,
}

impl FacetCounters {
    fn new(enabled: bool) -> Self {
        Self { enabled }
    }
}

/// What [`FacetCounters`] counted.
#[derive(Default)]
struct Counted {
    collections: Option<FacetCounts>,
    vendors: Option<FacetCounts>,
    types: Option<FacetCounts>,
    prices: [u64; PRICE_BUCKET_BOUNDS.len() + 1],
    in_stock: u64,
}

impl Counted {
    fn into_facets(self) -> Facets {
        let values = |counts: Option<FacetCounts>| -> Vec<FacetCount> {
            let Some(counts) = counts else {
                return Vec::new();
            };
            let mut list: Vec<FacetCount> = counts
                .get(Facet::root())
                .map(|(facet, count)| FacetCount {
                    value: facet
                        .to_path()
                        .last()
                        .map(|s| (*s).to_owned())
                        .unwrap_or_default(),
                    count,
                })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            list
        };
        let enabled = self.collections.is_some();
        let mut prices = Vec::new();
        if enabled {
            let mut min = None;
            for (i, count) in self.prices.iter().enumerate() {
                let max = PRICE_BUCKET_BOUNDS.get(i).copied();
                prices.push(PriceCount {
                    range: PriceRange { min, max },
                    count: *count,
                });
                min = max;
            }
        }
        Facets {
            collections: values(self.collections),
            vendors: values(self.vendors),
            types: values(self.types),
            prices,
            in_stock: self.in_stock,
        }
    }
}

struct FacetSegment {
    children: Option<(
        <FacetCollector as Collector>::Child,
        <FacetCollector as Collector>::Child,
        <FacetCollector as Collector>::Child,
    )>,
    price: Column<i64>,
    in_stock: Column<bool>,
    prices: [u64; PRICE_BUCKET_BOUNDS.len() + 1],
    stocked: u64,
}

fn facet_collectors() -> (FacetCollector, FacetCollector, FacetCollector) {
    let make = |name: &str| {
        let mut c = FacetCollector::for_field(name);
        c.add_facet(Facet::root());
        c
    };
    (
        make("collections"),
        make("vendor_facet"),
        make("type_facet"),
    )
}

impl Collector for FacetCounters {
    type Fruit = Counted;
    type Child = FacetSegment;

    fn for_segment(&self, ord: u32, segment: &SegmentReader) -> tantivy::Result<FacetSegment> {
        let children = if self.enabled {
            let (a, b, c) = facet_collectors();
            Some((
                a.for_segment(ord, segment)?,
                b.for_segment(ord, segment)?,
                c.for_segment(ord, segment)?,
            ))
        } else {
            None
        };
        let fast = segment.fast_fields();
        Ok(FacetSegment {
            children,
            price: fast.i64("price_minor")?,
            in_stock: fast.bool("in_stock")?,
            prices: Default::default(),
            stocked: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentCounted>) -> tantivy::Result<Counted> {
        let mut counted = Counted::default();
        if !self.enabled {
            return Ok(counted);
        }
        let (a, b, c) = facet_collectors();
        let mut cols = Vec::new();
        let mut vends = Vec::new();
        let mut types = Vec::new();
        for fruit in fruits {
            if let Some((x, y, z)) = fruit.children {
                cols.push(x);
                vends.push(y);
                types.push(z);
            }
            for (total, n) in counted.prices.iter_mut().zip(fruit.prices) {
                *total += n;
            }
            counted.in_stock += fruit.in_stock;
        }
        counted.collections = Some(a.merge_fruits(cols)?);
        counted.vendors = Some(b.merge_fruits(vends)?);
        counted.types = Some(c.merge_fruits(types)?);
        Ok(counted)
    }
}

/// One segment's counts.
struct SegmentCounted {
    children: Option<(FacetCounts, FacetCounts, FacetCounts)>,
    prices: [u64; PRICE_BUCKET_BOUNDS.len() + 1],
    in_stock: u64,
}

impl SegmentCollector for FacetSegment {
    type Fruit = SegmentCounted;

    fn collect(&mut self, doc: DocId, score: Score) {
        let Some((a, b, c)) = &mut self.children else {
            return;
        };
        a.collect(doc, score);
        b.collect(doc, score);
        c.collect(doc, score);
        if let Some(price) = self.price.first(doc) {
            let bucket = PRICE_BUCKET_BOUNDS
                .iter()
                .take_while(|bound| price >= **bound)
                .count();
            self.prices[bucket] += 1;
        }
        if self.in_stock.first(doc) == Some(true) {
            self.stocked += 1;
        }
    }

    fn harvest(self) -> SegmentCounted {
        SegmentCounted {
            children: self
                .children
                .map(|(a, b, c)| (a.harvest(), b.harvest(), c.harvest())),
            prices: self.prices,
            in_stock: self.stocked,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::{IndexManager, ProductDoc};

    fn doc(id: &str, title: &str, vendor: &str, price: i64) -> ProductDoc {
        ProductDoc {
            product_id: id.to_owned(),
            handle: format!("h-{id}"),
            title: title.to_owned(),
            description: format!("A fine {title} for every day, made with care."),
            vendor: vendor.to_owned(),
            product_type: "Gadget".to_owned(),
            tags: vec!["gift".to_owned()],
            skus: vec![format!("SKU-{id}")],
            collections: vec!["all-things".to_owned()],
            price_minor: price,
            in_stock: price % 2 == 0,
            published: true,
            created_at: DateTime::from_timestamp(1_700_000_000 + price, 0).expect("time"),
        }
    }

    fn index() -> (tempfile::TempDir, std::sync::Arc<TenantIndex>) {
        let root = tempfile::tempdir().expect("temp dir");
        let manager = IndexManager::new(root.path().to_path_buf(), 4);
        let index = manager.open("t_q").expect("open");
        index
            .upsert(doc("1", "Apple iPhone 15", "Apple", 99_900))
            .expect("add");
        index
            .upsert(doc("2", "Café au lait mug", "Acme", 1_250))
            .expect("add");
        index
            .upsert(doc("3", "Running shoes", "Fleet", 7_999))
            .expect("add");
        index
            .upsert(doc("4", "Blue notebook", "Acme", 400))
            .expect("add");
        let mut draft = doc("5", "Secret iPhone prototype", "Apple", 10);
        draft.published = false;
        index.upsert(draft).expect("add");
        index.commit_through(7).expect("commit");
        (root, index)
    }

    fn ids(index: &TenantIndex, query: &str) -> Vec<String> {
        let request = SearchRequest {
            query: query.to_owned(),
            limit: 10,
            ..SearchRequest::default()
        };
        search(index, &request, &Synonyms::default())
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.product_id)
            .collect()
    }

    /// Product ids of the documents `query` matches, in id order.
    fn matched_by(index: &TenantIndex, query: &dyn Query) -> Vec<String> {
        let searcher = index.searcher();
        let f = index.fields();
        let mut found: Vec<String> = searcher
            .search(query, &TopDocs::with_limit(100))
            .expect("search")
            .into_iter()
            .map(|(_, address)| {
                let doc: TantivyDocument = searcher.doc(address).expect("doc");
                doc.get_first(f.product_id)
                    .and_then(|v| v.as_str())
                    .expect("id")
                    .to_owned()
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn kept_fuzzy_matches_are_tantivys_own_and_new_segments_are_read_afresh() {
        let (_root, index) = index();
        let f = index.fields();
        let cases = [
            (f.title, "iphnoe", 1, false),
            (f.title, "iphone", 2, false),
            (f.words, "noteb", 1, true),
            (f.words, "notbe", 1, true),
            (f.words, "ru", 0, true),
            (f.words, "mu", 1, true),
            (f.words, "cafe", 1, false),
            (f.words, "zzzz", 2, true),
        ];
        for round in 0..2 {
            for (field, text, edits, prefix) in cases {
                let term = Term::from_field_text(field, text);
                let theirs = if prefix {
                    tantivy::query::FuzzyTermQuery::new_prefix(term, edits, true)
                } else {
                    tantivy::query::FuzzyTermQuery::new(term, edits, true)
                };
                let ours = FuzzyWords::new(field, text, edits, prefix);
                assert_eq!(
                    matched_by(&index, &ours),
                    matched_by(&index, &theirs),
                    "{text} within {edits}, prefix {prefix}, round {round}"
                );
            }
        }
        // A product indexed since lands in a segment of its own: found too.
        let prefix = FuzzyWords::new(f.words, "noteb", 1, true);
        assert_eq!(matched_by(&index, &prefix), ["4"]);
        index
            .upsert(doc("6", "Red notebook", "Acme", 500))
            .expect("add");
        index.commit_through(8).expect("commit");
        assert_eq!(matched_by(&index, &prefix), ["4", "6"]);
    }

    #[test]
    fn typos_accents_prefixes_and_skus_find_products() {
        let (_root, index) = index();
        assert_eq!(ids(&index, "iphnoe"), ["1"]);
        assert_eq!(ids(&index, "cafe"), ["2"]);
        assert_eq!(ids(&index, "CAFÉ mug"), ["2"]);
        assert_eq!(ids(&index, "runn"), ["3"]);
        assert_eq!(ids(&index, "noteb"), ["4"]);
        assert_eq!(ids(&index, "sku-3"), ["3"]);
        assert!(
            ids(&index, "noteb ").is_empty(),
            "a finished word is not a prefix"
        );
        assert!(ids(&index, "zzzz").is_empty());
        assert_eq!(index.applied_outbox_id(), Some(7));
    }

    #[test]
    fn drafts_are_hidden_unless_asked_for() {
        let (_root, index) = index();
        assert_eq!(ids(&index, "prototype"), Vec::<String>::new());
        let request = SearchRequest {
            query: "prototype".into(),
            include_unpublished: true,
            limit: 10,
            ..SearchRequest::default()
        };
        let found = search(&index, &request, &Synonyms::default()).expect("search");
        assert_eq!(found.total, 1);
    }

    #[test]
    fn facets_count_all_results_and_filters_narrow() {
        let (_root, index) = index();
        let mut request = SearchRequest {
            query: String::new(),
            limit: 2,
            facets: true,
            ..SearchRequest::default()
        };
        let found = search(&index, &request, &Synonyms::default()).expect("search");
        assert_eq!(found.total, 4);
        assert_eq!(found.hits.len(), 2);
        assert_eq!(
            found.facets.vendors,
            [
                FacetCount {
                    value: "Acme".into(),
                    count: 2
                },
                FacetCount {
                    value: "Apple".into(),
                    count: 1
                },
                FacetCount {
                    value: "Fleet".into(),
                    count: 1
                },
            ]
        );
        assert_eq!(found.facets.collections[0].count, 4);
        // 400 and 1,250; 7,999; 99,900 (the draft is not counted).
        let prices: Vec<u64> = found.facets.prices.iter().map(|p| p.count).collect();
        assert_eq!(prices, [2, 0, 1, 0, 1]);
        assert_eq!(found.facets.prices.iter().map(|p| p.count).sum::<u64>(), 4);
        request.filters.vendor = Some("Acme".into());
        request.filters.price = PriceRange::parse("1000-");
        request.sort = Sort::PriceAsc;
        let found = search(&index, &request, &Synonyms::default()).expect("search");
        assert_eq!(
            found
                .hits
                .iter()
                .map(|h| h.product_id.as_str())
                .collect::<Vec<_>>(),
            ["2"]
        );
    }

    #[test]
    fn sorting_by_price_and_highlighting() {
        let (_root, index) = index();
        let request = SearchRequest {
            query: "acme".into(),
            limit: 10,
            sort: Sort::PriceDesc,
            highlight: true,
            ..SearchRequest::default()
        };
        let found = search(&index, &request, &Synonyms::default()).expect("search");
        let order: Vec<&str> = found.hits.iter().map(|h| h.product_id.as_str()).collect();
        assert_eq!(order, ["2", "4"]);
        let request = SearchRequest {
            query: "cafe".into(),
            limit: 10,
            highlight: true,
            ..SearchRequest::default()
        };
        let found = search(&index, &request, &Synonyms::default()).expect("search");
        assert_eq!(found.hits[0].title_html, "<mark>Café</mark> au lait mug");
        assert!(found.hits[0].snippet_html.contains("<mark>Café</mark>"));
    }

    #[test]
    fn no_results_offer_a_correction_and_synonyms_widen() {
        let (_root, index) = index();
        let request = SearchRequest {
            query: "blu notebok ".into(),
            limit: 10,
            correct: true,
            ..SearchRequest::default()
        };
        let found = search(&index, &request, &Synonyms::default()).expect("search");
        assert_eq!(found.total, 0);
        assert_eq!(found.correction.as_deref(), Some("blue notebook"));
        let synonyms = Synonyms::new(&[vec!["sneakers".into(), "running shoes".into()]]);
        let request = SearchRequest {
            query: "sneakers".into(),
            limit: 10,
            ..SearchRequest::default()
        };
        let found = search(&index, &request, &synonyms).expect("search");
        assert_eq!(found.hits[0].product_id, "3");
    }

    #[test]
    fn parameters_round_trip() {
        assert_eq!(
            PriceRange::parse("2500-5000")
                .map(|r| r.as_param())
                .as_deref(),
            Some("2500-5000")
        );
        assert_eq!(PriceRange::parse("-"), None);
        assert_eq!(PriceRange::parse("abc"), None);
        assert_eq!(Sort::parse("newest"), Some(Sort::Newest));
        assert_eq!(Sort::parse("bogus"), None);
    }
}
