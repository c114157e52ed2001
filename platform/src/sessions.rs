//! Sessions in PostgreSQL (`platform.sessions`): they survive restarts and work across app
//! nodes. Cookies are host-only, so a store's admin session never travels to another store.

use std::cell::RefCell;

use async_trait::async_trait;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use sqlx::{PgConnection, PgExecutor, PgPool};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
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
        let fetched = THIS_REQUEST
            .try_with(|slot| match slot.replace(Slot::Read) {
                Slot::Fetched(of, record) if of == *id => Some(record),
                _ => None,
            })
            .ok()
            .flatten();
        match fetched {
            Some(record) => Ok(record),
            None => fetch(&self.pool, id).await,
        }
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

/// Reads session `id` unless it expired.
async fn fetch(db: impl PgExecutor<'_>, id: &Id) -> session_store::Result<Option<Record>> {
    let row: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT data, expires_at FROM platform.sessions WHERE id = $1 AND expires_at > now()",
    )
    .bind(id.to_string())
    .fetch_optional(db)
    .await
    .map_err(backend)?;
    row.map(|(data, expires)| record(id, data, expires))
        .transpose()
}

/// A session record from its row.
fn record(
    id: &Id,
    data: serde_json::Value,
    expires: chrono::DateTime<chrono::Utc>,
) -> session_store::Result<Record> {
    Ok(Record {
        id: *id,
        data: serde_json::from_value(data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        expiry_date: time::OffsetDateTime::from_unix_timestamp(expires.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?,
    })
}

/// Where this request's session record stands.
enum Slot {
    /// Not loaded yet.
    Unread,
    /// Read by [`load_on`], for the store's `load` to take.
    Fetched(Id, Option<Record>),
    /// Loaded (or left to the store).
    Read,
}

tokio::task_local! {
    static THIS_REQUEST: RefCell<Slot>;
}

/// Middleware (outside the session layer) that lets a handler load the session on a
/// connection it holds anyway: see [`load_on`].
pub async fn track(req: Request, next: Next) -> Response {
    THIS_REQUEST
        .scope(RefCell::new(Slot::Unread), next.run(req))
        .await
}

/// Loads the request's session, when its cookie names one and it isn't loaded yet, on
/// `conn`: typically the tenant transaction a page opens anyway. The session store would
/// otherwise take a pool connection of its own for it (one more acquire, round trip and
/// release check per page). The session then reads and writes as usual. Outside
/// [`track`] this does nothing and the session loads as it would.
pub async fn load_on(
    conn: &mut PgConnection,
    session: &Session,
) -> Result<(), tower_sessions::session::Error> {
    let Some(id) = unread(session) else {
        return Ok(());
    };
    let record = fetch(conn, &id)
        .await
        .map_err(tower_sessions::session::Error::Store)?;
    hand_over(session, id, record).await
}

/// The request's session id when its record is still to be read (and [`track`] is on): a
/// page may then read the row (`data`, `expires_at` of `platform.sessions` where `id` is
/// this and `expires_at > now()`) in a statement of its own and pass it to
/// [`hand_over_row`].
pub fn unread(session: &Session) -> Option<Id> {
    let id = session.id()?;
    THIS_REQUEST
        .try_with(|slot| matches!(*slot.borrow(), Slot::Unread))
        .unwrap_or(false)
        .then_some(id)
}

/// Hands the session row a page read (see [`unread`]; `None` when there was none, or it
/// expired) to the session, which then reads and writes as usual.
pub async fn hand_over_row(
    session: &Session,
    id: Id,
    row: Option<(serde_json::Value, chrono::DateTime<chrono::Utc>)>,
) -> Result<(), tower_sessions::session::Error> {
    let record = row
        .map(|(data, expires)| record(&id, data, expires))
        .transpose()
        .map_err(tower_sessions::session::Error::Store)?;
    hand_over(session, id, record).await
}

async fn hand_over(
    session: &Session,
    id: Id,
    record: Option<Record>,
) -> Result<(), tower_sessions::session::Error> {
    THIS_REQUEST.with(|slot| slot.replace(Slot::Fetched(id, record)));
    // Any read loads the record; the store's `load` takes the one handed over here.
    session.get_value("").await?;
    Ok(())
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
