//! The tenant transaction: the only door to a tenant's tables.

use std::ops::{Deref, DerefMut};

use sqlx::Executor as _;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::{StoreError, TenantSchema};

/// A database transaction scoped to one tenant's schema.
///
/// It begins with `set_config('search_path', <schema>, true)`: transaction-local, so the
/// setting ends with the transaction (commit, rollback or drop) and a pooled connection never
/// carries one tenant's context into the next caller's work.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    schema: TenantSchema,
}

/// Begins a transaction on `pool` scoped to `schema`.
///
/// `BEGIN` and the schema setting travel as one simple-protocol message: one round trip
/// to the server instead of two, on every request that reads a store. The schema name is
/// interpolated, which is safe only because a [`TenantSchema`] is always a generated
/// `t_[a-z0-9]` name (checked again when read back from the registry).
pub async fn begin(pool: &PgPool, schema: &TenantSchema) -> Result<TenantTx, StoreError> {
    let tx = pool.begin_with(begin_statement(schema)).await?;
    Ok(TenantTx {
        tx,
        schema: schema.clone(),
    })
}

/// A statement that only reads, for [`read_at_once`]: prepared on each connection the first
/// time it runs there, under `name`; `$1`, `$2`, ... in `sql` are text parameters.
#[derive(Clone, Copy, Debug)]
pub struct ReadStatement<'a> {
    /// The prepared statement's name on each connection: `[a-z0-9_]`, one per statement.
    pub name: &'a str,
    /// The statement.
    pub sql: &'a str,
}

/// Runs `read` with `args` (text values) in a tenant transaction that travels as one
/// message with its scope: `SET LOCAL search_path TO <schema>; SET TRANSACTION READ ONLY;
/// EXECUTE <name>(<args>)`. PostgreSQL runs the statements of one simple-protocol message as
/// one implicit transaction, so the setting ends with the message, an error rolls it back
/// and leaves the connection idle, and nothing can be written. A page that reads in one
/// statement pays one round trip for it, where [`begin`] and a query pay two.
///
/// The statement is prepared on the connection (`PREPARE`, in the same message) the first
/// time it runs there, and PostgreSQL plans a prepared statement once it has seen a few
/// runs, as it does the statements `sqlx` caches; a statement sent as text would be planned
/// on every run. A prepared statement re-plans when the schema changes, and its result type
/// must not vary between schemas (as for every cached statement: never `SELECT *`). Rows
/// come in text format, which the usual `sqlx` decoding reads.
pub async fn read_at_once(
    pool: &PgPool,
    schema: &TenantSchema,
    read: ReadStatement<'_>,
    args: &[&str],
) -> Result<Vec<PgRow>, StoreError> {
    debug_assert!(
        read.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    );
    let scope = format!(
        "SET LOCAL search_path TO \"{}\"; SET TRANSACTION READ ONLY;",
        checked_name(schema)
    );
    let values = args
        .iter()
        .map(|a| literal(a))
        .collect::<Vec<_>>()
        .join(", ");
    let execute = format!("EXECUTE {}({values})", read.name);
    let mut conn = pool.acquire().await?;
    // Through `Executor`, whose future is boxed as `Send`: `RawSql::fetch_all`'s bounds
    // keep a caller's future from being proven `Send`.
    match conn
        .fetch_all(sqlx::raw_sql(&format!("{scope} {execute}")))
        .await
    {
        Err(e) if is_unknown_prepared_statement(&e) => {}
        done => return Ok(done?),
    }
    // Not prepared on this connection yet (a prepared statement outlives the transaction
    // that made it, whatever its outcome).
    let types = vec!["text"; args.len()].join(", ");
    let prepare = format!("PREPARE {}({types}) AS {};", read.name, read.sql);
    Ok(conn
        .fetch_all(sqlx::raw_sql(&format!("{scope} {prepare} {execute}")))
        .await?)
}

/// `prepared statement "..." does not exist`.
fn is_unknown_prepared_statement(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "26000")
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
fn checked_name(schema: &TenantSchema) -> &str {
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
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// Ends a transaction that only read. It is rolled back (for a transaction that wrote
    /// nothing, the same as a commit) without waiting for the server: the `ROLLBACK` is
    /// queued on the connection and goes out with the check the pool makes when the
    /// connection comes back, so a page that only reads pays no round trip to end its
    /// transaction.
    pub fn end_read_only(self) {
        drop(self.tx);
    }

    /// Rolls the transaction back (dropping it does the same).
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
