//! Stock: every change is an adjustment row (delta, reason, who, when); the quantity on the
//! variant is kept in the same transaction. Crossing the store's low-stock threshold emits
//! `inventory.low`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{StoreError, outbox};

/// Adds `delta` units (negative to remove) to a variant's stock; returns the new quantity.
/// Stock never goes below zero: a removal of more than there is is refused.
pub async fn adjust(
    conn: &mut PgConnection,
    variant_id: Uuid,
    delta: i32,
    reason: &str,
    actor: &str,
) -> Result<i32, StoreError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::invalid("reason", "say why the stock changes"));
    }
    let row: Option<(i32, Uuid)> = sqlx::query_as(
        "UPDATE variants SET inventory_quantity = inventory_quantity + $2, updated_at = now() \
         WHERE id = $1 AND inventory_quantity + $2 >= 0 RETURNING inventory_quantity, product_id",
    )
    .bind(variant_id)
    .bind(delta)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| match e.as_database_error().and_then(|d| d.code()) {
        Some(c) if c == "22003" => {
            StoreError::invalid("delta", "the quantity would be out of range")
        }
        _ => StoreError::Database(e),
    })?;
    let Some((after, product_id)) = row else {
        let stock: Option<i32> =
            sqlx::query_scalar("SELECT inventory_quantity FROM variants WHERE id = $1")
                .bind(variant_id)
                .fetch_optional(&mut *conn)
                .await?;
        return Err(match stock {
            Some(stock) => StoreError::invalid(
                "quantity",
                format!("stock can't go below zero ({stock} in stock)"),
            ),
            None => StoreError::NotFound,
        });
    };
    sqlx::query(
        "INSERT INTO inventory_adjustments (variant_id, delta, quantity_after, reason, actor) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(variant_id)
    .bind(delta)
    .bind(after)
    .bind(reason)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    let payload = serde_json::json!({
        "variant_id": variant_id, "product_id": product_id, "delta": delta, "quantity": after,
    });
    outbox::emit(conn, "inventory.changed", payload.clone()).await?;
    let threshold: i32 = sqlx::query_scalar("SELECT low_stock_threshold FROM settings")
        .fetch_one(&mut *conn)
        .await?;
    let before = after - delta;
    if before > threshold && after <= threshold {
        outbox::emit(conn, "inventory.low", payload).await?;
    }
    Ok(after)
}

/// Sets a variant's stock to `quantity` (recorded as the difference).
pub async fn set_quantity(
    conn: &mut PgConnection,
    variant_id: Uuid,
    quantity: i32,
    reason: &str,
    actor: &str,
) -> Result<i32, StoreError> {
    if quantity < 0 {
        return Err(StoreError::invalid("quantity", "can't be negative"));
    }
    let current: Option<i32> =
        sqlx::query_scalar("SELECT inventory_quantity FROM variants WHERE id = $1 FOR UPDATE")
            .bind(variant_id)
            .fetch_optional(&mut *conn)
            .await?;
    let current = current.ok_or(StoreError::NotFound)?;
    if quantity == current {
        return Ok(current);
    }
    adjust(conn, variant_id, quantity - current, reason, actor).await
}

/// One recorded stock change.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Adjustment {
    /// Units added (negative: removed).
    pub delta: i32,
    /// The quantity afterwards.
    pub quantity_after: i32,
    /// Why.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A variant's stock history, newest first.
pub async fn history(
    conn: &mut PgConnection,
    variant_id: Uuid,
    limit: i64,
) -> Result<Vec<Adjustment>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT delta, quantity_after, reason, actor, created_at FROM inventory_adjustments \
         WHERE variant_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(variant_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A tracked variant at or under the store's low-stock threshold.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct LowStock {
    /// The product.
    pub product_id: Uuid,
    /// Its title.
    pub product_title: String,
    /// The variant.
    pub variant_id: Uuid,
    /// The variant's SKU.
    pub sku: String,
    /// Units left.
    pub inventory_quantity: i32,
}

/// Tracked variants of non-archived products at or under the threshold, fewest first.
pub async fn low_stock(conn: &mut PgConnection, limit: i64) -> Result<Vec<LowStock>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT p.id AS product_id, p.title AS product_title, v.id AS variant_id, v.sku, v.inventory_quantity \
         FROM variants v JOIN products p ON p.id = v.product_id \
         WHERE v.track_inventory AND p.status <> 'archived' \
           AND v.inventory_quantity <= (SELECT low_stock_threshold FROM settings) \
         ORDER BY v.inventory_quantity, p.title LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A variant's stock as the inventory screen lists it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Level {
    /// The variant.
    pub variant_id: Uuid,
    /// Its product.
    pub product_id: Uuid,
    /// The product's title.
    pub product_title: String,
    /// Option values, e.g. "M / Blue" (empty for a single-variant product).
    pub variant_title: String,
    /// SKU.
    pub sku: String,
    /// Units in stock.
    pub inventory_quantity: i32,
}

/// Tracked variants by product title and position, optionally filtered by title or SKU,
/// `limit` from `offset_title`/`offset_id` on (keyset).
pub async fn list_levels(
    conn: &mut PgConnection,
    query: &str,
    after: Option<(String, Uuid)>,
    limit: i64,
) -> Result<Vec<Level>, StoreError> {
    let pattern = match query.trim() {
        "" => None,
        q => Some(format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )),
    };
    Ok(sqlx::query_as(
        "SELECT v.id AS variant_id, p.id AS product_id, p.title AS product_title, \
           concat_ws(' / ', v.option1, v.option2, v.option3) AS variant_title, v.sku, v.inventory_quantity \
         FROM variants v JOIN products p ON p.id = v.product_id \
         WHERE v.track_inventory \
           AND ($1::text IS NULL OR p.title ILIKE $1 OR v.sku ILIKE $1) \
           AND ($2::text IS NULL OR (p.title, v.id) > ($2, $3)) \
         ORDER BY p.title, v.id LIMIT $4",
    )
    .bind(pattern)
    .bind(after.as_ref().map(|a| a.0.clone()))
    .bind(after.as_ref().map(|a| a.1))
    .bind(limit.clamp(1, 500))
    .fetch_all(conn)
    .await?)
}

/// A variant's stock and when the variant last changed (the Admin API's inventory level).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ItemLevel {
    /// The variant (its own inventory item).
    pub variant_id: Uuid,
    /// Units in stock.
    pub inventory_quantity: i32,
    /// When the variant (its stock included) last changed.
    pub updated_at: DateTime<Utc>,
}

/// The stock of the variants among `ids` that exist in this store, in the order of `ids`.
pub async fn levels_of(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<ItemLevel>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT v.id AS variant_id, v.inventory_quantity, v.updated_at \
         FROM unnest($1::uuid[]) WITH ORDINALITY AS wanted (id, n) JOIN variants v ON v.id = wanted.id \
         ORDER BY wanted.n",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?)
}
