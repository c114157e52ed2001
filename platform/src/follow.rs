//! Following `NOTIFY` channels. A node listens on one connection of its own, outside the
//! pool, on every channel it follows (hostnames, themes, stored pages, the mail outbox, the
//! search outbox), and hands each notification to whoever subscribed to its channel: the
//! pool's connections are all left to requests, and `DATABASE_MAX_CONNECTIONS` counts this
//! one too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::mpsc;

/// What a subscription hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The node listens (again): anything notified before is unknown.
    Listening,
    /// A notification on the subscribed channel, with its payload.
    Notified(String),
    /// The listening connection is down: notifications are being missed (told again after
    /// each failed attempt to listen, about once a second).
    Deaf,
}

/// The channels a node follows, gathered before its listener starts.
#[derive(Default)]
pub struct Channels {
    subscribers: Vec<(&'static str, mpsc::UnboundedSender<Heard>)>,
}

/// One subscriber's share of what the listener hears.
pub struct Subscription(mpsc::UnboundedReceiver<Heard>);

impl Subscription {
    /// The next thing heard; waits for ever once the listener has stopped (the node is
    /// shutting down).
    pub async fn recv(&mut self) -> Heard {
        match self.0.recv().await {
            Some(heard) => heard,
            None => std::future::pending().await,
        }
    }
}

impl Channels {
    pub fn new() -> Self {
        Self::default()
    }

    /// A subscription to `channel`, heard from once the listener has started.
    pub fn subscribe(&mut self, channel: &'static str) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push((channel, tx));
        Subscription(rx)
    }

    /// Listens on every subscribed channel on one connection made with `options` (in a pool
    /// of its own, of one connection, through which the listener reconnects), until the
    /// task is aborted; after a lost connection it tries again every second.
    pub fn start(self, options: PgConnectOptions) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let hub = self;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .test_before_acquire(false)
                // Subscribers hear "deaf" while it tries: a try may give up soon.
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(options);
            let mut channels: Vec<&'static str> = hub.subscribers.iter().map(|s| s.0).collect();
            channels.sort_unstable();
            channels.dedup();
            loop {
                if let Err(e) = hub.listen(&pool, &channels).await {
                    tracing::warn!(error = %e, "notification listener lost its connection; retrying");
                }
                hub.tell_all(&Heard::Deaf);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    /// Listens until the connection is lost. "Listening" is told only once `LISTEN` has
    /// taken effect on a live connection, and the caller tells "deaf" as soon as it is
    /// lost: sqlx's listener would reconnect by itself inside `try_recv`, and until that
    /// attempt ended (up to the pool's acquire timeout, against a database that is gone)
    /// subscribers would have gone on trusting what they kept.
    async fn listen(&self, pool: &sqlx::PgPool, channels: &[&str]) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.eager_reconnect(false);
        listener.listen_all(channels.iter().copied()).await?;
        self.tell_all(&Heard::Listening);
        loop {
            match listener.try_recv().await? {
                Some(n) => {
                    for (channel, tx) in &self.subscribers {
                        if *channel == n.channel() {
                            let _ = tx.send(Heard::Notified(n.payload().to_owned()));
                        }
                    }
                }
                None => anyhow::bail!("the listening connection was lost"),
            }
        }
    }

    fn tell_all(&self, heard: &Heard) {
        for (_, tx) in &self.subscribers {
            let _ = tx.send(heard.clone());
        }
    }
}

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

/// Keeps `follower` in step with what `subscription` hears, until the task is aborted.
pub fn spawn(
    mut subscription: Subscription,
    follower: Arc<dyn Follower>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match subscription.recv().await {
                Heard::Listening => {
                    follower.forget_all();
                    follower.following(true);
                }
                Heard::Notified(payload) => follower.changed(&payload).await,
                Heard::Deaf => {
                    follower.following(false);
                    follower.forget_all();
                }
            }
        }
    })
}
