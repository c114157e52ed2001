//! The tenant side of provisioning: schema, tables and seed data.

use sqlx::{Executor as _, PgConnection};

use crate::migrations::{self, Migrations};
use crate::settings::{self, SeedSettings};
use crate::{StoreError, TenantSchema, tx};

/// Creates a store's schema, brings it to `migrations.latest()` and writes its seed
/// settings, inside the caller's transaction: the platform commits it together with the
/// tenant's registry rows, so a store exists whole or not at all. Returns the schema version.
pub async fn create_store(
    conn: &mut PgConnection,
    schema: &TenantSchema,
    migrations: &Migrations,
    seed: &SeedSettings<'_>,
) -> Result<i64, StoreError> {
    // The name's format is checked by TenantSchema: nothing in it needs quoting.
    (&mut *conn)
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await?;
    tx::enter(conn, schema).await?;
    let version = migrations::apply_pending(conn, migrations, 0).await?;
    settings::seed(conn, seed).await?;
    tx::leave(conn).await?;
    Ok(version)
}
