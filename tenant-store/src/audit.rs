//! The store's audit log: who did what, and when.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::StoreError;

/// Records an action in the caller's transaction (it exists exactly when the change does).
/// `actor` is a merchant's email, `api:<token name>` or `import`; `action` is dotted
/// (`product.update`); `subject` names the thing changed (a handle, an id).
pub async fn record(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_log (actor, action, subject, details) VALUES ($1, $2, $3, $4)")
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(details)
        .execute(conn)
        .await?;
    Ok(())
}

/// One audit entry.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Entry {
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// More about it.
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The latest entries, newest first, older than `before_id` when given.
pub async fn list(
    conn: &mut PgConnection,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<(i64, Entry)>, StoreError> {
    let rows: Vec<(
        i64,
        String,
        String,
        String,
        serde_json::Value,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "SELECT id, actor, action, subject, details, created_at FROM audit_log \
         WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, actor, action, subject, details, created_at)| {
            (
                id,
                Entry {
                    actor,
                    action,
                    subject,
                    details,
                    created_at,
                },
            )
        })
        .collect())
}
