//! The storefront platform: configuration, command line, HTTP app, host routing and the
//! tenant registry. The `storefront` binary is a thin wrapper around [`cli::run`].

pub mod accounts;
mod admin;
mod api;
pub mod api_tokens;
pub mod app;
pub mod body_encoding;
pub mod catalog_csv;
pub mod cli;
pub mod config;
pub mod csrf;
pub mod db;
pub mod demo;
pub mod domains;
pub mod embedded_pg;
pub mod error;
pub mod extract;
pub mod follow;
mod health;
pub mod input;
mod internal;
pub mod mail;
pub mod mail_outbox;
pub mod media;
pub mod media_urls;
pub mod middleware;
pub mod operator;
pub mod payments;
mod platform_site;
pub mod rate_limit;
pub mod router;
pub mod routing;
pub mod search_index;
pub mod server;
pub mod sessions;
pub mod sign_in_throttle;
mod storefront;
pub mod tenancy;
pub mod theme;
pub mod tokens;
pub mod views;

use config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global log subscriber: `RUST_LOG` filters (default `info`), lines go to
/// standard error so command output on standard output stays clean.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}
