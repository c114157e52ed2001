//! Reads for the search indexer: products as the index needs them, outbox events up to a
//! commit-safe bound, each node's indexing position, and the merchant's synonyms.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// A product with what search needs from its variants and collections.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SearchProduct {
    /// Identifier.
    pub id: Uuid,
    /// URL handle.
    pub handle: String,
    /// Title.
    pub title: String,
    /// Sanitized description HTML.
    pub body_html: String,
    /// `draft`, `active` or `archived`.
    pub status: String,
    /// Brand.
    pub vendor: String,
    /// The merchant's category.
    pub product_type: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Non-empty variant SKUs.
    pub skus: Vec<String>,
    /// Handles of the collections it belongs to.
    pub collections: Vec<String>,
    /// Lowest variant price in minor units (none without variants).
    pub price_minor: Option<i64>,
    /// Whether any variant can be bought now.
    pub in_stock: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

const SEARCH_PRODUCT: &str = "SELECT p.id, p.handle, p.title, p.body_html, p.status, p.vendor, \
     p.product_type, p.tags, \
     coalesce((SELECT array_agg(v.sku ORDER BY v.position) FROM variants v \
        WHERE v.product_id = p.id AND v.sku <> ''), '{}') AS skus, \
     coalesce((SELECT array_agg(c.handle ORDER BY c.handle) FROM collection_products cp \
        JOIN collections c ON c.id = cp.collection_id WHERE cp.product_id = p.id), '{}') AS collections, \
     (SELECT min(v.price_minor) FROM variants v WHERE v.product_id = p.id) AS price_minor, \
     EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id \
        AND (NOT v.track_inventory OR v.inventory_quantity > 0)) AS in_stock, \
     p.created_at FROM products p";

/// The products with these ids that still exist.
pub async fn products_for_search(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<SearchProduct>, StoreError> {
    Ok(
        sqlx::query_as(&format!("{SEARCH_PRODUCT} WHERE p.id = ANY($1)"))
            .bind(ids)
            .fetch_all(conn)
            .await?,
    )
}

/// Every product in id order, a page at a time (for rebuilds).
pub async fn products_for_search_page(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SearchProduct>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "{SEARCH_PRODUCT} WHERE ($1::uuid IS NULL OR p.id > $1) ORDER BY p.id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// How many products the store has.
pub async fn product_total(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(conn)
        .await?)
}

/// Key (with the schema's hash) of the lock every outbox write takes in shared mode.
const OUTBOX_LOCK_CLASS: i32 = 1_936_876_904;

/// The highest outbox id below which every event is final: committed or rolled back, never
/// to appear later. Waits (up to `lock_timeout`) for the store's running event writers to
/// finish; run it in its own short transaction, since new writers wait until it ends.
pub async fn settled_outbox_id(conn: &mut PgConnection) -> Result<i64, StoreError> {
    sqlx::query("SET LOCAL lock_timeout = '250ms'")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(OUTBOX_LOCK_CLASS)
        .execute(&mut *conn)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(id), 0)::bigint FROM outbox")
            .fetch_one(conn)
            .await?,
    )
}

/// One outbox event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxEvent {
    /// Event id.
    pub id: i64,
    /// `product.updated`, ...
    pub topic: String,
    /// The event's data.
    pub payload: serde_json::Value,
}

/// Events with ids in `(after, upto]`, oldest first, at most `limit`. With `upto` from
/// [`settled_outbox_id`], reading on from the last id returned never skips an event.
pub async fn events_between(
    conn: &mut PgConnection,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, topic, payload FROM outbox WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// How many events after id `after` can change the search index (the indexer's backlog).
pub async fn events_after(conn: &mut PgConnection, after: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM outbox \
             WHERE id > $1 AND outbox_event_concerns_search(topic, payload)",
    )
    .bind(after)
    .fetch_one(conn)
    .await?)
}

/// The store's locale (chooses the search stemmer).
pub async fn store_locale(conn: &mut PgConnection) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar("SELECT locale FROM settings")
        .fetch_optional(conn)
        .await?
        .unwrap_or_else(|| "en".to_owned()))
}

/// Claims the indexing of this store for `node` until the transaction ends; `false` when
/// another worker of the same node holds it (it is skipped, not waited for).
pub async fn claim_indexing(conn: &mut PgConnection, node: &str) -> Result<bool, StoreError> {
    sqlx::query("INSERT INTO search_consumers (node) VALUES ($1) ON CONFLICT (node) DO NOTHING")
        .bind(node)
        .execute(&mut *conn)
        .await?;
    let claimed: Option<String> = sqlx::query_scalar(
        "SELECT node FROM search_consumers WHERE node = $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(node)
    .fetch_optional(conn)
    .await?;
    Ok(claimed.is_some())
}

/// Mirrors the position `node`'s index committed (the index holds the truth).
pub async fn record_indexed(
    conn: &mut PgConnection,
    node: &str,
    applied_id: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO search_consumers (node, applied_id, updated_at) VALUES ($1, $2, now()) \
         ON CONFLICT (node) DO UPDATE SET applied_id = EXCLUDED.applied_id, updated_at = now()",
    )
    .bind(node)
    .bind(applied_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ids of the products in a collection now.
pub async fn collection_product_ids(
    conn: &mut PgConnection,
    collection_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT product_id FROM collection_products WHERE collection_id = $1")
            .bind(collection_id)
            .fetch_all(conn)
            .await?,
    )
}

/// A collection as search shows it (facets and suggestions).
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct CollectionLabel {
    /// Handle (the facet value).
    pub handle: String,
    /// Title.
    pub title: String,
    /// Shown on the storefront.
    pub published: bool,
}

/// Every collection's handle and title.
pub async fn collection_labels(
    conn: &mut PgConnection,
) -> Result<Vec<CollectionLabel>, StoreError> {
    Ok(
        sqlx::query_as("SELECT handle, title, published FROM collections ORDER BY title, handle")
            .fetch_all(conn)
            .await?,
    )
}

/// What the search page reads besides the index: the merchant's synonym groups and every
/// collection's label, as one [`SEARCH_AIDS`] read.
#[derive(Debug, Default)]
pub struct SearchAids {
    /// Synonym groups, oldest first.
    pub synonyms: Vec<Vec<String>>,
    /// Collections by title, for the facets.
    pub collections: Vec<CollectionLabel>,
}

/// [`SearchAids`] in one statement (a row of two JSON arrays), for
/// [`crate::read_at_once`]: read afresh on every search, so a synonym saved a moment ago
/// applies to the very next one.
pub const SEARCH_AIDS: crate::ReadStatement<'static> = crate::ReadStatement {
    name: "search_aids",
    sql: "SELECT \
            (SELECT COALESCE(json_agg(terms ORDER BY id), '[]') FROM search_synonyms) AS synonyms, \
            (SELECT COALESCE(json_agg(json_build_object( \
                       'handle', handle, 'title', title, 'published', published) \
                     ORDER BY title, handle), '[]') FROM collections) AS collections",
};

impl SearchAids {
    /// Reads the row of [`SEARCH_AIDS`] (none: no synonyms, no collections).
    pub fn from_rows(rows: &[sqlx::postgres::PgRow]) -> Result<Self, StoreError> {
        use sqlx::Row as _;
        use sqlx::types::Json;
        let Some(row) = rows.first() else {
            return Ok(Self::default());
        };
        let Json(synonyms) = row.try_get("synonyms")?;
        let Json(collections) = row.try_get("collections")?;
        Ok(Self {
            synonyms,
            collections,
        })
    }
}

/// A synonym group with its id, for the admin.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct SynonymGroup {
    /// Identifier.
    pub id: i64,
    /// The terms that find each other.
    pub terms: Vec<String>,
}

/// The merchant's synonym groups with their ids, oldest first.
pub async fn list_synonym_groups(conn: &mut PgConnection) -> Result<Vec<SynonymGroup>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, terms FROM search_synonyms ORDER BY id")
            .fetch_all(conn)
            .await?,
    )
}

/// Deletes a synonym group.
pub async fn delete_synonym_group(conn: &mut PgConnection, id: i64) -> Result<(), StoreError> {
    let gone = sqlx::query("DELETE FROM search_synonyms WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Adds a group of synonyms (at least two non-blank terms).
pub async fn add_synonym_group(
    conn: &mut PgConnection,
    terms: &[String],
) -> Result<(), StoreError> {
    let terms: Vec<String> = terms
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if terms.len() < 2 {
        return Err(StoreError::invalid("terms", "give at least two terms"));
    }
    sqlx::query("INSERT INTO search_synonyms (terms) VALUES ($1)")
        .bind(&terms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Admin list rows for these products, in the order given (a search's ranking), narrowed to
/// a status and a collection when given.
pub async fn summaries_in_order(
    conn: &mut PgConnection,
    ids: &[Uuid],
    status: Option<super::Status>,
    collection_id: Option<Uuid>,
) -> Result<Vec<super::ProductSummary>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.handle, p.title, p.status, p.vendor, p.product_type, \
           (SELECT count(*) FROM variants v WHERE v.product_id = p.id) AS variants_count, \
           (SELECT coalesce(sum(v.inventory_quantity), 0)::bigint FROM variants v \
              WHERE v.product_id = p.id AND v.track_inventory) AS inventory, \
           (SELECT min(v.price_minor) FROM variants v WHERE v.product_id = p.id) AS price_min_minor, \
           p.updated_at \
         FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, n) JOIN products p ON p.id = r.id \
         WHERE ($2::text IS NULL OR p.status = $2) \
           AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM collection_products cp \
                WHERE cp.collection_id = $3 AND cp.product_id = p.id)) \
         ORDER BY r.n",
    )
    .bind(ids)
    .bind(status.map(super::Status::as_str))
    .bind(collection_id)
    .fetch_all(conn)
    .await?)
}
