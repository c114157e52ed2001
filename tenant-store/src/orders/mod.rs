//! Orders: placement (prices from the catalog, totals from [`crate::pricing`], stock
//! reserved atomically), the state machine with its event history, and reads.
//!
//! # States
//! An order has three statuses:
//! - `status`: `open` → `cancelled` (cancelling needs nothing fulfilled yet);
//! - `financial_status`: `pending` → `paid` → `partially_refunded` → `refunded`, or
//!   `pending` → `failed` (payment failed) / `voided` (cancelled before payment);
//! - `fulfillment_status`: `unfulfilled` → `partially_fulfilled` → `fulfilled` (only paid,
//!   open orders are fulfilled).
//!
//! Every change writes an `order_events` row and an outbox event `order.<kind>` in the same
//! transaction. Repeating a change that already happened (paying a paid order, cancelling a
//! cancelled one) changes nothing, so at-least-once saga handlers can retry; a change the
//! state forbids is a `status` error.
//!
//! # Stock
//! Placing an order takes the units off `variants.inventory_quantity` at once, with a
//! conditional update that never goes below zero, and records an inventory adjustment
//! ("order #1001"): the storefront shows the reduced stock and the adjustment history stays
//! the running sum of the quantity. The reservation row starts `reserved`. Payment marks it
//! `committed` (no stock change). Payment failure, cancellation or the reservation
//! timeout marks it `released` and adds the units back (adjustment "order #1001
//! released"). A refund with restock releases the committed units not yet fulfilled.
//!
//! # Units sold
//! Paying, cancelling and refunding keep `products.units_sold` (the "Best selling" sort) in
//! the same transaction; which orders count is in [`sales`].

mod payment;
mod place;
mod sales;
mod stock;
mod transitions;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::StoreError;
use crate::customers::Address;
use crate::pricing::TaxLine;

pub use payment::{add_note, find_by_payment_ref, flag_payment, set_payment};
pub use place::{Items, LineRequest, PlaceOrder, Placed, place_order, place_order_then, quote};
pub use sales::COUNTED_AS_SOLD;
pub use transitions::{
    FulfilLine, cancel, fulfil, mark_paid, payment_failed, record_refund,
    release_expired_reservations,
};

/// A placed order with its lines.
#[derive(Clone, Debug, Serialize)]
pub struct Order {
    /// Identifier.
    pub id: Uuid,
    /// The store's order number (1001, 1002, ...).
    pub number: i64,
    /// Secret for the shopper's order page.
    pub token: String,
    /// The shopper's email.
    pub email: String,
    /// The signed-in customer, if any.
    pub customer_id: Option<Uuid>,
    /// ISO currency code of every amount.
    pub currency: String,
    /// Where it ships.
    pub shipping_address: Address,
    /// Billing address, when different.
    pub billing_address: Option<Address>,
    /// The chosen rate (it may since have been deleted).
    pub shipping_rate_id: Option<Uuid>,
    /// The rate's name at the time.
    pub shipping_method: String,
    /// The code used.
    pub discount_code: Option<String>,
    /// Σ line subtotals, minor units.
    pub subtotal_minor: i64,
    /// Discount on the goods.
    pub discount_minor: i64,
    /// Shipping charged.
    pub shipping_minor: i64,
    /// Tax (included in the prices when `taxes_included`).
    pub tax_minor: i64,
    /// Whether prices included tax.
    pub taxes_included: bool,
    /// Tax per rate.
    pub tax_lines: Vec<TaxLine>,
    /// What the shopper pays.
    pub total_minor: i64,
    /// Refunded so far.
    pub refunded_minor: i64,
    /// `open` or `cancelled`.
    pub status: String,
    /// `pending`, `paid`, `partially_refunded`, `refunded`, `failed` or `voided`.
    pub financial_status: String,
    /// `unfulfilled`, `partially_fulfilled` or `fulfilled`.
    pub fulfillment_status: String,
    /// The gateway's payment reference.
    pub payment_ref: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// The gateway the shopper chose (`test`, `stripe`, `manual`, `store_credit`).
    pub gateway: Option<String>,
    /// What a gateway reported that does not fit the order, for the merchant to look at.
    pub payment_flag: Option<String>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Until when unpaid stock stays reserved.
    pub reserved_until: DateTime<Utc>,
    /// The lines, in order.
    pub lines: Vec<OrderLine>,
}

/// A line as bought (a snapshot: later catalog edits do not change it).
#[derive(Clone, Debug, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct OrderLine {
    /// 1-based position.
    pub position: i32,
    /// The variant (it may since have been deleted).
    pub variant_id: Option<Uuid>,
    /// Its product.
    pub product_id: Option<Uuid>,
    /// Product title at the time.
    pub product_title: String,
    /// "M / Blue" at the time.
    pub variant_title: String,
    /// SKU at the time.
    pub sku: String,
    /// Unit price, minor units.
    pub unit_price_minor: i64,
    /// Units.
    pub quantity: i32,
    /// Unit weight, grams.
    pub weight_grams: i32,
    /// unit price × quantity.
    pub subtotal_minor: i64,
    /// This line's share of the discount.
    pub discount_minor: i64,
    /// subtotal − discount.
    pub total_minor: i64,
    /// Tax on the line.
    pub tax_minor: i64,
    /// Units shipped so far.
    pub fulfilled_quantity: i32,
}

/// One entry of an order's history.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct OrderEvent {
    /// `placed`, `paid`, `payment_failed`, `cancelled`, `fulfillment_created`, `refunded`.
    pub kind: String,
    /// What happened, as data.
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    number: i64,
    token: String,
    email: String,
    customer_id: Option<Uuid>,
    currency: String,
    shipping_address: Json<Address>,
    billing_address: Option<Json<Address>>,
    shipping_rate_id: Option<Uuid>,
    shipping_method: String,
    discount_code: Option<String>,
    subtotal_minor: i64,
    discount_minor: i64,
    shipping_minor: i64,
    tax_minor: i64,
    taxes_included: bool,
    tax_lines: Json<Vec<TaxLine>>,
    total_minor: i64,
    refunded_minor: i64,
    status: String,
    financial_status: String,
    fulfillment_status: String,
    payment_ref: Option<String>,
    cancel_reason: Option<String>,
    gateway: Option<String>,
    payment_flag: Option<String>,
    placed_at: DateTime<Utc>,
    reserved_until: DateTime<Utc>,
    /// The lines, read in the same statement (see [`ORDER_COLUMNS`]).
    lines: Json<Vec<OrderLine>>,
}

/// An order's columns and its lines (as JSON, in position order): one statement and one
/// round trip for a whole order. Selects `FROM orders`.
const ORDER_COLUMNS: &str = "id, number, token, email, customer_id, currency, shipping_address, \
     billing_address, shipping_rate_id, shipping_method, discount_code, subtotal_minor, \
     discount_minor, shipping_minor, tax_minor, taxes_included, tax_lines, total_minor, \
     refunded_minor, status, financial_status, fulfillment_status, payment_ref, cancel_reason, \
     gateway, payment_flag, placed_at, reserved_until, \
     (SELECT COALESCE(json_agg(l ORDER BY l.position), '[]') FROM (SELECT position, variant_id, \
         product_id, product_title, variant_title, sku, unit_price_minor, quantity, weight_grams, \
         subtotal_minor, discount_minor, total_minor, tax_minor, fulfilled_quantity \
       FROM order_lines WHERE order_id = orders.id) l) AS lines";

impl OrderRow {
    fn into_order(self) -> Order {
        Order {
            id: self.id,
            number: self.number,
            token: self.token,
            email: self.email,
            customer_id: self.customer_id,
            currency: self.currency,
            shipping_address: self.shipping_address.0,
            billing_address: self.billing_address.map(|a| a.0),
            shipping_rate_id: self.shipping_rate_id,
            shipping_method: self.shipping_method,
            discount_code: self.discount_code,
            subtotal_minor: self.subtotal_minor,
            discount_minor: self.discount_minor,
            shipping_minor: self.shipping_minor,
            tax_minor: self.tax_minor,
            taxes_included: self.taxes_included,
            tax_lines: self.tax_lines.0,
            total_minor: self.total_minor,
            refunded_minor: self.refunded_minor,
            status: self.status,
            financial_status: self.financial_status,
            fulfillment_status: self.fulfillment_status,
            payment_ref: self.payment_ref,
            cancel_reason: self.cancel_reason,
            gateway: self.gateway,
            payment_flag: self.payment_flag,
            placed_at: self.placed_at,
            reserved_until: self.reserved_until,
            lines: self.lines.0,
        }
    }
}

fn found(row: Option<OrderRow>) -> Result<Order, StoreError> {
    Ok(row.ok_or(StoreError::NotFound)?.into_order())
}

/// How many orders the store has (every status).
pub async fn count_orders(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(conn)
        .await?)
}

/// An order by id.
pub async fn get_order(conn: &mut PgConnection, id: Uuid) -> Result<Order, StoreError> {
    find_one(conn, "id = $1", id).await
}

/// An order by id, its row locked until the transaction ends: concurrent changes of one
/// order run one after another, each seeing what the one before did.
pub async fn lock_order(conn: &mut PgConnection, id: Uuid) -> Result<Order, StoreError> {
    find_one(conn, "id = $1 FOR UPDATE", id).await
}

/// The one order matching `condition` on `$1`, with its lines.
async fn find_one<T>(
    conn: &mut PgConnection,
    condition: &str,
    value: T,
) -> Result<Order, StoreError>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
{
    let row = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE {condition}"
    ))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    found(row)
}

/// An order by its secret token (the shopper's order page). Tokens shorter than 32
/// characters are never issued and are not looked up.
pub async fn find_by_token(conn: &mut PgConnection, token: &str) -> Result<Order, StoreError> {
    if token.len() < 32 || token.len() > 128 {
        return Err(StoreError::NotFound);
    }
    find_one(conn, "token = $1", token).await
}

/// An order's history, oldest first.
pub async fn events(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Vec<OrderEvent>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT kind, details, created_at FROM order_events WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?)
}

/// Filters for the order list.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// Only this `status`.
    pub status: Option<String>,
    /// Only this `financial_status`.
    pub financial_status: Option<String>,
    /// Only this `fulfillment_status`.
    pub fulfillment_status: Option<String>,
    /// An order number (`1001` or `#1001`), or part of the email or the shipping name.
    pub query: Option<String>,
    /// Continue with orders numbered below this one (keyset).
    pub before_number: Option<i64>,
    /// Page size (1 to 250).
    pub limit: i64,
}

/// One row of the order list.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct OrderSummary {
    /// Identifier.
    pub id: Uuid,
    /// Order number.
    pub number: i64,
    /// Email.
    pub email: String,
    /// Shipping name, "First Last".
    pub name: String,
    /// Total, minor units.
    pub total_minor: i64,
    /// Currency.
    pub currency: String,
    /// Statuses.
    pub status: String,
    /// Payment status.
    pub financial_status: String,
    /// Shipping status.
    pub fulfillment_status: String,
    /// When placed.
    pub placed_at: DateTime<Utc>,
}

/// A page of orders and where the next starts.
#[derive(Clone, Debug)]
pub struct OrderPage {
    /// Newest first.
    pub orders: Vec<OrderSummary>,
    /// Pass as `before_number` for the next page.
    pub next_before: Option<i64>,
}

/// The admin order list: newest first, filtered, keyset-paginated by number.
pub async fn list_orders(
    conn: &mut PgConnection,
    filter: &OrderFilter,
) -> Result<OrderPage, StoreError> {
    let limit = filter.limit.clamp(1, 250);
    let q = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty());
    let number: Option<i64> = q.and_then(|q| q.trim_start_matches('#').parse().ok());
    let pattern = q.filter(|_| number.is_none()).map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let mut rows: Vec<OrderSummary> = sqlx::query_as(
        "SELECT id, number, email, \
           btrim(concat_ws(' ', shipping_address->>'first_name', shipping_address->>'last_name')) AS name, \
           total_minor, currency, status, financial_status, fulfillment_status, placed_at \
         FROM orders \
         WHERE ($1::text IS NULL OR status = $1) \
           AND ($2::text IS NULL OR financial_status = $2) \
           AND ($3::text IS NULL OR fulfillment_status = $3) \
           AND ($4::bigint IS NULL OR number = $4) \
           AND ($5::text IS NULL OR email ILIKE $5 \
                OR concat_ws(' ', shipping_address->>'first_name', shipping_address->>'last_name') ILIKE $5) \
           AND ($6::bigint IS NULL OR number < $6) \
         ORDER BY number DESC LIMIT $7",
    )
    .bind(filter.status.as_deref())
    .bind(filter.financial_status.as_deref())
    .bind(filter.fulfillment_status.as_deref())
    .bind(number)
    .bind(pattern)
    .bind(filter.before_number)
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    let next_before = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.number)
    } else {
        None
    };
    Ok(OrderPage {
        orders: rows,
        next_before,
    })
}

/// An order as the shopper's account lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct CustomerOrder {
    /// Order number.
    pub number: i64,
    /// Secret of the order page.
    pub token: String,
    /// When placed.
    pub placed_at: DateTime<Utc>,
    /// Total, minor units.
    pub total_minor: i64,
    /// Currency.
    pub currency: String,
    /// `open` or `cancelled`.
    pub status: String,
    /// Payment status.
    pub financial_status: String,
    /// Shipping status.
    pub fulfillment_status: String,
}

/// A customer's orders for their account page, newest first (at most `limit`).
pub async fn list_for_customer(
    conn: &mut PgConnection,
    customer_id: Uuid,
    limit: i64,
) -> Result<Vec<CustomerOrder>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT number, token, placed_at, total_minor, currency, status, financial_status, \
           fulfillment_status \
         FROM orders WHERE customer_id = $1 ORDER BY number DESC LIMIT $2",
    )
    .bind(customer_id)
    .bind(limit.clamp(1, 250))
    .fetch_all(conn)
    .await?)
}

/// Records an event in the order's history and in the outbox (`order.<kind>`).
async fn record(
    conn: &mut PgConnection,
    order_id: Uuid,
    number: i64,
    kind: &str,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    // The history row and the event in one statement.
    let (topic, payload) = outbox_event(order_id, number, kind, &details);
    sqlx::query(
        "WITH history AS ( \
           INSERT INTO order_events (order_id, kind, details) VALUES ($1, $2, $3)) \
         INSERT INTO outbox (topic, payload) VALUES ($4, $5)",
    )
    .bind(order_id)
    .bind(kind)
    .bind(&details)
    .bind(topic)
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The outbox topic and payload of an order event (see [`record`]).
fn outbox_event(
    order_id: Uuid,
    number: i64,
    kind: &str,
    details: &serde_json::Value,
) -> (String, serde_json::Value) {
    (
        format!("order.{kind}"),
        serde_json::json!({ "order_id": order_id, "number": number, "details": details }),
    )
}
