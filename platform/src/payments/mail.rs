//! The shopper's order emails (confirmation, payment received, shipped, refunded,
//! cancelled), queued in the transaction of the change they tell about: a rolled-back order
//! sends nothing, and the mail outbox retries a failing SMTP server.

use billing::Currency;
use serde::Serialize;
use sqlx::PgConnection;
use tenant_store::TenantSchema;
use tenant_store::orders::Order;

use crate::app::AppState;
use crate::error::AppError;
use crate::mail::render_email;
use crate::mail_outbox;
use crate::storefront::layout::{display_money, store_settings};

/// Which email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderMail {
    /// The order was placed (with payment instructions when payment is still to come).
    Confirmation,
    /// The payment arrived.
    PaymentReceived,
    /// Some or all of it shipped.
    Shipped,
    /// Money went back.
    Refunded,
    /// The order was cancelled.
    Cancelled,
}

impl OrderMail {
    fn template(self) -> &'static str {
        match self {
            Self::Confirmation => "order_confirmation",
            Self::PaymentReceived => "order_paid",
            Self::Shipped => "order_shipped",
            Self::Refunded => "order_refunded",
            Self::Cancelled => "order_cancelled",
        }
    }
}

/// A line as the email shows it.
#[derive(Serialize)]
struct MailLine {
    title: String,
    variant_title: String,
    quantity: i32,
    total: String,
}

/// What the templates get (`templates/email/order_*`).
#[derive(Serialize)]
struct MailView<'a> {
    store_name: String,
    number: i64,
    order_url: String,
    invoice_url: String,
    lines: Vec<MailLine>,
    subtotal: String,
    discount: Option<String>,
    shipping: String,
    shipping_method: &'a str,
    tax: String,
    taxes_included: bool,
    total: String,
    financial_status: &'a str,
    /// Payment instructions (manual payments awaiting the money).
    instructions: Option<&'a str>,
    /// Shipped: carrier, tracking number and link.
    carrier: Option<&'a str>,
    tracking_number: Option<&'a str>,
    tracking_url: Option<&'a str>,
    /// Refunded: this refund and the total refunded.
    refund_amount: Option<String>,
    refunded_total: String,
    /// Cancelled: why.
    reason: Option<&'a str>,
}

/// Extra facts for one email.
#[derive(Default, Debug, Clone)]
pub struct MailFacts<'a> {
    /// Manual payment instructions.
    pub instructions: Option<&'a str>,
    /// Shipment carrier.
    pub carrier: Option<&'a str>,
    /// Shipment tracking number.
    pub tracking_number: Option<&'a str>,
    /// Shipment tracking page.
    pub tracking_url: Option<&'a str>,
    /// This refund, minor units.
    pub refund_minor: Option<i64>,
}

/// Queues `kind` for the order's shopper in the caller's tenant transaction. `base_url` is
/// the store's `scheme://host` for the links.
pub async fn queue(
    app: &AppState,
    conn: &mut PgConnection,
    schema: &TenantSchema,
    base_url: &str,
    order: &Order,
    kind: OrderMail,
    facts: MailFacts<'_>,
) -> Result<(), AppError> {
    // The name and reply-to address, usually from the cached store frame: one query less
    // in the order's transaction.
    let store = store_settings(app, conn, schema.as_str()).await?;
    let currency = Currency::parse(&order.currency)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("order currency: {e}")))?;
    let money = |m: i64| display_money(m, currency);
    let view = MailView {
        store_name: store.name.clone(),
        number: order.number,
        order_url: format!("{base_url}/orders/{}", order.token),
        invoice_url: format!("{base_url}/orders/{}/invoice", order.token),
        lines: order
            .lines
            .iter()
            .map(|l| MailLine {
                title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                quantity: l.quantity,
                total: money(l.total_minor),
            })
            .collect(),
        subtotal: money(order.subtotal_minor),
        discount: (order.discount_minor > 0).then(|| money(order.discount_minor)),
        shipping: money(order.shipping_minor),
        shipping_method: &order.shipping_method,
        tax: money(order.tax_minor),
        taxes_included: order.taxes_included,
        total: money(order.total_minor),
        financial_status: &order.financial_status,
        instructions: facts.instructions,
        carrier: facts.carrier.filter(|c| !c.is_empty()),
        tracking_number: facts.tracking_number.filter(|t| !t.is_empty()),
        tracking_url: facts.tracking_url.filter(|t| !t.is_empty()),
        refund_amount: facts.refund_minor.map(money),
        refunded_total: money(order.refunded_minor),
        reason: order.cancel_reason.as_deref(),
    };
    let mut outgoing = render_email(
        &app.views,
        kind.template(),
        &view,
        &order.email,
        &app.settings.mail_from(),
    )?;
    if !store.contact_email.is_empty() {
        outgoing.reply_to = Some(store.contact_email.clone());
    }
    mail_outbox::enqueue(conn, &outgoing).await?;
    Ok(())
}
