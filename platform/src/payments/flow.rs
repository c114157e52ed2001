//! Order transitions that involve a gateway or an email, shared by checkout, the admin, the
//! Admin API and webhooks. Each runs in one tenant transaction: the order's history, its
//! outbox event, the audit entry and the shopper's email exist exactly when the change does.
//! Gateway calls that move money happen before that transaction and carry idempotency keys,
//! so a retry after a crash cannot move money twice.

use billing::{Currency, Money, PaymentGateway, PaymentRequest, PaymentStart, PaymentStatus};
use sqlx::PgConnection;
use tenant_store::orders::{self, FulfilLine, Order};
use tenant_store::{StoreError, audit, credit};
use uuid::Uuid;

use super::GatewayChoice;
use super::mail::{self, MailFacts, OrderMail};
use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;

/// Who made a change: a staff member's email, or `checkout`, `webhook`, `sweeper`.
pub type Actor<'a> = &'a str;

fn currency_of(order: &Order) -> Result<Currency, AppError> {
    Currency::parse(&order.currency)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("order currency: {e}")))
}

/// Starts paying for a freshly placed order with a gateway checkout offered (built from the
/// settings read with the offer, not read again) and queues the confirmation
/// email, in one transaction. A payment that is complete at once (store credit, a zero
/// total) marks the order paid in the same transaction: store credit is debited there, and
/// a balance too small refuses the whole order (the caller's order transaction rolls back
/// with it when it is the same one).
pub async fn start_payment(
    app: &AppState,
    conn: &mut PgConnection,
    tenant: &CurrentTenant,
    order: &Order,
    offered: &GatewayChoice,
    base_url: &str,
) -> Result<(Order, PaymentStart), AppError> {
    let gateway_name = offered.name.as_str();
    let currency = currency_of(order)?;
    let start = if order.total_minor == 0 {
        PaymentStart::Completed {
            payment_ref: format!("free_{}", order.id.simple()),
        }
    } else {
        let gateway = super::build(app, tenant.id, &offered.row)?;
        gateway
            .start_payment(&PaymentRequest {
                order_id: order.id,
                amount: Money::new(order.total_minor, currency),
                idempotency_key: format!("order-{}-start", order.id),
                return_url: format!("{base_url}/orders/{}?return=1", order.token),
                cancel_url: format!("{base_url}/orders/{}", order.token),
                customer_email: Some(order.email.clone()),
                description: format!("Order #{}", order.number),
            })
            .await?
    };
    orders::set_payment(conn, order.id, gateway_name, start.payment_ref()).await?;
    let mut order = Order {
        gateway: Some(gateway_name.to_owned()),
        payment_ref: Some(start.payment_ref().to_owned()),
        ..order.clone()
    };
    if let PaymentStart::Completed { payment_ref } = &start {
        if gateway_name == "store_credit" && order.total_minor > 0 {
            let customer = order.customer_id.ok_or_else(|| {
                AppError::Invalid(vec![(
                    "gateway".to_owned(),
                    "sign in to pay with store credit".to_owned(),
                )])
            })?;
            credit::adjust(
                conn,
                customer,
                -order.total_minor,
                &format!("Order #{}", order.number),
                Some(order.id),
                "checkout",
            )
            .await
            .map_err(|e| match e {
                StoreError::Invalid {
                    field: "amount", ..
                } => AppError::Invalid(vec![(
                    "gateway".to_owned(),
                    "your store credit does not cover this order".to_owned(),
                )]),
                other => other.into(),
            })?;
        }
        order = orders::mark_paid(conn, order.id, payment_ref, order.total_minor).await?;
    }
    let instructions = super::payment_instructions(conn, &order).await?;
    mail::queue(
        app,
        conn,
        &tenant.schema,
        base_url,
        &order,
        OrderMail::Confirmation,
        MailFacts {
            instructions: instructions.as_deref(),
            ..MailFacts::default()
        },
    )
    .await?;
    Ok((order, start))
}

/// Applies what the gateway says of the order's payment (a card form's answer, the shopper
/// back from a hosted page). `Succeeded` marks the order paid and emails the shopper;
/// anything else changes nothing (a declined card may be retried). Returns the order.
pub async fn apply_status(
    app: &AppState,
    tenant: &CurrentTenant,
    order_id: Uuid,
    payment_ref: &str,
    status: &PaymentStatus,
    base_url: &str,
) -> Result<Order, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::lock_order(&mut tx, order_id).await?;
    if *status != PaymentStatus::Succeeded
        || order.financial_status != "pending"
        || order.status != "open"
        || order.payment_ref.as_deref() != Some(payment_ref)
    {
        return Ok(order);
    }
    // The email first (it shows the order as paying makes it, checked just above), so the
    // rows paying locks (the products' sales counters) are held only from there to COMMIT;
    // if paying fails, the email goes with the rolled-back transaction.
    let paid_now = Order {
        financial_status: "paid".to_owned(),
        ..order.clone()
    };
    mail::queue(
        app,
        &mut tx,
        &tenant.schema,
        base_url,
        &paid_now,
        OrderMail::PaymentReceived,
        MailFacts::default(),
    )
    .await?;
    let paid = orders::mark_paid(&mut tx, order_id, payment_ref, order.total_minor).await?;
    tx.commit().await?;
    Ok(paid)
}

/// The merchant records a payment that arrived outside the platform (a bank transfer).
pub async fn mark_paid(
    app: &AppState,
    tenant: &CurrentTenant,
    order_id: Uuid,
    actor: Actor<'_>,
    base_url: &str,
) -> Result<Order, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::lock_order(&mut tx, order_id).await?;
    if order.financial_status != "pending" {
        return Ok(order);
    }
    let payment_ref = order
        .payment_ref
        .clone()
        .unwrap_or_else(|| format!("manual_{}", order.id.simple()));
    let paid = orders::mark_paid(&mut tx, order_id, &payment_ref, order.total_minor).await?;
    audit::record(
        &mut tx,
        actor,
        "order.mark_paid",
        &format!("#{}", paid.number),
        serde_json::json!({ "order_id": order_id }),
    )
    .await?;
    mail::queue(
        app,
        &mut tx,
        &tenant.schema,
        base_url,
        &paid,
        OrderMail::PaymentReceived,
        MailFacts::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(paid)
}

/// Gives back `amount_minor` of a paid order through its gateway (store credit goes back to
/// the balance), optionally restocking the units not shipped, and emails the shopper. A
/// refund the gateway refuses changes nothing.
pub async fn refund(
    app: &AppState,
    tenant: &CurrentTenant,
    order_id: Uuid,
    amount_minor: i64,
    restock: bool,
    actor: Actor<'_>,
    base_url: &str,
) -> Result<Order, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::lock_order(&mut tx, order_id).await?;
    let refunded =
        refund_locked(app, &mut tx, tenant, &order, amount_minor, restock, actor).await?;
    mail::queue(
        app,
        &mut tx,
        &tenant.schema,
        base_url,
        &refunded,
        OrderMail::Refunded,
        MailFacts {
            refund_minor: Some(amount_minor),
            ..MailFacts::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(refunded)
}

/// The refund of an order the caller locked: the gateway call (keyed by what was refunded
/// before, so a retry is the same refund and the next one another), the record, the audit.
async fn refund_locked(
    app: &AppState,
    conn: &mut PgConnection,
    tenant: &CurrentTenant,
    order: &Order,
    amount_minor: i64,
    restock: bool,
    actor: Actor<'_>,
) -> Result<Order, AppError> {
    let left = order.total_minor - order.refunded_minor;
    if !matches!(
        order.financial_status.as_str(),
        "paid" | "partially_refunded"
    ) {
        return Err(AppError::Invalid(vec![(
            "amount".to_owned(),
            format!(
                "order #{} is {} and has nothing to refund",
                order.number, order.financial_status
            ),
        )]));
    }
    if amount_minor <= 0 || amount_minor > left {
        return Err(AppError::Invalid(vec![(
            "amount".to_owned(),
            format!("must be more than 0 and at most {left}"),
        )]));
    }
    let gateway_name = order.gateway.clone().unwrap_or_else(|| "manual".to_owned());
    if let Some(payment_ref) = order
        .payment_ref
        .as_deref()
        .filter(|_| order.total_minor > 0)
    {
        if gateway_name == "store_credit" {
            let customer = order.customer_id.ok_or(AppError::NotFound)?;
            credit::adjust(
                conn,
                customer,
                amount_minor,
                &format!("Refund of order #{}", order.number),
                Some(order.id),
                actor,
            )
            .await?;
        } else {
            let gateway: std::sync::Arc<dyn PaymentGateway> =
                super::gateway(app, conn, tenant.id, &gateway_name).await?;
            let key = format!("order-{}-refund-{}", order.id, order.refunded_minor);
            gateway
                .refund(
                    payment_ref,
                    Money::new(amount_minor, currency_of(order)?),
                    &key,
                )
                .await?;
        }
    }
    let refunded = orders::record_refund(conn, order.id, amount_minor, restock).await?;
    audit::record(
        conn,
        actor,
        "order.refund",
        &format!("#{}", refunded.number),
        serde_json::json!({ "order_id": order.id, "amount_minor": amount_minor, "restock": restock }),
    )
    .await?;
    Ok(refunded)
}

/// Cancels an unfulfilled order: a paid order is refunded in full through its gateway,
/// stock goes back, and the shopper is told, all under the order's lock in one transaction
/// (a shipment recorded meanwhile waits, then finds the order cancelled).
pub async fn cancel(
    app: &AppState,
    tenant: &CurrentTenant,
    order_id: Uuid,
    reason: &str,
    actor: Actor<'_>,
    base_url: &str,
) -> Result<Order, AppError> {
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::lock_order(&mut tx, order_id).await?;
    if order.status == "cancelled" {
        return Ok(order);
    }
    if order.fulfillment_status != "unfulfilled" {
        return Err(AppError::Invalid(vec![(
            "status".to_owned(),
            format!(
                "order #{} is {} and can't be cancelled",
                order.number, order.fulfillment_status
            ),
        )]));
    }
    let left = order.total_minor - order.refunded_minor;
    if matches!(
        order.financial_status.as_str(),
        "paid" | "partially_refunded"
    ) && left > 0
    {
        // Stock goes back with the cancellation below, not with the refund.
        refund_locked(app, &mut tx, tenant, &order, left, false, actor).await?;
    }
    let cancelled = orders::cancel(&mut tx, order_id, reason).await?;
    audit::record(
        &mut tx,
        actor,
        "order.cancel",
        &format!("#{}", cancelled.number),
        serde_json::json!({ "order_id": order_id, "reason": reason }),
    )
    .await?;
    mail::queue(
        app,
        &mut tx,
        &tenant.schema,
        base_url,
        &cancelled,
        OrderMail::Cancelled,
        MailFacts::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(cancelled)
}

/// The tracking page of a well-known carrier for a tracking number.
pub fn tracking_url(carrier: &str, number: &str) -> Option<String> {
    let number: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if number.is_empty() {
        return None;
    }
    let base = match carrier.trim().to_ascii_lowercase().as_str() {
        "ups" => "https://www.ups.com/track?tracknum=",
        "usps" => "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
        "fedex" => "https://www.fedex.com/fedextrack/?trknbr=",
        "dhl" => "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id=",
        "royal mail" => "https://www.royalmail.com/track-your-item#/tracking-results/",
        "dpd" => "https://track.dpd.co.uk/parcels/",
        "canada post" => {
            "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor="
        }
        "australia post" => "https://auspost.com.au/mypost/track/#/details/",
        _ => return None,
    };
    Some(format!("{base}{number}"))
}

/// What a shipment is made of.
#[derive(Debug, Clone, Default)]
pub struct Shipment {
    /// Units per line.
    pub lines: Vec<FulfilLine>,
    /// Carrier name.
    pub carrier: String,
    /// Tracking number.
    pub tracking_number: String,
    /// Tracking page; derived from a known carrier when empty.
    pub tracking_url: String,
}

/// Records a shipment of a paid order and emails the shopper the tracking link.
pub async fn fulfil(
    app: &AppState,
    tenant: &CurrentTenant,
    order_id: Uuid,
    shipment: &Shipment,
    actor: Actor<'_>,
    base_url: &str,
) -> Result<Order, AppError> {
    let url = match shipment.tracking_url.trim() {
        "" => tracking_url(&shipment.carrier, &shipment.tracking_number),
        u if u.starts_with("https://") || u.starts_with("http://") => Some(u.to_owned()),
        _ => {
            return Err(AppError::Invalid(vec![(
                "tracking_url".to_owned(),
                "must start with https:// or http://".to_owned(),
            )]));
        }
    };
    let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
    let order = orders::fulfil(
        &mut tx,
        order_id,
        &shipment.lines,
        shipment.carrier.trim(),
        shipment.tracking_number.trim(),
    )
    .await?;
    audit::record(
        &mut tx,
        actor,
        "order.fulfil",
        &format!("#{}", order.number),
        serde_json::json!({
            "order_id": order_id, "carrier": shipment.carrier, "tracking": shipment.tracking_number,
        }),
    )
    .await?;
    mail::queue(
        app,
        &mut tx,
        &tenant.schema,
        base_url,
        &order,
        OrderMail::Shipped,
        MailFacts {
            carrier: Some(shipment.carrier.trim()),
            tracking_number: Some(shipment.tracking_number.trim()),
            tracking_url: url.as_deref(),
            ..MailFacts::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(order)
}
