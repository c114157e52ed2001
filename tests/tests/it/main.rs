//! Black-box tests: the real app on a loopback port, a real PostgreSQL.

mod account_mail;
mod accounts;
mod admin_catalog;
mod api;
mod catalog;
mod cli;
mod csv_import;
mod domains;
mod embedded;
mod errors;
mod images;
mod isolation;
mod mail;
mod migrate;
mod operator;
mod provisioning;
mod routing;
