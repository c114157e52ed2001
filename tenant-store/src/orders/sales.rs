//! Units sold per product (`products.units_sold`), for the storefront's "Best selling" sort:
//! kept in the same transaction as each order change that makes an order count or stop
//! counting, so a listing reads one indexed column instead of adding up orders.
//!
//! # What counts as sold
//! An order counts while it is `open` and its payment went through: `financial_status`
//! `paid` or `partially_refunded`. So, as a merchant expects:
//! - unpaid (`pending`), failed and voided orders never count: nothing was sold;
//! - paying counts the order;
//! - cancelling stops it counting (its stock goes back to the shelf), paid or not;
//! - a full refund stops it counting (the sale was undone); a partial refund does not (a
//!   goodwill discount or one returned item is still a sale) ...
//! - ... except for units a refund gave back to stock (`restock`): a line whose stock
//!   reservation was released counts only its units already shipped, as the restock did.
//!
//! The rule is [`COUNTED_AS_SOLD`] and [`LINE_UNITS`]; `migrations/tenant/0013_best_selling.sql`
//! backfills with the same rule.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// The condition on an order `o` for its lines to count as sold.
pub const COUNTED_AS_SOLD: &str =
    "o.status = 'open' AND o.financial_status IN ('paid', 'partially_refunded')";

/// The units of order line `l` that count as sold, when its order counts: all of them,
/// or only those shipped once a refund restocked the line.
///
/// A line has at most one reservation (its key is the order and the variant), read with a
/// scalar subquery: always one primary-key lookup per line. (Written as `EXISTS`, as the
/// backfill in migration 0013 has it, the planner may instead hash every released
/// reservation of the store on each payment.)
pub(super) const LINE_UNITS: &str = "CASE WHEN (SELECT r.state FROM stock_reservations r \
         WHERE r.order_id = l.order_id AND r.variant_id = l.variant_id) = 'released' \
     THEN l.fulfilled_quantity ELSE l.quantity END";

/// Adds what order `id` counts for now to its products' `units_sold` (`sign` 1), or takes
/// it away (`sign` -1). A transition calls it with -1 before changing the order and with 1
/// after, so the counters follow whatever the change did. Product rows are locked in id
/// order, so two orders sharing products can't deadlock here.
pub(super) async fn tally(conn: &mut PgConnection, id: Uuid, sign: i64) -> Result<(), StoreError> {
    // What the order counts for per product, with those products' rows locked in id order
    // (materialised: the locks are taken in the CTE's order, before the update), then the
    // counters, in one statement. A product deleted since has no counter to keep.
    sqlx::query(&format!(
        "WITH units AS MATERIALIZED ( \
           SELECT p.id, u.units FROM products p \
           JOIN (SELECT l.product_id, sum({LINE_UNITS})::bigint AS units \
                 FROM orders o JOIN order_lines l ON l.order_id = o.id \
                 WHERE o.id = $1 AND {COUNTED_AS_SOLD} AND l.product_id IS NOT NULL \
                 GROUP BY l.product_id) u ON u.product_id = p.id \
           WHERE u.units <> 0 ORDER BY p.id FOR NO KEY UPDATE OF p) \
         UPDATE products p SET units_sold = p.units_sold + $2 * units.units \
         FROM units WHERE p.id = units.id"
    ))
    .bind(id)
    .bind(sign)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
