//! Following a `NOTIFY` channel to keep a node's in-memory cache fresh: the hostname map,
//! the store themes and the page cache each listen to their own channel the same way.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// A cache that follows a channel.
#[async_trait]
pub trait Follower: Send + Sync + 'static {
    /// Drops what one notification's payload names.
    async fn changed(&self, payload: &str);
    /// Drops everything: notifications may have been missed (before LISTEN took effect, or
    /// while the connection was down).
    fn forget_all(&self);
    /// Told when the node starts (true) or stops (false) hearing changes.
    fn following(&self, _on: bool) {}
}

/// Listens on `channel` for `follower` until the task is aborted, reconnecting after a
/// second when the connection drops; `what` names the cache in logs.
pub fn spawn(
    pool: PgPool,
    channel: &'static str,
    what: &'static str,
    follower: Arc<dyn Follower>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = listen(&pool, channel, follower.as_ref()).await {
                tracing::warn!(error = %e, "{what} listener lost its connection; retrying");
            }
            follower.following(false);
            follower.forget_all();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn listen(pool: &PgPool, channel: &str, follower: &dyn Follower) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    // Anything that changed before LISTEN took effect is unknown: start clean.
    follower.forget_all();
    follower.following(true);
    loop {
        match listener.try_recv().await? {
            Some(n) => follower.changed(n.payload()).await,
            // The connection dropped and was re-established: notifications may be lost.
            None => follower.forget_all(),
        }
    }
}
