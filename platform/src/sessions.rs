//! Sessions in PostgreSQL (`platform.sessions`): they survive restarts and work across app
//! nodes. Cookies are host-only, so a store's admin session never travels to another store.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use uuid::Uuid;

/// Session key holding the signed-in user's id.
pub const USER_ID: &str = "user_id";
/// Session key holding the tenant the sign-in is for.
pub const TENANT_ID: &str = "tenant_id";

/// The session cookie's name.
pub const COOKIE: &str = "sf_session";

/// Stores session records as JSON rows.
#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    /// A store on the platform database.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// The session layer: HttpOnly, SameSite=Lax, Secure in production, expiring after a week
/// without activity.
pub fn layer(pool: PgPool, secure: bool) -> SessionManagerLayer<PgSessionStore> {
    SessionManagerLayer::new(PgSessionStore::new(pool))
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)))
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn expires_at(record: &Record) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(record.expiry_date.unix_timestamp(), 0).unwrap_or_default()
}

fn user_of(record: &Record) -> Option<Uuid> {
    record
        .data
        .get(USER_ID)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are random 128-bit values; on the (astronomically rare) collision pick another.
        loop {
            let data = serde_json::to_value(&record.data).map_err(backend)?;
            let inserted = sqlx::query(
                "INSERT INTO platform.sessions (id, data, user_id, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(data)
            .bind(user_of(record))
            .bind(expires_at(record))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_value(&record.data).map_err(backend)?;
        sqlx::query(
            "INSERT INTO platform.sessions (id, data, user_id, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, user_id = EXCLUDED.user_id, \
             expires_at = EXCLUDED.expires_at",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(user_of(record))
        .bind(expires_at(record))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT data, expires_at FROM platform.sessions WHERE id = $1 AND expires_at > now()",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires)) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_value(data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expires.timestamp())
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM platform.sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of a user, on every node ("log out everywhere").
pub async fn end_all_for_user(pool: &PgPool, user_id: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM platform.sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
