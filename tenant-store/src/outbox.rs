//! Writing events to the tenant's transactional outbox.

use sqlx::PgConnection;

use crate::StoreError;

/// Writes an event in the caller's transaction: it exists exactly when the change does.
pub async fn emit(
    conn: &mut PgConnection,
    topic: &str,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO outbox (topic, payload) VALUES ($1, $2)")
        .bind(topic)
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(())
}
