//! The merchant's overrides of storefront templates (the default theme ships in the binary).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::{StoreError, outbox};

/// One overridden template.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Override {
    /// The template's name, e.g. `store/home.html`.
    pub name: String,
    /// The merchant's Tera source.
    pub source: String,
    /// Bumped on every save, so a render error is recorded against the source it came from.
    pub version: i64,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
    /// Who saved it (a merchant's email).
    pub updated_by: String,
    /// The last error rendering this source hit on the storefront (it fell back to the
    /// default template then), if any.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "name, source, version, updated_at, updated_by, last_error, last_error_at";

/// Every override of the store, by name.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<Override>, StoreError> {
    Ok(sqlx::query_as::<_, Override>(&format!(
        "SELECT {COLUMNS} FROM theme_templates ORDER BY name"
    ))
    .fetch_all(conn)
    .await?)
}

/// The override of `name`, if there is one.
pub async fn find(conn: &mut PgConnection, name: &str) -> Result<Option<Override>, StoreError> {
    Ok(sqlx::query_as::<_, Override>(&format!(
        "SELECT {COLUMNS} FROM theme_templates WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await?)
}

/// Saves the override of `name` (already validated by the caller) and writes a
/// `theme.updated` event in the caller's transaction. Clears any recorded render error.
pub async fn save(
    conn: &mut PgConnection,
    name: &str,
    source: &str,
    actor: &str,
) -> Result<Override, StoreError> {
    let saved = sqlx::query_as::<_, Override>(&format!(
        "INSERT INTO theme_templates (name, source, updated_by) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, \
             version = theme_templates.version + 1, updated_at = now(), \
             updated_by = EXCLUDED.updated_by, last_error = NULL, last_error_at = NULL \
         RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(source)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    outbox::emit(
        conn,
        "theme.updated",
        serde_json::json!({ "name": name, "version": saved.version, "reset": false }),
    )
    .await?;
    Ok(saved)
}

/// Removes the override of `name` (the default template applies again) and writes a
/// `theme.updated` event. Returns false when there was no override.
pub async fn reset(conn: &mut PgConnection, name: &str) -> Result<bool, StoreError> {
    let removed = sqlx::query("DELETE FROM theme_templates WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        > 0;
    if removed {
        outbox::emit(
            conn,
            "theme.updated",
            serde_json::json!({ "name": name, "reset": true }),
        )
        .await?;
    }
    Ok(removed)
}

/// Records that rendering version `version` of `name` failed with `message`; does nothing
/// when the override has been saved again (or reset) since.
pub async fn record_error(
    conn: &mut PgConnection,
    name: &str,
    version: i64,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE theme_templates SET last_error = $3, last_error_at = now() \
         WHERE name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}
