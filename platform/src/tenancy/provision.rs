//! Provisioning: a new tenant's registry rows, schema, tables, seed settings, hostname and
//! owner, all in one transaction. Afterwards the store answers, or nothing was created.

use sqlx::PgPool;
use tenant_store::TenantSchema;
use tenant_store::migrations::Migrations;
use tenant_store::settings::SeedSettings;
use uuid::Uuid;

use super::{Subdomain, Tenant, notify_hostname_changed};
use crate::accounts::Email;

/// What a new store starts from, already validated.
#[derive(Clone, Debug)]
pub struct NewTenant {
    /// The store's label on the platform domain.
    pub subdomain: Subdomain,
    /// The store's name.
    pub name: String,
    /// The owner's email address.
    pub owner_email: Email,
    /// The owner's argon2 password hash, used only when the address has no account yet.
    pub owner_password_hash: String,
    /// Refuse (rather than reuse) an existing account with the owner's address: signup
    /// creates accounts, the CLI may attach a store to an existing merchant.
    pub owner_must_be_new: bool,
}

impl NewTenant {
    /// Validates the store fields; returns every problem, each with its field name.
    pub fn parse(
        subdomain: &str,
        name: &str,
        owner_email: &str,
        owner_password_hash: String,
    ) -> Result<Self, ProvisionError> {
        let mut errors = Vec::new();
        let subdomain = Subdomain::parse(subdomain)
            .map_err(|m| errors.push(("subdomain", m)))
            .ok();
        let name = name.trim();
        if name.is_empty() {
            errors.push(("name", "enter the store's name".into()));
        } else if name.chars().count() > 120 {
            errors.push(("name", "must be at most 120 characters".into()));
        }
        let owner_email = Email::parse(owner_email)
            .map_err(|m| errors.push(("owner_email", m)))
            .ok();
        match (subdomain, owner_email) {
            (Some(subdomain), Some(owner_email)) if errors.is_empty() => Ok(Self {
                subdomain,
                name: name.to_owned(),
                owner_email,
                owner_password_hash,
                owner_must_be_new: false,
            }),
            _ => Err(ProvisionError::Invalid(errors)),
        }
    }
}

/// Why a tenant was not created.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Input failed validation: each entry names a field and the problem.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, String)>),
    /// A new owner was required, but the address already has an account.
    #[error("owner_email: an account with this email already exists; log in to add a store")]
    EmailTaken,
    /// Another store has the subdomain.
    #[error("subdomain: “{0}” is already taken")]
    SubdomainTaken(String),
    /// The database failed; nothing was created.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ProvisionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<tenant_store::StoreError> for ProvisionError {
    fn from(e: tenant_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A created tenant and its owner.
#[derive(Clone, Debug)]
pub struct Provisioned {
    /// The new tenant.
    pub tenant: Tenant,
    /// The owner's user id.
    pub owner_id: Uuid,
    /// Whether the owner's account was created now (false: an existing merchant's account).
    pub owner_created: bool,
}

/// Creates a tenant with the latest tenant schema.
pub async fn provision(pool: &PgPool, new: &NewTenant) -> Result<Provisioned, ProvisionError> {
    provision_with(pool, new, Migrations::tenant()).await
}

/// Creates a tenant whose schema gets `migrations` (tests use this to make a tenant that is
/// one migration behind or ahead).
pub async fn provision_with(
    pool: &PgPool,
    new: &NewTenant,
    migrations: &Migrations,
) -> Result<Provisioned, ProvisionError> {
    let id = Uuid::now_v7();
    let schema = TenantSchema::generate();
    let mut tx = tenant_store::begin_platform(pool).await?;

    let inserted: Result<(chrono::DateTime<chrono::Utc>,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO platform.tenants (id, subdomain, schema_name, name) VALUES ($1, $2, $3, $4) \
         RETURNING created_at",
    )
    .bind(id)
    .bind(new.subdomain.as_str())
    .bind(schema.as_str())
    .bind(&new.name)
    .fetch_one(&mut *tx)
    .await;
    let (created_at,) = match inserted {
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("tenants_subdomain_key") => {
            return Err(ProvisionError::SubdomainTaken(new.subdomain.to_string()));
        }
        other => other?,
    };
    sqlx::query(
        "INSERT INTO platform.hostnames (hostname, tenant_id, kind, is_primary, verified_at) \
         VALUES ($1, $2, 'subdomain', true, now())",
    )
    .bind(new.subdomain.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;

    let seed = SeedSettings {
        name: &new.name,
        contact_email: new.owner_email.as_str(),
        currency: "USD",
    };
    let version = tenant_store::create_store(&mut tx, &schema, migrations, &seed).await?;
    sqlx::query("UPDATE platform.tenants SET schema_version = $2 WHERE id = $1")
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?;

    let (owner_id, owner_created) = upsert_owner(&mut tx, new).await?;
    if new.owner_must_be_new && !owner_created {
        return Err(ProvisionError::EmailTaken);
    }
    sqlx::query(
        "INSERT INTO platform.memberships (user_id, tenant_id, role) VALUES ($1, $2, 'owner')",
    )
    .bind(owner_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;

    notify_hostname_changed(&mut tx, new.subdomain.as_str()).await?;
    tx.commit().await?;
    tracing::info!(tenant.id = %id, subdomain = %new.subdomain, %schema, "tenant provisioned");

    Ok(Provisioned {
        tenant: Tenant {
            id,
            subdomain: new.subdomain.to_string(),
            name: new.name.clone(),
            schema,
            status: "active".into(),
            plan_code: "starter".into(),
            pod: "default".into(),
            schema_version: version,
            created_at,
            primary_host: None,
        },
        owner_id,
        owner_created,
    })
}

/// The owner's account: an existing merchant keeps theirs (and their password).
async fn upsert_owner(
    tx: &mut sqlx::PgConnection,
    new: &NewTenant,
) -> Result<(Uuid, bool), sqlx::Error> {
    let created: Option<(Uuid,)> = sqlx::query_as(
        "INSERT INTO platform.users (id, email, password_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(new.owner_email.as_str())
    .bind(&new.owner_password_hash)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((id,)) = created {
        return Ok((id, true));
    }
    let (id,): (Uuid,) = sqlx::query_as("SELECT id FROM platform.users WHERE email = $1")
        .bind(new.owner_email.as_str())
        .fetch_one(&mut *tx)
        .await?;
    Ok((id, false))
}
