//! Typo-tolerant and prefix word matching, with what each index segment matched kept in
//! memory.
//!
//! A misspelt word is matched by walking the segment's term dictionary with a Levenshtein
//! automaton and reading the postings of every term it accepts, as tantivy's own
//! `FuzzyTermQuery` does: for a short word being typed (a prefix with two typos allowed)
//! that is thousands of terms, the dearest part of a search. Shoppers type the same words
//! again and again, and a segment never changes once written, so the documents a (segment,
//! field, word, typos, prefix) matched are kept, within [`KEPT_BYTES`] across every store's
//! index (least recently used first out). A segment's id is unique to it, so a store's
//! search only ever finds what its own segments matched; segments merged away simply stop
//! being asked for and age out.

use std::sync::{Arc, LazyLock};

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::index::{SegmentId, SegmentReader};
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet as _, Score, TantivyError};
use tantivy_common::BitSet;

/// Bytes of matched-document sets kept, across every index of the node (a set costs one
/// bit per document of its segment).
pub const KEPT_BYTES: u64 = 32 << 20;

/// Builders of the automata accepting the words within zero, one and two edits (adjacent
/// transpositions counting one): building one takes milliseconds, each automaton from it
/// microseconds.
static LEVENSHTEIN: LazyLock<[LevenshteinAutomatonBuilder; 3]> = LazyLock::new(|| {
    [
        LevenshteinAutomatonBuilder::new(0, true),
        LevenshteinAutomatonBuilder::new(1, true),
        LevenshteinAutomatonBuilder::new(2, true),
    ]
});

/// The builder for `edits` edits (at most two).
pub(crate) fn levenshtein(edits: u8) -> &'static LevenshteinAutomatonBuilder {
    &LEVENSHTEIN[usize::from(edits.min(2))]
}

/// A Levenshtein automaton as the term dictionary walks it.
pub(crate) struct Within(pub(crate) levenshtein_automata::DFA);

impl tantivy_fst::Automaton for Within {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    segment: SegmentId,
    field: Field,
    text: String,
    edits: u8,
    prefix: bool,
}

static MATCHED: LazyLock<moka::sync::Cache<Key, Arc<BitSet>>> = LazyLock::new(|| {
    moka::sync::Cache::builder()
        .max_capacity(KEPT_BYTES)
        .weigher(|key: &Key, docs: &Arc<BitSet>| {
            let bytes = 64 + key.text.len() + docs.max_value() as usize / 8;
            u32::try_from(bytes).unwrap_or(u32::MAX)
        })
        .build()
});

/// The documents whose `field` holds a word within `edits` typos of `text` (with `prefix`,
/// a word that begins so), each scoring the same: what `FuzzyTermQuery` matches, with what
/// each segment matched kept (see the module documentation).
#[derive(Clone, Debug)]
pub(crate) struct FuzzyWords {
    field: Field,
    text: String,
    edits: u8,
    prefix: bool,
}

impl FuzzyWords {
    /// Words of `field` within `edits` (at most 2) of `text`, or beginning so.
    pub(crate) fn new(field: Field, text: &str, edits: u8, prefix: bool) -> Self {
        Self {
            field,
            text: text.to_owned(),
            edits: edits.min(2),
            prefix,
        }
    }

    /// The documents of `reader`'s segment that match, from memory when asked before.
    fn matched(&self, reader: &SegmentReader) -> tantivy::Result<Arc<BitSet>> {
        let key = Key {
            segment: reader.segment_id(),
            field: self.field,
            text: self.text.clone(),
            edits: self.edits,
            prefix: self.prefix,
        };
        if let Some(docs) = MATCHED.get(&key) {
            return Ok(docs);
        }
        let builder = levenshtein(self.edits);
        let automaton = if self.prefix {
            builder.build_prefix_dfa(&self.text)
        } else {
            builder.build_dfa(&self.text)
        };
        let mut docs = BitSet::with_max_value(reader.max_doc());
        let inverted = reader.inverted_index(self.field)?;
        let mut terms = inverted.terms().search(Within(automaton)).into_stream()?;
        while terms.advance() {
            let mut postings = inverted
                .read_block_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
            loop {
                let block = postings.docs();
                if block.is_empty() {
                    break;
                }
                for &doc in block {
                    docs.insert(doc);
                }
                postings.advance();
            }
        }
        let docs = Arc::new(docs);
        MATCHED.insert(key, Arc::clone(&docs));
        Ok(docs)
    }
}

impl Query for FuzzyWords {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for FuzzyWords {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let docs = BitSetDocSet::from(self.matched(reader)?.as_ref().clone());
        Ok(Box::new(ConstScorer::new(docs, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("FuzzyWords", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(
                "the document does not match".to_owned(),
            ))
        }
    }
}
