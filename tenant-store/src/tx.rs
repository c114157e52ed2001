//! The tenant transaction: the only door to a tenant's tables.

use std::ops::{Deref, DerefMut};

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

/// `BEGIN; SET LOCAL search_path TO <schema>`.
fn begin_statement(schema: &TenantSchema) -> String {
    let name = schema.as_str();
    debug_assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    );
    format!("BEGIN; SET LOCAL search_path TO \"{name}\"")
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
