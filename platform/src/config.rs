//! Typed settings, read once from flags with environment fallbacks.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use secrecy::SecretString;

/// Whether the server runs for development or for real shoppers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// Local development and demos: development-only conveniences are allowed.
    #[default]
    Development,
    /// A live deployment: development-only conveniences are refused.
    Production,
}

/// Process-wide settings. Every flag falls back to the environment variable of the same name.
#[derive(Clone, Debug, Args)]
pub struct Settings {
    /// PostgreSQL URL. Without one, a private cluster runs under DATA_DIR/pg.
    #[arg(long, env = "DATABASE_URL", global = true, value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        global = true,
        default_value = "127.0.0.1:8080"
    )]
    pub listen_addr: SocketAddr,

    /// Domain of the platform site; stores live on its subdomains.
    #[arg(
        long,
        env = "PLATFORM_DOMAIN",
        global = true,
        default_value = "localhost"
    )]
    pub platform_domain: String,

    /// Directory for the embedded database, search indexes, media and mail files.
    #[arg(long, env = "DATA_DIR", global = true, default_value = "./data")]
    pub data_dir: PathBuf,

    /// SMTP server for outgoing mail (smtp://user:pass@host:port). Without one, mail is
    /// written as files under DATA_DIR/mail.
    #[arg(long, env = "SMTP_URL", global = true, value_parser = parse_secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// Key that signs sessions and encrypts gateway secrets. Required in production; in
    /// development one is generated and kept in DATA_DIR/secret_key.
    #[arg(long, env = "SECRET_KEY", global = true, value_parser = parse_secret, hide_env_values = true)]
    pub secret_key: Option<SecretString>,

    /// Development or production.
    #[arg(
        long = "env",
        env = "STOREFRONT_ENV",
        global = true,
        value_enum,
        default_value_t
    )]
    pub environment: Environment,

    /// Most database connections this process opens (at least 3): a quarter (1 to 8) for
    /// one-message reads, one to listen for change notifications, the rest for the pool.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        global = true,
        default_value_t = 16,
        value_parser = clap::value_parser!(u32).range(i64::from(crate::db::MIN_CONNECTIONS)..)
    )]
    pub database_max_connections: u32,

    /// Sender of platform mail, e.g. `Storefront <no-reply@example.com>` (default
    /// `Storefront <no-reply@<PLATFORM_DOMAIN>>`).
    #[arg(long, env = "MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// Name server (ip:port) that custom-domain checks ask; the system resolver when unset.
    #[arg(long, env = "DNS_NAMESERVER", global = true)]
    pub dns_nameserver: Option<SocketAddr>,

    /// Hostname merchants point their domain's CNAME at (default `stores.<PLATFORM_DOMAIN>`).
    #[arg(long, env = "STORE_CNAME_TARGET", global = true)]
    pub store_cname_target: Option<String>,

    /// Take the client address from X-Forwarded-For (only behind a reverse proxy that sets it).
    #[arg(long, env = "TRUST_FORWARDED_FOR", global = true)]
    pub trust_forwarded_for: bool,

    /// Serve `/__bench/baseline` on store hosts: one query and a tiny template, the
    /// reference the storefront benchmark compares pages with. Off in normal operation.
    #[arg(long, env = "BENCH_BASELINE", global = true, hide = true)]
    pub bench_baseline: bool,

    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(long, env = "LOG_FORMAT", global = true, value_enum, default_value_t)]
    pub log_format: LogFormat,

    /// Largest image upload accepted, in megabytes.
    #[arg(
        long,
        env = "MEDIA_MAX_UPLOAD_MB",
        global = true,
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=1024)
    )]
    pub media_max_upload_mb: u64,

    /// S3 bucket for product images. Without one, they are files under DATA_DIR/media.
    #[arg(long, env = "MEDIA_S3_BUCKET", global = true)]
    pub media_s3_bucket: Option<String>,

    /// S3-compatible endpoint URL (MinIO, R2, ...); AWS itself when unset.
    #[arg(long, env = "MEDIA_S3_ENDPOINT", global = true)]
    pub media_s3_endpoint: Option<String>,

    /// Region of the media bucket (default: `AWS_REGION`, else us-east-1).
    #[arg(long, env = "MEDIA_S3_REGION", global = true)]
    pub media_s3_region: Option<String>,

    /// Access key id for the media bucket (default: `AWS_ACCESS_KEY_ID` or instance credentials).
    #[arg(long, env = "MEDIA_S3_ACCESS_KEY_ID", global = true)]
    pub media_s3_access_key_id: Option<String>,

    /// Secret access key for the media bucket (default: `AWS_SECRET_ACCESS_KEY`).
    #[arg(long, env = "MEDIA_S3_SECRET_ACCESS_KEY", global = true, value_parser = parse_secret, hide_env_values = true)]
    pub media_s3_secret_access_key: Option<SecretString>,

    /// Most tenant search indexes kept open at once (each holds file handles and memory).
    #[arg(
        long,
        env = "SEARCH_CACHE_CAPACITY",
        global = true,
        default_value_t = 256,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub search_cache_capacity: u64,

    /// Seconds between sweeps that check every store's search index (notifications do the
    /// rest).
    #[arg(
        long,
        env = "SEARCH_SWEEP_SECS",
        global = true,
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub search_sweep_secs: u64,

    /// Milliseconds a store's own (overridden) template may take to render before the page
    /// falls back to the default theme's template.
    #[arg(
        long,
        env = "THEME_RENDER_TIMEOUT_MS",
        global = true,
        default_value_t = 200,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub theme_render_timeout_ms: u64,

    /// Megabytes of memory a render of a store's own template may use (its worker
    /// process's heap and its 64 MB render stack); a render that needs more falls back to
    /// the default theme's template.
    #[arg(
        long,
        env = "THEME_RENDER_MEMORY_MB",
        global = true,
        default_value_t = 256,
        value_parser = clap::value_parser!(u64).range(crate::theme::worker::Limits::MIN_MEMORY_MB..=65_536)
    )]
    pub theme_render_memory_mb: u64,

    /// Worker processes that render stores' own templates on this node, each one page at a
    /// time (default: the number of CPUs, at least 2).
    #[arg(
        long,
        env = "THEME_WORKERS",
        global = true,
        value_parser = clap::value_parser!(u64).range(1..=1024)
    )]
    pub theme_workers: Option<u64>,

    /// The executable theme workers run as `<program> theme-worker`; this one when unset.
    /// For tests, whose executable is a test harness.
    #[arg(long, env = "THEME_WORKER_PROGRAM", global = true, hide = true)]
    pub theme_worker_program: Option<PathBuf>,

    /// Where Stripe's API lives; unset for the real one (`https://api.stripe.com/`). For a
    /// local stand-in in development and tests.
    #[arg(long, env = "STRIPE_API_BASE", global = true)]
    pub stripe_api_base: Option<String>,

    /// Minutes an unpaid order keeps its stock reserved before the sweeper cancels it.
    #[arg(
        long,
        env = "RESERVATION_MINUTES",
        global = true,
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=43_200)
    )]
    pub reservation_minutes: u64,

    /// Seconds between runs of the sweeper that releases expired reservations.
    #[arg(
        long,
        env = "RESERVATION_SWEEP_SECS",
        global = true,
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub reservation_sweep_secs: u64,

    /// Megabytes of rendered storefront pages each node keeps (per store, address and cart
    /// count); 0 turns the page cache off. A change
    /// to a store's catalog, content, settings or theme drops that store's pages on every
    /// node at once.
    #[arg(
        long,
        env = "PAGE_CACHE_MB",
        global = true,
        default_value_t = 64,
        value_parser = clap::value_parser!(u64).range(0..=65_536)
    )]
    pub page_cache_mb: u64,

    /// Seconds a cached storefront page may be served at most (changes drop pages at once;
    /// this bounds what no change announces, such as a blog post scheduled for later).
    #[arg(
        long,
        env = "PAGE_CACHE_SECS",
        global = true,
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub page_cache_secs: u64,

    /// Password hashes and checks (argon2) that may run at once on this node; more wait
    /// their turn. Unset: half the machine's cores (at least one), so sign-ins, even
    /// allowed ones, never take every core from the pages.
    #[arg(
        long,
        env = "PASSWORD_HASH_CONCURRENCY",
        global = true,
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub password_hash_concurrency: Option<u16>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

fn parse_secret(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s.to_owned()))
}

impl Settings {
    /// Settings for a process that uses `database_url` and otherwise the defaults; for tests
    /// and tools that must not pick up the environment.
    pub fn for_database(database_url: &str, data_dir: PathBuf) -> Self {
        Self {
            database_url: Some(SecretString::from(database_url.to_owned())),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            platform_domain: "localhost".into(),
            data_dir,
            smtp_url: None,
            secret_key: Some(SecretString::from(
                "test-secret-key-not-for-production".to_owned(),
            )),
            environment: Environment::Development,
            database_max_connections: 8,
            trust_forwarded_for: false,
            bench_baseline: false,
            dns_nameserver: None,
            mail_from: None,
            store_cname_target: None,
            log_format: LogFormat::Pretty,
            media_max_upload_mb: 20,
            media_s3_bucket: None,
            media_s3_endpoint: None,
            media_s3_region: None,
            media_s3_access_key_id: None,
            media_s3_secret_access_key: None,
            search_cache_capacity: 64,
            search_sweep_secs: 600,
            theme_render_timeout_ms: 200,
            theme_render_memory_mb: 256,
            theme_workers: None,
            theme_worker_program: None,
            stripe_api_base: None,
            reservation_minutes: 60,
            reservation_sweep_secs: 60,
            page_cache_mb: 64,
            page_cache_secs: 60,
            password_hash_concurrency: None,
        }
    }

    /// How many argon2 runs may go at once: `PASSWORD_HASH_CONCURRENCY`, else half the
    /// available cores (at least one).
    pub fn password_hash_slots(&self) -> usize {
        match self.password_hash_concurrency {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism()
                .map_or(1, |n| n.get() / 2)
                .max(1),
        }
    }

    /// How many theme render workers this node may run.
    pub fn theme_workers(&self) -> usize {
        self.theme_workers
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map_or(2, std::num::NonZeroUsize::get)
                    .max(2)
            })
    }

    /// The executable theme render workers run: `/proc/self/exe` by default, which stays
    /// this process's own binary even when a deploy replaces the file.
    pub fn theme_worker_program(&self) -> PathBuf {
        self.theme_worker_program
            .clone()
            .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
    }

    /// The sender of platform mail.
    pub fn mail_from(&self) -> String {
        self.mail_from.clone().unwrap_or_else(|| {
            format!(
                "Storefront <no-reply@{}>",
                self.normalized_platform_domain()
            )
        })
    }

    /// The CNAME target shown to merchants for custom domains.
    pub fn cname_target(&self) -> String {
        self.store_cname_target
            .clone()
            .unwrap_or_else(|| format!("stores.{}", self.normalized_platform_domain()))
    }

    /// The platform domain as hosts are compared: lowercase, no trailing dot.
    pub fn normalized_platform_domain(&self) -> String {
        self.platform_domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase()
    }
}
