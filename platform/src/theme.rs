//! Storefront templates per store: the shipped default theme (`templates/store/`), or the
//! merchant's override of a template when there is one.
//!
//! A store without overrides renders through the one shared [`crate::views::Views`]; the
//! answer "this store has none" is cached, so such a page costs no query and no parse. A
//! store with overrides gets its own template set (the default store templates plus its
//! overrides, nothing else: see [`sandbox`]), checked and cached per tenant in a bounded
//! cache that every node empties for that tenant when a save announces itself on
//! [`THEME_CHANNEL`]. Only the pages an override takes part in render in that set, in a
//! worker process ([`worker`], which compiles the set once) under a time and a memory
//! limit; a failure serves the default template instead, logs a warning and records the
//! error for the admin's theme screen.

pub mod samples;
pub mod sandbox;
pub mod worker;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tenant_store::theme::Override;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::extract::CurrentTenant;
use crate::tenancy::Tenant;

pub use sandbox::Refusal;

/// Channel on which a store's theme changes are announced to every app node (payload: the
/// tenant id).
pub const THEME_CHANNEL: &str = "storefront_theme";

/// Cache weight of a store without overrides (just a marker).
const PLAIN_WEIGHT: u32 = 1;
/// Cache weight of a store's own set (its overrides' sources and how templates include
/// each other; the compiled set lives in the render workers).
const CUSTOM_WEIGHT: u32 = 100;
/// Total cache weight: about a thousand stores with overrides.
const CACHE_WEIGHT: u64 = 100_000;

/// Sandbox threads (compiling and checking stores' templates) that may run at once on a
/// node.
const SANDBOX_THREADS: usize = 64;

/// Renders a storefront template for the store.
pub async fn render_store(
    app: &AppState,
    tenant: &CurrentTenant,
    template: &str,
    view: &impl Serialize,
) -> Result<String, AppError> {
    let theme = match app.themes.get(tenant).await {
        Ok(theme) => theme,
        Err(e) => {
            tracing::warn!(
                tenant.id = %tenant.id, template, error = format!("{e:#}"),
                "could not load the store's theme; rendering the default template"
            );
            return app.views.render(template, view);
        }
    };
    let Some(custom) = &theme.custom else {
        return app.views.render(template, view);
    };
    let Some(involved) = custom.involved.get(template) else {
        return app.views.render(template, view);
    };
    if custom.is_tripped(involved) {
        return app.views.render(template, view);
    }
    let context =
        serde_json::to_value(view).map_err(|e| anyhow::anyhow!("view for {template}: {e}"))?;
    match app
        .themes
        .workers
        .render(custom.set, &custom.overrides, template, context)
        .await
    {
        Ok(html) => Ok(html),
        Err(failure) => {
            let limits = app.themes.workers.limits();
            let (message, stopped) = match failure {
                sandbox::RenderFailure::TimedOut => (
                    format!(
                        "{template} took longer than {} ms to render",
                        limits.timeout.as_millis()
                    ),
                    true,
                ),
                sandbox::RenderFailure::OutOfMemory => (
                    format!(
                        "{template} needed more than {} MB of memory to render",
                        limits.memory_mb
                    ),
                    true,
                ),
                sandbox::RenderFailure::Error(e) => (e, false),
                sandbox::RenderFailure::Busy => {
                    tracing::warn!(
                        tenant.id = %tenant.id, template,
                        "every theme worker is busy; rendered the default template instead"
                    );
                    return app.views.render(template, view);
                }
                sandbox::RenderFailure::Unavailable(e) => {
                    tracing::error!(
                        tenant.id = %tenant.id, template, error = %e,
                        "no theme worker; rendered the default template instead"
                    );
                    return app.views.render(template, view);
                }
            };
            tracing::warn!(
                tenant.id = %tenant.id, template, error = %message,
                "store template failed; rendered the default template instead"
            );
            if stopped {
                // Its worker was stopped (killed, or ran out of memory and ended): every
                // view would cost another, so this node serves the default until the
                // merchant saves the template again.
                custom.trip(involved);
            }
            app.themes.note_error(tenant, custom, involved, &message);
            app.views.render(template, view)
        }
    }
}

/// The names of the templates a merchant may override (the default theme's, not its
/// assets), sorted.
pub fn template_names() -> Vec<String> {
    crate::views::default_store_templates()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The default theme's source of `name`, if it is a store template.
pub fn default_source(name: &str) -> Option<String> {
    crate::views::default_store_templates()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, source)| source)
}

/// Tells every app node (on commit) that the store's theme changed.
pub async fn notify_changed(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(THEME_CHANNEL)
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// What a store renders with.
pub struct StoreTheme {
    /// None when the store has no overrides: the shared default theme.
    custom: Option<CustomTheme>,
    /// Unique to this load on this node: a page rendered with another load is another page.
    version: u64,
}

/// Source of [`StoreTheme::version`]s and of the numbers render workers know template sets
/// by.
static THEME_LOADS: AtomicU64 = AtomicU64::new(1);

/// A store's own template set.
struct CustomTheme {
    /// The number render workers know the set by (they compile it once).
    set: u64,
    /// The overrides (name, source) that compiled and passed the sandbox's checks: the set
    /// is the default store templates with these in place.
    overrides: Arc<Vec<(String, String)>>,
    /// Each overridden template's saved version.
    versions: HashMap<String, i64>,
    /// For every template whose rendering takes in an override: those overrides.
    involved: HashMap<String, Vec<String>>,
    /// Overrides that ran out of time on this node: the default serves until the next save.
    tripped: Mutex<HashSet<String>>,
    /// The last error recorded per override (as stored), so a repeated failure writes once.
    errors: Mutex<HashMap<String, String>>,
}

impl CustomTheme {
    fn is_tripped(&self, involved: &[String]) -> bool {
        let tripped = self.tripped.lock().unwrap_or_else(|p| p.into_inner());
        involved.iter().any(|name| tripped.contains(name))
    }

    fn trip(&self, involved: &[String]) {
        let mut tripped = self.tripped.lock().unwrap_or_else(|p| p.into_inner());
        tripped.extend(involved.iter().cloned());
    }
}

/// Every store's theme on this node.
pub struct Themes {
    pool: PgPool,
    /// The processes stores' own templates render in.
    workers: worker::Pool,
    cache: Cache<Uuid, Arc<StoreTheme>>,
    /// Bumped on every invalidation: a load that raced with one does not cache its answer.
    generation: AtomicU64,
    /// Sandbox threads that may run at once (compiles, checks and renders of stores' own
    /// templates).
    slots: Arc<tokio::sync::Semaphore>,
}

impl Themes {
    /// Themes loaded from `pool`; stores' own templates render in `workers`.
    pub fn new(pool: PgPool, workers: worker::Pool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            workers,
            cache: Cache::builder()
                .max_capacity(CACHE_WEIGHT)
                .weigher(|_, theme: &Arc<StoreTheme>| {
                    if theme.custom.is_some() {
                        CUSTOM_WEIGHT
                    } else {
                        PLAIN_WEIGHT
                    }
                })
                // A safety net only: changes arrive by NOTIFY long before this.
                .time_to_live(Duration::from_secs(600))
                .build(),
            generation: AtomicU64::new(0),
            slots: Arc::new(tokio::sync::Semaphore::new(SANDBOX_THREADS)),
        })
    }

    /// How long a store's own template may take to render.
    pub fn render_timeout(&self) -> Duration {
        self.workers.limits().timeout
    }

    /// How many megabytes of memory a store's own template may use to render.
    pub fn render_memory_mb(&self) -> u64 {
        self.workers.limits().memory_mb
    }

    /// The store's theme, from the cache or loaded (one query, and a compile when the store
    /// has overrides).
    async fn get(&self, tenant: &Tenant) -> anyhow::Result<Arc<StoreTheme>> {
        if let Some(hit) = self.cache.get(&tenant.id).await {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut tx = tenant_store::begin(&self.pool, &tenant.schema).await?;
        let overrides = tenant_store::theme::list(&mut tx).await?;
        tx.commit().await?;
        let theme = if overrides.is_empty() {
            StoreTheme {
                custom: None,
                version: THEME_LOADS.fetch_add(1, Ordering::Relaxed),
            }
        } else {
            let tenant_id = tenant.id;
            let _slot = self.slots.acquire().await?;
            let (custom, dropped) = sandbox::on_own_thread(move || compile(overrides))
                .await
                .ok_or_else(|| anyhow::anyhow!("compiling the store's templates crashed"))?;
            for (name, version, message) in dropped {
                tracing::warn!(
                    tenant.id = %tenant_id, template = %name, error = %message,
                    "a saved store template no longer compiles; the default serves instead"
                );
                self.spawn_record_error(tenant, name, version, message);
            }
            StoreTheme {
                custom,
                version: THEME_LOADS.fetch_add(1, Ordering::Relaxed),
            }
        };
        let theme = Arc::new(theme);
        if self.generation.load(Ordering::Acquire) == generation {
            self.cache.insert(tenant.id, Arc::clone(&theme)).await;
        }
        Ok(theme)
    }

    /// Which load of the store's theme pages render with now (see the page cache); None
    /// when it can't be loaded (pages then render with the default theme, uncached).
    pub async fn version(&self, tenant: &Tenant) -> Option<u64> {
        self.get(tenant).await.ok().map(|theme| theme.version)
    }

    /// Forgets a store's theme on this node (the next page loads it again).
    pub async fn invalidate(&self, tenant_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(&tenant_id).await;
    }

    /// Forgets every store's theme on this node.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }

    /// Follows theme changes announced by any node (see [`crate::follow`]).
    pub fn spawn_listener(
        self: &Arc<Self>,
        channels: &mut crate::follow::Channels,
    ) -> tokio::task::JoinHandle<()> {
        crate::follow::spawn(
            channels.subscribe(THEME_CHANNEL),
            Arc::clone(self) as Arc<dyn crate::follow::Follower>,
        )
    }

    /// Records a render error against the overrides involved, once per distinct error, in
    /// the background (the shopper's page does not wait for it).
    fn note_error(
        &self,
        tenant: &Tenant,
        custom: &CustomTheme,
        involved: &[String],
        message: &str,
    ) {
        let mut known = custom.errors.lock().unwrap_or_else(|p| p.into_inner());
        for name in involved {
            if known.get(name).map(String::as_str) == Some(message) {
                continue;
            }
            known.insert(name.clone(), message.to_owned());
            if let Some(&version) = custom.versions.get(name) {
                self.spawn_record_error(tenant, name.clone(), version, message.to_owned());
            }
        }
    }

    fn spawn_record_error(&self, tenant: &Tenant, name: String, version: i64, message: String) {
        let pool = self.pool.clone();
        let schema = tenant.schema.clone();
        let tenant_id = tenant.id;
        tokio::spawn(async move {
            let result = async {
                let mut tx = tenant_store::begin(&pool, &schema).await?;
                tenant_store::theme::record_error(&mut tx, &name, version, &message).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(tenant.id = %tenant_id, template = %name, error = %e,
                    "could not record a store template's render error");
            }
        });
    }

    /// Checks a template a merchant wants to save as `name`, with the store's other
    /// overrides in place: it must be within the size and nesting limits, parse, stay inside
    /// the sandbox's rules, and render every sample page it takes part in that the default
    /// theme renders. `pages` are `(template, view)` samples ([`samples::pages`]).
    pub async fn validate(
        &self,
        others: Vec<Override>,
        name: &str,
        source: &str,
        pages: Vec<(&'static str, serde_json::Value)>,
    ) -> Result<(), Refusal> {
        sandbox::precheck(source)?;
        let mut overrides: Vec<(String, String)> = others
            .into_iter()
            .filter(|o| o.name != name)
            .map(|o| (o.name, o.source))
            .collect();
        overrides.push((name.to_owned(), source.to_owned()));
        let name = name.to_owned();
        let timeout = self.render_timeout();
        let slot = self.slots.acquire().await;
        let checked = sandbox::on_own_thread({
            let overrides = overrides.clone();
            move || {
                let defaults = crate::views::default_store_templates();
                let mut templates = defaults.clone();
                for (name, source) in overrides {
                    set_source(&mut templates, name, source);
                }
                let tera = sandbox::build(templates)?;
                sandbox::check(&tera, &name)?;
                let graph = sandbox::graph(&tera);
                let plain = sandbox::build(defaults).ok();
                let mut renders = Vec::new();
                for (page, view) in pages {
                    if page != name && !sandbox::reach(&graph, page).contains(&name) {
                        continue;
                    }
                    let Ok(context) = tera::Context::from_value(view.clone()) else {
                        continue;
                    };
                    // A sample the default page cannot render has fallen behind its view.
                    let default_renders = plain.as_ref().is_some_and(|plain| {
                        sandbox::render(plain, page, &context, Instant::now() + timeout * 10)
                            .is_ok()
                    });
                    if default_renders {
                        renders.push((page, view));
                    }
                }
                Ok::<_, Refusal>(renders)
            }
        })
        .await;
        drop(slot);
        let renders = match checked {
            Some(result) => result?,
            None => {
                return Err(Refusal::new(
                    "The template could not be checked (it crashed the template engine).",
                ));
            }
        };
        let set = THEME_LOADS.fetch_add(1, Ordering::Relaxed);
        for (page, view) in renders {
            let limits = self.workers.limits();
            match self.workers.render(set, &overrides, page, view).await {
                Ok(_) => {}
                Err(sandbox::RenderFailure::TimedOut) => {
                    return Err(Refusal::new(format!(
                        "Rendering {page} with sample data took longer than {} ms.",
                        limits.timeout.as_millis()
                    )));
                }
                Err(sandbox::RenderFailure::OutOfMemory) => {
                    return Err(Refusal::new(format!(
                        "Rendering {page} with sample data needed more than {} MB of memory.",
                        limits.memory_mb
                    )));
                }
                Err(sandbox::RenderFailure::Error(e)) => {
                    return Err(Refusal::new(format!(
                        "Rendering {page} with sample data failed: {e}"
                    )));
                }
                Err(sandbox::RenderFailure::Busy) => {
                    return Err(Refusal::new(
                        "The template could not be checked: every theme worker is busy. Try again in a moment.",
                    ));
                }
                Err(sandbox::RenderFailure::Unavailable(e)) => {
                    tracing::error!(error = %e, "no theme worker to check a store template");
                    return Err(Refusal::new(
                        "The template could not be checked: the theme workers are unavailable. Try again in a moment.",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::follow::Follower for Themes {
    async fn changed(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(id) => self.invalidate(id).await,
            Err(_) => self.invalidate_all(),
        }
    }

    fn forget_all(&self) {
        self.invalidate_all();
    }
}

fn set_source(templates: &mut Vec<(String, String)>, name: String, source: String) {
    match templates.iter_mut().find(|(n, _)| *n == name) {
        Some(entry) => entry.1 = source,
        None => templates.push((name, source)),
    }
}

/// Checks a store's template set: the default store templates with every saved override
/// that still compiles and passes the sandbox's checks (a new release may have changed the
/// defaults under it). Returns the set (None when no override is usable) and the overrides
/// left out, with their errors.
fn compile(overrides: Vec<Override>) -> (Option<CustomTheme>, Vec<(String, i64, String)>) {
    let defaults = crate::views::default_store_templates();
    let known: HashSet<&str> = defaults.iter().map(|(n, _)| n.as_str()).collect();
    let errors: HashMap<String, String> = overrides
        .iter()
        .filter_map(|o| Some((o.name.clone(), o.last_error.clone()?)))
        .collect();
    let mut dropped = Vec::new();
    let (usable, unknown): (Vec<Override>, Vec<Override>) = overrides
        .into_iter()
        .partition(|o| known.contains(o.name.as_str()));
    for o in unknown {
        dropped.push((
            o.name.clone(),
            o.version,
            format!("{} is no longer a template of the default theme", o.name),
        ));
    }
    let assemble = |list: &[&Override]| {
        let mut templates = defaults.clone();
        for o in list {
            // Rows written past the admin's checks get them here: the parser's stack and
            // memory grow with a source's size and nesting.
            sandbox::precheck(&o.source)?;
            set_source(&mut templates, o.name.clone(), o.source.clone());
        }
        let tera = sandbox::build(templates)?;
        for o in list {
            sandbox::check(&tera, &o.name)?;
        }
        Ok::<_, Refusal>(tera)
    };
    let all: Vec<&Override> = usable.iter().collect();
    let mut accepted: Vec<&Override> = Vec::new();
    let tera = match assemble(&all) {
        Ok(tera) => {
            accepted = all;
            Some(tera)
        }
        Err(_) => {
            // Find the culprits one by one.
            let mut last = None;
            for o in &usable {
                let mut trial = accepted.clone();
                trial.push(o);
                match assemble(&trial) {
                    Ok(tera) => {
                        accepted = trial;
                        last = Some(tera);
                    }
                    Err(refusal) => dropped.push((o.name.clone(), o.version, refusal.message)),
                }
            }
            last
        }
    };
    let Some(tera) = tera else {
        return (None, dropped);
    };
    let overridden: BTreeSet<String> = accepted.iter().map(|o| o.name.clone()).collect();
    let graph = sandbox::graph(&tera);
    let involved = graph
        .keys()
        .filter_map(|name| {
            let mut reached = sandbox::reach(&graph, name);
            reached.insert(name.clone());
            let hit: Vec<String> = reached.intersection(&overridden).cloned().collect();
            (!hit.is_empty()).then(|| (name.clone(), hit))
        })
        .collect();
    let custom = CustomTheme {
        set: THEME_LOADS.fetch_add(1, Ordering::Relaxed),
        overrides: Arc::new(
            accepted
                .iter()
                .map(|o| (o.name.clone(), o.source.clone()))
                .collect(),
        ),
        versions: accepted
            .iter()
            .map(|o| (o.name.clone(), o.version))
            .collect(),
        involved,
        tripped: Mutex::new(HashSet::new()),
        errors: Mutex::new(errors),
    };
    (Some(custom), dropped)
}
