//! Versioned SQL migrations, embedded in the binary, applied one schema per transaction.
//!
//! Files are named `NNNN_description.sql`. Tenant migrations live in `migrations/tenant/`
//! and are written expand/contract: a schema one version behind must keep serving the
//! running code, so a migration adds (columns with defaults, tables, indexes) and a later
//! one removes what the code no longer reads.

use std::borrow::Cow;
use std::sync::LazyLock;

use include_dir::{Dir, include_dir};
use sqlx::{Executor as _, PgConnection};

use crate::{StoreError, TenantSchema, tx};

static TENANT_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../migrations/tenant");
static TENANT: LazyLock<Migrations> = LazyLock::new(|| {
    Migrations::from_dir(&TENANT_DIR).expect("migrations/tenant holds well-named files")
});

/// One migration: a version, a name and the SQL to run.
#[derive(Clone, Debug)]
pub struct Migration {
    /// Strictly increasing version number (the `NNNN` of the file name).
    pub version: i64,
    /// The description part of the file name.
    pub name: Cow<'static, str>,
    /// The statements to run, in one transaction with the rest of the schema's upgrade.
    pub sql: Cow<'static, str>,
}

/// An ordered list of migrations with unique versions.
#[derive(Clone, Debug, Default)]
pub struct Migrations(Vec<Migration>);

impl Migrations {
    /// The tenant schema migrations shipped in this binary.
    pub fn tenant() -> &'static Migrations {
        &TENANT
    }

    /// Reads `NNNN_name.sql` files from an embedded directory.
    pub fn from_dir(dir: &'static Dir<'static>) -> Result<Self, String> {
        let mut list = Vec::new();
        for file in dir.files() {
            let file_name = file
                .path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            let Some(stem) = file_name.strip_suffix(".sql") else {
                continue;
            };
            let (version, name) = stem
                .split_once('_')
                .and_then(|(v, n)| Some((v.parse::<i64>().ok()?, n)))
                .ok_or_else(|| format!("{file_name}: expected NNNN_description.sql"))?;
            let sql = file
                .contents_utf8()
                .ok_or_else(|| format!("{file_name}: not UTF-8"))?;
            list.push(Migration {
                version,
                name: Cow::Borrowed(name),
                sql: Cow::Borrowed(sql),
            });
        }
        Self::from_list(list)
    }

    fn from_list(mut list: Vec<Migration>) -> Result<Self, String> {
        list.sort_by_key(|m| m.version);
        if let Some(w) = list.windows(2).find(|w| w[0].version == w[1].version) {
            return Err(format!("two migrations share version {}", w[0].version));
        }
        if list.first().is_some_and(|m| m.version <= 0) {
            return Err("migration versions start at 1".into());
        }
        Ok(Self(list))
    }

    /// These migrations plus `extra`, which must come after the last one.
    pub fn with(&self, extra: Migration) -> Self {
        assert!(
            extra.version > self.latest(),
            "an added migration must be newer than the latest"
        );
        let mut list = self.0.clone();
        list.push(extra);
        Self(list)
    }

    /// The version a schema has once all of these are applied (0 when there are none).
    pub fn latest(&self) -> i64 {
        self.0.last().map_or(0, |m| m.version)
    }

    /// The migrations newer than `version`, in order.
    pub fn after(&self, version: i64) -> &[Migration] {
        let start = self.0.partition_point(|m| m.version <= version);
        &self.0[start..]
    }
}

/// Runs the migrations newer than `current` on the current `search_path`, recording each in
/// that schema's `schema_migrations` table. Runs inside the caller's transaction, so a failure
/// leaves the schema as it was. Returns the new version.
pub async fn apply_pending(
    conn: &mut PgConnection,
    migrations: &Migrations,
    current: i64,
) -> Result<i64, StoreError> {
    let mut version = current;
    for m in migrations.after(current) {
        let fail = |source: sqlx::Error| StoreError::Migration {
            version: m.version,
            name: m.name.to_string(),
            source,
        };
        // No bind parameters: the simple query protocol runs every statement in the file.
        (&mut *conn).execute(m.sql.as_ref()).await.map_err(fail)?;
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(m.version)
            .bind(m.name.as_ref())
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
        version = m.version;
    }
    Ok(version)
}

/// Applies the migrations newer than `current` to an existing tenant schema, inside the
/// caller's transaction. Returns the new version.
pub async fn upgrade_schema(
    conn: &mut PgConnection,
    schema: &TenantSchema,
    migrations: &Migrations,
    current: i64,
) -> Result<i64, StoreError> {
    tx::enter(conn, schema).await?;
    let version = apply_pending(conn, migrations, current).await?;
    tx::leave(conn).await?;
    Ok(version)
}

/// Drops a tenant schema and everything in it, inside the caller's transaction.
pub async fn drop_schema(conn: &mut PgConnection, schema: &TenantSchema) -> Result<(), StoreError> {
    conn.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: i64) -> Migration {
        Migration {
            version,
            name: format!("m{version}").into(),
            sql: "".into(),
        }
    }

    #[test]
    fn shipped_tenant_migrations_parse_and_start_at_one() {
        let t = Migrations::tenant();
        assert!(t.latest() >= 1);
        assert_eq!(t.after(0)[0].version, 1);
        assert!(t.after(t.latest()).is_empty());
    }

    #[test]
    fn after_returns_only_newer_migrations_in_order() {
        let ms = Migrations::from_list(vec![m(3), m(1), m(2)]).unwrap();
        let versions: Vec<i64> = ms.after(1).iter().map(|m| m.version).collect();
        assert_eq!(versions, [2, 3]);
        assert_eq!(ms.latest(), 3);
        assert_eq!(ms.with(m(7)).latest(), 7);
    }

    #[test]
    fn duplicate_versions_are_refused() {
        assert!(Migrations::from_list(vec![m(1), m(1)]).is_err());
        assert!(Migrations::from_list(vec![m(0)]).is_err());
    }
}
