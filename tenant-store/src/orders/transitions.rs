//! The order state machine: payment, failure, cancellation, fulfilment, refunds and the
//! reservation sweeper. Each locks the order row, checks the transition, and records an
//! event (history + outbox) in the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ORDER_COLUMNS, Order, OrderRow, found, get_order, outbox_event, record, sales, stock};
use crate::StoreError;

struct Locked {
    number: i64,
    total_minor: i64,
    refunded_minor: i64,
    status: String,
    financial_status: String,
    fulfillment_status: String,
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Locked, StoreError> {
    let row: Option<(i64, i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT number, total_minor, refunded_minor, status, financial_status, fulfillment_status \
         FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let (number, total_minor, refunded_minor, status, financial_status, fulfillment_status) =
        row.ok_or(StoreError::NotFound)?;
    Ok(Locked {
        number,
        total_minor,
        refunded_minor,
        status,
        financial_status,
        fulfillment_status,
    })
}

fn refuse(message: String) -> StoreError {
    StoreError::Invalid {
        field: "status",
        message,
    }
}

/// Records a successful payment of the whole total: reservations become committed. Paying
/// an order that is already paid (or refunded since) changes nothing. A cancelled or failed
/// order is a `status` error (the caller refunds the payment); an amount other than the
/// total is an `amount` error.
pub async fn mark_paid(
    conn: &mut PgConnection,
    id: Uuid,
    payment_ref: &str,
    amount_minor: i64,
) -> Result<Order, StoreError> {
    let o = lock(conn, id).await?;
    if matches!(
        o.financial_status.as_str(),
        "paid" | "partially_refunded" | "refunded"
    ) {
        return get_order(conn, id).await;
    }
    if o.status != "open" || o.financial_status != "pending" {
        return Err(refuse(format!(
            "order #{} is {} ({}) and can't be paid; refund the payment",
            o.number, o.status, o.financial_status
        )));
    }
    if amount_minor != o.total_minor {
        return Err(StoreError::invalid(
            "amount",
            format!(
                "the payment of {amount_minor} does not match the total of {}",
                o.total_minor
            ),
        ));
    }
    // The reservations become committed, the order paid and the change recorded (as
    // `record` writes it), in one statement.
    let details = serde_json::json!({ "payment_ref": payment_ref, "amount_minor": amount_minor });
    let (topic, payload) = outbox_event(id, o.number, "paid", &details);
    let paid: Option<OrderRow> = sqlx::query_as(&format!(
        "WITH committed AS ( \
           UPDATE stock_reservations SET state = 'committed', updated_at = now() \
           WHERE order_id = $1 AND state = 'reserved'), \
         history AS ( \
           INSERT INTO order_events (order_id, kind, details) VALUES ($1, 'paid', $3)), \
         events AS (INSERT INTO outbox (topic, payload) VALUES ($4, $5)) \
         UPDATE orders SET financial_status = 'paid', payment_ref = $2, updated_at = now() \
         WHERE id = $1 RETURNING {ORDER_COLUMNS}"
    ))
    .bind(id)
    .bind(payment_ref)
    .bind(&details)
    .bind(topic)
    .bind(payload)
    .fetch_optional(&mut *conn)
    .await?;
    // Last: it locks the products' rows, which every payment for them needs too.
    sales::tally(conn, id, 1).await?;
    found(paid)
}

/// Records a failed payment: the order is cancelled and its stock released. Repeating it
/// changes nothing; an order that is not awaiting payment is a `status` error.
pub async fn payment_failed(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<Order, StoreError> {
    let o = lock(conn, id).await?;
    if o.financial_status == "failed" {
        return get_order(conn, id).await;
    }
    if o.status != "open" || o.financial_status != "pending" {
        return Err(refuse(format!(
            "order #{} is not awaiting payment",
            o.number
        )));
    }
    stock::release(conn, id, o.number, &["reserved"], false).await?;
    sqlx::query(
        "UPDATE orders SET status = 'cancelled', financial_status = 'failed', \
             cancel_reason = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(format!("payment failed: {reason}"))
    .execute(&mut *conn)
    .await?;
    record(
        conn,
        id,
        o.number,
        "payment_failed",
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    get_order(conn, id).await
}

async fn cancel_locked(
    conn: &mut PgConnection,
    id: Uuid,
    o: &Locked,
    reason: &str,
) -> Result<(), StoreError> {
    // A cancelled order counts for nothing, so after the change there is nothing to add.
    sales::tally(conn, id, -1).await?;
    stock::release(conn, id, o.number, &["reserved", "committed"], false).await?;
    sqlx::query(
        "UPDATE orders SET status = 'cancelled', cancel_reason = $2, updated_at = now(), \
             financial_status = CASE WHEN financial_status = 'pending' THEN 'voided' \
                                     ELSE financial_status END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    record(
        conn,
        id,
        o.number,
        "cancelled",
        serde_json::json!({ "reason": reason }),
    )
    .await
}

/// Cancels an order that has nothing fulfilled: its stock goes back (reserved or paid
/// for). An unpaid order's payment becomes `voided`; refunding a paid one is the caller's
/// job ([`record_refund`]). Cancelling a cancelled order changes nothing.
pub async fn cancel(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<Order, StoreError> {
    let o = lock(conn, id).await?;
    if o.status == "cancelled" {
        return get_order(conn, id).await;
    }
    if o.fulfillment_status != "unfulfilled" {
        return Err(refuse(format!(
            "order #{} is {} and can't be cancelled",
            o.number, o.fulfillment_status
        )));
    }
    let reason = match reason.trim() {
        "" => "cancelled",
        r => r,
    };
    cancel_locked(conn, id, &o, reason).await?;
    get_order(conn, id).await
}

/// Units of one order line to ship.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
pub struct FulfilLine {
    /// The line's 1-based position.
    pub position: i32,
    /// Units shipped now.
    pub quantity: i32,
}

/// Records a shipment of some units of a paid, open order; the order becomes
/// `partially_fulfilled` or `fulfilled`. More units than are left on a line is a `lines`
/// error.
pub async fn fulfil(
    conn: &mut PgConnection,
    id: Uuid,
    lines: &[FulfilLine],
    carrier: &str,
    tracking: &str,
) -> Result<Order, StoreError> {
    let o = lock(conn, id).await?;
    if o.status != "open" || !matches!(o.financial_status.as_str(), "paid" | "partially_refunded") {
        return Err(refuse(format!(
            "order #{} is {} ({}); only paid, open orders are fulfilled",
            o.number, o.status, o.financial_status
        )));
    }
    if lines.is_empty() {
        return Err(StoreError::invalid("lines", "choose what was shipped"));
    }
    for l in lines {
        let done = sqlx::query(
            "UPDATE order_lines l SET fulfilled_quantity = fulfilled_quantity + $3 \
             WHERE order_id = $1 AND position = $2 AND $3 > 0 \
               AND fulfilled_quantity + $3 <= quantity \
               AND NOT EXISTS (SELECT 1 FROM stock_reservations r WHERE r.order_id = l.order_id \
                               AND r.variant_id = l.variant_id AND r.state = 'released')",
        )
        .bind(id)
        .bind(l.position)
        .bind(l.quantity)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::invalid(
                "lines",
                format!(
                    "line {} has no {} unit(s) left to ship (units restocked by a refund are \
                     not shipped)",
                    l.position, l.quantity
                ),
            ));
        }
    }
    let complete: bool = sqlx::query_scalar(
        // Units given back to stock by a refund are not shipped any more.
        "SELECT bool_and(l.fulfilled_quantity = l.quantity OR EXISTS ( \
             SELECT 1 FROM stock_reservations r WHERE r.order_id = l.order_id \
             AND r.variant_id = l.variant_id AND r.state = 'released')) \
         FROM order_lines l WHERE l.order_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let status = if complete {
        "fulfilled"
    } else {
        "partially_fulfilled"
    };
    sqlx::query("UPDATE orders SET fulfillment_status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&mut *conn)
        .await?;
    let shipped: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::json!({ "position": l.position, "quantity": l.quantity }))
        .collect();
    sqlx::query(
        "INSERT INTO fulfillments (id, order_id, carrier, tracking, lines) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(carrier.trim())
    .bind(tracking.trim())
    .bind(serde_json::Value::Array(shipped.clone()))
    .execute(&mut *conn)
    .await?;
    record(
        conn,
        id,
        o.number,
        "fulfillment_created",
        serde_json::json!({
            "lines": shipped, "carrier": carrier.trim(), "tracking": tracking.trim(),
            "fulfillment_status": status,
        }),
    )
    .await?;
    get_order(conn, id).await
}

/// Records money given back (the gateway call is the caller's): part of the total makes
/// the order `partially_refunded`, all of it `refunded`. With `restock`, the paid-for units
/// not yet shipped go back into stock (once). More than is left to refund is an `amount`
/// error; an order that was never paid is a `status` error.
pub async fn record_refund(
    conn: &mut PgConnection,
    id: Uuid,
    amount_minor: i64,
    restock: bool,
) -> Result<Order, StoreError> {
    let o = lock(conn, id).await?;
    if !matches!(o.financial_status.as_str(), "paid" | "partially_refunded") {
        return Err(refuse(format!(
            "order #{} is {} and has nothing to refund",
            o.number, o.financial_status
        )));
    }
    let left = o.total_minor - o.refunded_minor;
    if amount_minor <= 0 || amount_minor > left {
        return Err(StoreError::invalid(
            "amount",
            format!("must be more than 0 and at most {left}"),
        ));
    }
    let refunded = o.refunded_minor + amount_minor;
    let status = if refunded == o.total_minor {
        "refunded"
    } else {
        "partially_refunded"
    };
    sales::tally(conn, id, -1).await?;
    if restock {
        stock::release(conn, id, o.number, &["committed"], true).await?;
    }
    sqlx::query(
        "UPDATE orders SET refunded_minor = $2, financial_status = $3, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(refunded)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    sales::tally(conn, id, 1).await?;
    record(
        conn,
        id,
        o.number,
        "refunded",
        serde_json::json!({
            "amount_minor": amount_minor, "refunded_minor": refunded, "restock": restock,
            "financial_status": status,
        }),
    )
    .await?;
    get_order(conn, id).await
}

/// The sweeper: cancels unpaid open orders whose reservation ended before `now` and gives
/// their stock back; returns how many. Orders another sweeper holds are skipped (`SKIP
/// LOCKED`), so several may run at once. Works in batches of 500; call until it returns 0.
pub async fn release_expired_reservations(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM orders \
         WHERE status = 'open' AND financial_status = 'pending' AND reserved_until < $1 \
         ORDER BY reserved_until LIMIT 500 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut count = 0;
    for id in due {
        let o = lock(conn, id).await?;
        cancel_locked(conn, id, &o, "reservation expired").await?;
        count += 1;
    }
    Ok(count)
}
