//! Store credit: a customer's balance, changed only through ledger rows (merchant
//! adjustments with a reason, payments for orders, refunds back to credit). The balance never
//! goes negative: the database refuses it, and a debit larger than the balance is an error.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{StoreError, outbox};

/// Largest single adjustment, minor units (10 million in a two-decimal currency).
pub const MAX_ADJUSTMENT_MINOR: i64 = 1_000_000_000;

/// One change of a balance.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct LedgerEntry {
    /// Ledger row id.
    pub id: i64,
    /// Positive: credit given; negative: credit spent or taken back.
    pub delta_minor: i64,
    /// Balance after this change.
    pub balance_minor: i64,
    /// Why.
    pub reason: String,
    /// The order it paid for or refunded, if any.
    pub order_id: Option<Uuid>,
    /// Who made the change (staff email, `checkout`).
    pub actor: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A customer's balance, minor units.
pub async fn balance(conn: &mut PgConnection, customer_id: Uuid) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT credit_minor FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)
}

/// A customer's ledger, newest first (at most `limit` rows).
pub async fn ledger(
    conn: &mut PgConnection,
    customer_id: Uuid,
    limit: i64,
) -> Result<Vec<LedgerEntry>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, delta_minor, balance_minor, reason, order_id, actor, created_at \
         FROM store_credit_ledger WHERE customer_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(customer_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(conn)
    .await?)
}

/// Changes a balance by `delta_minor` and writes the ledger row, in the caller's
/// transaction. A change that would take the balance below zero is an `amount` error and
/// changes nothing; so is a zero or oversized change. A second debit for the same order is
/// refused by the database (one payment per order).
pub async fn adjust(
    conn: &mut PgConnection,
    customer_id: Uuid,
    delta_minor: i64,
    reason: &str,
    order_id: Option<Uuid>,
    actor: &str,
) -> Result<LedgerEntry, StoreError> {
    let reason = reason.trim();
    let mut errors = Vec::new();
    if delta_minor == 0 || delta_minor.abs() > MAX_ADJUSTMENT_MINOR {
        errors.push((
            "amount".to_owned(),
            format!("must not be zero and at most {MAX_ADJUSTMENT_MINOR} minor units either way"),
        ));
    }
    if reason.is_empty() {
        errors.push(("reason".to_owned(), "can't be empty".to_owned()));
    } else if reason.chars().count() > 500 {
        errors.push((
            "reason".to_owned(),
            "must be at most 500 characters".to_owned(),
        ));
    }
    if !errors.is_empty() {
        return Err(StoreError::Fields(errors));
    }
    // The row lock serialises changes of one balance; the check keeps it at zero or above.
    let balance: Option<i64> = sqlx::query_scalar(
        "UPDATE customers SET credit_minor = credit_minor + $2, updated_at = now() \
         WHERE id = $1 AND credit_minor + $2 >= 0 RETURNING credit_minor",
    )
    .bind(customer_id)
    .bind(delta_minor)
    .fetch_optional(&mut *conn)
    .await?;
    let balance = match balance {
        Some(b) => b,
        None => {
            let current = self::balance(conn, customer_id).await?;
            return Err(StoreError::invalid(
                "amount",
                format!("the balance is {current} and can't go below zero"),
            ));
        }
    };
    let entry: LedgerEntry = sqlx::query_as(
        "INSERT INTO store_credit_ledger (customer_id, delta_minor, balance_minor, reason, order_id, actor) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, delta_minor, balance_minor, reason, order_id, actor, created_at",
    )
    .bind(customer_id)
    .bind(delta_minor)
    .bind(balance)
    .bind(reason)
    .bind(order_id)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("store_credit_ledger_order_debit") => {
            StoreError::invalid("order", "is already paid with store credit")
        }
        _ => e.into(),
    })?;
    outbox::emit(
        conn,
        "customer.credit_changed",
        serde_json::json!({
            "customer_id": customer_id, "delta_minor": delta_minor, "balance_minor": balance,
            "order_id": order_id,
        }),
    )
    .await?;
    Ok(entry)
}
