//! Bearer tokens for the JSON Admin API: issued to one store with scopes, shown once, kept
//! only as a SHA-256, checked on every API request, revocable.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::AppError;
use crate::tokens;

/// Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "sf_";
/// Longest token accepted before any lookup (ours are 46 characters).
const MAX_TOKEN_LEN: usize = 128;
/// Longest token name.
const MAX_NAME_CHARS: usize = 100;
/// `last_used_at` is written at most this often per token, so busy integrations do not
/// turn every read into a write.
const LAST_USED_GRANULARITY_SECS: f64 = 60.0;

/// What a token may do. A write scope includes the matching read scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read products, variants and their stock.
    ProductsRead,
    /// Create, change and delete products.
    ProductsWrite,
    /// Read stock levels.
    InventoryRead,
    /// Set stock levels.
    InventoryWrite,
    /// Read pages, blogs and articles.
    ContentRead,
    /// Create, change and delete pages and articles.
    ContentWrite,
    /// Read orders.
    OrdersRead,
    /// Cancel, fulfil and refund orders.
    OrdersWrite,
    /// Read customers.
    CustomersRead,
}

impl Scope {
    /// Every scope, in the order the admin lists them.
    pub const ALL: [Scope; 9] = [
        Scope::ProductsRead,
        Scope::ProductsWrite,
        Scope::InventoryRead,
        Scope::InventoryWrite,
        Scope::ContentRead,
        Scope::ContentWrite,
        Scope::OrdersRead,
        Scope::OrdersWrite,
        Scope::CustomersRead,
    ];

    /// The scope's name (`products:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProductsRead => "products:read",
            Self::ProductsWrite => "products:write",
            Self::InventoryRead => "inventory:read",
            Self::InventoryWrite => "inventory:write",
            Self::ContentRead => "content:read",
            Self::ContentWrite => "content:write",
            Self::OrdersRead => "orders:read",
            Self::OrdersWrite => "orders:write",
            Self::CustomersRead => "customers:read",
        }
    }

    /// The scope with this name, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }

    /// Whether holding `self` allows what `wanted` allows.
    pub fn grants(self, wanted: Scope) -> bool {
        self == wanted
            || matches!(
                (self, wanted),
                (Self::ProductsWrite, Self::ProductsRead)
                    | (Self::InventoryWrite, Self::InventoryRead)
                    | (Self::ContentWrite, Self::ContentRead)
                    | (Self::OrdersWrite, Self::OrdersRead)
            )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a comma-separated scope list (`products:read,products:write`); duplicates are
/// dropped, unknown names refused.
pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let scope = Scope::parse(name).ok_or_else(|| {
            format!(
                "unknown scope “{name}” (known: {})",
                Scope::ALL.map(Scope::as_str).join(", ")
            )
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err("choose at least one scope".into());
    }
    Ok(scopes)
}

/// A token as the admin lists it (never the token itself).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    /// Identifier.
    pub id: Uuid,
    /// What the merchant called it; API changes are audited as `api:<name>`.
    pub name: String,
    /// Scope names.
    pub scopes: Vec<String>,
    /// Who created it (`None` for the command line, or a deleted account).
    pub created_by: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token just issued: the record, and the token itself, which exists nowhere else.
#[derive(Debug)]
pub struct Issued {
    /// The stored record.
    pub token: ApiToken,
    /// The bearer token (`sf_...`): show it once.
    pub secret: String,
}

/// Why a token was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The name or scopes were refused; each entry names the field.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<IssueError> for AppError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Invalid(fields) => Self::Invalid(fields),
            IssueError::Database(e) => e.into(),
        }
    }
}

/// Issues a token for `tenant_id` named `name` with `scopes`; `created_by` is the merchant
/// creating it (`None` from the command line).
pub async fn issue(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    name: &str,
    scopes: &[Scope],
    created_by: Option<Uuid>,
) -> Result<Issued, IssueError> {
    let name = name.trim();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(("name".to_owned(), "can't be blank".to_owned()));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push((
            "name".to_owned(),
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    } else if name.chars().any(char::is_control) {
        errors.push(("name".to_owned(), "can't contain control characters".into()));
    }
    if scopes.is_empty() {
        errors.push(("scopes".to_owned(), "choose at least one scope".to_owned()));
    }
    if !errors.is_empty() {
        return Err(IssueError::Invalid(errors));
    }
    let secret = format!("{PREFIX}{}", tokens::random_token());
    let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let id = Uuid::now_v7();
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO platform.api_tokens (id, tenant_id, name, scopes, token_hash, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(name)
    .bind(&scope_names)
    .bind(tokens::token_hash(&secret))
    .bind(created_by)
    .fetch_one(&mut *conn)
    .await
    .map_err(
        |e| match e.as_database_error().and_then(|d| d.constraint()) {
            Some("api_tokens_live_name_key") => IssueError::Invalid(vec![(
                "name".into(),
                "another token already has this name".into(),
            )]),
            _ => IssueError::Database(e),
        },
    )?;
    let created_by = match created_by {
        Some(user) => {
            sqlx::query_scalar("SELECT email FROM platform.users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    Ok(Issued {
        token: ApiToken {
            id,
            name: name.to_owned(),
            scopes: scope_names.into_iter().map(str::to_owned).collect(),
            created_by,
            created_at,
            last_used_at: None,
        },
        secret,
    })
}

/// The tenant's live (unrevoked) tokens, newest first.
pub async fn list(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<Vec<ApiToken>> {
    sqlx::query_as(
        "SELECT t.id, t.name, t.scopes, u.email AS created_by, t.created_at, t.last_used_at \
         FROM platform.api_tokens t LEFT JOIN platform.users u ON u.id = t.created_by \
         WHERE t.tenant_id = $1 AND t.revoked_at IS NULL ORDER BY t.created_at DESC, t.id DESC",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await
}

/// Revokes a token of this tenant at once; returns its name, or `None` when the tenant has
/// no such live token.
pub async fn revoke(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE platform.api_tokens SET revoked_at = now() \
         WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL RETURNING name",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await
}

/// A token that checked out: whose it is and what it may do.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The token's id.
    pub id: Uuid,
    /// The token's name.
    pub name: String,
    /// Its scopes (names this binary does not know are left out).
    pub scopes: Vec<Scope>,
}

impl Verified {
    /// Whether the token may do what `wanted` allows.
    pub fn allows(&self, wanted: Scope) -> bool {
        self.scopes.iter().any(|s| s.grants(wanted))
    }
}

/// Checks a presented token against `tenant_id`'s live tokens and notes its use. Anything
/// malformed, unknown, revoked or belonging to another tenant is `None`.
pub async fn verify(
    pool: &PgPool,
    tenant_id: Uuid,
    presented: &str,
) -> sqlx::Result<Option<Verified>> {
    if !presented.starts_with(PREFIX) || presented.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let found: Option<(Uuid, String, Vec<String>, bool)> = sqlx::query_as(
        "SELECT id, name, scopes, \
                last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $3) \
         FROM platform.api_tokens \
         WHERE token_hash = $1 AND tenant_id = $2 AND revoked_at IS NULL",
    )
    .bind(tokens::token_hash(presented))
    .bind(tenant_id)
    .bind(LAST_USED_GRANULARITY_SECS)
    .fetch_optional(pool)
    .await?;
    let Some((id, name, scopes, stale)) = found else {
        return Ok(None);
    };
    if stale {
        sqlx::query("UPDATE platform.api_tokens SET last_used_at = now() WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    }
    Ok(Some(Verified {
        id,
        name,
        scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_are_parsed_strictly() {
        assert_eq!(
            parse_scopes("products:read, products:write,products:read").unwrap(),
            [Scope::ProductsRead, Scope::ProductsWrite]
        );
        assert!(parse_scopes("products:read,payouts:write").is_err());
        assert!(parse_scopes(" , ").is_err());
    }

    #[test]
    fn write_scopes_include_reading() {
        assert!(Scope::ProductsWrite.grants(Scope::ProductsRead));
        assert!(!Scope::ProductsRead.grants(Scope::ProductsWrite));
        assert!(!Scope::ProductsWrite.grants(Scope::InventoryWrite));
    }
}
