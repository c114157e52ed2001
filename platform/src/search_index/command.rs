//! `storefront search rebuild [--tenant S]`: rebuild indexes from PostgreSQL, with progress.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use sqlx::PgPool;

use super::SearchIndexes;
use crate::cli::Console;
use crate::config::Settings;
use crate::tenancy;

/// Rebuilds the index of one store (by subdomain) or of every store, under this node's
/// DATA_DIR. Refuses a store whose index a running server has open.
pub async fn rebuild(
    pool: &PgPool,
    settings: &Settings,
    subdomain: Option<&str>,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    let tenants = match subdomain {
        Some(s) => vec![
            tenancy::find_by_subdomain(pool, s)
                .await?
                .with_context(|| format!("no store has the subdomain “{s}”"))?,
        ],
        None => tenancy::list(pool).await?,
    };
    let indexes = Arc::new(SearchIndexes::open(
        pool.clone(),
        &settings.data_dir,
        settings.search_cache_capacity,
    )?);
    let mut failed = Vec::new();
    for tenant in &tenants {
        // Opening takes the index's writer lock, which a running server would hold.
        if let Err(e) = indexes.index(&tenant.schema).await
            && e.is_locked()
        {
            failed.push((
                tenant.subdomain.clone(),
                format!("{e} (is a server using this DATA_DIR running?)"),
            ));
            continue;
        }
        let bar = console.terminal.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix:>16} [{bar:40}] {pos}/{len} products ({eta})",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(tenant.subdomain.clone());
            bar
        });
        let result = indexes
            .rebuild(&tenant.schema, |done, total| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            })
            .await;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        match result {
            Ok(count) => writeln!(
                console.out,
                "{}: indexed {count} product(s)",
                tenant.subdomain
            )?,
            Err(e) => failed.push((tenant.subdomain.clone(), format!("{e:#}"))),
        }
    }
    writeln!(
        console.out,
        "search indexes rebuilt: {} store(s), {} failed",
        tenants.len() - failed.len(),
        failed.len()
    )?;
    if !failed.is_empty() {
        for (subdomain, error) in &failed {
            writeln!(console.out, "  {subdomain}: {error}")?;
        }
        bail!("{} store(s) could not be reindexed", failed.len());
    }
    Ok(())
}
