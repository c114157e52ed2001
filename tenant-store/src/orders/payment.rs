//! What an order knows of its payment: the gateway and its reference, a flag when a gateway
//! reported something that does not fit, and the merchant's notes.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Order, find_one, get_order, record};
use crate::StoreError;

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 5000;

/// Records which gateway takes the payment and its reference for it (a new attempt replaces
/// the reference). Only an order awaiting payment takes one.
pub async fn set_payment(
    conn: &mut PgConnection,
    id: Uuid,
    gateway: &str,
    payment_ref: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE orders SET gateway = $2, payment_ref = $3, updated_at = now() \
         WHERE id = $1 AND status = 'open' AND financial_status = 'pending'",
    )
    .bind(id)
    .bind(gateway)
    .bind(payment_ref)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::invalid(
            "status",
            "the order is not awaiting payment",
        ));
    }
    Ok(())
}

/// The order a gateway's payment reference belongs to.
pub async fn find_by_payment_ref(
    conn: &mut PgConnection,
    payment_ref: &str,
) -> Result<Order, StoreError> {
    find_one(conn, "payment_ref = $1", payment_ref).await
}

/// Flags the order for the merchant: a gateway reported something that does not fit (an
/// amount or currency other than the order's). Nothing about the payment changes.
pub async fn flag_payment(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<Order, StoreError> {
    let number: Option<i64> = sqlx::query_scalar(
        "UPDATE orders SET payment_flag = $2, updated_at = now() WHERE id = $1 RETURNING number",
    )
    .bind(id)
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    let number = number.ok_or(StoreError::NotFound)?;
    record(
        conn,
        id,
        number,
        "payment_flagged",
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    get_order(conn, id).await
}

/// Adds a note to the order's timeline, written by `author`.
pub async fn add_note(
    conn: &mut PgConnection,
    id: Uuid,
    author: &str,
    text: &str,
) -> Result<(), StoreError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(StoreError::invalid("note", "can't be empty"));
    }
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(StoreError::invalid(
            "note",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    let number: Option<i64> = sqlx::query_scalar("SELECT number FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let number = number.ok_or(StoreError::NotFound)?;
    record(
        conn,
        id,
        number,
        "note",
        serde_json::json!({ "author": author, "text": text }),
    )
    .await
}
