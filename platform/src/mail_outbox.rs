//! The platform's mail outbox: messages are rendered and stored in the transaction of the
//! action that sends them; a worker delivers them with retries and backoff, and gives up
//! (dead-letters) after a number of attempts. Delivery is at-least-once.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use sqlx::{PgConnection, PgPool};

use crate::follow::{Channels, Heard};
use crate::mail::{Mailer, OutgoingMail};

/// Channel that wakes the worker when mail is queued.
const CHANNEL: &str = "storefront_mail";
/// Attempts before a message is dead-lettered.
pub const MAX_ATTEMPTS: i32 = 8;
/// Messages claimed per round; a full round is followed by the next at once.
const BATCH: i64 = 50;
/// Messages of a round being sent at the same time (the SMTP transport keeps a pool of
/// connections): a slow server holds up a few, not the queue.
const SENDING_AT_ONCE: usize = 8;
/// How often the worker looks even without a wake-up (retries come due by time).
const POLL: Duration = Duration::from_secs(5);

/// Queues a message; it is sent once the caller's transaction commits.
pub async fn enqueue(conn: &mut PgConnection, mail: &OutgoingMail) -> sqlx::Result<()> {
    // The row and the senders' wake-up (delivered at commit) in one statement.
    sqlx::query(
        "WITH queued AS ( \
           INSERT INTO platform.mail_outbox \
             (to_address, from_address, reply_to, subject, text_body, html_body) \
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id) \
         SELECT pg_notify($7, '') FROM queued",
    )
    .bind(&mail.to)
    .bind(&mail.from)
    .bind(&mail.reply_to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(CHANNEL)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    i32,
);

/// What one round of [`deliver_due`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    /// Messages taken from the queue.
    pub claimed: usize,
    /// Messages sent.
    pub sent: usize,
}

impl Round {
    /// Whether the queue may hold more that is due now.
    pub fn was_full(&self) -> bool {
        self.claimed as i64 >= BATCH
    }
}

/// Sends what is due, up to a batch, several at a time; returns what it did.
pub async fn deliver_due(pool: &PgPool, mailer: &dyn Mailer) -> anyhow::Result<Round> {
    let mut tx = tenant_store::begin_platform(pool).await?;
    // SKIP LOCKED: several workers (app nodes) share the queue without sending twice.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, to_address, from_address, reply_to, subject, text_body, html_body, attempts \
         FROM platform.mail_outbox \
         WHERE sent_at IS NULL AND dead_at IS NULL AND available_at <= now() \
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let claimed = rows.len();
    let outcomes: Vec<(i64, i32, Result<(), crate::mail::MailError>)> = futures::stream::iter(rows)
        .map(
            |(id, to, from, reply_to, subject, text, html, attempts)| async move {
                let mail = OutgoingMail {
                    to,
                    from,
                    reply_to,
                    subject,
                    text,
                    html,
                };
                (id, attempts, mailer.send(&mail).await)
            },
        )
        .buffer_unordered(SENDING_AT_ONCE)
        .collect()
        .await;
    let mut sent = Vec::with_capacity(claimed);
    for (id, attempts, outcome) in outcomes {
        match outcome {
            Ok(()) => sent.push(id),
            Err(e) => {
                let attempts = attempts + 1;
                let dead = !e.is_retryable() || attempts >= MAX_ATTEMPTS;
                // 30 s, 1 min, 2 min, ... capped at an hour.
                let backoff = (30_i64 << (attempts - 1).min(7)).min(3600);
                tracing::warn!(mail.id = id, attempts, dead, error = %e, "sending mail failed");
                sqlx::query(
                    "UPDATE platform.mail_outbox SET attempts = $2, last_error = $3, \
                     available_at = now() + make_interval(secs => $4), \
                     dead_at = CASE WHEN $5 THEN now() END WHERE id = $1",
                )
                .bind(id)
                .bind(attempts)
                .bind(e.to_string())
                .bind(backoff as f64)
                .bind(dead)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    // Every message sent in this round marked at once (they stay locked until then).
    if !sent.is_empty() {
        sqlx::query(
            "UPDATE platform.mail_outbox SET sent_at = now(), attempts = attempts + 1 \
             WHERE id = ANY($1)",
        )
        .bind(&sent)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Round {
        claimed,
        sent: sent.len(),
    })
}

/// Runs the delivery loop until aborted: woken when mail is queued (a notification on the
/// node's listener, see [`crate::follow`]), and every few seconds for retries.
pub fn spawn_worker(
    pool: PgPool,
    mailer: Arc<dyn Mailer>,
    channels: &mut Channels,
) -> tokio::task::JoinHandle<()> {
    let mut queued = channels.subscribe(CHANNEL);
    tokio::spawn(async move {
        loop {
            match deliver_due(&pool, mailer.as_ref()).await {
                // More may be due: no waiting while there is work.
                Ok(round) if round.was_full() => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail outbox round failed"),
            }
            // Woken by a notification, or at the next poll; being told the listener is
            // deaf (again each second while it is) wakes nothing.
            let next_poll = tokio::time::Instant::now() + POLL;
            while let Ok(Heard::Deaf) = tokio::time::timeout_at(next_poll, queued.recv()).await {}
        }
    })
}
