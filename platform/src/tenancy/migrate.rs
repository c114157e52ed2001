//! `storefront migrate`: every tenant schema brought to the latest version, one transaction
//! per tenant, several at once. Resumable (the registry records each tenant's version, so a
//! rerun picks up the tenants still behind) and it carries on past a failing tenant.

use std::time::Duration;

use futures::StreamExt as _;
use sqlx::PgPool;
use tenant_store::TenantSchema;
use tenant_store::migrations::{self, Migrations};
use uuid::Uuid;

/// Receives progress while tenants are migrated (a progress bar, log lines, nothing).
pub trait Progress: Send + Sync {
    /// `total` tenants are behind and will be migrated.
    fn started(&self, total: u64);
    /// One tenant is done: its new version, or why it failed.
    fn tenant_done(&self, subdomain: &str, outcome: &Result<i64, String>);
    /// All tenants are done.
    fn finished(&self, report: &Report);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: u64) {}
    fn tenant_done(&self, _: &str, _: &Result<i64, String>) {}
    fn finished(&self, _: &Report) {}
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Tenants that were behind when the run started.
    pub total: u64,
    /// Tenants now at the latest version.
    pub migrated: u64,
    /// Tenants that failed, with the reason; each stays at its previous version.
    pub failed: Vec<(String, String)>,
}

/// How long a tenant migration waits for a lock held by live traffic before giving up on
/// that tenant (it is reported and retried by the next run).
const LOCK_TIMEOUT: &str = "10s";

/// Migrates every tenant whose schema is behind `migrations.latest()`, `concurrency` at once.
pub async fn migrate_tenants(
    pool: &PgPool,
    migrations: &Migrations,
    concurrency: usize,
    progress: &dyn Progress,
) -> anyhow::Result<Report> {
    let behind: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, subdomain FROM platform.tenants WHERE schema_version < $1 \
         ORDER BY created_at, id",
    )
    .bind(migrations.latest())
    .fetch_all(pool)
    .await?;
    let mut report = Report {
        total: behind.len() as u64,
        ..Report::default()
    };
    progress.started(report.total);

    let mut results = futures::stream::iter(behind)
        .map(|(id, subdomain)| async move {
            let outcome = migrate_tenant(pool, id, migrations)
                .await
                .map_err(|e| format!("{e:#}"));
            (subdomain, outcome)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((subdomain, outcome)) = results.next().await {
        progress.tenant_done(&subdomain, &outcome);
        match outcome {
            Ok(_) => report.migrated += 1,
            Err(e) => {
                tracing::warn!(%subdomain, error = %e, "tenant migration failed");
                report.failed.push((subdomain, e));
            }
        }
    }
    progress.finished(&report);
    Ok(report)
}

/// Migrates one tenant in one transaction. The registry row is locked first, so two runs
/// never migrate the same tenant at once, and the version it records commits with the DDL.
pub async fn migrate_tenant(
    pool: &PgPool,
    id: Uuid,
    migrations: &Migrations,
) -> anyhow::Result<i64> {
    let mut tx = tenant_store::begin_platform(pool).await?;
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(LOCK_TIMEOUT)
        .execute(&mut *tx)
        .await?;
    let (schema, current): (String, i64) = sqlx::query_as(
        "SELECT schema_name, schema_version FROM platform.tenants WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if current >= migrations.latest() {
        return Ok(current);
    }
    let schema = TenantSchema::from_registry(schema)?;
    let version = migrations::upgrade_schema(&mut tx, &schema, migrations, current).await?;
    sqlx::query(
        "UPDATE platform.tenants SET schema_version = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// Plain progress lines for logs and pipes: a line every 5% (and every failure).
pub struct LineProgress<W: std::io::Write + Send> {
    out: std::sync::Mutex<(W, u64, u64)>,
    started: std::time::Instant,
}

impl<W: std::io::Write + Send> LineProgress<W> {
    /// Progress lines written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: std::sync::Mutex::new((out, 0, 0)),
            started: std::time::Instant::now(),
        }
    }
}

impl<W: std::io::Write + Send> Progress for LineProgress<W> {
    fn started(&self, total: u64) {
        let mut g = self.out.lock().expect("progress lock");
        g.2 = total;
        let _ = writeln!(g.0, "migrating {total} tenant schema(s)");
    }

    fn tenant_done(&self, subdomain: &str, outcome: &Result<i64, String>) {
        let mut g = self.out.lock().expect("progress lock");
        g.1 += 1;
        let (done, total) = (g.1, g.2);
        if let Err(e) = outcome {
            let _ = writeln!(g.0, "  FAILED {subdomain}: {e}");
        }
        let step = (total / 20).max(1);
        if done % step == 0 || done == total {
            let _ = writeln!(
                g.0,
                "  {done}/{total} ({:.0}%) in {:.1?}",
                done as f64 * 100.0 / total.max(1) as f64,
                round(self.started.elapsed())
            );
        }
    }

    fn finished(&self, report: &Report) {
        let mut g = self.out.lock().expect("progress lock");
        let _ = writeln!(
            g.0,
            "done: {} migrated, {} failed, in {:.1?}",
            report.migrated,
            report.failed.len(),
            round(self.started.elapsed())
        );
    }
}

/// A progress bar for a terminal.
pub struct BarProgress {
    bar: indicatif::ProgressBar,
}

impl BarProgress {
    /// A bar drawn on standard error.
    pub fn new() -> Self {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} migrating tenants [{bar:40}] {pos}/{len} ({per_sec}, {eta} left) {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Self { bar }
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn started(&self, total: u64) {
        self.bar.set_length(total);
    }

    fn tenant_done(&self, subdomain: &str, outcome: &Result<i64, String>) {
        if let Err(e) = outcome {
            self.bar.println(format!("FAILED {subdomain}: {e}"));
        }
        self.bar.inc(1);
    }

    fn finished(&self, report: &Report) {
        self.bar
            .finish_with_message(format!("{} failed", report.failed.len()));
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}
