//! Reads that travel as one message with their tenant scope ([`read_at_once`]), on
//! connections of their own (a [`ReadLane`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection as _, Executor as _, PgConnection};
use tokio::sync::Semaphore;

use crate::tx::{checked_name, literal};
use crate::{StoreError, TenantSchema};

/// A statement that only reads, for [`read_at_once`]: prepared on each connection the first
/// time it runs there, under `name`; `$1`, `$2`, ... in `sql` are text parameters.
#[derive(Clone, Copy, Debug)]
pub struct ReadStatement<'a> {
    /// The prepared statement's name on each connection: `[a-z0-9_]`, one per statement.
    pub name: &'a str,
    /// The statement.
    pub sql: &'a str,
}

/// How a [`ReadLane`] keeps its connections.
#[derive(Clone, Copy, Debug)]
pub struct LaneLimits {
    /// Connections open at most (reads beyond wait for one).
    pub max_connections: usize,
    /// How long a read waits for a connection before it fails.
    pub acquire_timeout: Duration,
    /// A connection is closed once this old (PostgreSQL keeps catalog entries of every
    /// schema a connection touched: with thousands of stores a long-lived one grows).
    pub max_lifetime: Duration,
    /// A connection unused for this long is closed.
    pub idle_timeout: Duration,
}

impl LaneLimits {
    /// The same lifetimes as the application's pool, with `max_connections` connections.
    pub fn new(max_connections: usize) -> Self {
        Self {
            max_connections: max_connections.max(1),
            acquire_timeout: Duration::from_secs(10),
            max_lifetime: Duration::from_secs(15 * 60),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Connections kept for [`read_at_once`], apart from the pool.
///
/// A pooled connection is checked with a round trip to the server every time it goes back
/// to the pool (sqlx cannot know what its user left unfinished on it). A lane's connection
/// serves nothing but whole one-message reads: it goes back only after the server has
/// answered all of the message, so it is known to be idle, outside any transaction and
/// back in the `no_tenant` schema, and needs no check. A read dropped midway (the shopper
/// closed the page) drops its connection with it, closing it: nothing half-read is ever
/// handed on. The lane also remembers which statements each connection has prepared.
///
/// Cheap to clone (a handle). Connections are opened when needed, up to
/// [`LaneLimits::max_connections`], and closed when too old or idle too long.
#[derive(Clone)]
pub struct ReadLane {
    inner: Arc<Lane>,
}

struct Lane {
    options: PgConnectOptions,
    limits: LaneLimits,
    /// One permit per connection the lane may have in use.
    slots: Semaphore,
    /// Idle connections, the most recently used last.
    idle: Mutex<Vec<LaneConn>>,
}

struct LaneConn {
    conn: PgConnection,
    opened: Instant,
    used: Instant,
    /// Statements prepared on this connection, with when each last ran (a count of reads).
    prepared: HashMap<String, u64>,
    /// Reads this connection has served.
    reads: u64,
}

impl LaneConn {
    fn worn(&self, limits: &LaneLimits, now: Instant) -> bool {
        now.duration_since(self.opened) >= limits.max_lifetime
            || now.duration_since(self.used) >= limits.idle_timeout
    }
}

impl std::fmt::Debug for ReadLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadLane")
            .field("limits", &self.inner.limits)
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl ReadLane {
    /// A lane connecting with `options` (those of the application's pool: they start each
    /// connection in the `no_tenant` schema). Opens nothing yet.
    pub fn new(options: PgConnectOptions, limits: LaneLimits) -> Self {
        Self {
            inner: Arc::new(Lane {
                options,
                slots: Semaphore::new(limits.max_connections),
                limits,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Connections open and idle now.
    pub fn idle_count(&self) -> usize {
        self.idle().len()
    }

    /// Takes an idle connection out of the lane, for a check of the state reads leave it in
    /// (tests, diagnostics). The lane opens another when it needs one.
    pub fn take_idle(&self) -> Option<PgConnection> {
        self.idle().pop().map(|c| c.conn)
    }

    /// Closes the idle connections and refuses further reads.
    pub async fn close(&self) {
        self.inner.slots.close();
        let idle = std::mem::take(&mut *self.idle());
        for c in idle {
            let _ = c.conn.close().await;
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<LaneConn>> {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for one read: the most recently used idle one, or a new one.
    async fn take(&self) -> Result<LaneConn, sqlx::Error> {
        loop {
            let now = Instant::now();
            let Some(c) = self.idle().pop() else { break };
            if !c.worn(&self.inner.limits, now) {
                return Ok(c);
            }
            close_soon(c.conn);
        }
        // A server that accepts but never answers (gone behind a partition) must not hold
        // the read for longer than waiting for a connection may take.
        let conn = tokio::time::timeout(
            self.inner.limits.acquire_timeout,
            PgConnection::connect_with(&self.inner.options),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
        let now = Instant::now();
        Ok(LaneConn {
            conn,
            opened: now,
            used: now,
            prepared: HashMap::new(),
            reads: 0,
        })
    }

    /// Gives back a connection whose read was answered in full, and closes those left idle
    /// too long (at the front: the least recently used).
    fn give_back(&self, mut c: LaneConn) {
        let now = Instant::now();
        c.used = now;
        let mut worn = Vec::new();
        {
            let mut idle = self.idle();
            while idle
                .first()
                .is_some_and(|first| first.worn(&self.inner.limits, now))
            {
                worn.push(idle.remove(0));
            }
            if !c.worn(&self.inner.limits, now) {
                idle.push(c);
            } else {
                worn.push(c);
            }
        }
        for c in worn {
            close_soon(c.conn);
        }
    }
}

/// Ends a connection politely (`Terminate`) without making anyone wait for it.
fn close_soon(conn: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = conn.close().await;
        });
    }
}

/// Statements a lane connection keeps prepared at most (one per statement and store): past
/// it, the least recently run is let go. PostgreSQL keeps each one's plan in the
/// connection's memory.
pub const MAX_PREPARED: usize = 256;

/// Runs `read` with `args` (text values) in a tenant transaction that travels as one
/// message with its scope: `SET LOCAL search_path TO <schema>; SET TRANSACTION READ ONLY;
/// EXECUTE <name>(<args>)`. PostgreSQL runs the statements of one simple-protocol message as
/// one implicit transaction, so the setting ends with the message, an error rolls it back,
/// and nothing can be written. A page that reads in one statement pays one round trip for
/// it, where [`crate::begin`] and a query pay two, and its connection goes back to the
/// [`ReadLane`] with no check (see there).
///
/// The statement is prepared on the connection (`PREPARE`, in the same message) the first
/// time it runs there for the store, under a name of its own per store (see
/// [`MAX_PREPARED`]), and PostgreSQL plans a prepared statement once it has seen a few
/// runs, as it does the statements `sqlx` caches; a statement sent as text would be planned
/// on every run. Its result type must not vary between schemas (never `SELECT *`). Rows
/// come in text format, which the usual `sqlx` decoding reads.
///
/// A connection whose read failed is closed rather than kept: the lane never has to reason
/// about the state an error left. A kept connection found dropped (an I/O error: the
/// server restarted, the network was cut) makes the lane let every idle connection go and
/// read once more on a new one, so a database back after an outage answers at once.
pub async fn read_at_once(
    lane: &ReadLane,
    schema: &TenantSchema,
    read: ReadStatement<'_>,
    args: &[&str],
) -> Result<Vec<PgRow>, StoreError> {
    debug_assert!(
        read.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    );
    let permit = tokio::time::timeout(
        lane.inner.limits.acquire_timeout,
        lane.inner.slots.acquire(),
    )
    .await
    .map_err(|_| sqlx::Error::PoolTimedOut)?
    .map_err(|_| sqlx::Error::PoolClosed)?;
    let values = args
        .iter()
        .map(|a| literal(a))
        .collect::<Vec<_>>()
        .join(", ");
    let schema = checked_name(schema);
    // One prepared statement per store: PostgreSQL parses and plans a prepared statement
    // again whenever `search_path` differs from the one it was planned under, so a
    // statement shared by the stores would be planned afresh each time the store changes.
    let name = format!("{}__{schema}", read.name);
    let planned = Planned {
        schema,
        name: &name,
        sql: read.sql,
        params: args.len(),
        values: &values,
    };
    let mut c = lane.take().await?;
    let reused = c.reads > 0;
    let result = match planned.run(&mut c).await {
        // An idle connection the server or the way to it dropped (a restart, a network
        // cut): the other idle ones likely went with it. Forget them all, and read once
        // more on a new connection (a read changes nothing: it may run again).
        Err(sqlx::Error::Io(_)) if reused => {
            close_soon(c.conn);
            for idle in std::mem::take(&mut *lane.idle()) {
                close_soon(idle.conn);
            }
            c = lane.take().await?;
            planned.run(&mut c).await
        }
        other => other,
    };
    match result {
        Ok(rows) => {
            lane.give_back(c);
            drop(permit);
            Ok(rows)
        }
        Err(e) => {
            close_soon(c.conn);
            drop(permit);
            Err(e.into())
        }
    }
}

/// A read of [`read_at_once`], ready to be sent on a lane connection.
struct Planned<'a> {
    schema: &'a str,
    /// The prepared statement's name on the connection.
    name: &'a str,
    sql: &'a str,
    params: usize,
    /// The arguments as SQL literals, comma-separated.
    values: &'a str,
}

impl Planned<'_> {
    /// Sends the read as one message (preparing its statement on `c` first if needed) and
    /// keeps `c`'s account of its prepared statements.
    async fn run(&self, c: &mut LaneConn) -> Result<Vec<PgRow>, sqlx::Error> {
        let mut message = format!(
            "SET LOCAL search_path TO \"{}\"; SET TRANSACTION READ ONLY; ",
            self.schema
        );
        c.reads += 1;
        let mut forgotten = None;
        if !c.prepared.contains_key(self.name) {
            if c.prepared.len() >= MAX_PREPARED
                && let Some(oldest) = c
                    .prepared
                    .iter()
                    .min_by_key(|(_, used)| **used)
                    .map(|(n, _)| n.clone())
            {
                message.push_str(&format!("DEALLOCATE {oldest}; "));
                forgotten = Some(oldest);
            }
            // `PREPARE name() AS ...` and `EXECUTE name()` are syntax errors: no
            // parentheses without parameters.
            let types = match self.params {
                0 => String::new(),
                n => format!("({})", vec!["text"; n].join(", ")),
            };
            message.push_str(&format!("PREPARE {}{types} AS {}; ", self.name, self.sql));
        }
        if self.values.is_empty() {
            message.push_str(&format!("EXECUTE {}", self.name));
        } else {
            message.push_str(&format!("EXECUTE {}({})", self.name, self.values));
        }
        // Through `Executor`, whose future is boxed as `Send`: `RawSql::fetch_all`'s bounds
        // keep a caller's future from being proven `Send`.
        let rows = c.conn.fetch_all(sqlx::raw_sql(&message)).await?;
        if let Some(oldest) = forgotten {
            c.prepared.remove(&oldest);
        }
        c.prepared.insert(self.name.to_owned(), c.reads);
        Ok(rows)
    }
}
