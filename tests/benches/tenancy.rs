//! Tenancy benchmark: provisioning time for the first tenant and after 1,000 exist, and
//! `storefront migrate` adding one column across all of them.
//!
//! Run: `cargo bench -p storefront-tests --bench tenancy` (uses `DATABASE_URL`'s server, or
//! the private test cluster). `TENANTS=5000` changes the tenant count.

use std::time::{Duration, Instant};

use platform::tenancy::migrate::{LineProgress, migrate_tenants};
use platform::tenancy::{self, NewTenant};
use storefront_tests::{TestDb, UNUSED_PASSWORD_HASH};
use tenant_store::migrations::{Migration, Migrations};

/// Provisions timed after the bulk, for a stable figure.
const SAMPLES: usize = 30;

fn tenant(i: usize) -> NewTenant {
    NewTenant::parse(
        &format!("bench{i:05}"),
        &format!("Bench Store {i}"),
        &format!("owner{i}@bench.example"),
        UNUSED_PASSWORD_HASH.into(),
    )
    .expect("valid")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::var("TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let db = TestDb::create().await;
    let pool = db.pool(8).await;
    platform::db::migrate_platform(&pool).await?;

    // The password hash is part of a signup but not of the database work: shown apart.
    let started = Instant::now();
    platform::accounts::hash_password("correct horse battery staple")?;
    let hash_time = started.elapsed();

    let started = Instant::now();
    tenancy::provision(&pool, &tenant(0)).await?;
    let first = started.elapsed();

    let started = Instant::now();
    let mut next = 1;
    while next < total {
        let batch: Vec<_> = (next..(next + 8).min(total)).collect();
        next += batch.len();
        let jobs = batch.into_iter().map(|i| {
            let pool = pool.clone();
            async move { tenancy::provision(&pool, &tenant(i)).await }
        });
        for r in futures::future::join_all(jobs).await {
            r?;
        }
        if next % 250 == 0 {
            eprintln!("  provisioned {next}/{total}");
        }
    }
    let bulk = started.elapsed();

    let mut after = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        tenancy::provision(&pool, &tenant(total + i)).await?;
        after.push(started.elapsed());
    }
    after.sort();

    let column = Migrations::tenant().with(Migration {
        version: Migrations::tenant().latest() + 1,
        name: "bench_column".into(),
        sql: "ALTER TABLE settings ADD COLUMN bench_note text NOT NULL DEFAULT ''".into(),
    });
    let started = Instant::now();
    let report = migrate_tenants(&pool, &column, 8, &LineProgress::new(std::io::stderr())).await?;
    let migrate = started.elapsed();
    anyhow::ensure!(
        report.failed.is_empty(),
        "migration failures: {:?}",
        report.failed
    );

    println!("tenancy benchmark ({} tenants)", total + SAMPLES);
    println!(
        "  argon2 password hash (not in provisioning): {}",
        ms(hash_time)
    );
    println!(
        "  provision 1st tenant:                       {}",
        ms(first)
    );
    println!(
        "  provision tenants 2..{total} (8 at a time):    {:.1} s, {:.0} tenants/s",
        bulk.as_secs_f64(),
        (total - 1) as f64 / bulk.as_secs_f64()
    );
    println!(
        "  provision after {total} exist (n={SAMPLES}):      p50 {}, p90 {}, max {}",
        ms(percentile(&after, 0.5)),
        ms(percentile(&after, 0.9)),
        ms(*after.last().expect("samples"))
    );
    println!(
        "  migrate: add a column to {} tenants:       {:.2} s ({:.0} tenants/s)",
        report.migrated,
        migrate.as_secs_f64(),
        report.migrated as f64 / migrate.as_secs_f64()
    );
    pool.close().await;
    Ok(())
}
