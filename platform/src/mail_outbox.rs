//! The platform's mail outbox: messages are rendered and stored in the transaction of the
//! action that sends them; a worker delivers them with retries and backoff, and gives up
//! (dead-letters) after a number of attempts. Delivery is at-least-once.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use crate::follow::{Channels, Heard};
use crate::mail::{Mailer, OutgoingMail};

/// Channel that wakes the worker when mail is queued.
const CHANNEL: &str = "storefront_mail";
/// Attempts before a message is dead-lettered.
pub const MAX_ATTEMPTS: i32 = 8;
/// Messages claimed per round.
const BATCH: i64 = 20;
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

/// Sends what is due; returns how many messages were sent.
pub async fn deliver_due(pool: &PgPool, mailer: &dyn Mailer) -> anyhow::Result<usize> {
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
    let mut sent = Vec::with_capacity(rows.len());
    for (id, to, from, reply_to, subject, text, html, attempts) in rows {
        let mail = OutgoingMail {
            to,
            from,
            reply_to,
            subject,
            text,
            html,
        };
        match mailer.send(&mail).await {
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
    Ok(sent.len())
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
            if let Err(e) = deliver_due(&pool, mailer.as_ref()).await {
                tracing::warn!(error = %e, "mail outbox round failed");
            }
            // Woken by a notification, or at the next poll; being told the listener is
            // deaf (again each second while it is) wakes nothing.
            let next_poll = tokio::time::Instant::now() + POLL;
            while let Ok(Heard::Deaf) = tokio::time::timeout_at(next_poll, queued.recv()).await {}
        }
    })
}
