//! One tenant's business domain on PostgreSQL, and the one way in: a tenant transaction.
//!
//! Every tenant lives in its own schema (`t_<id>`). Nothing in this crate takes a schema
//! name from user input: a [`TenantSchema`] is made when a tenant is provisioned or read
//! back from the platform registry. Functions that touch tenant tables take a
//! `&mut PgConnection` that belongs to a [`TenantTx`]; on any other connection the
//! unqualified table names resolve to the empty `no_tenant` schema and fail.

pub mod audit;
pub mod cart;
pub mod catalog;
pub mod content;
pub mod credit;
pub mod customers;
pub mod discounts;
pub mod enquiries;
mod error;
pub mod migrations;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod pricing;
mod provision;
mod reads;
pub mod reports;
mod schema;
pub mod settings;
pub mod shipping;
pub mod shop;
pub mod taxes;
pub mod theme;
mod tx;

pub use error::StoreError;
pub use provision::create_store;
pub use reads::{LaneLimits, ReadLane, ReadStatement, read_at_once};
pub use schema::TenantSchema;
pub use tx::{TenantTx, begin, begin_platform, literal};

/// The schema every connection starts in: empty, so forgetting the tenant fails closed.
pub const NO_TENANT_SCHEMA: &str = "no_tenant";
