//! The application state shared by every request.

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::config::{Environment, Settings};
use crate::mail::{self, Mailer};
use crate::mail_outbox;
use crate::media::MediaStore;
use crate::search_index::{self, SearchIndexes};
use crate::tenancy::hosts::HostResolver;
use crate::views::Views;

/// Everything a handler may need, built once at start-up.
pub struct App {
    /// The settings the process started with.
    pub settings: Settings,
    /// Connections to the platform database (and, for now, every tenant schema).
    pub db: PgPool,
    /// Connections of their own for reads sent as one message with their tenant scope
    /// (`tenant_store::read_at_once`): they go back without the pool's release check.
    pub reads: tenant_store::ReadLane,
    /// Host header to tenant, cached and kept fresh by LISTEN/NOTIFY.
    pub hosts: Arc<HostResolver>,
    /// The Tera templates.
    pub views: Views,
    /// Signs sessions and encrypts gateway secrets.
    pub secret_key: SecretString,
    /// Seals and opens stored gateway secrets (a key derived from `SECRET_KEY`).
    pub cipher: billing::SecretsCipher,
    /// Sends mail (SMTP, or files under DATA_DIR/mail); used by the mail outbox worker.
    pub mailer: Arc<dyn Mailer>,
    /// Product images: upload processing and the object store holding the renditions.
    pub media: MediaStore,
    /// This node's tenant search indexes (a bounded cache of open ones), fed by the
    /// search worker from each store's outbox.
    pub search: Arc<SearchIndexes>,
    /// Each store's storefront templates: the shared default theme, or a sandboxed set
    /// with the merchant's overrides (cached, kept fresh by LISTEN/NOTIFY).
    pub themes: Arc<crate::theme::Themes>,
    /// Rendered storefront pages per store, address and cart count (kept fresh by
    /// triggers on the tenant tables and LISTEN/NOTIFY).
    pub pages: Arc<crate::storefront::page_cache::PageCache>,
    /// Password hashing and checking (argon2), a few runs at a time on the blocking pool.
    pub passwords: crate::accounts::PasswordWork,
    /// Rate limits: counters in PostgreSQL shared by every node, with this node's memory
    /// of spent allowances in front.
    pub limits: crate::rate_limit::RateLimits,
    /// Background tasks (hostname listener, mail worker); aborted when the app is dropped.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The axum state: a cheap handle on the [`App`].
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Builds the app on an open pool and starts its background tasks: the one connection
    /// that listens for change notifications (outside the pool), the caches following them,
    /// mail delivery and search indexing.
    pub fn build(settings: Settings, db: PgPool) -> anyhow::Result<AppState> {
        let secret_key = secret_key(&settings)?;
        let cipher = billing::SecretsCipher::new(&secret_key)
            .map_err(|e| anyhow::anyhow!("SECRET_KEY: {e}"))?;
        let hosts = HostResolver::new(db.clone(), settings.normalized_platform_domain());
        let mailer = mail::mailer_from_settings(settings.smtp_url.as_ref(), &settings.data_dir)?;
        let media = MediaStore::from_settings(&settings)?;
        let search = Arc::new(SearchIndexes::open(
            db.clone(),
            &settings.data_dir,
            settings.search_cache_capacity,
        )?);
        let themes = crate::theme::Themes::new(
            db.clone(),
            crate::theme::worker::Pool::new(
                settings.theme_worker_program(),
                settings.theme_workers(),
                crate::theme::worker::Limits {
                    memory_mb: settings.theme_render_memory_mb,
                    timeout: std::time::Duration::from_millis(settings.theme_render_timeout_ms),
                },
            ),
        );
        let pages = crate::storefront::page_cache::PageCache::new(
            settings.page_cache_mb,
            std::time::Duration::from_secs(settings.page_cache_secs),
        );
        let mut channels = crate::follow::Channels::new();
        let mut tasks = vec![
            hosts.spawn_listener(&mut channels),
            themes.spawn_listener(&mut channels),
            pages.spawn_listener(&mut channels),
            mail_outbox::spawn_worker(db.clone(), Arc::clone(&mailer), &mut channels),
            search_index::spawn_worker(
                Arc::clone(&search),
                db.clone(),
                std::time::Duration::from_secs(settings.search_sweep_secs),
                &mut channels,
            ),
        ];
        let connect_options = PgConnectOptions::clone(&db.connect_options());
        tasks.push(channels.start(connect_options.clone()));
        let views = Views::load()?;
        let reads = tenant_store::ReadLane::new(
            connect_options,
            tenant_store::LaneLimits {
                acquire_timeout: crate::db::ACQUIRE_TIMEOUT,
                ..tenant_store::LaneLimits::new(crate::db::read_lane_share(
                    settings.database_max_connections,
                ))
            },
        );
        let sweep_every = std::time::Duration::from_secs(settings.reservation_sweep_secs);
        let passwords = crate::accounts::PasswordWork::new(settings.password_hash_slots());
        let limits = crate::rate_limit::RateLimits::new(db.clone());
        Ok(AppState(Arc::new_cyclic(|app| {
            let mut tasks = tasks;
            tasks.push(crate::payments::sweeper::spawn(app.clone(), sweep_every));
            App {
                views,
                settings,
                db,
                reads,
                hosts,
                secret_key,
                cipher,
                mailer,
                media,
                search,
                themes,
                pages,
                passwords,
                limits,
                tasks,
            }
        })))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// `SECRET_KEY`, or in development a key generated once and kept in DATA_DIR/secret_key.
fn secret_key(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(key) = &settings.secret_key {
        return Ok(key.clone());
    }
    anyhow::ensure!(
        settings.environment == Environment::Development,
        "SECRET_KEY must be set in production (at least 32 random characters)"
    );
    let path = settings.data_dir.join("secret_key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(SecretString::from(key.trim().to_owned()));
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let key = crate::accounts::generate_password() + &crate::accounts::generate_password();
    std::fs::write(&path, &key).with_context(|| format!("writing {}", path.display()))?;
    Ok(SecretString::from(key))
}
