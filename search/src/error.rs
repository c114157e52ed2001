//! The one error type of the search crate.

use std::sync::Arc;

/// Everything that can go wrong opening, writing or reading a tenant index.
///
/// `Clone` because the index cache hands one failed open to every caller that waited on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SearchError {
    /// The tenant key is not `[a-z0-9_]{1,63}`, so it could name a path outside the root.
    #[error("invalid tenant key {0:?}: expected 1 to 63 characters of [a-z0-9_]")]
    InvalidTenantKey(String),
    /// The index on disk was built with another schema; remove it and rebuild from PostgreSQL.
    #[error("search index for tenant {tenant} has an outdated schema and must be rebuilt")]
    SchemaChanged {
        /// The tenant whose index is outdated.
        tenant: String,
    },
    /// Tantivy failed (index files, writer, reader or query).
    #[error(transparent)]
    Tantivy(#[from] tantivy::TantivyError),
    /// The file system failed outside tantivy (creating or removing a tenant directory).
    #[error("search index I/O: {0}")]
    Io(Arc<std::io::Error>),
}

impl From<std::io::Error> for SearchError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(Arc::new(error))
    }
}

impl SearchError {
    /// Whether another writer (another process on the same directory) holds the index.
    pub fn is_locked(&self) -> bool {
        matches!(self, Self::Tantivy(tantivy::TantivyError::LockFailure(..)))
    }
}
