//! The error type of tenant-store operations.

/// What can go wrong in the tenant domain.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A value failed validation; `field` names the input it came from.
    #[error("{field}: {message}")]
    Invalid {
        /// The input field at fault.
        field: &'static str,
        /// A sentence for the person who typed it.
        message: String,
    },
    /// Several values failed validation: each entry names a field (`title`,
    /// `variants[1].sku`, ...) and the problem.
    #[error("invalid input: {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Fields(Vec<(String, String)>),
    /// A plan limit would be exceeded.
    #[error("{what}: the plan allows at most {limit}")]
    LimitReached {
        /// What is limited, e.g. `products`.
        what: &'static str,
        /// The plan's limit.
        limit: i64,
    },
    /// The thing asked for does not exist in this tenant.
    #[error("not found")]
    NotFound,
    /// A migration failed; the schema stays at its previous version.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's version number.
        version: i64,
        /// The migration's name.
        name: String,
        /// What PostgreSQL said.
        #[source]
        source: sqlx::Error,
    },
    /// The database refused or failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// A validation error on `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}
