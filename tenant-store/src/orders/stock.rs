//! Stock reservations: take units off a variant without ever going below zero, give them
//! back, and record each change as an inventory adjustment with its outbox events.

use sqlx::PgConnection;
use uuid::Uuid;

use std::sync::LazyLock;

use crate::StoreError;

/// The statements that record a stock change already applied, as common table expressions
/// over a `changed (variant_id, product_id, delta, after)` expression before them, with the
/// reason in parameter `reason`: an adjustment row, `inventory.changed`, and
/// `inventory.low` when the change crosses the store's threshold. One statement with the
/// change itself: one round trip.
fn record_ctes(reason: &str) -> String {
    const PAYLOAD: &str = "jsonb_build_object('variant_id', c.variant_id, 'product_id', \
         c.product_id, 'delta', c.delta, 'quantity', c.after)";
    format!(
        "adjusted AS ( \
           INSERT INTO inventory_adjustments (variant_id, delta, quantity_after, reason, actor) \
           SELECT variant_id, delta, after, {reason}, 'checkout' FROM changed), \
         events AS ( \
           INSERT INTO outbox (topic, payload) \
           SELECT topic, payload FROM ( \
             SELECT 1 AS n, 'inventory.changed' AS topic, {PAYLOAD} AS payload FROM changed c \
             UNION ALL \
             SELECT 2, 'inventory.low', {PAYLOAD} FROM changed c, settings s \
             WHERE c.after - c.delta > s.low_stock_threshold \
               AND c.after <= s.low_stock_threshold) e \
           ORDER BY n)"
    )
}

/// Takes `quantity` units of a tracked variant for order `order_id` if that many are in
/// stock: the variant's quantity goes down, a reservation row is written (`reserved`, or
/// `committed` when the order is paid already) and the
/// change recorded (see [`record_ctes`]), all in one statement. Returns the new quantity, or
/// `None` when there are too few (and nothing was written). Concurrent takers queue on the
/// row lock and PostgreSQL re-checks the condition against the latest quantity, so stock
/// never goes below zero.
pub(super) async fn take(
    conn: &mut PgConnection,
    order_id: Uuid,
    variant_id: Uuid,
    quantity: i32,
    reason: &str,
) -> Result<Option<i32>, StoreError> {
    static TAKE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH changed AS ( \
               UPDATE variants SET inventory_quantity = inventory_quantity - $3, \
                   updated_at = now() \
               WHERE id = $2 AND track_inventory AND inventory_quantity >= $3 \
               RETURNING id AS variant_id, product_id, -$3::integer AS delta, \
                   inventory_quantity AS after), \
             reserved AS ( \
               INSERT INTO stock_reservations (order_id, variant_id, quantity, state) \
               SELECT $1, c.variant_id, $3, \
                 CASE WHEN o.financial_status = 'pending' THEN 'reserved' ELSE 'committed' END \
               FROM changed c, orders o WHERE o.id = $1), \
             {} \
             SELECT after FROM changed",
            record_ctes("$4")
        )
    });
    Ok(sqlx::query_scalar(&TAKE)
        .bind(order_id)
        .bind(variant_id)
        .bind(quantity)
        .bind(reason)
        .fetch_optional(conn)
        .await?)
}

/// Gives `quantity` units back to a variant and records the change (see
/// [`record_ctes`]), in one statement. Returns the new quantity, or `None` for a variant
/// deleted since (no stock to give back).
async fn give_back(
    conn: &mut PgConnection,
    variant_id: Uuid,
    quantity: i32,
    reason: &str,
) -> Result<Option<i32>, StoreError> {
    static GIVE_BACK: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH changed AS ( \
               UPDATE variants SET inventory_quantity = inventory_quantity + $2, \
                   updated_at = now() \
               WHERE id = $1 \
               RETURNING id AS variant_id, product_id, $2::integer AS delta, \
                   inventory_quantity AS after), \
             {} \
             SELECT after FROM changed",
            record_ctes("$3")
        )
    });
    Ok(sqlx::query_scalar(&GIVE_BACK)
        .bind(variant_id)
        .bind(quantity)
        .bind(reason)
        .fetch_optional(conn)
        .await?)
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
            give_back(conn, variant_id, back, &format!("order #{number} released")).await?;
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
