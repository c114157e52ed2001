//! Payments on the platform side: building a store's gateways from its sealed settings, and
//! the order flows that involve money or mail (start a payment, mark paid, refund, cancel,
//! fulfil, webhooks, the reservation sweeper). Storefront and admin handlers call these, so a
//! transition always writes its history, its outbox event and its email in one transaction.

pub mod flow;
pub mod mail;
pub mod sweeper;
pub mod webhook;

use std::sync::Arc;

use billing::{BillingError, BuildContext, GatewaySettings, PaymentGateway};
use serde::Deserialize as _;
use sqlx::PgConnection;
use tenant_store::StoreError;
use tenant_store::orders::Order;
use tenant_store::payments::{self, GatewayRow};
use uuid::Uuid;

use crate::app::AppState;
use crate::config::Environment;
use crate::error::AppError;
use crate::extract::CurrentTenant;

/// The context secrets of a store's gateways are sealed under: a secret copied to another
/// store does not open.
pub fn seal_context(tenant_id: Uuid) -> String {
    format!("tenant:{tenant_id}")
}

/// A gateway offered at checkout.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GatewayChoice {
    /// `test`, `manual`, `stripe`, `store_credit`.
    pub name: String,
    /// What the shopper sees.
    pub label: String,
    /// The merchant's instructions (manual payments).
    pub instructions: Option<String>,
    /// The gateway's configuration as read for the offer.
    #[serde(skip)]
    pub row: GatewayRow,
}

impl From<BillingError> for AppError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Invalid { field, message } => {
                AppError::Invalid(vec![(field.to_owned(), message)])
            }
            BillingError::Declined(m) => AppError::Invalid(vec![("payment".to_owned(), m)]),
            BillingError::Unsupported(what) => {
                AppError::BadRequest(format!("this payment method does not support {what}"))
            }
            BillingError::InvalidSignature => {
                AppError::BadRequest("the webhook signature does not verify".to_owned())
            }
            BillingError::SecretUnreadable => AppError::Unavailable(
                "this payment method needs its keys entered again in the admin".to_owned(),
            ),
            BillingError::Gateway(m) => {
                tracing::warn!(error = %m, "payment gateway error");
                AppError::Unavailable(
                    "the payment provider did not answer; please try again in a moment".to_owned(),
                )
            }
        }
    }
}

/// Builds a configured gateway (enabled or not: refunds of past orders still need it).
pub fn build(
    app: &AppState,
    tenant_id: Uuid,
    row: &GatewayRow,
) -> Result<Arc<dyn PaymentGateway>, AppError> {
    let settings: GatewaySettings = serde_json::from_value(row.settings.clone())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("gateway {} settings: {e}", row.name)))?;
    let context = seal_context(tenant_id);
    Ok(settings.build(BuildContext {
        cipher: &app.cipher,
        tenant: &context,
        production: app.settings.environment == Environment::Production,
        stripe_api_base: app.settings.stripe_api_base.as_deref(),
    })?)
}

/// The store's gateway called `name`, as configured.
pub async fn gateway(
    app: &AppState,
    conn: &mut PgConnection,
    tenant_id: Uuid,
    name: &str,
) -> Result<Arc<dyn PaymentGateway>, AppError> {
    let row = payments::get_gateway(conn, name).await?;
    build(app, tenant_id, &row)
}

/// The merchant's instructions in a manual gateway's stored settings.
fn instructions_of(settings: &serde_json::Value) -> Option<String> {
    match GatewaySettings::deserialize(settings) {
        Ok(GatewaySettings::Manual { instructions }) => Some(instructions),
        _ => None,
    }
}

/// What the shopper must do to pay `order`: the manual gateway's instructions when the
/// order pays that way (and the gateway is still configured), else nothing.
pub async fn payment_instructions(
    conn: &mut PgConnection,
    order: &Order,
) -> Result<Option<String>, AppError> {
    if order.gateway.as_deref() != Some("manual") {
        return Ok(None);
    }
    match payments::get_gateway(conn, "manual").await {
        Ok(row) => Ok(instructions_of(&row.settings)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The store's gateway called `name`, read in a transaction of its own (for handlers that
/// call the gateway before opening the transaction that records the outcome).
pub async fn gateway_of(
    app: &AppState,
    tenant: &CurrentTenant,
    name: &str,
) -> Result<Arc<dyn PaymentGateway>, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let g = gateway(app, &mut tx, tenant.id, name).await?;
    tx.commit().await?;
    Ok(g)
}

/// The gateways checkout offers, in the merchant's order. Store credit only for a signed-in
/// customer; the test gateway never in production mode.
pub async fn choices(
    app: &AppState,
    conn: &mut PgConnection,
    signed_in: bool,
) -> Result<Vec<GatewayChoice>, AppError> {
    let production = app.settings.environment == Environment::Production;
    let rows = payments::list_gateways(conn).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.enabled)
        .filter(|r| !(production && r.name == "test"))
        .filter(|r| signed_in || r.name != "store_credit")
        .map(|r| GatewayChoice {
            name: r.name.clone(),
            label: r.label.clone(),
            instructions: instructions_of(&r.settings),
            row: r,
        })
        .collect())
}
