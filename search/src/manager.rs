//! One tantivy index per tenant on disk, and a bounded cache of the open ones.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use tantivy::collector::{DocSetCollector, FacetCollector};
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::LockError;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::{AllQuery, BooleanQuery};
use tantivy::schema::Facet;
use tantivy::schema::Value as _;
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher, TantivyDocument,
    TantivyError, Term,
};

use tantivy::tokenizer::Language;

use crate::SearchError;
use crate::analysis::{self, language_code, language_for_locale};
use crate::schema::{Fields, catalog_schema};

/// Indexing arena per writer. Tantivy's minimum: catalog updates come in small batches, the
/// arena grows page by page up to this cap, and many tenants' writers are open at once.
const WRITER_MEMORY_BUDGET: usize = 15_000_000;
/// Indexing arena per thread during a full rebuild.
const BULK_MEMORY_BUDGET_PER_THREAD: usize = 100_000_000;

/// How often, and how long apart, to retry a busy writer lock before giving up.
const WRITER_LOCK_RETRIES: u32 = 20;
const WRITER_LOCK_RETRY_DELAY: Duration = Duration::from_millis(50);

/// One product as the index sees it: the searchable projection of a catalog row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDoc {
    /// The product's primary key as text; upserts replace the document with this key.
    pub product_id: String,
    /// URL handle.
    pub handle: String,
    /// Title shown in results.
    pub title: String,
    /// Plain-text description.
    pub description: String,
    /// Vendor (brand).
    pub vendor: String,
    /// The merchant's product type.
    pub product_type: String,
    /// Tags as the merchant wrote them.
    pub tags: Vec<String>,
    /// Every variant's SKU.
    pub skus: Vec<String>,
    /// Handles of the collections the product belongs to.
    pub collections: Vec<String>,
    /// Lowest variant price in minor units of the store currency.
    pub price_minor: i64,
    /// Whether any variant can be bought now.
    pub in_stock: bool,
    /// Whether the product is visible on the storefront.
    pub published: bool,
    /// When the product was created.
    pub created_at: DateTime<Utc>,
}

impl ProductDoc {
    fn to_document(&self, fields: &Fields) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(fields.product_id, &self.product_id);
        doc.add_text(fields.handle, &self.handle);
        doc.add_text(fields.title, &self.title);
        doc.add_text(fields.description, &self.description);
        doc.add_text(fields.vendor, &self.vendor);
        doc.add_text(fields.product_type, &self.product_type);
        for field in [fields.text, fields.words] {
            doc.add_text(field, &self.title);
            doc.add_text(field, &self.vendor);
            doc.add_text(field, &self.product_type);
            for tag in &self.tags {
                doc.add_text(field, tag);
            }
        }
        doc.add_text(fields.text, &self.description);
        for tag in &self.tags {
            doc.add_text(fields.tags, tag);
        }
        for sku in self.skus.iter().filter(|s| !s.trim().is_empty()) {
            doc.add_text(fields.skus, sku.trim());
        }
        for handle in &self.collections {
            doc.add_facet(fields.collections, Facet::from_path([handle]));
        }
        if !self.vendor.is_empty() {
            doc.add_facet(fields.vendor_facet, Facet::from_path([&self.vendor]));
        }
        if !self.product_type.is_empty() {
            doc.add_facet(fields.type_facet, Facet::from_path([&self.product_type]));
        }
        doc.add_i64(fields.price_minor, self.price_minor);
        doc.add_bool(fields.in_stock, self.in_stock);
        doc.add_bool(fields.published, self.published);
        doc.add_date(
            fields.created_at,
            tantivy::DateTime::from_timestamp_micros(self.created_at.timestamp_micros()),
        );
        doc
    }
}

/// What a commit records besides the documents: how far the outbox was applied, and the
/// language the index was analysed in. Committed atomically with the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    outbox_id: Option<i64>,
    language: Language,
}

impl Progress {
    fn parse(payload: Option<&str>) -> Self {
        let mut progress = Self {
            outbox_id: None,
            language: Language::English,
        };
        for part in payload.unwrap_or("").split_whitespace() {
            match part.split_once('=') {
                Some(("outbox_id", id)) => progress.outbox_id = id.parse().ok(),
                Some(("language", code)) => progress.language = language_for_locale(code),
                _ => {}
            }
        }
        progress
    }

    fn payload(&self) -> String {
        let id = self.outbox_id.unwrap_or(0);
        format!("outbox_id={id} language={}", language_code(self.language))
    }
}

/// One tenant's open index: the index, its reader and its only writer.
///
/// Writes are blocking (commits fsync); call them from a blocking context. Changes not
/// committed when the last handle is dropped are lost, so writers commit each batch.
pub struct TenantIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    progress: Mutex<Progress>,
}

impl TenantIndex {
    fn open(tenant: &str, path: &Path) -> Result<Self, SearchError> {
        let (schema, fields) = catalog_schema();
        fs::create_dir_all(path)?;
        let directory = MmapDirectory::open(path).map_err(TantivyError::from)?;
        let index = if Index::exists(&directory).map_err(TantivyError::from)? {
            let index = Index::open(directory)?;
            if index.schema() != schema {
                return Err(SearchError::SchemaChanged {
                    tenant: tenant.to_owned(),
                });
            }
            index
        } else {
            Index::create(directory, schema, IndexSettings::default())?
        };
        let progress = Progress::parse(index.load_metas()?.payload.as_deref());
        analysis::register(&index, progress.language);
        // Manual reload: this process owns the only writer and reloads after each commit,
        // which saves the file-watcher that OnCommitWithDelay would start per index.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = acquire_writer(&index, small_writer())?;
        Ok(Self {
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            progress: Mutex::new(progress),
        })
    }

    /// Adds the product, replacing any document with the same `product_id`, once committed.
    pub fn upsert(&self, doc: ProductDoc) -> Result<(), SearchError> {
        let document = doc.to_document(&self.fields);
        let writer = self.writer();
        // Delete and add under one lock so a concurrent upsert of the same product cannot
        // slip between them and leave two documents behind.
        writer.delete_term(self.id_term(&doc.product_id));
        writer.add_document(document)?;
        Ok(())
    }

    /// Removes the product with this id, once committed; unknown ids are not an error.
    pub fn delete(&self, product_id: &str) -> Result<(), SearchError> {
        self.writer().delete_term(self.id_term(product_id));
        Ok(())
    }

    /// Makes every change so far durable and visible to new searchers.
    pub fn commit(&self) -> Result<(), SearchError> {
        let progress = *self.progress();
        self.commit_progress(progress)
    }

    /// Commits every change so far together with the id of the last outbox event they
    /// apply: after a crash the index holds exactly the changes up to that event.
    pub fn commit_through(&self, outbox_id: i64) -> Result<(), SearchError> {
        let mut progress = *self.progress();
        progress.outbox_id = Some(outbox_id);
        self.commit_progress(progress)
    }

    fn commit_progress(&self, progress: Progress) -> Result<(), SearchError> {
        {
            let mut writer = self.writer();
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&progress.payload());
            prepared.commit()?;
        }
        *self.progress() = progress;
        self.reader.reload()?;
        Ok(())
    }

    /// The id of the last outbox event applied, or `None` for an index never built.
    pub fn applied_outbox_id(&self) -> Option<i64> {
        self.progress().outbox_id
    }

    /// The stemming language the index was built with.
    pub fn language(&self) -> Language {
        self.progress().language
    }

    /// Every collection handle some document is filed under.
    pub fn collection_handles(&self) -> Result<Vec<String>, SearchError> {
        let mut collector = FacetCollector::for_field("collections");
        collector.add_facet(Facet::root());
        let counts = self.searcher().search(&AllQuery, &collector)?;
        Ok(counts
            .get(Facet::root())
            .filter_map(|(facet, _)| facet.to_path().last().map(|s| (*s).to_owned()))
            .collect())
    }

    /// Ids of the products filed under any of these collection handles.
    pub fn products_in_collections(&self, handles: &[String]) -> Result<Vec<String>, SearchError> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let terms: Vec<Term> = handles
            .iter()
            .map(|h| Term::from_facet(self.fields.collections, &Facet::from_path([h])))
            .collect();
        let query = BooleanQuery::new_multiterms_query(terms);
        let searcher = self.searcher();
        let mut ids = Vec::new();
        for address in searcher.search(&query, &DocSetCollector)? {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc
                .get_first(self.fields.product_id)
                .and_then(|v| v.as_str())
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// A consistent snapshot for one request; take a new one per request.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The underlying index, for query parsers and collectors.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Handles of the catalog fields in this index.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    fn id_term(&self, product_id: &str) -> Term {
        Term::from_field_text(self.fields.product_id, product_id)
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        // A panic elsewhere while holding the lock leaves tantivy's writer consistent: its
        // operations are queued atomically, so the poisoned guard is safe to reuse.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One indexing thread and one merge thread: per-tenant catalogs are small, and thousands
/// of open writers with tantivy's defaults (4 merge threads each) would exhaust threads.
fn small_writer() -> IndexWriterOptions {
    IndexWriterOptions::builder()
        .memory_budget_per_thread(WRITER_MEMORY_BUDGET)
        .num_worker_threads(1)
        .num_merge_threads(1)
        .build()
}

/// A full rebuild is one large batch: more memory and threads, for a short while.
fn bulk_writer() -> IndexWriterOptions {
    let threads = thread::available_parallelism().map_or(2, |n| n.get().min(4));
    IndexWriterOptions::builder()
        .memory_budget_per_thread(BULK_MEMORY_BUDGET_PER_THREAD)
        .num_worker_threads(threads)
        .num_merge_threads(1)
        .build()
}

fn acquire_writer(index: &Index, options: IndexWriterOptions) -> Result<IndexWriter, SearchError> {
    let mut attempts = 0;
    loop {
        match index.writer_with_options(options.clone()) {
            // The previous handle of this index may still be releasing its lock on drop.
            Err(TantivyError::LockFailure(LockError::LockBusy, _))
                if attempts < WRITER_LOCK_RETRIES =>
            {
                attempts += 1;
                thread::sleep(WRITER_LOCK_RETRY_DELAY);
            }
            result => return Ok(result?),
        }
    }
}

/// Finds, opens and creates tenant indexes under one root directory, keeping at most
/// `max_open` of them cached between uses.
pub struct IndexManager {
    root: PathBuf,
    cache: Cache<String, Arc<TenantIndex>>,
    /// Indexes still in use after the cache let them go. Tantivy allows one writer per
    /// directory, so reopening one of these would fail on its lock: hand out the same one.
    live: Mutex<HashMap<String, Weak<TenantIndex>>>,
    /// Held while an index directory is opened or replaced, so an open never sees a
    /// directory halfway through a rebuild's swap.
    swap: Mutex<()>,
}

impl IndexManager {
    /// A manager for indexes under `root`, caching at most `max_open` of them.
    pub fn new(root: PathBuf, max_open: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_open)
            // LRU rather than TinyLFU: TinyLFU may refuse to admit a tenant seen for the
            // first time, and an index that is not kept is reopened on every request.
            .eviction_policy(EvictionPolicy::lru())
            .build();
        Self {
            root,
            cache,
            live: Mutex::new(HashMap::new()),
            swap: Mutex::new(()),
        }
    }

    /// The tenant's index, opened from disk or created empty if it does not exist yet.
    pub fn open(&self, tenant: &str) -> Result<Arc<TenantIndex>, SearchError> {
        check_tenant_key(tenant)?;
        self.cache
            .try_get_with_by_ref(tenant, || self.open_uncached(tenant))
            .map_err(|shared| (*shared).clone())
    }

    /// Drops the tenant's index from the cache; it closes once no request holds it.
    pub fn evict(&self, tenant: &str) {
        self.cache.invalidate(tenant);
    }

    /// Evicts the tenant's index and deletes its directory, e.g. before a rebuild.
    pub fn remove(&self, tenant: &str) -> Result<(), SearchError> {
        check_tenant_key(tenant)?;
        self.evict(tenant);
        self.live().remove(tenant);
        match fs::remove_dir_all(self.root.join(tenant)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }

    /// Starts building the tenant's index anew in a side directory; searches keep using the
    /// current index until [`Rebuild::finish`] swaps the new one in.
    pub fn start_rebuild(&self, tenant: &str, language: Language) -> Result<Rebuild, SearchError> {
        check_tenant_key(tenant)?;
        // Tenant keys never contain a dot, so this cannot be another tenant's directory.
        let path = self.root.join(format!("{tenant}.rebuild"));
        match fs::remove_dir_all(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
        fs::create_dir_all(&path)?;
        let (schema, fields) = catalog_schema();
        let directory = MmapDirectory::open(&path).map_err(TantivyError::from)?;
        let index = Index::create(directory, schema, IndexSettings::default())?;
        analysis::register(&index, language);
        let writer = acquire_writer(&index, bulk_writer())?;
        Ok(Rebuild {
            tenant: tenant.to_owned(),
            path,
            fields,
            writer,
            language,
            added: 0,
        })
    }

    /// How many indexes the cache holds, after applying pending evictions.
    ///
    /// Indexes still held by in-flight requests are not counted once evicted.
    pub fn open_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    fn open_uncached(&self, tenant: &str) -> Result<Arc<TenantIndex>, SearchError> {
        let _swap = self.swap.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = self.live().get(tenant).and_then(Weak::upgrade) {
            return Ok(index);
        }
        let index = Arc::new(TenantIndex::open(tenant, &self.root.join(tenant))?);
        // Frequent opens of the same tenants mean `max_open` is too small for the load.
        tracing::debug!(tenant, "opened search index");
        let mut live = self.live();
        live.retain(|_, weak| weak.strong_count() > 0);
        live.insert(tenant.to_owned(), Arc::downgrade(&index));
        Ok(index)
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Weak<TenantIndex>>> {
        // The map only holds weak handles; whatever a panicking holder left is still valid.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A full build of one tenant's index, swapped in by [`IndexManager::finish_rebuild`];
/// dropped unfinished, it leaves the current index untouched.
pub struct Rebuild {
    tenant: String,
    path: PathBuf,
    fields: Fields,
    writer: IndexWriter,
    language: Language,
    added: u64,
}

impl Rebuild {
    /// Adds one product to the new index.
    pub fn add(&mut self, doc: &ProductDoc) -> Result<(), SearchError> {
        self.writer.add_document(doc.to_document(&self.fields))?;
        self.added += 1;
        Ok(())
    }

    /// How many products were added so far.
    pub fn added(&self) -> u64 {
        self.added
    }
}

impl IndexManager {
    /// Commits the rebuilt index as applying the outbox up to `outbox_id`, replaces the
    /// tenant's index with it, and returns it opened.
    pub fn finish_rebuild(
        &self,
        mut rebuild: Rebuild,
        outbox_id: i64,
    ) -> Result<Arc<TenantIndex>, SearchError> {
        let progress = Progress {
            outbox_id: Some(outbox_id),
            language: rebuild.language,
        };
        let mut prepared = rebuild.writer.prepare_commit()?;
        prepared.set_payload(&progress.payload());
        prepared.commit()?;
        rebuild.writer.wait_merging_threads()?;
        let manager = self;
        let tenant = rebuild.tenant.clone();
        {
            let _swap = manager.swap.lock().unwrap_or_else(PoisonError::into_inner);
            manager.evict(&tenant);
            manager.cache.run_pending_tasks();
            manager.live().remove(&tenant);
            let current = manager.root.join(&tenant);
            match fs::remove_dir_all(&current) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    return Err(error.into());
                }
                _ => {}
            }
            fs::rename(&rebuild.path, &current)?;
        }
        manager.open(&tenant)
    }
}

impl fmt::Debug for IndexManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexManager")
            .field("root", &self.root)
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

/// Tenant keys become directory names, so only characters that cannot leave the root pass.
fn check_tenant_key(tenant: &str) -> Result<(), SearchError> {
    let valid = (1..=63).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(SearchError::InvalidTenantKey(tenant.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::QueryParser;
    use tantivy::schema::Value;

    use super::*;

    fn product(id: &str, title: &str) -> ProductDoc {
        ProductDoc {
            product_id: id.to_owned(),
            handle: format!("handle-{id}"),
            title: title.to_owned(),
            description: "Hand-thrown stoneware.".to_owned(),
            vendor: "Acme Pottery".to_owned(),
            product_type: "Mug".to_owned(),
            tags: vec!["kitchen".to_owned(), "gift".to_owned()],
            skus: vec!["MUG-BLUE-01".to_owned()],
            collections: vec!["summer-sale".to_owned()],
            price_minor: 1250,
            in_stock: true,
            published: true,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp"),
        }
    }

    /// Ids of the documents matching `query` in the title.
    fn search_titles(index: &TenantIndex, query: &str) -> Vec<String> {
        let parser = QueryParser::for_index(index.index(), vec![index.fields().title]);
        let query = parser.parse_query(query).expect("query parses");
        let searcher = index.searcher();
        let hits = searcher
            .search(&query, &TopDocs::with_limit(10))
            .expect("search runs");
        hits.into_iter()
            .map(|(_score, address)| {
                let doc: TantivyDocument = searcher.doc(address).expect("stored doc");
                doc.get_first(index.fields().product_id)
                    .and_then(|value| value.as_str())
                    .expect("stored product_id")
                    .to_owned()
            })
            .collect()
    }

    fn manager(max_open: u64) -> (tempfile::TempDir, IndexManager) {
        let root = tempfile::tempdir().expect("temp dir");
        let manager = IndexManager::new(root.path().to_path_buf(), max_open);
        (root, manager)
    }

    #[test]
    fn committed_product_is_found_by_title_term() {
        let (_root, manager) = manager(4);
        let index = manager.open("t_0a1b2c3d4e").expect("open");
        index
            .upsert(product("p1", "Blue ceramic mug"))
            .expect("upsert");
        assert!(
            search_titles(&index, "ceramic").is_empty(),
            "visible before commit"
        );
        index.commit().expect("commit");
        assert_eq!(search_titles(&index, "ceramic"), ["p1"]);
    }

    #[test]
    fn upserting_twice_keeps_one_document() {
        let (_root, manager) = manager(4);
        let index = manager.open("t_1").expect("open");
        index.upsert(product("p1", "Blue mug")).expect("upsert");
        index.commit().expect("commit");
        index.upsert(product("p1", "Red mug")).expect("upsert");
        index.commit().expect("commit");
        assert_eq!(index.searcher().num_docs(), 1);
        assert!(search_titles(&index, "blue").is_empty());
        assert_eq!(search_titles(&index, "red"), ["p1"]);
    }

    #[test]
    fn delete_removes_the_product() {
        let (_root, manager) = manager(4);
        let index = manager.open("t_1").expect("open");
        index.upsert(product("p1", "Blue mug")).expect("upsert");
        index.upsert(product("p2", "Blue plate")).expect("upsert");
        index.commit().expect("commit");
        index.delete("p1").expect("delete");
        index.commit().expect("commit");
        assert_eq!(search_titles(&index, "blue"), ["p2"]);
        let all = index.searcher().search(&AllQuery, &Count).expect("count");
        assert_eq!(all, 1);
    }

    #[test]
    fn tenants_do_not_see_each_others_products() {
        let (root, manager) = manager(4);
        let a = manager.open("t_a").expect("open a");
        let b = manager.open("t_b").expect("open b");
        a.upsert(product("p1", "Blue mug")).expect("upsert");
        a.commit().expect("commit");
        b.commit().expect("commit");
        assert_eq!(search_titles(&a, "mug"), ["p1"]);
        assert!(search_titles(&b, "mug").is_empty());
        assert!(root.path().join("t_a").is_dir());
        assert!(root.path().join("t_b").is_dir());
    }

    #[test]
    fn cache_stays_within_max_open() {
        let (_root, manager) = manager(2);
        for n in 0..5 {
            let tenant = format!("t_{n}");
            manager.open(&tenant).expect("open");
            assert!(manager.open_count() <= 2);
        }
        assert_eq!(manager.open_count(), 2);
    }

    #[test]
    fn reopening_after_eviction_keeps_committed_data() {
        let (_root, manager) = manager(1);
        let index = manager.open("t_a").expect("open");
        index.upsert(product("p1", "Blue mug")).expect("upsert");
        index.commit().expect("commit");
        drop(index);
        manager.evict("t_a");
        manager.open("t_b").expect("open other");
        let index = manager.open("t_a").expect("reopen");
        assert_eq!(search_titles(&index, "mug"), ["p1"]);
    }

    #[test]
    fn index_held_after_eviction_is_shared_not_reopened() {
        // Reopening would fail on tantivy's writer lock while the old handle lives.
        let (_root, manager) = manager(1);
        let held = manager.open("t_a").expect("open");
        manager.evict("t_a");
        let again = manager.open("t_a").expect("reopen while held");
        assert!(Arc::ptr_eq(&held, &again));
    }

    #[test]
    fn remove_deletes_the_directory() {
        let (root, manager) = manager(4);
        let index = manager.open("t_a").expect("open");
        index.upsert(product("p1", "Blue mug")).expect("upsert");
        index.commit().expect("commit");
        drop(index);
        manager.remove("t_a").expect("remove");
        assert!(!root.path().join("t_a").exists());
        let index = manager.open("t_a").expect("recreate");
        assert_eq!(index.searcher().num_docs(), 0);
        manager
            .remove("t_never_opened")
            .expect("missing dir is fine");
    }

    #[test]
    fn bad_tenant_keys_are_refused() {
        let (root, manager) = manager(4);
        for key in ["../x", "", "T_upper", "a/b", "t.1", &"a".repeat(64)] {
            assert!(
                matches!(manager.open(key), Err(SearchError::InvalidTenantKey(_))),
                "{key:?} accepted"
            );
        }
        assert!(matches!(
            manager.remove(".."),
            Err(SearchError::InvalidTenantKey(_))
        ));
        assert!(root.path().exists());
        assert!(manager.open(&"a".repeat(63)).is_ok());
    }
}

#[cfg(test)]
mod rebuild_tests {
    use super::*;

    fn doc(id: &str, title: &str) -> ProductDoc {
        ProductDoc {
            product_id: id.to_owned(),
            handle: id.to_owned(),
            title: title.to_owned(),
            description: String::new(),
            vendor: String::new(),
            product_type: String::new(),
            tags: Vec::new(),
            skus: Vec::new(),
            collections: Vec::new(),
            price_minor: 100,
            in_stock: true,
            published: true,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
        }
    }

    #[test]
    fn a_rebuild_replaces_the_index_and_records_progress_and_language() {
        let root = tempfile::tempdir().expect("temp dir");
        let manager = IndexManager::new(root.path().to_path_buf(), 4);
        let old = manager.open("t_r").expect("open");
        old.upsert(doc("stale", "Old thing")).expect("add");
        old.commit_through(3).expect("commit");
        assert_eq!(old.applied_outbox_id(), Some(3));
        drop(old);
        let mut rebuild = manager
            .start_rebuild("t_r", Language::German)
            .expect("start");
        rebuild.add(&doc("p1", "Neue Sache")).expect("add");
        assert_eq!(rebuild.added(), 1);
        let index = manager.finish_rebuild(rebuild, 42).expect("finish");
        assert_eq!(index.searcher().num_docs(), 1);
        assert_eq!(index.applied_outbox_id(), Some(42));
        assert_eq!(index.language(), Language::German);
        assert!(!root.path().join("t_r.rebuild").exists());
        // Progress survives closing and reopening.
        drop(index);
        manager.evict("t_r");
        manager.open_count();
        let reopened = manager.open("t_r").expect("reopen");
        assert_eq!(reopened.applied_outbox_id(), Some(42));
        assert_eq!(reopened.language(), Language::German);
    }

    #[test]
    fn a_new_index_has_no_progress() {
        let root = tempfile::tempdir().expect("temp dir");
        let manager = IndexManager::new(root.path().to_path_buf(), 4);
        assert_eq!(
            manager.open("t_new").expect("open").applied_outbox_id(),
            None
        );
    }
}
