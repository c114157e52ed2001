//! Black-box tests: the real app on a loopback port, a real PostgreSQL.

mod account_mail;
mod accounts;
mod admin_catalog;
mod api;
mod api_content;
mod catalog;
mod cli;
mod content;
mod csv_import;
mod customer_accounts;
mod domains;
mod embedded;
mod errors;
mod images;
mod isolation;
mod mail;
mod migrate;
mod operator;
mod orders;
mod provisioning;
mod routing;
mod search;
mod store_settings;
mod storefront;
mod theme;
