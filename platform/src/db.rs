//! The database: the connection pool, the embedded cluster when no URL is given, and the
//! platform schema's migrations.

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use secrecy::ExposeSecret as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, Executor as _, PgPool};
use tenant_store::migrations::{self, Migrations};

use crate::config::Settings;
use crate::embedded_pg::EmbeddedPostgres;

static PLATFORM_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../migrations/platform");

/// Key of the advisory lock that serialises platform migrations across processes.
const PLATFORM_MIGRATION_LOCK: i64 = 0x5354_4F52_4546_524E; // "STOREFRN"

/// The platform schema migrations shipped in this binary.
pub fn platform_migrations() -> Migrations {
    Migrations::from_dir(&PLATFORM_DIR).expect("migrations/platform holds well-named files")
}

/// The pool and, with no `DATABASE_URL`, the embedded cluster behind it.
pub struct Database {
    /// Connections to the platform database (the default pod).
    pub pool: PgPool,
    /// The private cluster, when one was started; stopped when this is dropped.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster and connects to it.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let (options, embedded) = match &settings.database_url {
            Some(url) => {
                let options = PgConnectOptions::from_str(url.expose_secret())
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                (options, None)
            }
            None => {
                let data_dir = settings.data_dir.clone();
                let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir))
                    .await??;
                let options = pg.ensure_database().await?;
                (options, Some(pg))
            }
        };
        let pool = pool_options(pool_share(settings.database_max_connections))
            .connect_with(app_connect_options(options))
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Self { pool, embedded })
    }

    /// Closes the pool and stops the embedded cluster if this process started it.
    pub async fn close(mut self) {
        self.pool.close().await;
        if let Some(mut pg) = self.embedded.take() {
            let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
        }
    }
}

/// Connections of `DATABASE_MAX_CONNECTIONS` kept for one-message reads (a quarter, 1 to
/// 8; see [`tenant_store::ReadLane`]).
pub fn read_lane_share(max_connections: u32) -> usize {
    (max_connections / 4).clamp(1, 8) as usize
}

/// Connections of `DATABASE_MAX_CONNECTIONS` left to the pool (at least one): all but the
/// read lane's and the one that listens for change notifications ([`crate::follow`]).
pub fn pool_share(max_connections: u32) -> u32 {
    max_connections
        .saturating_sub(read_lane_share(max_connections) as u32 + LISTENING_CONNECTIONS)
        .max(1)
}

/// Connections a node holds to listen for change notifications.
pub const LISTENING_CONNECTIONS: u32 = 1;

/// The least `DATABASE_MAX_CONNECTIONS` that leaves each use a connection (the read lane,
/// the listener, the pool).
pub const MIN_CONNECTIONS: u32 = 3;

/// Longest a request waits for a database connection before it is answered 503 (with
/// `Retry-After`): against a database that is down or unreachable, a quick "try again"
/// beats a page that hangs; under ordinary load a connection comes in milliseconds.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Pool settings. Connections are recycled because PostgreSQL caches catalog entries for
/// every schema a connection touches and never frees them: with thousands of tenant
/// schemas a long-lived connection grows without bound.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .max_lifetime(Duration::from_secs(15 * 60))
        .idle_timeout(Duration::from_secs(60))
        // A connection handed straight back and forth under load is known to be alive:
        // only one that sat idle for a while is pinged first (sqlx's default pings on
        // every acquire, a round trip added to each request).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// How long a pooled connection may sit idle before it is pinged on its way out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(5);

/// Every application connection starts in the empty `no_tenant` schema: a query that
/// forgets its tenant transaction finds no tables rather than someone's data.
pub fn app_connect_options(options: PgConnectOptions) -> PgConnectOptions {
    options
        .options([("search_path", tenant_store::NO_TENANT_SCHEMA)])
        .application_name("storefront")
}

/// Brings the platform schema to the latest version, in one transaction, holding an
/// advisory lock so that processes starting together do not race.
pub async fn migrate_platform(pool: &PgPool) -> anyhow::Result<i64> {
    let migrations = platform_migrations();
    let mut tx = tenant_store::begin_platform(pool).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PLATFORM_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    (&mut *tx)
        .execute(
            "CREATE SCHEMA IF NOT EXISTS platform;
         CREATE TABLE IF NOT EXISTS platform.schema_migrations (
             version    bigint      PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );
         SELECT set_config('search_path', 'platform', true);",
        )
        .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM platform.schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    anyhow::ensure!(
        current <= migrations.latest(),
        "the platform schema is at version {current}, newer than this binary knows ({}): run a newer storefront",
        migrations.latest()
    );
    let version = migrations::apply_pending(&mut tx, &migrations, current)
        .await
        .context("migrating the platform schema")?;
    tx.commit().await?;
    if version != current {
        tracing::info!(from = current, to = version, "platform schema migrated");
    }
    Ok(version)
}
