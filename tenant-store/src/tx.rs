//! The tenant transaction: the only door to a tenant's tables.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgTransactionManager;
use sqlx::{PgConnection, PgPool, Postgres, Transaction, TransactionManager as _};

use crate::{StoreError, TenantSchema};

/// A database transaction scoped to one tenant's schema.
///
/// It begins with `BEGIN; SET LOCAL search_path TO <schema>`: transaction-local, so the
/// setting ends with the transaction (commit, rollback or drop) and a pooled connection never
/// carries one tenant's context into the next caller's work.
pub struct TenantTx {
    conn: PoolConnection<Postgres>,
    /// Until committed or rolled back: dropped open, it is rolled back.
    open: bool,
    schema: TenantSchema,
}

/// Begins a transaction on `pool` scoped to `schema`.
///
/// `BEGIN` and the schema setting travel as one simple-protocol message: one round trip
/// to the server instead of two, on every request that reads a store. The schema name is
/// interpolated, which is safe only because a [`TenantSchema`] is always a generated
/// `t_[a-z0-9]` name (checked again when read back from the registry).
///
/// Safe to drop midway (a shopper closes the page, a timeout fires). sqlx counts a
/// transaction as open only once the server has answered its `BEGIN`: dropped between the
/// two, it queues no `ROLLBACK`, and the connection would go back to the pool inside a
/// transaction nothing ends; the next caller's work would run in it, and its first error
/// would leave the connection failing every statement until recycled (sqlx 0.8.6;
/// transact-rs/sqlx#4393). Here the connection is held until the answer has come, and a
/// connection whose `BEGIN` was dropped unanswered, or failed, is closed instead.
pub async fn begin(pool: &PgPool, schema: &TenantSchema) -> Result<TenantTx, StoreError> {
    let mut pending = Unanswered(Some(pool.acquire().await?));
    let conn = pending.0.as_mut().expect("held until answered");
    PgTransactionManager::begin(conn, Some(begin_statement(schema).into())).await?;
    Ok(TenantTx {
        conn: pending.0.take().expect("held until answered"),
        open: true,
        schema: schema.clone(),
    })
}

/// A pooled connection whose `BEGIN` has not been answered yet: closed if dropped so.
struct Unanswered(Option<PoolConnection<Postgres>>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.0 {
            conn.close_on_drop();
        }
    }
}

/// Begins a transaction on `pool` outside any tenant (platform tables, provisioning,
/// migrations): `pool.begin()`, safe to drop midway as [`begin`] is. The `BEGIN` runs in a
/// task of its own, which always gets the server's answer; a transaction nobody is left to
/// take is dropped there, which rolls it back. (A task costs a few microseconds more than
/// [`begin`]'s way, which is kept for the storefront's pages.)
#[expect(
    clippy::disallowed_methods,
    reason = "the one place sqlx's pool begin is called"
)]
pub async fn begin_platform(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let pool = pool.clone();
    match tokio::spawn(async move { pool.begin().await }).await {
        Ok(begun) => begun,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(_) => Err(sqlx::Error::PoolClosed),
    }
}

/// `value` as an SQL string literal, for a statement sent without parameters (as
/// [`read_at_once`] sends its arguments): quotes doubled, and in the `E''` form with backslashes doubled when
/// there are any, as PostgreSQL's own `quote_literal` writes it, so the literal reads the
/// same whatever `standard_conforming_strings` says. A NUL byte, which no PostgreSQL string
/// holds, is dropped.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The schema's name, which is interpolated into statements: safe only because a
/// [`TenantSchema`] is always a generated `t_[a-z0-9]` name (checked again when read back
/// from the registry).
pub(crate) fn checked_name(schema: &TenantSchema) -> &str {
    let name = schema.as_str();
    debug_assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    );
    name
}

/// `BEGIN; SET LOCAL search_path TO <schema>`.
fn begin_statement(schema: &TenantSchema) -> String {
    format!(
        "BEGIN; SET LOCAL search_path TO \"{}\"",
        checked_name(schema)
    )
}

/// Points the current transaction at `schema` until it ends. Used by [`begin`] and by
/// provisioning and migrations, which run tenant DDL inside a larger platform transaction.
pub(crate) async fn enter(
    conn: &mut PgConnection,
    schema: &TenantSchema,
) -> Result<(), StoreError> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(schema.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Leaves the tenant schema for the rest of a larger transaction.
pub(crate) async fn leave(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(crate::NO_TENANT_SCHEMA)
        .execute(conn)
        .await?;
    Ok(())
}

impl TenantTx {
    /// The schema this transaction is scoped to.
    pub fn schema(&self) -> &TenantSchema {
        &self.schema
    }

    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        PgTransactionManager::commit(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }

    /// Ends a transaction that only read. It is rolled back (for a transaction that wrote
    /// nothing, the same as a commit) without waiting for the server: the `ROLLBACK` is
    /// queued on the connection and goes out with the check the pool makes when the
    /// connection comes back, so a page that only reads pays no round trip to end its
    /// transaction.
    pub fn end_read_only(self) {
        drop(self);
    }

    /// Rolls the transaction back (dropping it does the same).
    pub async fn rollback(mut self) -> Result<(), StoreError> {
        PgTransactionManager::rollback(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Drop for TenantTx {
    /// Queues the `ROLLBACK` of a transaction left open; it goes out with the check the
    /// pool makes when the connection comes back (as sqlx's `Transaction` does).
    fn drop(&mut self) {
        if self.open {
            PgTransactionManager::start_rollback(&mut self.conn);
        }
    }
}
