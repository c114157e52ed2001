//! The reservation sweeper: unpaid orders whose reservation ran out are cancelled, their
//! stock goes back on sale, and the shopper is told. One node sweeps at a time (an advisory
//! lock); each order is its own transaction, re-checked under its row lock, so an order paid
//! at the last moment is never cancelled.

use std::sync::Weak;
use std::time::Duration;

use tenant_store::orders;
use uuid::Uuid;

use super::mail::{self, MailFacts, OrderMail};
use crate::app::{App, AppState};
use crate::catalog_csv::command::store_base_url;
use crate::tenancy::{self, Tenant};

/// Advisory lock key of the sweeper ("sweeper" in ASCII).
const LOCK_KEY: i64 = 0x0073_7765_6570_6572;
/// Orders handled per store and round.
const BATCH: i64 = 200;

/// Sweeps every store once; returns how many orders were released.
pub async fn sweep_all(app: &AppState) -> anyhow::Result<u64> {
    let mut lock = app.db.acquire().await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *lock)
        .await?;
    if !got {
        return Ok(0);
    }
    let result = sweep_stores(app).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *lock)
        .await?;
    result
}

async fn sweep_stores(app: &AppState) -> anyhow::Result<u64> {
    let mut released = 0;
    for tenant in tenancy::list(&app.db).await? {
        match sweep_store(app, &tenant).await {
            Ok(n) => released += n,
            Err(e) => tracing::warn!(tenant.id = %tenant.id, error = %e, "sweeping reservations"),
        }
    }
    Ok(released)
}

/// Cancels the store's unpaid orders whose reservation ended; returns how many.
pub async fn sweep_store(app: &AppState, tenant: &Tenant) -> anyhow::Result<u64> {
    let due: Vec<Uuid> = {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        let ids = sqlx::query_scalar(
            "SELECT id FROM orders WHERE status = 'open' AND financial_status = 'pending' \
             AND reserved_until < now() ORDER BY reserved_until LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        ids
    };
    if due.is_empty() {
        return Ok(0);
    }
    let base = match &tenant.primary_host {
        Some(host) => format!("https://{host}"),
        None => store_base_url(&app.settings, &tenant.subdomain),
    };
    let mut released = 0;
    for id in due {
        let mut tx = tenant_store::begin(&app.db, &tenant.schema).await?;
        // Re-checked under the row lock: paid meanwhile means nothing to do.
        let still_due: Option<bool> = sqlx::query_scalar(
            "SELECT status = 'open' AND financial_status = 'pending' AND reserved_until < now() \
             FROM orders WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if still_due != Some(true) {
            continue;
        }
        let order = orders::cancel(&mut tx, id, "reservation expired").await?;
        mail::queue(
            app,
            &mut tx,
            &tenant.schema,
            &base,
            &order,
            OrderMail::Cancelled,
            MailFacts::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await?;
        released += 1;
    }
    tracing::info!(tenant.id = %tenant.id, released, "expired reservations released");
    Ok(released)
}

/// Runs the sweeper every `every` while the app lives (it holds the app weakly, so dropping
/// the app ends it).
pub fn spawn(app: Weak<App>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { return };
            if let Err(e) = sweep_all(&AppState(app)).await {
                tracing::warn!(error = %e, "reservation sweeper");
            }
        }
    })
}
