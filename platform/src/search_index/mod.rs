//! Catalog search on the platform side: the tenant indexes of this node, kept current from
//! each store's outbox, rebuilt from PostgreSQL when missing, outdated or corrupt.
//!
//! Indexes are per-node replicas under `DATA_DIR/search/<schema>`; the node's identity (a
//! random id in `DATA_DIR/search/node_id`) names its progress row in each store.

pub mod command;
mod worker;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use search::{IndexManager, ProductDoc, SearchError, TenantIndex};
use sqlx::PgPool;
use tenant_store::TenantSchema;
use tenant_store::catalog::search_feed::{self, SearchProduct};
use uuid::Uuid;

pub use worker::spawn_worker;

/// Outbox events applied per index commit.
const BATCH: i64 = 500;
/// Products read per query during a rebuild.
const REBUILD_PAGE: i64 = 1_000;

/// This node's tenant indexes and how far behind their stores they are.
pub struct SearchIndexes {
    manager: IndexManager,
    node: String,
    db: PgPool,
    /// Events not yet applied, per tenant schema, as last measured.
    lag: Mutex<HashMap<String, i64>>,
    /// Stores whose unreadable index is being rebuilt in the background.
    repairing: Mutex<HashSet<String>>,
}

/// What a sync of one tenant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Events applied.
    pub applied: usize,
    /// Events still waiting (written by transactions that had not finished).
    pub pending: i64,
    /// Whether the index was rebuilt from PostgreSQL.
    pub rebuilt: bool,
    /// Whether another worker held the tenant (nothing was done).
    pub busy: bool,
}

impl SearchIndexes {
    /// Indexes under `data_dir/search`, at most `max_open` of them open at once.
    pub fn open(db: PgPool, data_dir: &Path, max_open: u64) -> anyhow::Result<Self> {
        let root = data_dir.join("search");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let node_file = root.join("node_id");
        let node = match std::fs::read_to_string(&node_file) {
            Ok(id) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => {
                let id = Uuid::new_v4().simple().to_string();
                std::fs::write(&node_file, &id)
                    .with_context(|| format!("writing {}", node_file.display()))?;
                id
            }
        };
        Ok(Self {
            manager: IndexManager::new(root, max_open),
            node,
            db,
            lag: Mutex::new(HashMap::new()),
            repairing: Mutex::new(HashSet::new()),
        })
    }

    /// The tenant's index, opened off the async runtime.
    pub async fn index(
        self: &Arc<Self>,
        schema: &TenantSchema,
    ) -> Result<Arc<TenantIndex>, SearchError> {
        let key = schema.as_str().to_owned();
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.manager.open(&key))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Runs a query on the tenant's index off the async runtime.
    pub async fn search(
        self: &Arc<Self>,
        schema: &TenantSchema,
        request: search::SearchRequest,
        synonyms: search::Synonyms,
    ) -> Result<search::SearchResults, SearchError> {
        let index = match self.index(schema).await {
            Ok(index) => index,
            Err(e) => {
                self.repair_in_background(schema);
                return Err(e);
            }
        };
        tokio::task::spawn_blocking(move || search::search(&index, &request, &synonyms))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Closes the store's index once no request uses it (it is reopened on next use).
    pub fn close(&self, schema: &TenantSchema) {
        self.manager.evict(schema.as_str());
    }

    /// Rebuilds an index that failed to open, once at a time per store, without making the
    /// request that noticed wait for it.
    fn repair_in_background(self: &Arc<Self>, schema: &TenantSchema) {
        let key = schema.as_str().to_owned();
        if !self
            .repairing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone())
        {
            return;
        }
        let this = Arc::clone(self);
        let schema = schema.clone();
        tokio::spawn(async move {
            if let Err(e) = this.sync(&schema).await {
                tracing::warn!(tenant.schema = %schema, error = %format!("{e:#}"), "search index repair failed");
            }
            this.repairing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        });
    }

    /// Products of any status matching an admin search, best first (at most `limit`); empty
    /// when nothing matches or the index cannot answer, so callers fall back to SQL.
    pub async fn admin_product_ids(
        self: &Arc<Self>,
        schema: &TenantSchema,
        query: &str,
        limit: usize,
    ) -> Vec<Uuid> {
        let request = search::SearchRequest {
            query: query.to_owned(),
            include_unpublished: true,
            limit,
            ..search::SearchRequest::default()
        };
        match self
            .search(schema, request, search::Synonyms::default())
            .await
        {
            Ok(found) => found
                .hits
                .iter()
                .filter_map(|h| Uuid::parse_str(&h.product_id).ok())
                .collect(),
            Err(e) => {
                tracing::warn!(tenant.schema = %schema, error = %e, "admin search: index unavailable");
                Vec::new()
            }
        }
    }

    /// Events written but not yet applied, over all tenants this node has looked at, and how
    /// many tenants are behind.
    pub fn lag(&self) -> (i64, usize) {
        let lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        (lag.values().sum(), lag.values().filter(|n| **n > 0).count())
    }

    /// Notes that the store wrote events this node has not applied yet (at least one).
    fn mark_behind(&self, schema: &str) {
        let mut lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = lag.entry(schema.to_owned()).or_insert(0);
        *pending = (*pending).max(1);
    }

    fn set_lag(&self, schema: &TenantSchema, pending: i64) {
        let mut lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        if pending > 0 {
            lag.insert(schema.as_str().to_owned(), pending);
        } else {
            lag.remove(schema.as_str());
        }
    }

    /// Applies the store's new outbox events to its index (rebuilding the index first when
    /// it is missing, outdated or unreadable). Safe to repeat: progress is committed with the
    /// documents, and every event is applied by re-reading the product's current state.
    pub async fn sync(self: &Arc<Self>, schema: &TenantSchema) -> anyhow::Result<Synced> {
        let mut synced = Synced::default();
        let index = match self.index(schema).await {
            Ok(index) => Some(index),
            Err(SearchError::InvalidTenantKey(key)) => anyhow::bail!("invalid tenant key {key}"),
            Err(e) => {
                tracing::warn!(tenant.schema = %schema, error = %e, "search index unreadable; rebuilding");
                None
            }
        };
        let mut tx = tenant_store::begin(&self.db, schema).await?;
        let language = search::language_for_locale(&search_feed::store_locale(&mut tx).await?);
        tx.commit().await?;
        let index = match index {
            Some(index) if index.applied_outbox_id().is_some() && index.language() == language => {
                index
            }
            stale => {
                drop(stale);
                synced.rebuilt = true;
                self.rebuild(schema, |_, _| {}).await?;
                self.index(schema).await?
            }
        };
        loop {
            let applied = index.applied_outbox_id().unwrap_or(0);
            // The bound first, in its own short transaction: it briefly holds up the store's
            // event writers.
            let mut tx = tenant_store::begin(&self.db, schema).await?;
            let settled = match search_feed::settled_outbox_id(&mut tx).await {
                Ok(id) => id,
                Err(e) if is_lock_timeout(&e) => {
                    // A long transaction is writing events; try again shortly.
                    synced.pending = synced.pending.max(1);
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            tx.commit().await?;
            let mut tx = tenant_store::begin(&self.db, schema).await?;
            let events = search_feed::events_between(&mut tx, applied, settled, BATCH).await?;
            if events.is_empty() {
                break;
            }
            if !search_feed::claim_indexing(&mut tx, &self.node).await? {
                synced.busy = true;
                return Ok(synced);
            }
            let last = events.last().map_or(applied, |e| e.id);
            let (products, collections) = affected(&events);
            let mut ids: BTreeSet<Uuid> = products;
            if !collections.is_empty() {
                // Membership changed for the collection's products now, and for those the
                // index still files under its handle (or under handles that no longer exist).
                let labels = search_feed::collection_labels(&mut tx).await?;
                let current: BTreeSet<String> = labels.into_iter().map(|c| c.handle).collect();
                let mut handles: Vec<String> = Vec::new();
                for (id, handle) in &collections {
                    if let Some(id) = id {
                        ids.extend(search_feed::collection_product_ids(&mut tx, *id).await?);
                    }
                    handles.extend(handle.clone());
                }
                let indexed = index.collection_handles()?;
                handles.extend(indexed.into_iter().filter(|h| !current.contains(h)));
                for id in index.products_in_collections(&handles)? {
                    if let Ok(id) = Uuid::parse_str(&id) {
                        ids.insert(id);
                    }
                }
            }
            let ids: Vec<Uuid> = ids.into_iter().collect();
            let rows = search_feed::products_for_search(&mut tx, &ids).await?;
            let index_for_write = Arc::clone(&index);
            blocking(move || -> Result<(), SearchError> {
                let found: BTreeSet<Uuid> = rows.iter().map(|p| p.id).collect();
                for row in rows {
                    index_for_write.upsert(product_doc(row))?;
                }
                for id in ids.iter().filter(|id| !found.contains(id)) {
                    index_for_write.delete(&id.to_string())?;
                }
                index_for_write.commit_through(last)
            })
            .await?;
            search_feed::record_indexed(&mut tx, &self.node, last).await?;
            tx.commit().await?;
            synced.applied += events.len();
        }
        let applied = index.applied_outbox_id().unwrap_or(0);
        let mut tx = tenant_store::begin(&self.db, schema).await?;
        let pending = search_feed::events_after(&mut tx, applied).await?;
        tx.commit().await?;
        synced.pending = synced.pending.max(pending);
        self.set_lag(schema, pending);
        Ok(synced)
    }

    /// Builds the store's index anew from PostgreSQL and swaps it in; `progress` is told
    /// (products done, products in all) as it goes. Returns how many products were indexed.
    pub async fn rebuild(
        self: &Arc<Self>,
        schema: &TenantSchema,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<u64> {
        let mut tx = tenant_store::begin(&self.db, schema).await?;
        let language = search::language_for_locale(&search_feed::store_locale(&mut tx).await?);
        // Every event up to this id is reflected in what is read after it.
        let settled = search_feed::settled_outbox_id(&mut tx).await?;
        tx.commit().await?;
        let mut tx = tenant_store::begin(&self.db, schema).await?;
        let total = search_feed::product_total(&mut tx).await?.max(0) as u64;
        progress(0, total);
        let this = Arc::clone(self);
        let key = schema.as_str().to_owned();
        let mut rebuild = blocking(move || this.manager.start_rebuild(&key, language)).await?;
        let mut after = None;
        loop {
            let page = search_feed::products_for_search_page(&mut tx, after, REBUILD_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let full = page.len() as i64 == REBUILD_PAGE;
            rebuild = blocking(move || -> Result<_, SearchError> {
                for row in page {
                    rebuild.add(&product_doc(row))?;
                }
                Ok(rebuild)
            })
            .await?;
            progress(rebuild.added(), total.max(rebuild.added()));
            if !full {
                break;
            }
        }
        let added = rebuild.added();
        let this = Arc::clone(self);
        let index = blocking(move || this.manager.finish_rebuild(rebuild, settled)).await?;
        search_feed::record_indexed(&mut tx, &self.node, settled).await?;
        tx.commit().await?;
        drop(index);
        tracing::info!(tenant.schema = %schema, products = added, "search index rebuilt");
        Ok(added)
    }
}

/// Runs blocking index work (file I/O, fsync) off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn is_lock_timeout(e: &tenant_store::StoreError) -> bool {
    match e {
        tenant_store::StoreError::Database(db) => db
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "55P03"),
        _ => false,
    }
}

/// Products whose documents the events change, and collections (id, handle) whose
/// membership they change.
type Affected = (BTreeSet<Uuid>, Vec<(Option<Uuid>, Option<String>)>);

/// What the events change in the index. Kept in step with the tenant database's
/// `outbox_event_concerns_search`, which decides which events wake the indexers.
fn affected(events: &[search_feed::OutboxEvent]) -> Affected {
    let mut products = BTreeSet::new();
    let mut collections = Vec::new();
    let uuid = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|id| id.as_str())
            .and_then(|id| Uuid::parse_str(id).ok())
    };
    for event in events {
        let topic = event.topic.as_str();
        if topic.starts_with("product.") {
            products.extend(uuid(&event.payload, "id"));
        } else if topic == "inventory.changed" && changes_availability(&event.payload) {
            // Only "in stock" is indexed: a sale that leaves units on the shelf changes
            // nothing in the index (at a busy store, most stock changes are such sales).
            products.extend(uuid(&event.payload, "product_id"));
        } else if topic.starts_with("collection.") {
            let handle = event
                .payload
                .get("handle")
                .and_then(|h| h.as_str())
                .map(str::to_owned);
            collections.push((uuid(&event.payload, "id"), handle));
        }
    }
    (products, collections)
}

/// Whether a stock change crossed zero (so the product may have come into or gone out of
/// stock). An event without the numbers counts as a change.
fn changes_availability(payload: &serde_json::Value) -> bool {
    let number = |key: &str| payload.get(key).and_then(serde_json::Value::as_i64);
    match (number("quantity"), number("delta")) {
        (Some(after), Some(delta)) => (after > 0) != (after - delta > 0),
        _ => true,
    }
}

/// The index's view of a catalog row: published only when active, description as text.
pub fn product_doc(p: SearchProduct) -> ProductDoc {
    ProductDoc {
        product_id: p.id.to_string(),
        handle: p.handle,
        title: p.title,
        description: html_to_text(&p.body_html),
        vendor: p.vendor,
        product_type: p.product_type,
        tags: p.tags,
        skus: p.skus,
        collections: p.collections,
        price_minor: p.price_minor.unwrap_or(0),
        in_stock: p.in_stock,
        published: p.status == "active",
        created_at: p.created_at,
    }
}

/// Sanitized HTML as plain text: tags become spaces, common entities are decoded.
fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_lose_their_markup() {
        assert_eq!(
            html_to_text("<p><strong>Soft</strong> cotton &amp; linen</p>\n<p>Café</p>"),
            "Soft cotton & linen Café"
        );
    }

    #[test]
    fn events_name_the_products_and_collections_they_touch() {
        let p = Uuid::now_v7();
        let c = Uuid::now_v7();
        let event = |topic: &str, payload: serde_json::Value| search_feed::OutboxEvent {
            id: 1,
            topic: topic.into(),
            payload,
        };
        let (products, collections) = affected(&[
            event(
                "product.updated",
                serde_json::json!({ "id": p, "handle": "x" }),
            ),
            event(
                "inventory.changed",
                serde_json::json!({ "product_id": p, "variant_id": c }),
            ),
            event(
                "collection.deleted",
                serde_json::json!({ "id": c, "handle": "sale" }),
            ),
            event("order.placed", serde_json::json!({ "id": c })),
            // A sale leaving stock, and a low-stock warning: nothing to reindex.
            event(
                "inventory.changed",
                serde_json::json!({ "product_id": Uuid::now_v7(), "delta": -1, "quantity": 4 }),
            ),
            event(
                "inventory.low",
                serde_json::json!({ "product_id": Uuid::now_v7() }),
            ),
        ]);
        assert_eq!(products.into_iter().collect::<Vec<_>>(), [p]);
        for (delta, after, crosses) in [(-1, 0, true), (5, 5, true), (-1, 4, false), (3, 0, false)]
        {
            let payload = serde_json::json!({ "delta": delta, "quantity": after });
            assert_eq!(
                changes_availability(&payload),
                crosses,
                "{delta} -> {after}"
            );
        }
        assert_eq!(collections, [(Some(c), Some("sale".to_owned()))]);
    }
}
