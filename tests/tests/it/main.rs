//! Black-box tests: the real app on a loopback port, a real PostgreSQL.

mod accounts;
mod cli;
mod embedded;
mod errors;
mod isolation;
mod mail;
mod migrate;
mod operator;
mod provisioning;
mod routing;
