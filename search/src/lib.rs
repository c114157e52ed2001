//! Per-tenant tantivy catalog indexes and the manager that keeps a bounded set of them open.
//!
//! PostgreSQL is the truth: an index only ever holds what the outbox fed it, so any index
//! can be removed and rebuilt. Each tenant has its own index directory under one root.

mod error;
mod manager;
mod schema;

pub use error::SearchError;
pub use manager::{IndexManager, ProductDoc, TenantIndex};
pub use schema::{Fields, catalog_schema};
