//! The product index schema, built in one place so every tenant index has the same shape.

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED,
    STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::{CATALOG_ANALYZER, SKU_ANALYZER, WORDS_ANALYZER};

/// Handles to every field of [`catalog_schema`], so callers never look fields up by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    /// The product's primary key as text; the delete term for updates.
    pub product_id: Field,
    /// URL handle, stored so result lists need no database round trip.
    pub handle: Field,
    /// Product title, stemmed and stored (results and highlighting).
    pub title: Field,
    /// Plain-text description, stemmed and stored (snippets).
    pub description: Field,
    /// Vendor (brand), stemmed and stored.
    pub vendor: Field,
    /// Product type (the merchant's category), stemmed.
    pub product_type: Field,
    /// Tags, stemmed; one value per tag.
    pub tags: Field,
    /// Title, vendor, type, tags and description together: the typo-tolerant catch-all.
    pub text: Field,
    /// Title, vendor, type and tags folded but not stemmed: real words for "did you mean".
    pub words: Field,
    /// Variant SKUs, one lowercased token per SKU, for exact match.
    pub skus: Field,
    /// Collection handles as facets (`/summer-sale`), one per collection.
    pub collections: Field,
    /// Vendor as a facet (`/Acme`), for counts and filters on the exact value.
    pub vendor_facet: Field,
    /// Product type as a facet, for counts and filters on the exact value.
    pub type_facet: Field,
    /// Lowest variant price in minor units, for range filters and sorting.
    pub price_minor: Field,
    /// Whether any variant can be bought now.
    pub in_stock: Field,
    /// Whether the product is visible on the storefront.
    pub published: Field,
    /// Creation time, for "newest first" sorting.
    pub created_at: Field,
}

fn text(analyzer: &str, stored: bool, positions: bool) -> TextOptions {
    let record = if positions {
        IndexRecordOption::WithFreqsAndPositions
    } else {
        IndexRecordOption::WithFreqs
    };
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer)
            .set_index_option(record),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

/// Builds the catalog schema shared by every tenant index, with its field handles.
///
/// Changing this function changes the schema: existing indexes then fail to open with
/// [`crate::SearchError::SchemaChanged`] and are rebuilt from PostgreSQL.
pub fn catalog_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        product_id: builder.add_text_field("product_id", STRING | STORED),
        handle: builder.add_text_field("handle", STORED),
        title: builder.add_text_field("title", text(CATALOG_ANALYZER, true, true)),
        description: builder.add_text_field("description", text(CATALOG_ANALYZER, true, false)),
        vendor: builder.add_text_field("vendor", text(CATALOG_ANALYZER, true, false)),
        product_type: builder.add_text_field("product_type", text(CATALOG_ANALYZER, true, false)),
        tags: builder.add_text_field("tags", text(CATALOG_ANALYZER, false, false)),
        text: builder.add_text_field("text", text(CATALOG_ANALYZER, false, false)),
        words: builder.add_text_field("words", text(WORDS_ANALYZER, false, false)),
        skus: builder.add_text_field("skus", text(SKU_ANALYZER, false, false)),
        collections: builder.add_facet_field("collections", FacetOptions::default()),
        vendor_facet: builder.add_facet_field("vendor_facet", FacetOptions::default()),
        type_facet: builder.add_facet_field("type_facet", FacetOptions::default()),
        price_minor: builder.add_i64_field("price_minor", FAST | INDEXED | STORED),
        // Indexed as well as fast: "in stock only" is a filter, and term filters need postings.
        in_stock: builder.add_bool_field("in_stock", FAST | INDEXED | STORED),
        published: builder.add_bool_field("published", INDEXED | STORED),
        // Microseconds: products created in the same second still sort (and break relevance
        // ties) in a stable order, whatever the segment layout.
        created_at: builder.add_date_field(
            "created_at",
            DateOptions::default()
                .set_fast()
                .set_indexed()
                .set_precision(DateTimePrecision::Microseconds),
        ),
    };
    (builder.build(), fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_deterministic() {
        // Opening an existing index compares schemas, so two builds must be equal.
        assert_eq!(catalog_schema().0, catalog_schema().0);
    }

    #[test]
    fn product_id_is_an_untokenized_stored_key() {
        let (schema, fields) = catalog_schema();
        let entry = schema.get_field_entry(fields.product_id);
        assert!(entry.is_indexed());
        assert!(entry.is_stored());
        let options = match entry.field_type() {
            tantivy::schema::FieldType::Str(options) => options.clone(),
            other => panic!("product_id must be text, got {other:?}"),
        };
        let indexing = options.get_indexing_options().expect("indexed");
        assert_eq!(indexing.tokenizer(), "raw");
    }
}
