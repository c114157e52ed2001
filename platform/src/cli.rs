//! The `storefront` command line: serve, migrate, manage tenants, run the demo.

use std::io::{BufRead, Write};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Settings;
use crate::db::{self, Database};
use crate::server;
use crate::tenancy::{self, NewTenant, ProvisionError, migrate};
use crate::{accounts, api_tokens};

/// Self-hostable multi-tenant commerce: one binary, one PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "storefront", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the platform site and every store over HTTP.
    Serve,
    /// Bring the platform schema and every tenant schema to the latest version.
    Migrate {
        /// How many tenant schemas to migrate at once.
        #[arg(long, env = "MIGRATE_CONCURRENCY", default_value_t = 8)]
        concurrency: usize,
    },
    /// Create, list and delete tenants (stores).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Boot everything with a demo store (seeded with a catalog) and serve it.
    Demo {
        /// Also generate this many sample products (for trying the admin at scale).
        #[arg(long, env = "DEMO_PRODUCTS", default_value_t = 0)]
        products: usize,
    },
    /// Manage platform operators.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Import data into a store.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export data from a store.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Manage Admin API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the catalog search indexes of this node.
    #[command(subcommand)]
    Search(SearchCommand),
}

/// Search index management.
#[derive(Debug, Subcommand)]
pub enum SearchCommand {
    /// Rebuild search indexes from PostgreSQL (every store, or one), with progress.
    Rebuild {
        /// Only this store (its subdomain).
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// Admin API token management.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a store; the token is printed once, alone on the last line.
    Create {
        /// The store's subdomain.
        #[arg(long, env = "TOKEN_TENANT")]
        tenant: String,
        /// Comma-separated scopes, e.g. `products:read,products:write`.
        #[arg(long, env = "TOKEN_SCOPES")]
        scopes: String,
        /// A name saying what uses the token (it appears in the store's audit log).
        #[arg(long, env = "TOKEN_NAME", default_value = "automation")]
        name: String,
    },
}

/// What `storefront import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import products from a Shopify product CSV (idempotent by handle and SKU).
    Products {
        /// The store's subdomain.
        #[arg(long)]
        tenant: String,
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

/// What `storefront export` writes.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Export products as a Shopify product CSV.
    Products {
        /// The store's subdomain.
        #[arg(long)]
        tenant: String,
        /// Where to write the CSV (`-`: standard output).
        #[arg(default_value = "-")]
        file: String,
    },
}

/// Operator management.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Make a platform operator (an existing account is promoted and keeps its password).
    Create {
        /// The operator's email address.
        #[arg(long, env = "OPERATOR_EMAIL")]
        email: String,
        /// The password for a new account; one is generated and printed when omitted.
        #[arg(long, env = "OPERATOR_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
        password: Option<SecretString>,
    },
}

/// Tenant management.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a store with its owner.
    Create {
        /// The store's subdomain on the platform domain.
        #[arg(long, env = "STORE_SUBDOMAIN")]
        subdomain: String,
        /// The store's name.
        #[arg(long, env = "STORE_NAME")]
        name: String,
        /// The owner's email address (an existing merchant keeps their password).
        #[arg(long, env = "OWNER_EMAIL")]
        owner_email: String,
        /// The owner's password; one is generated and printed when omitted.
        #[arg(long, env = "OWNER_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
        owner_password: Option<SecretString>,
    },
    /// List stores.
    List {
        /// Print JSON instead of a table.
        #[arg(long, env = "TENANT_LIST_JSON")]
        json: bool,
    },
    /// Delete a store and all its data.
    Delete {
        /// The store's subdomain.
        subdomain: String,
        /// Do not ask for confirmation.
        #[arg(long, env = "TENANT_DELETE_YES")]
        yes: bool,
    },
}

fn parse_secret(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s.to_owned()))
}

/// Where a command reads and writes: the terminal, or buffers in tests.
pub struct Console<'a> {
    /// Standard output.
    pub out: &'a mut (dyn Write + Send),
    /// Standard input (confirmations).
    pub input: &'a mut (dyn BufRead + Send),
    /// Whether standard error is a terminal (progress bars) .
    pub terminal: bool,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, console: &mut Console<'_>) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command {
        Command::Serve => serve(settings, None, console, server::shutdown_signal()).await,
        Command::Demo { products } => {
            let demo = Demo {
                sample_products: products,
            };
            serve(settings, Some(demo), console, server::shutdown_signal()).await
        }
        Command::Migrate { concurrency } => {
            with_database(&settings, |pool| async move {
                migrate_all(&pool, concurrency, console).await
            })
            .await
        }
        Command::Import(ImportCommand::Products { tenant, file }) => {
            let images = crate::catalog_csv::images::ImageFetcher::from_settings(&settings)?;
            with_database(&settings, |pool| async move {
                crate::catalog_csv::command::import_file(
                    &pool,
                    &tenant,
                    &file,
                    Some(&images),
                    console,
                )
                .await
            })
            .await
        }
        Command::Export(ExportCommand::Products { tenant, file }) => {
            let base = crate::catalog_csv::command::store_base_url(&settings, &tenant);
            with_database(&settings, |pool| async move {
                crate::catalog_csv::command::export_file(&pool, &tenant, &file, base, console).await
            })
            .await
        }
        Command::Operator(OperatorCommand::Create { email, password }) => {
            with_database(&settings, |pool| async move {
                create_operator(&pool, &email, password, console).await
            })
            .await
        }
        Command::Token(TokenCommand::Create {
            tenant,
            scopes,
            name,
        }) => {
            with_database(&settings, |pool| async move {
                create_token(&pool, &tenant, &scopes, &name, console).await
            })
            .await
        }
        Command::Search(SearchCommand::Rebuild { tenant }) => {
            let settings = &settings;
            with_database(settings, |pool| async move {
                crate::search_index::command::rebuild(&pool, settings, tenant.as_deref(), console)
                    .await
            })
            .await
        }
        Command::Tenant(cmd) => {
            let domain = settings.normalized_platform_domain();
            with_database(&settings, |pool| async move {
                run_tenant(cmd, &pool, &domain, console).await
            })
            .await
        }
    }
}

/// Opens the database (migrating the platform schema), runs `f`, and closes it again.
async fn with_database<F, Fut>(settings: &Settings, f: F) -> anyhow::Result<()>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let database = Database::open(settings).await?;
    let result = match db::migrate_platform(&database.pool).await {
        Ok(_) => f(database.pool.clone()).await,
        Err(e) => Err(e),
    };
    database.close().await;
    result
}

async fn migrate_all(
    pool: &sqlx::PgPool,
    concurrency: usize,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    let migrations = tenant_store::migrations::Migrations::tenant();
    let report = if console.terminal {
        migrate::migrate_tenants(pool, migrations, concurrency, &migrate::BarProgress::new())
            .await?
    } else {
        let progress = migrate::LineProgress::new(&mut *console.out);
        migrate::migrate_tenants(pool, migrations, concurrency, &progress).await?
    };
    writeln!(
        console.out,
        "tenants at version {}: {} migrated now, {} failed",
        migrations.latest(),
        report.migrated,
        report.failed.len()
    )?;
    if !report.failed.is_empty() {
        for (subdomain, error) in &report.failed {
            writeln!(console.out, "  {subdomain}: {error}")?;
        }
        bail!(
            "{} tenant(s) failed to migrate; fix them and run `storefront migrate` again",
            report.failed.len()
        );
    }
    Ok(())
}

async fn run_tenant(
    cmd: TenantCommand,
    pool: &sqlx::PgPool,
    domain: &str,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create {
            subdomain,
            name,
            owner_email,
            owner_password,
        } => {
            let (password, generated) = match owner_password {
                Some(p) => (p.expose_secret().to_owned(), false),
                None => (accounts::generate_password(), true),
            };
            if let Err(m) = accounts::check_new_password(&password) {
                bail!("owner_password: {m}");
            }
            let hash = hash_off_runtime(&password).await?;
            let new = NewTenant::parse(&subdomain, &name, &owner_email, hash)?;
            let done = tenancy::provision(pool, &new).await.map_err(|e| match e {
                ProvisionError::Internal(e) => e.context("creating the store"),
                other => anyhow::anyhow!("{other}"),
            })?;
            let t = &done.tenant;
            writeln!(
                console.out,
                "created store “{}” at {}.{domain}",
                t.name, t.subdomain
            )?;
            writeln!(
                console.out,
                "  schema {} (version {})",
                t.schema, t.schema_version
            )?;
            if done.owner_created {
                writeln!(
                    console.out,
                    "  owner {} (new account)",
                    new.owner_email.as_str()
                )?;
                if generated {
                    writeln!(console.out, "  owner password: {password}")?;
                }
            } else {
                writeln!(
                    console.out,
                    "  owner {} (existing account; password unchanged)",
                    new.owner_email.as_str()
                )?;
            }
            Ok(())
        }
        TenantCommand::List { json } => {
            let tenants = tenancy::list(pool).await?;
            if json {
                serde_json::to_writer_pretty(&mut *console.out, &tenants)?;
                writeln!(console.out)?;
            } else {
                writeln!(
                    console.out,
                    "{:<24} {:<28} {:<10} {:<8} {:<13} {:>7}  CREATED",
                    "SUBDOMAIN", "NAME", "STATUS", "PLAN", "SCHEMA", "VERSION"
                )?;
                for t in &tenants {
                    writeln!(
                        console.out,
                        "{:<24} {:<28} {:<10} {:<8} {:<13} {:>7}  {}",
                        t.subdomain,
                        truncate(&t.name, 28),
                        t.status,
                        t.plan_code,
                        t.schema,
                        t.schema_version,
                        t.created_at.format("%Y-%m-%d %H:%M")
                    )?;
                }
                writeln!(console.out, "{} store(s)", tenants.len())?;
            }
            Ok(())
        }
        TenantCommand::Delete { subdomain, yes } => {
            let Some(tenant) = tenancy::find_by_subdomain(pool, &subdomain).await? else {
                bail!("no store has the subdomain “{subdomain}”");
            };
            if !yes {
                write!(
                    console.out,
                    "Delete store “{}” ({}) and all its data? This cannot be undone.\n\
                     Type the subdomain to confirm: ",
                    tenant.name, tenant.subdomain
                )?;
                console.out.flush()?;
                let mut answer = String::new();
                console.input.read_line(&mut answer)?;
                if answer.trim() != tenant.subdomain {
                    bail!("not confirmed; nothing was deleted (pass --yes to skip the question)");
                }
            }
            tenancy::delete(pool, &tenant.subdomain).await?;
            writeln!(console.out, "deleted store {}", tenant.subdomain)?;
            Ok(())
        }
    }
}

async fn create_operator(
    pool: &sqlx::PgPool,
    email: &str,
    password: Option<SecretString>,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    let email = accounts::Email::parse(email).map_err(|m| anyhow::anyhow!("email: {m}"))?;
    let (password, generated) = match password {
        Some(p) => (p.expose_secret().to_owned(), false),
        None => (accounts::generate_password(), true),
    };
    if let Err(m) = accounts::check_new_password(&password) {
        bail!("password: {m}");
    }
    let hash = hash_off_runtime(&password).await?;
    let created = crate::operator::create_operator(pool, &email, &hash).await?;
    if created {
        writeln!(console.out, "created operator {}", email.as_str())?;
        if generated {
            writeln!(console.out, "  password: {password}")?;
        }
    } else {
        writeln!(
            console.out,
            "{} is now an operator (existing account; password unchanged)",
            email.as_str()
        )?;
    }
    Ok(())
}

async fn create_token(
    pool: &sqlx::PgPool,
    subdomain: &str,
    scopes: &str,
    name: &str,
    console: &mut Console<'_>,
) -> anyhow::Result<()> {
    let scopes = api_tokens::parse_scopes(scopes).map_err(|m| anyhow::anyhow!("scopes: {m}"))?;
    let Some(tenant) = tenancy::find_by_subdomain(pool, subdomain).await? else {
        bail!("no store has the subdomain “{subdomain}”");
    };
    let mut conn = pool.acquire().await?;
    let issued = api_tokens::issue(&mut conn, tenant.id, name, &scopes, None).await?;
    writeln!(
        console.out,
        "created API token “{}” for {} with scopes {}",
        issued.token.name,
        tenant.subdomain,
        issued.token.scopes.join(",")
    )?;
    writeln!(console.out, "  it is shown only now; store it safely:")?;
    // Alone on the last line, so scripts can take it with `tail -n 1`.
    writeln!(console.out, "{}", issued.secret)?;
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

/// The demo store's owner (development only).
pub const DEMO_OWNER_EMAIL: &str = "demo@example.com";
/// The demo store owner's password (development only).
pub const DEMO_OWNER_PASSWORD: &str = "storefront-demo";

/// `serve` and `demo`: open the database, migrate the platform schema (and for the demo,
/// every tenant, then make sure the demo store exists), and serve until `shutdown`
/// completes (the commands pass SIGINT/SIGTERM).
pub async fn serve(
    settings: Settings,
    demo: Option<Demo>,
    console: &mut Console<'_>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let database = Database::open(&settings).await?;
    let result = async {
        db::migrate_platform(&database.pool).await?;
        if let Some(demo) = &demo {
            let migrations = tenant_store::migrations::Migrations::tenant();
            migrate::migrate_tenants(&database.pool, migrations, 4, &migrate::Silent).await?;
            let tenant = ensure_demo_store(&database.pool).await?;
            let media = crate::media::MediaStore::from_settings(&settings)?;
            crate::demo::seed(
                &database.pool,
                &media,
                &tenant,
                demo.sample_products,
                settings.environment == crate::config::Environment::Production,
                &mut *console.out,
            )
            .await
            .context("seeding the demo catalog")?;
        }
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .with_context(|| format!("listening on {}", settings.listen_addr))?;
        let addr = listener.local_addr()?;
        let domain = settings.normalized_platform_domain();
        let port = addr.port();
        writeln!(console.out, "storefront is serving on {addr}")?;
        writeln!(console.out, "  platform site: http://{domain}:{port}/")?;
        if demo.is_some() {
            writeln!(console.out, "  demo store:    http://demo.{domain}:{port}/")?;
            writeln!(
                console.out,
                "  demo owner:    {DEMO_OWNER_EMAIL} / {DEMO_OWNER_PASSWORD}"
            )?;
        }
        writeln!(console.out, "press Ctrl-C to stop")?;
        console.out.flush()?;
        let state = App::build(settings.clone(), database.pool.clone())?;
        server::run(state, listener, shutdown).await?;
        anyhow::Ok(())
    }
    .await;
    database.close().await;
    result
}

/// What `storefront demo` adds to the demo store.
#[derive(Clone, Copy, Debug, Default)]
pub struct Demo {
    /// Sample products to generate besides the demo catalog.
    pub sample_products: usize,
}

async fn ensure_demo_store(pool: &sqlx::PgPool) -> anyhow::Result<tenancy::Tenant> {
    if let Some(t) = tenancy::find_by_subdomain(pool, "demo").await? {
        return Ok(t);
    }
    let hash = hash_off_runtime(DEMO_OWNER_PASSWORD).await?;
    let new = NewTenant::parse("demo", "Demo Store", DEMO_OWNER_EMAIL, hash)?;
    match tenancy::provision(pool, &new).await {
        Ok(done) => Ok(done.tenant),
        // Another process created it in the meantime: use theirs.
        Err(ProvisionError::SubdomainTaken(_)) => tenancy::find_by_subdomain(pool, "demo")
            .await?
            .context("the demo store vanished while being created"),
        Err(e) => Err(anyhow::anyhow!("creating the demo store: {e}")),
    }
}

/// [`accounts::hash_password`] on the blocking pool: the command line hashes one password
/// at a time and needs none of the request path's limits.
async fn hash_off_runtime(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || accounts::hash_password(&password)).await?
}
