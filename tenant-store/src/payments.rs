//! The payment gateways a store configured, and the inbox of gateway webhooks already
//! handled. Settings are stored as the billing crate's JSON with secrets sealed; this module
//! never sees a secret in clear.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// Gateways a store may configure.
pub const GATEWAY_NAMES: [&str; 4] = ["test", "manual", "stripe", "store_credit"];

/// One configured gateway.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct GatewayRow {
    /// `test`, `manual`, `stripe` or `store_credit`.
    pub name: String,
    /// Offered at checkout.
    pub enabled: bool,
    /// What the shopper sees at checkout.
    pub label: String,
    /// billing's `GatewaySettings` as JSON (secrets sealed).
    pub settings: serde_json::Value,
    /// Order at checkout.
    pub position: i32,
    /// Last change; caches of built gateways compare it.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "name, enabled, label, settings, position, updated_at";

/// Every configured gateway, in checkout order.
pub async fn list_gateways(conn: &mut PgConnection) -> Result<Vec<GatewayRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payment_gateways ORDER BY position, name"
    ))
    .fetch_all(conn)
    .await?)
}

/// One configured gateway.
pub async fn get_gateway(conn: &mut PgConnection, name: &str) -> Result<GatewayRow, StoreError> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payment_gateways WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotFound)
}

/// Creates or replaces a gateway's configuration.
pub async fn save_gateway(
    conn: &mut PgConnection,
    name: &str,
    enabled: bool,
    label: &str,
    settings: &serde_json::Value,
) -> Result<GatewayRow, StoreError> {
    if !GATEWAY_NAMES.contains(&name) {
        return Err(StoreError::invalid("gateway", "is not a known gateway"));
    }
    let label = label.trim();
    if label.is_empty() {
        return Err(StoreError::invalid("label", "can't be empty"));
    }
    if label.chars().count() > 100 {
        return Err(StoreError::invalid(
            "label",
            "must be at most 100 characters",
        ));
    }
    let position = GATEWAY_NAMES
        .iter()
        .position(|n| *n == name)
        .unwrap_or_default() as i32;
    Ok(sqlx::query_as(&format!(
        "INSERT INTO payment_gateways (name, enabled, label, settings, position) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET enabled = EXCLUDED.enabled, label = EXCLUDED.label, \
             settings = EXCLUDED.settings, updated_at = now() \
         RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(enabled)
    .bind(label)
    .bind(settings)
    .bind(position)
    .fetch_one(conn)
    .await?)
}

/// Records a webhook event as handled; `false` when it was handled before (a redelivery),
/// in which case the caller changes nothing. Runs in the transaction that applies the
/// event, so an event whose handling rolled back is handled again on redelivery.
pub async fn record_webhook(
    conn: &mut PgConnection,
    gateway: &str,
    event_id: &str,
    order_id: Option<Uuid>,
    outcome: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_inbox (gateway, event_id, order_id, outcome) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (gateway, event_id) DO NOTHING",
    )
    .bind(gateway)
    .bind(event_id)
    .bind(order_id)
    .bind(outcome)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
