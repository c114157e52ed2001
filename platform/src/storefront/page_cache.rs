//! Rendered storefront pages kept in memory on each node. The public pages (home,
//! collections, products, content, sitemaps) show nothing of the shopper but the number of
//! items in their cart, so a page is stored once per store, address and cart count, and
//! served to every shopper it fits until the store changes.
//!
//! Freshness does not rest on a timer. Every table a storefront page reads has a statement
//! trigger that notifies [`PAGES_CHANNEL`] with the store's schema when the writing
//! transaction commits (tenant migration `0012`), whoever wrote it: the admin, the API, an
//! import, a checkout taking stock. Every node listens and moves that store to a new epoch;
//! pages are stored under the epoch read *before* the handler opened its transaction, so a
//! page rendered while a change committed lands under the old epoch and is never served.
//! The theme a page was rendered with is part of the key too (a saved override reaches
//! the theme cache by a notification of its own). While the listener is not connected
//! (start-up, a lost connection) the cache is bypassed, and reconnecting forgets it all.
//! [`Settings::page_cache_secs`](crate::config::Settings) bounds what no write announces,
//! such as a blog post scheduled for later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use moka::future::Cache;
use tenant_store::StoreError;
use tenant_store::shop::Frame;
use tower_sessions::Session;

use crate::app::AppState;
use crate::extract::CurrentTenant;
use crate::storefront::layout;
use crate::storefront::personal_pages::PersonalPages;

/// The channel the tenant tables' triggers notify, with the schema as payload.
pub const PAGES_CHANNEL: &str = "storefront_pages";

/// Pages larger than this are rendered every time.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// The share of the cache's bytes that store frames may take (settings carry the policies'
/// text, so a frame can weigh tens of kilobytes).
const FRAMES_SHARE: u64 = 8;
/// What store frames may take at least, with a small page cache or none: a frame per store
/// of a few thousand.
const MIN_FRAME_BYTES: u64 = 16 * 1024 * 1024;
/// The share of the cache's bytes that pages kept for one shopper may take.
const PERSONAL_SHARE: u64 = 4;
/// Longer host + path + query strings are not cached (no cache flooding by huge URLs).
const MAX_KEY_BYTES: usize = 2048;

/// One stored page: its body and the headers it was answered with.
struct CachedPage {
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
    etag: Option<String>,
}

impl CachedPage {
    fn respond(&self, request: &HeaderMap) -> Response {
        let not_modified = self
            .etag
            .as_deref()
            .is_some_and(|etag| layout::holds(request, etag));
        let mut res = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            Response::new(Body::from(self.body.clone()))
        };
        let headers = res.headers_mut();
        for (name, value) in &self.headers {
            if not_modified && name == header::CONTENT_TYPE {
                continue;
            }
            headers.insert(name.clone(), value.clone());
        }
        res
    }
}

/// A store's settings and menus as [`PageCache::frame`] hands them out.
#[derive(Clone, Debug)]
pub struct StoreFrame {
    /// Settings and menus, with a cart count of 0.
    pub frame: Arc<Frame>,
    /// Set when the frame is kept in the cache: unique in this process to this frame, so
    /// two pages with the same id show the same settings and menus (a change to the store
    /// loads a new frame, with a new id). None when the frame was loaded for one page.
    pub id: Option<u64>,
}

/// Source of [`StoreFrame::id`]s: one sequence for every cache of the process.
static NEXT_FRAME_ID: AtomicU64 = AtomicU64::new(1);

/// This node's page cache.
pub struct PageCache {
    /// None when switched off (`PAGE_CACHE_MB=0`).
    pages: Option<Cache<String, Arc<CachedPage>>>,
    /// Each store's settings and menus (the frame of every page, also of pages rendered
    /// for one shopper), under the same keys and rules as pages; kept with the pages off
    /// too.
    frames: Cache<String, StoreFrame>,
    /// Pages rendered for one shopper, kept for their next look; off with the pages.
    personal: Option<PersonalPages>,
    /// Each store's current epoch (stores that never changed are at 0).
    epochs: Mutex<HashMap<String, u64>>,
    /// Source of fresh epochs.
    next_epoch: AtomicU64,
    /// Bumped when everything is forgotten; part of every key.
    generation: AtomicU64,
    /// True while the listener is connected: only then can a stored page be trusted.
    listening: AtomicBool,
}

impl PageCache {
    /// A cache of at most `megabytes` of pages, each served for at most `ttl`.
    pub fn new(megabytes: u64, ttl: Duration) -> Arc<Self> {
        let bytes = megabytes * 1024 * 1024;
        let pages = (megabytes > 0).then(|| {
            Cache::builder()
                .max_capacity(bytes - bytes / FRAMES_SHARE - bytes / PERSONAL_SHARE)
                .weigher(|key: &String, page: &Arc<CachedPage>| {
                    let size = key.len() + page.body.len() + 256;
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build()
        });
        // Store frames are kept even with the page cache off: they are small, change
        // rarely, and every page needs one.
        let frames = {
            Cache::builder()
                .max_capacity((bytes / FRAMES_SHARE).max(MIN_FRAME_BYTES))
                .weigher(|key: &String, kept: &StoreFrame| {
                    let size = key.len() + frame_weight(&kept.frame);
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build()
        };
        let personal = (megabytes > 0).then(|| {
            let budget = usize::try_from(bytes / PERSONAL_SHARE).unwrap_or(usize::MAX);
            PersonalPages::new(budget, ttl)
        });
        Arc::new(Self {
            pages,
            frames,
            personal,
            epochs: Mutex::new(HashMap::new()),
            next_epoch: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        })
    }

    /// A store's current epoch: it moves on every change to the store's pages.
    pub fn epoch(&self, schema: &str) -> u64 {
        let epochs = self.epochs.lock().unwrap_or_else(|p| p.into_inner());
        epochs.get(schema).copied().unwrap_or(0)
    }

    /// Moves a store to a new epoch: none of its stored pages is served again.
    pub fn invalidate(&self, schema: &str) {
        let epoch = self.next_epoch.fetch_add(1, Ordering::AcqRel);
        let mut epochs = self.epochs.lock().unwrap_or_else(|p| p.into_inner());
        epochs.insert(schema.to_owned(), epoch);
    }

    /// Forgets every store's pages.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        if let Some(pages) = &self.pages {
            pages.invalidate_all();
        }
        self.frames.invalidate_all();
        if let Some(personal) = &self.personal {
            personal.clear();
        }
    }

    /// The store's frame with a cart count of 0: from the cache, or loaded with `load` and
    /// kept. Only a kept frame has an id (see [`StoreFrame::id`]).
    pub async fn frame<F>(&self, schema: &str, load: F) -> Result<StoreFrame, StoreError>
    where
        F: AsyncFnOnce() -> Result<Frame, StoreError>,
    {
        let frames = &self.frames;
        if !self.is_listening() {
            let frame = Frame {
                cart_count: 0,
                ..load().await?
            };
            return Ok(StoreFrame {
                frame: Arc::new(frame),
                id: None,
            });
        };
        // Read before the frame's query runs (each statement sees what committed before it
        // started): a change committed after this moves the epoch, orphaning what we store.
        let key = format!(
            "{schema} {} {}",
            self.generation.load(Ordering::Acquire),
            self.epoch(schema)
        );
        if let Some(kept) = frames.get(&key).await {
            return Ok(kept);
        }
        let frame = Frame {
            cart_count: 0,
            ..load().await?
        };
        let kept = StoreFrame {
            frame: Arc::new(frame),
            id: Some(NEXT_FRAME_ID.fetch_add(1, Ordering::Relaxed)),
        };
        frames.insert(key, kept.clone()).await;
        Ok(kept)
    }

    /// A page rendered for one shopper (their cart), kept under `key` (see [`stamp`]) by
    /// [`PageCache::keep_personal`]: answered as it was, with `Cache-Control: no-store`.
    pub fn personal(&self, key: &str) -> Option<Response> {
        let body = self.personal.as_ref()?.get(key)?;
        Some(layout::no_store(StatusCode::OK, body))
    }

    /// Keeps a page rendered for one shopper (see [`PageCache::personal`]).
    pub fn keep_personal(&self, key: String, body: Bytes) {
        let Some(personal) = &self.personal else {
            return;
        };
        if body.len() <= MAX_PAGE_BYTES {
            personal.insert(key, body);
        }
    }

    /// Whether changes are being followed, so pages are served from the cache.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Pages stored on this node (for tests and diagnostics).
    pub async fn len(&self) -> u64 {
        match &self.pages {
            Some(pages) => {
                pages.run_pending_tasks().await;
                let personal = self.personal.as_ref().map_or(0, PersonalPages::len);
                pages.entry_count() + personal as u64
            }
            None => 0,
        }
    }

    /// Whether no page is stored.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// Follows store changes announced by the database (see [`crate::follow`]), moving
    /// those stores to new epochs; with the page cache off too, for the frames.
    pub fn spawn_listener(
        self: &Arc<Self>,
        channels: &mut crate::follow::Channels,
    ) -> tokio::task::JoinHandle<()> {
        crate::follow::spawn(
            channels.subscribe(PAGES_CHANNEL),
            Arc::clone(self) as Arc<dyn crate::follow::Follower>,
        )
    }
}

#[async_trait::async_trait]
impl crate::follow::Follower for PageCache {
    async fn changed(&self, schema: &str) {
        self.invalidate(schema);
    }

    fn forget_all(&self) {
        self.invalidate_all();
    }

    fn following(&self, on: bool) {
        self.listening.store(on, Ordering::Release);
    }
}

/// Roughly the bytes a frame holds: its settings and menus as JSON, plus overhead.
fn frame_weight(frame: &Frame) -> usize {
    let settings = serde_json::to_vec(&frame.settings).map_or(4096, |v| v.len());
    let menus = serde_json::to_vec(&frame.menus).map_or(4096, |v| v.len());
    settings + menus + 512
}

/// Middleware on the storefront's public pages: answers from the cache when it can, and
/// stores what the page handler rendered when the shopper's page is everyone's page.
pub async fn serve(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(pages) = &app.pages.pages else {
        return next.run(req).await;
    };
    let Some(candidate) = candidate(&app, &req) else {
        return next.run(req).await;
    };
    let Some((key, cart_count)) = key_for(&app, candidate).await else {
        return next.run(req).await;
    };
    if let Some(page) = pages.get(&key).await {
        return page.respond(req.headers());
    }
    // The page shows the count its key was made with (see `cart_count_of_this_page`).
    let res = PAGE_CART_COUNT.scope(cart_count, next.run(req)).await;
    if res.status() != StatusCode::OK || res.headers().contains_key(header::SET_COOKIE) {
        return res;
    }
    let stays_private = res
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-store") || v.contains("private"));
    if stays_private {
        return res;
    }
    let (parts, body) = res.into_parts();
    let body = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "reading a storefront page for the page cache");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            *name != header::CONTENT_LENGTH && *name != header::DATE && *name != header::SET_COOKIE
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let etag = parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    pages
        .insert(
            key,
            Arc::new(CachedPage {
                body: body.clone(),
                headers,
                etag,
            }),
        )
        .await;
    Response::from_parts(parts, Body::from(body))
}

/// What this request's page depends on: its store, the session (for the cart count) and
/// the place (host, path and query); None when it can't be stored (or the cache can't be
/// trusted now).
fn candidate(app: &AppState, req: &Request) -> Option<(CurrentTenant, Session, String)> {
    if req.method() != Method::GET || !app.pages.listening.load(Ordering::Acquire) {
        return None;
    }
    let tenant = req.extensions().get::<CurrentTenant>()?.clone();
    let session = req.extensions().get::<Session>()?.clone();
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let uri = req.uri().path_and_query()?.as_str();
    if host.len() + uri.len() > MAX_KEY_BYTES {
        return None;
    }
    Some((tenant, session, format!("{host} {uri}")))
}

/// The units in the shopper's cart, with one read at most, on the read lane: none without
/// a session; the session's row and its cart's count in one statement when the session is
/// still to be read; the count of the cart it names otherwise.
pub async fn cart_count(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
) -> Result<i64, crate::error::AppError> {
    use sqlx::Row as _;
    if session.id().is_none() {
        return Ok(0);
    }
    if let Some(id) = crate::sessions::unread(session) {
        return count_with_session(app, tenant, session, id).await;
    }
    let Some(cart) = layout::cart_id(session).await? else {
        return Ok(0);
    };
    const COUNT: tenant_store::ReadStatement<'static> = tenant_store::ReadStatement {
        name: "cart_count",
        sql: "SELECT COALESCE(sum(quantity), 0)::bigint AS cart_count FROM cart_lines \
              WHERE cart_id = $1::uuid",
    };
    let rows =
        tenant_store::read_at_once(&app.reads, &tenant.schema, COUNT, &[&cart.to_string()]).await?;
    Ok(match rows.first() {
        Some(r) => r.try_get("cart_count")?,
        None => 0,
    })
}

/// The key of this request's page, or None when the page must be rendered afresh.
///
/// The pages behind this middleware show nothing of the shopper but the number of items in
/// their cart (the handlers read nothing else from the session): shoppers with the same
/// count see the same page. Without a cart that count is 0 and costs nothing; with one it
/// is one small query, with the session read on the same connection.
async fn key_for(
    app: &AppState,
    (tenant, session, place): (CurrentTenant, Session, String),
) -> Option<(String, i64)> {
    // Read before any of the page's queries: see the module documentation.
    let version = store_version(app, &tenant).await?;
    let cart_count = cart_count(app, &tenant, &session).await.ok()?;
    Some((format!("{version} {cart_count} {place}"), cart_count))
}

/// The start of the key of a page rendered for one shopper from what was read for it
/// (see [`PageCache::personal`]): the store's generation, epoch and theme. Read before the
/// page's reads, as a public page's key is (see the module documentation): a change to the
/// store committed meanwhile moves the epoch, and the page lands under a key never asked
/// for again. The rest of the key is up to the page: everything else it shows must follow
/// from it. None when such pages can't be kept now.
pub async fn stamp(app: &AppState, tenant: &CurrentTenant) -> Option<String> {
    app.pages.pages.as_ref()?;
    if !app.pages.listening.load(Ordering::Acquire) {
        return None;
    }
    Some(format!("personal {}", store_version(app, tenant).await?))
}

/// What every stored page's key starts with: the store's schema, the cache's generation,
/// the store's epoch and its theme's version.
async fn store_version(app: &AppState, tenant: &CurrentTenant) -> Option<String> {
    let generation = app.pages.generation.load(Ordering::Acquire);
    let epoch = app.pages.epoch(tenant.schema.as_str());
    let theme = app.themes.version(tenant).await?;
    Some(format!(
        "{schema} {generation} {epoch} {theme}",
        schema = tenant.schema.as_str()
    ))
}

/// Reads the session's row and the count of the cart it names in one statement, sent as
/// one message with its tenant scope (see [`tenant_store::read_at_once`]), and hands the
/// row to the session.
async fn count_with_session(
    app: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    id: tower_sessions::session::Id,
) -> Result<i64, crate::error::AppError> {
    use sqlx::Row as _;
    const COUNT: tenant_store::ReadStatement<'static> = tenant_store::ReadStatement {
        name: "page_cart_count",
        sql: "SELECT s.data, s.expires_at, \
              (SELECT COALESCE(sum(l.quantity), 0)::bigint FROM cart_lines l \
               WHERE l.cart_id = (s.data ->> $2)::uuid) AS cart_count \
              FROM platform.sessions s WHERE s.id = $1 AND s.expires_at > now()",
    };
    let rows = tenant_store::read_at_once(
        &app.reads,
        &tenant.schema,
        COUNT,
        &[&id.to_string(), layout::CART_KEY],
    )
    .await?;
    let (row, count) = match rows.first() {
        Some(r) => (
            Some((r.try_get("data")?, r.try_get("expires_at")?)),
            r.try_get::<i64, _>("cart_count")?,
        ),
        None => (None, 0),
    };
    crate::sessions::hand_over_row(session, id, row)
        .await
        .map_err(|e| crate::error::AppError::Internal(e.into()))?;
    Ok(count)
}

tokio::task_local! {
    /// The cart count a page behind this middleware is keyed by, while its handler runs.
    static PAGE_CART_COUNT: i64;
}

/// While a page that may be stored is rendered: the cart count it is stored under, which
/// the page must show (read once, so a cart changing meanwhile can't put one count on a
/// page stored under another). None elsewhere.
pub fn cart_count_of_this_page() -> Option<i64> {
    PAGE_CART_COUNT.try_with(|count| *count).ok()
}
