//! Per-tenant tantivy catalog indexes, the manager that keeps a bounded set of them open, and
//! the catalog query (typo-tolerant, prefix-aware, faceted, sorted, highlighted).
//!
//! PostgreSQL is the truth: an index only ever holds what the outbox fed it, so any index
//! can be removed and rebuilt. Each tenant has its own index directory under one root.

mod analysis;
mod error;
mod fuzzy;
mod manager;
mod query;
mod schema;

pub use analysis::language_for_locale;
pub use error::SearchError;
pub use manager::{IndexManager, ProductDoc, Rebuild, TenantIndex};
pub use query::{
    FacetCount, Facets, Filters, Hit, PRICE_BUCKET_BOUNDS, PriceCount, PriceRange, SearchRequest,
    SearchResults, Sort, Synonyms, search,
};
pub use schema::{Fields, catalog_schema};
pub use tantivy::tokenizer::Language;
