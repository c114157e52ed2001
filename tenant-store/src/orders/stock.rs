//! Stock reservations: take units off a variant without ever going below zero, give them
//! back, and record each change as an inventory adjustment with its outbox events.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{StoreError, outbox};

/// Takes `quantity` units off a tracked variant if that many are in stock; returns the new
/// quantity, or `None` when there are too few. Concurrent takers queue on the row lock and
/// PostgreSQL re-checks the condition against the latest quantity, so stock never goes
/// below zero.
pub(super) async fn take(
    conn: &mut PgConnection,
    variant_id: Uuid,
    quantity: i32,
) -> Result<Option<i32>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE variants SET inventory_quantity = inventory_quantity - $2, updated_at = now() \
         WHERE id = $1 AND track_inventory AND inventory_quantity >= $2 \
         RETURNING inventory_quantity",
    )
    .bind(variant_id)
    .bind(quantity)
    .fetch_optional(conn)
    .await?)
}

/// Records a stock change already applied to the variant: an adjustment row,
/// `inventory.changed`, and `inventory.low` when it crosses the store's threshold.
pub(super) async fn record(
    conn: &mut PgConnection,
    variant_id: Uuid,
    delta: i32,
    after: i32,
    reason: &str,
) -> Result<(), StoreError> {
    let product_id: Uuid = sqlx::query_scalar("SELECT product_id FROM variants WHERE id = $1")
        .bind(variant_id)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO inventory_adjustments (variant_id, delta, quantity_after, reason, actor) \
         VALUES ($1, $2, $3, $4, 'checkout')",
    )
    .bind(variant_id)
    .bind(delta)
    .bind(after)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    let payload = serde_json::json!({
        "variant_id": variant_id, "product_id": product_id, "delta": delta, "quantity": after,
    });
    outbox::emit(conn, "inventory.changed", payload.clone()).await?;
    let threshold: i32 = sqlx::query_scalar("SELECT low_stock_threshold FROM settings")
        .fetch_one(&mut *conn)
        .await?;
    if after - delta > threshold && after <= threshold {
        outbox::emit(conn, "inventory.low", payload).await?;
    }
    Ok(())
}

/// Gives back the units of an order's reservations in `states` (in variant order, the
/// same order placement locks them in), marks them released, and records each change.
/// `limit_to_unfulfilled` gives back only units not yet fulfilled.
pub(super) async fn release(
    conn: &mut PgConnection,
    order_id: Uuid,
    number: i64,
    states: &[&str],
    limit_to_unfulfilled: bool,
) -> Result<(), StoreError> {
    let states: Vec<String> = states.iter().map(|s| (*s).to_owned()).collect();
    let held: Vec<(Uuid, i32, i32)> = sqlx::query_as(
        "SELECT r.variant_id, r.quantity, \
           COALESCE((SELECT sum(l.fulfilled_quantity) FROM order_lines l \
                     WHERE l.order_id = r.order_id AND l.variant_id = r.variant_id), 0)::integer \
         FROM stock_reservations r \
         WHERE r.order_id = $1 AND r.state = ANY($2) ORDER BY r.variant_id",
    )
    .bind(order_id)
    .bind(&states)
    .fetch_all(&mut *conn)
    .await?;
    for (variant_id, quantity, fulfilled) in held {
        let back = if limit_to_unfulfilled {
            quantity - fulfilled
        } else {
            quantity
        };
        if back > 0 {
            let after: Option<i32> = sqlx::query_scalar(
                "UPDATE variants SET inventory_quantity = inventory_quantity + $2, \
                     updated_at = now() WHERE id = $1 RETURNING inventory_quantity",
            )
            .bind(variant_id)
            .bind(back)
            .fetch_optional(&mut *conn)
            .await?;
            // A variant deleted since has no stock to give back.
            if let Some(after) = after {
                record(
                    conn,
                    variant_id,
                    back,
                    after,
                    &format!("order #{number} released"),
                )
                .await?;
            }
        }
        sqlx::query(
            "UPDATE stock_reservations SET state = 'released', updated_at = now() \
             WHERE order_id = $1 AND variant_id = $2",
        )
        .bind(order_id)
        .bind(variant_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
