//! The indexing loop: woken by `NOTIFY tenant_outbox` (sent at commit by a trigger on every
//! store's outbox, with the store's schema as payload), it syncs just the stores that wrote
//! events. A slow sweep over the registry catches what a missed notification (a dropped
//! listener connection, a node that was down) left behind, so no store is polled per tick.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tenant_store::TenantSchema;

use super::SearchIndexes;
use crate::follow::{Channels, Heard};

/// The channel the outbox trigger notifies.
const CHANNEL: &str = "tenant_outbox";
/// How soon a store with events still held back by a running transaction is looked at again.
const RETRY: Duration = Duration::from_millis(250);
/// How long notifications are gathered after the first one, so a burst becomes one batch.
const GATHER: Duration = Duration::from_millis(20);
/// Most stores gathered before a round starts.
const GATHER_MAX: usize = 1_000;

/// Runs the indexing loop until aborted; `sweep` is how often every store is checked.
pub fn spawn_worker(
    indexes: Arc<SearchIndexes>,
    db: PgPool,
    sweep: Duration,
    channels: &mut Channels,
) -> tokio::task::JoinHandle<()> {
    let mut outbox = channels.subscribe(CHANNEL);
    tokio::spawn(async move {
        let mut dirty: BTreeSet<String> = BTreeSet::new();
        let mut later: BTreeSet<String> = BTreeSet::new();
        // The first sweep comes when the listener starts listening (and another each time
        // it listens again): notifications sent before are unknown.
        let mut next_sweep = Instant::now() + sweep;
        loop {
            if Instant::now() >= next_sweep {
                match crate::tenancy::list(&db).await {
                    Ok(tenants) => {
                        dirty.extend(tenants.into_iter().map(|t| t.schema.as_str().to_owned()));
                    }
                    Err(e) => tracing::warn!(error = %e, "search sweep: listing stores failed"),
                }
                next_sweep = Instant::now() + sweep;
            }
            while let Some(name) = dirty.pop_first() {
                let Ok(schema) = TenantSchema::from_registry(name.clone()) else {
                    continue;
                };
                match indexes.sync(&schema).await {
                    Ok(synced) => {
                        if synced.applied > 0 || synced.rebuilt {
                            tracing::debug!(tenant.schema = %schema, ?synced, "search index synced");
                        }
                        if synced.pending > 0 || synced.busy {
                            later.insert(name);
                        }
                    }
                    // Left for the next notification or sweep (e.g. a store being deleted).
                    Err(e) => {
                        tracing::warn!(tenant.schema = %schema, error = %format!("{e:#}"), "search indexing failed")
                    }
                }
            }
            let wait = if later.is_empty() {
                next_sweep.saturating_duration_since(Instant::now())
            } else {
                RETRY
            };
            match tokio::time::timeout(wait, outbox.recv()).await {
                Ok(Heard::Notified(store)) => {
                    indexes.mark_behind(&store);
                    dirty.insert(store);
                    while dirty.len() < GATHER_MAX {
                        match tokio::time::timeout(GATHER, outbox.recv()).await {
                            Ok(Heard::Notified(store)) => {
                                indexes.mark_behind(&store);
                                dirty.insert(store);
                            }
                            Ok(Heard::Listening) => {
                                next_sweep = Instant::now();
                                break;
                            }
                            Ok(Heard::Deaf) | Err(_) => break,
                        }
                    }
                }
                // Notifications sent while nobody listened are lost: look everywhere.
                Ok(Heard::Listening) => next_sweep = Instant::now(),
                Ok(Heard::Deaf) | Err(_) => {}
            }
            dirty.append(&mut later);
        }
    })
}
