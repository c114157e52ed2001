//! `storefront import products` and `storefront export products`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, bail};
use sqlx::PgPool;

use super::RowError;
use super::export::{self, ExportOptions, WriteSink};
use super::images::ImageFetcher;
use super::import::{self, Outcome, Progress, Report};
use crate::cli::Console;
use crate::config::{Environment, Settings};
use crate::tenancy::{self, Tenant};

/// Who an import from the command line is recorded as.
pub const CLI_ACTOR: &str = "import";

async fn tenant(pool: &PgPool, subdomain: &str) -> anyhow::Result<Tenant> {
    tenancy::find_by_subdomain(pool, subdomain)
        .await?
        .with_context(|| format!("no store has the subdomain “{subdomain}”"))
}

/// `scheme://<subdomain>.<platform domain>`: where a store's images are linked from an export
/// made on the command line (`https` in production).
pub fn store_base_url(settings: &Settings, subdomain: &str) -> String {
    let scheme = match settings.environment {
        Environment::Production => "https",
        Environment::Development => "http",
    };
    format!(
        "{scheme}://{}.{}",
        subdomain.trim().to_ascii_lowercase(),
        settings.normalized_platform_domain()
    )
}

/// Imports a Shopify product CSV file into a store, with a progress bar on a terminal (plain
/// lines otherwise), then the summary and every error. Fails when a product was refused.
/// Images are fetched with `images` (skipped with a note without one).
pub async fn import_file(
    pool: &PgPool,
    subdomain: &str,
    file: &Path,
    images: Option<&ImageFetcher>,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    let tenant = tenant(pool, subdomain).await?;
    let open = || std::fs::File::open(file).with_context(|| format!("opening {}", file.display()));
    let counted = open()?;
    let total = tokio::task::spawn_blocking(move || import::count_rows(counted))
        .await?
        .with_context(|| format!("reading {}", file.display()))?;
    let input = open()?;
    let report = if console.terminal {
        let bar = BarProgress::new();
        import::import_products(pool, &tenant, input, CLI_ACTOR, total, &bar, images).await?
    } else {
        let lines = LineProgress::new(&mut *console.out);
        import::import_products(pool, &tenant, input, CLI_ACTOR, total, &lines, images).await?
    };
    let out = &mut *console.out;
    writeln!(
        out,
        "imported {} into {}: {} created, {} updated, {} unchanged, {} failed ({} rows)",
        file.display(),
        tenant.subdomain,
        report.created,
        report.updated,
        report.unchanged,
        report.failed,
        report.rows
    )?;
    if !report.errors.is_empty() {
        writeln!(out, "not imported:")?;
        list(out, &report.errors, report.errors_omitted)?;
    }
    if !report.notes.is_empty() {
        writeln!(out, "skipped:")?;
        list(out, &report.notes, report.notes_omitted)?;
    }
    if let Some(why) = &report.aborted {
        bail!("the import stopped: {why}");
    }
    if report.failed > 0 {
        bail!(
            "{} product(s) were not imported; fix the rows listed and import the file again \
             (products already imported are not duplicated)",
            report.failed
        );
    }
    Ok(())
}

fn list(out: &mut dyn std::io::Write, items: &[RowError], omitted: u64) -> std::io::Result<()> {
    for item in items {
        writeln!(out, "  {item}")?;
    }
    if omitted > 0 {
        writeln!(out, "  … and {omitted} more")?;
    }
    Ok(())
}

/// Writes a store's products as a Shopify product CSV to `file`, or standard output for `-`.
pub async fn export_file(
    pool: &PgPool,
    subdomain: &str,
    file: &str,
    store_base_url: String,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    let tenant = tenant(pool, subdomain).await?;
    let options = ExportOptions {
        image_base_url: Some(store_base_url),
    };
    if file == "-" {
        let mut sink = WriteSink(&mut *console.out);
        export::export_products(pool, &tenant.schema, &options, &mut sink).await?;
        sink.0.flush()?;
        return Ok(());
    }
    let path = Path::new(file);
    let mut sink = WriteSink(std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    ));
    let count = export::export_products(pool, &tenant.schema, &options, &mut sink).await?;
    sink.0
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        console.out,
        "exported {count} product(s) of {} to {}",
        tenant.subdomain,
        path.display()
    )?;
    Ok(())
}

/// Plain progress lines for logs and pipes: a line every 10% of the rows (and every failed
/// product).
pub struct LineProgress<W: std::io::Write + Send> {
    out: Mutex<(W, u64, u64)>,
    started: Instant,
}

impl<W: std::io::Write + Send> LineProgress<W> {
    /// Progress lines written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new((out, 0, 0)),
            started: Instant::now(),
        }
    }
}

impl<W: std::io::Write + Send> Progress for LineProgress<W> {
    fn started(&self, total_rows: u64) {
        let mut g = self.out.lock().expect("progress lock");
        g.1 = total_rows;
        let _ = writeln!(g.0, "importing {total_rows} row(s)");
    }

    fn product_done(&self, handle: &str, outcome: Outcome, errors: &[RowError], rows_done: u64) {
        let mut g = self.out.lock().expect("progress lock");
        if outcome == Outcome::Failed {
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            let _ = writeln!(g.0, "  FAILED {handle}: {first}");
        }
        let total = g.1.max(1);
        let step = (total / 10).max(1);
        if rows_done / step > g.2 / step || rows_done == total {
            let _ = writeln!(
                g.0,
                "  {rows_done}/{total} rows ({:.0}%)",
                rows_done as f64 * 100.0 / total as f64
            );
        }
        g.2 = rows_done;
    }

    fn finished(&self, _: &Report) {
        let mut g = self.out.lock().expect("progress lock");
        let _ = writeln!(g.0, "done in {:.1}s", self.started.elapsed().as_secs_f64());
    }
}

/// A progress bar on standard error, for a terminal.
pub struct BarProgress {
    bar: indicatif::ProgressBar,
}

impl BarProgress {
    /// A bar drawn on standard error.
    pub fn new() -> Self {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} importing products [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left) {msg}",
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
    fn started(&self, total_rows: u64) {
        self.bar.set_length(total_rows);
    }

    fn product_done(&self, handle: &str, outcome: Outcome, errors: &[RowError], rows_done: u64) {
        if outcome == Outcome::Failed {
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            self.bar.println(format!("FAILED {handle}: {first}"));
        }
        self.bar.set_position(rows_done);
    }

    fn finished(&self, report: &Report) {
        self.bar.finish_with_message(format!(
            "{} created, {} updated, {} failed",
            report.created, report.updated, report.failed
        ));
    }
}
