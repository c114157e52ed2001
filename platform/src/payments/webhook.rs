//! `POST /webhooks/{gateway}` on a store's host: a gateway tells the store about a payment.
//!
//! The signature is verified first (a bad one gets 400 and changes nothing). The event id
//! goes into the store's inbox in the transaction that applies the event, so a redelivered
//! event changes nothing and an event whose handling failed is handled on redelivery. An
//! amount or currency that does not match the order flags the order for the merchant
//! instead of taking it as paid.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use billing::{BillingError, Currency, GatewayEventKind, Money};
use tenant_store::StoreError;
use tenant_store::orders::{self, Order};
use tenant_store::payments::record_webhook;

use super::mail::{self, MailFacts, OrderMail};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::{CurrentTenant, request_base_url};

/// Largest webhook body read.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// `POST /webhooks/{gateway}`.
pub async fn receive(
    State(app): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    Path(gateway_name): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    if body.len() > MAX_WEBHOOK_BYTES {
        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "too large"));
    }
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let gateway = {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        let row = match tenant_store::payments::get_gateway(&mut tx, &gateway_name).await {
            Ok(row) => row,
            Err(StoreError::NotFound) => return Err(AppError::NotFound),
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        super::build(&app, tenant.id, &row)?
    };
    let event = match gateway.parse_webhook(&pairs, &body).await {
        Ok(Some(event)) => event,
        Ok(None) => return Ok(plain(StatusCode::OK, "ignored")),
        Err(BillingError::InvalidSignature) => {
            tracing::warn!(tenant.id = %tenant.id, gateway = %gateway_name, "webhook with a bad signature refused");
            return Ok(plain(StatusCode::BAD_REQUEST, "invalid signature"));
        }
        Err(BillingError::Unsupported(_)) => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let base = request_base_url(&app, &headers);
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = match orders::find_by_payment_ref(&mut tx, &event.payment_ref).await {
        Ok(o) => Some(o),
        Err(StoreError::NotFound) => match event.order_id {
            Some(id) => match orders::get_order(&mut tx, id).await {
                Ok(o) => Some(o),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        },
        Err(e) => return Err(e.into()),
    };
    let Some(order) = order else {
        // Not an order of this store (another integration on the same account): accept it
        // so the gateway stops resending, change nothing.
        record_webhook(
            &mut tx,
            &gateway_name,
            &event.event_id,
            None,
            "unknown_order",
        )
        .await?;
        tx.commit().await?;
        return Ok(plain(StatusCode::OK, "no such order"));
    };
    if !record_webhook(
        &mut tx,
        &gateway_name,
        &event.event_id,
        Some(order.id),
        "applied",
    )
    .await?
    {
        return Ok(plain(StatusCode::OK, "already handled"));
    }
    // Under the order's lock: the shopper's return may be marking it paid right now.
    let order = orders::lock_order(&mut tx, order.id).await?;
    let outcome = apply(
        &app,
        &mut tx,
        &tenant.schema,
        &base,
        &order,
        &event.kind,
        event.amount,
    )
    .await?;
    sqlx::query("UPDATE webhook_inbox SET outcome = $3 WHERE gateway = $1 AND event_id = $2")
        .bind(&gateway_name)
        .bind(&event.event_id)
        .bind(outcome)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        tenant.id = %tenant.id, order.number = order.number, event.id = %event.event_id,
        outcome, "webhook applied"
    );
    Ok(plain(StatusCode::OK, "ok"))
}

/// Applies one verified event to the order; returns what happened, for the inbox.
async fn apply(
    app: &AppState,
    conn: &mut sqlx::PgConnection,
    schema: &tenant_store::TenantSchema,
    base: &str,
    order: &Order,
    kind: &GatewayEventKind,
    amount: Option<Money>,
) -> Result<&'static str, AppError> {
    let currency = Currency::parse(&order.currency)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("order currency: {e}")))?;
    let expected = Money::new(order.total_minor, currency);
    match kind {
        GatewayEventKind::Succeeded => {
            if amount != Some(expected) {
                let reported = amount.map_or_else(
                    || "no amount".to_owned(),
                    |m| format!("{} {}", m.to_decimal_string(), m.currency.as_str()),
                );
                orders::flag_payment(
                    conn,
                    order.id,
                    &format!(
                        "the gateway reported a payment of {reported}, the order total is {} {}",
                        expected.to_decimal_string(),
                        currency.as_str()
                    ),
                )
                .await?;
                return Ok("flagged_amount");
            }
            if order.financial_status != "pending" || order.status != "open" {
                if order.financial_status == "paid" {
                    return Ok("already_paid");
                }
                orders::flag_payment(
                    conn,
                    order.id,
                    &format!(
                        "a payment arrived for an order that is {} ({}); refund it",
                        order.status, order.financial_status
                    ),
                )
                .await?;
                return Ok("flagged_state");
            }
            let payment_ref = order.payment_ref.clone().unwrap_or_default();
            let paid = orders::mark_paid(conn, order.id, &payment_ref, order.total_minor).await?;
            mail::queue(
                app,
                conn,
                schema,
                base,
                &paid,
                OrderMail::PaymentReceived,
                MailFacts::default(),
            )
            .await?;
            Ok("paid")
        }
        GatewayEventKind::Failed | GatewayEventKind::Canceled => {
            if order.financial_status != "pending" || order.status != "open" {
                return Ok("ignored_state");
            }
            let reason = if matches!(kind, GatewayEventKind::Failed) {
                "the payment failed"
            } else {
                "the payment page expired"
            };
            let failed = orders::payment_failed(conn, order.id, reason).await?;
            mail::queue(
                app,
                conn,
                schema,
                base,
                &failed,
                OrderMail::Cancelled,
                MailFacts::default(),
            )
            .await?;
            Ok("failed")
        }
        // Refunds are started from the admin, which records them; the echo changes nothing.
        GatewayEventKind::Refunded { .. } => Ok("ignored_refund"),
    }
}
