//! Imports started from the admin: a row in the store's `import_jobs` that a background
//! task keeps current (progress while it runs, the report when it ends).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::RowError;
use super::images::ImageFetcher;
use super::import::{self, Outcome, Progress, Report};
use crate::tenancy::Tenant;

/// How often a running job's counters are written.
const FLUSH_EVERY: Duration = Duration::from_millis(300);
/// A running job not written for this long was interrupted (the server stopped).
pub const STALLED_AFTER_SECS: i64 = 60;

const JOB_COLUMNS: &str = "id, status, file_name, total_rows, processed_rows, created, updated, \
     unchanged, failed, errors, errors_omitted, notes, notes_omitted, message, actor, \
     created_at, updated_at, finished_at";

/// An import as recorded.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ImportJob {
    /// Identifier.
    pub id: Uuid,
    /// `running`, `done` or `failed` (stopped before the end of the file).
    pub status: String,
    /// The uploaded file's name.
    pub file_name: String,
    /// Data rows in the file.
    pub total_rows: i64,
    /// Data rows behind us.
    pub processed_rows: i64,
    /// Products created.
    pub created: i32,
    /// Products changed.
    pub updated: i32,
    /// Products already as the file has them.
    pub unchanged: i32,
    /// Products not imported.
    pub failed: i32,
    /// Why, by line and column.
    pub errors: Json<Vec<RowError>>,
    /// Errors not listed.
    pub errors_omitted: i32,
    /// What was skipped (image URLs).
    pub notes: Json<Vec<RowError>>,
    /// Notes not listed.
    pub notes_omitted: i32,
    /// Why a failed job stopped.
    pub message: Option<String>,
    /// Who started it.
    pub actor: String,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last written.
    pub updated_at: DateTime<Utc>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl ImportJob {
    /// Whether the job still runs.
    pub fn running(&self) -> bool {
        self.status == "running"
    }

    /// Whether a running job stopped moving (its server went away mid-import).
    pub fn stalled(&self, now: DateTime<Utc>) -> bool {
        self.running() && (now - self.updated_at).num_seconds() > STALLED_AFTER_SECS
    }
}

/// Records a new running import (in the caller's tenant transaction).
pub async fn create(
    conn: &mut PgConnection,
    file_name: &str,
    total_rows: u64,
    actor: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO import_jobs (id, file_name, total_rows, actor) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(file_name)
    .bind(i64::try_from(total_rows).unwrap_or(i64::MAX))
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(id)
}

/// One import of this store.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<ImportJob>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM import_jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The store's latest imports, newest first.
pub async fn recent(conn: &mut PgConnection, limit: i64) -> Result<Vec<ImportJob>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM import_jobs ORDER BY created_at DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Counters the import bumps and the flusher writes.
#[derive(Default)]
struct Counters {
    rows: AtomicU64,
    created: AtomicU64,
    updated: AtomicU64,
    unchanged: AtomicU64,
    failed: AtomicU64,
}

impl Progress for Counters {
    fn started(&self, _: u64) {}

    fn product_done(&self, _: &str, outcome: Outcome, _: &[RowError], rows_done: u64) {
        self.rows.store(rows_done, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Created => &self.created,
            Outcome::Updated => &self.updated,
            Outcome::Unchanged => &self.unchanged,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn finished(&self, _: &Report) {}
}

fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn write_progress(
    pool: &sqlx::PgPool,
    tenant: &Tenant,
    id: Uuid,
    c: &Counters,
) -> anyhow::Result<()> {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
    sqlx::query(
        "UPDATE import_jobs SET processed_rows = $2, created = $3, updated = $4, unchanged = $5, \
         failed = $6, updated_at = now() WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(bigint(load(&c.rows)))
    .bind(int(load(&c.created)))
    .bind(int(load(&c.updated)))
    .bind(int(load(&c.unchanged)))
    .bind(int(load(&c.failed)))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn write_end(
    pool: &sqlx::PgPool,
    tenant: &Tenant,
    id: Uuid,
    outcome: &anyhow::Result<Report>,
) -> anyhow::Result<()> {
    let mut tx = tenant_store::begin(pool, &tenant.schema).await?;
    match outcome {
        Ok(r) => {
            sqlx::query(
                "UPDATE import_jobs SET status = $2, processed_rows = $3, created = $4, updated = $5, \
                 unchanged = $6, failed = $7, errors = $8, errors_omitted = $9, notes = $10, \
                 notes_omitted = $11, message = $12, updated_at = now(), finished_at = now() \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(if r.aborted.is_some() { "failed" } else { "done" })
            .bind(bigint(r.rows))
            .bind(int(r.created))
            .bind(int(r.updated))
            .bind(int(r.unchanged))
            .bind(int(r.failed))
            .bind(Json(&r.errors))
            .bind(int(r.errors_omitted))
            .bind(Json(&r.notes))
            .bind(int(r.notes_omitted))
            .bind(&r.aborted)
            .execute(&mut *tx)
            .await?;
        }
        Err(_) => {
            sqlx::query(
                "UPDATE import_jobs SET status = 'failed', message = $2, updated_at = now(), \
                 finished_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind("the import stopped because of an error on our side; import the file again")
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Runs a recorded import in the background, reading `file` from its start; the job row
/// shows its progress and, at the end, its report. Images are fetched with `images`
/// (skipped with a note without one).
pub fn spawn(
    pool: sqlx::PgPool,
    tenant: Arc<Tenant>,
    id: Uuid,
    file: std::fs::File,
    actor: String,
    total_rows: u64,
    images: Option<ImageFetcher>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let counters = Arc::new(Counters::default());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let flusher = {
            let (pool, tenant, counters) =
                (pool.clone(), Arc::clone(&tenant), Arc::clone(&counters));
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        () = tokio::time::sleep(FLUSH_EVERY) => {
                            if let Err(e) = write_progress(&pool, &tenant, id, &counters).await {
                                tracing::warn!(error = format!("{e:#}"), job = %id, "writing import progress");
                            }
                        }
                    }
                }
            })
        };
        let outcome = import::import_products(
            &pool,
            &tenant,
            file,
            &actor,
            total_rows,
            &*counters,
            images.as_ref(),
        )
        .await;
        let _ = stop.send(());
        let _ = flusher.await;
        if let Err(e) = &outcome {
            tracing::error!(error = format!("{e:#}"), tenant.id = %tenant.id, job = %id, "product import failed");
        }
        if let Err(e) = write_end(&pool, &tenant, id, &outcome).await {
            tracing::error!(error = format!("{e:#}"), tenant.id = %tenant.id, job = %id, "recording the end of an import");
        }
    })
}
