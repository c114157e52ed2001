//! Black-box tests: the real app on a loopback port, a real PostgreSQL.

mod account_mail;
mod accounts;
mod admin_catalog;
mod catalog;
mod cli;
mod domains;
mod embedded;
mod errors;
mod isolation;
mod mail;
mod migrate;
mod operator;
mod provisioning;
mod routing;
