//! The tenant registry in the `platform` schema: who the tenants are, where their data
//! lives, which hostnames serve them, and how they are created, migrated and deleted.

pub mod hosts;
pub mod migrate;
mod provision;
mod subdomain;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tenant_store::TenantSchema;
use uuid::Uuid;

pub use provision::{NewTenant, ProvisionError, Provisioned, provision, provision_with};
pub use subdomain::Subdomain;

/// Channel on which hostname changes are announced to every app node.
pub const HOSTNAMES_CHANNEL: &str = "storefront_hostnames";

/// A tenant as the registry knows it.
#[derive(Clone, Debug, Serialize)]
pub struct Tenant {
    /// Stable identifier.
    pub id: Uuid,
    /// The store's label on the platform domain.
    pub subdomain: String,
    /// The store's name when it was created (the store's settings hold the current one).
    pub name: String,
    /// The schema holding the store's data.
    #[serde(serialize_with = "serialize_schema")]
    pub schema: TenantSchema,
    /// `active` or `suspended`.
    pub status: String,
    /// The merchant's plan.
    pub plan_code: String,
    /// The PostgreSQL cluster the schema lives on.
    pub pod: String,
    /// Highest tenant migration applied.
    pub schema_version: i64,
    /// When the store was created.
    pub created_at: DateTime<Utc>,
    /// The verified custom domain marked primary, if any: the store's other hostnames
    /// redirect shoppers there.
    pub primary_host: Option<String>,
}

fn serialize_schema<S: serde::Serializer>(s: &TenantSchema, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// The columns of `platform.tenants` that make a [`Tenant`], in the order `from_row` reads.
const TENANT_COLUMNS: &str = "t.id, t.subdomain, t.name, t.schema_name, t.status, t.plan_code, \
                              t.pod, t.schema_version, t.created_at, \
                              (SELECT p.hostname FROM platform.hostnames p \
                               WHERE p.tenant_id = t.id AND p.is_primary AND p.kind = 'custom' \
                               AND p.verified_at IS NOT NULL)";

type TenantRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    Option<String>,
);

fn from_row(row: TenantRow) -> Result<Tenant, tenant_store::StoreError> {
    let (
        id,
        subdomain,
        name,
        schema,
        status,
        plan_code,
        pod,
        schema_version,
        created_at,
        primary_host,
    ) = row;
    Ok(Tenant {
        id,
        subdomain,
        name,
        schema: TenantSchema::from_registry(schema)?,
        status,
        plan_code,
        pod,
        schema_version,
        created_at,
        primary_host,
    })
}

/// All tenants, oldest first.
pub async fn list(pool: &PgPool) -> anyhow::Result<Vec<Tenant>> {
    let rows: Vec<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM platform.tenants t ORDER BY t.created_at, t.id"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect::<Result<_, _>>()?)
}

/// The tenant with this subdomain, if any.
pub async fn find_by_subdomain(pool: &PgPool, subdomain: &str) -> anyhow::Result<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM platform.tenants t WHERE t.subdomain = $1"
    ))
    .bind(subdomain.trim().to_ascii_lowercase())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(from_row).transpose()?)
}

/// The tenant served on a hostname key (a subdomain label or a verified custom domain).
pub async fn find_by_hostname(pool: &PgPool, key: &str) -> anyhow::Result<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM platform.hostnames h \
         JOIN platform.tenants t ON t.id = h.tenant_id \
         WHERE h.hostname = $1 AND h.verified_at IS NOT NULL"
    ))
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(from_row).transpose()?)
}

/// Deletes a tenant: its schema with all its data, its hostnames and memberships, in one
/// transaction. Returns false when there is no such tenant.
pub async fn delete(pool: &PgPool, subdomain: &str) -> anyhow::Result<bool> {
    let mut tx = tenant_store::begin_platform(pool).await?;
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "SELECT {TENANT_COLUMNS} FROM platform.tenants t WHERE t.subdomain = $1 FOR UPDATE"
    ))
    .bind(subdomain.trim().to_ascii_lowercase())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(tenant) = row.map(from_row).transpose()? else {
        return Ok(false);
    };
    // Announced before the rows go; delivered on commit.
    notify_tenant_hostnames(&mut tx, tenant.id).await?;
    tenant_store::migrations::drop_schema(&mut tx, &tenant.schema).await?;
    sqlx::query("DELETE FROM platform.tenants WHERE id = $1")
        .bind(tenant.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(tenant.id = %tenant.id, subdomain = %tenant.subdomain, "tenant deleted");
    Ok(true)
}

/// Tells every app node (on commit) that a hostname's mapping changed.
pub async fn notify_hostname_changed(conn: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(HOSTNAMES_CHANNEL)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Suspends or resumes a store (`active` / `suspended`) and tells every node, so cached
/// host lookups pick up the new status. Returns the tenant, or None when there is none.
pub async fn set_status(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    status: &str,
) -> anyhow::Result<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "UPDATE platform.tenants t SET status = $2, updated_at = now() WHERE t.id = $1 \
         RETURNING {TENANT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(status)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(tenant) = row.map(from_row).transpose()? else {
        return Ok(None);
    };
    notify_tenant_hostnames(conn, tenant.id).await?;
    Ok(Some(tenant))
}

/// Moves a store to another plan.
pub async fn set_plan(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    plan_code: &str,
) -> anyhow::Result<Option<Tenant>> {
    let row: Option<TenantRow> = sqlx::query_as(&format!(
        "UPDATE platform.tenants t SET plan_code = $2, updated_at = now() WHERE t.id = $1 \
         RETURNING {TENANT_COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(plan_code)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(tenant) = row.map(from_row).transpose()? else {
        return Ok(None);
    };
    notify_tenant_hostnames(conn, tenant.id).await?;
    Ok(Some(tenant))
}

/// Renames a store in the registry (the operator console, `/login`, the admin header) and
/// tells every node; runs in the caller's transaction with the settings change.
pub async fn rename(conn: &mut PgConnection, tenant_id: Uuid, name: &str) -> sqlx::Result<()> {
    let changed = sqlx::query(
        "UPDATE platform.tenants SET name = $2, updated_at = now() WHERE id = $1 AND name <> $2",
    )
    .bind(tenant_id)
    .bind(name)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed > 0 {
        notify_tenant_hostnames(conn, tenant_id).await?;
    }
    Ok(())
}

/// Announces every hostname of a tenant as changed.
async fn notify_tenant_hostnames(conn: &mut PgConnection, tenant_id: Uuid) -> sqlx::Result<()> {
    let hostnames: Vec<String> =
        sqlx::query_scalar("SELECT hostname FROM platform.hostnames WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?;
    for hostname in &hostnames {
        notify_hostname_changed(conn, hostname).await?;
    }
    Ok(())
}

/// The tenant's plan limit on products (`None`: unlimited).
pub async fn product_limit(pool: &PgPool, tenant_id: Uuid) -> anyhow::Result<Option<i64>> {
    let limit: Option<i32> = sqlx::query_scalar(
        "SELECT p.product_limit FROM platform.tenants t JOIN platform.plans p ON p.code = t.plan_code \
         WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await?;
    Ok(limit.map(i64::from))
}
