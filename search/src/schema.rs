//! The product index schema, built in one place so every tenant index has the same shape.

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, FacetOptions, Field, INDEXED, STORED, STRING, Schema,
    TEXT,
};

/// Handles to every field of [`catalog_schema`], so callers never look fields up by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    /// The product's primary key as text; the delete term for updates.
    pub product_id: Field,
    /// Product title, tokenized and stored so result lists need no database round trip.
    pub title: Field,
    /// Product description, tokenized only.
    pub description: Field,
    /// Vendor (brand), tokenized.
    pub vendor: Field,
    /// Product type (the merchant's category), tokenized.
    pub product_type: Field,
    /// Tags, tokenized; one value per tag.
    pub tags: Field,
    /// Variant SKUs, untokenized for exact match; one value per SKU.
    pub skus: Field,
    /// Collection handles as facets (`/summer-sale`), one per collection.
    pub collections: Field,
    /// Lowest variant price in minor units, for range filters and sorting.
    pub price_minor: Field,
    /// Whether any variant can be bought now.
    pub in_stock: Field,
    /// Whether the product is visible on the storefront.
    pub published: Field,
    /// Creation time, for "newest first" sorting.
    pub created_at: Field,
}

/// Builds the catalog schema shared by every tenant index, with its field handles.
///
/// Changing this function changes the schema: existing indexes then fail to open with
/// [`crate::SearchError::SchemaChanged`] and must be rebuilt from PostgreSQL.
pub fn catalog_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        product_id: builder.add_text_field("product_id", STRING | STORED),
        title: builder.add_text_field("title", TEXT | STORED),
        description: builder.add_text_field("description", TEXT),
        vendor: builder.add_text_field("vendor", TEXT),
        product_type: builder.add_text_field("product_type", TEXT),
        tags: builder.add_text_field("tags", TEXT),
        skus: builder.add_text_field("skus", STRING),
        collections: builder.add_facet_field("collections", FacetOptions::default()),
        price_minor: builder.add_i64_field("price_minor", FAST | INDEXED | STORED),
        // Indexed as well as fast: "in stock only" is a filter, and term filters need postings.
        in_stock: builder.add_bool_field("in_stock", FAST | INDEXED),
        published: builder.add_bool_field("published", INDEXED),
        // Second precision keeps the fast column small; nobody sorts products by microsecond.
        created_at: builder.add_date_field(
            "created_at",
            DateOptions::default()
                .set_fast()
                .set_precision(DateTimePrecision::Seconds),
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
