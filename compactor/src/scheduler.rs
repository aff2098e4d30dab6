//! The compaction loop: find collections whose log runs past their version and compact them,
//! a few at a time; collect garbage between rounds.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_common::CollectionId;

use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::{CompactError, Compactor, Outcome};

/// A collection whose compaction keeps failing, and when it may be tried again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    failures: u32,
    until: Instant,
}

impl Compactor {
    /// Records a failed attempt: the next one waits `retry_backoff`, doubled per failure in a
    /// row, at most `max_retry_backoff`.
    fn failed(&self, id: CollectionId, now: Instant) -> Duration {
        let mut backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let failures = backoff.get(&id).map_or(0, |b| b.failures) + 1;
        let wait = self
            .config
            .retry_backoff
            .saturating_mul(1 << (failures - 1).min(16))
            .min(self.config.max_retry_backoff);
        backoff.insert(
            id,
            Backoff {
                failures,
                until: now + wait,
            },
        );
        wait
    }

    fn backing_off(&self, id: &CollectionId, now: Instant) -> bool {
        let backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        backoff.get(id).is_some_and(|b| b.until > now)
    }

    /// Of the lagging collections (largest tail first), those to compact now: a tail of at
    /// least `min_tail_records`, or one this compactor has seen waiting for `max_tail_age`.
    /// Small trickles of writes thus make one version per `max_tail_age`, not one per round.
    fn due(&self, lagging: Vec<(CollectionId, u64)>) -> Vec<CollectionId> {
        let now = self.clock.instant();
        let mut seen = self.waiting_since.lock().unwrap_or_else(|p| p.into_inner());
        let lagging_ids: HashSet<CollectionId> = lagging.iter().map(|(id, _)| *id).collect();
        seen.retain(|id, _| lagging_ids.contains(id));
        lagging
            .into_iter()
            .filter(|(id, _)| !self.backing_off(id, now))
            .filter(|(id, lag)| {
                let since = *seen.entry(*id).or_insert(now);
                *lag >= self.config.min_tail_records
                    || now.duration_since(since) >= self.config.max_tail_age
            })
            .map(|(id, _)| id)
            .collect()
    }

    /// Compacts every collection that needs it once. Returns how many got a new version.
    pub async fn run_once(&self) -> Result<usize, CompactError> {
        let lagging = self.sysdb.uncompacted_collections(256).await?;
        let mut ids = self.due(lagging);
        if let Some(peers) = &self.peers {
            // With several compactors, each collection is compacted by the one its rendezvous
            // hash picks among live compactors; a compactor missing from the list (its
            // heartbeat is late) compacts nothing rather than race the others.
            let ring = peers.nodes.ring().await.map_err(CompactError::Membership)?;
            ids.retain(|id| {
                ring.owner(&id.to_string())
                    .is_some_and(|m| m.id == peers.self_id)
            });
        }
        let outcomes: Vec<_> = futures::stream::iter(ids)
            .map(|id| async move { (id, self.compact(id).await) })
            .buffer_unordered(self.config.parallelism.max(1))
            .collect()
            .await;
        let mut registered = 0;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(outcome) => {
                    self.backoff
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    if matches!(outcome, Outcome::Registered { .. }) {
                        registered += 1;
                    }
                }
                Err(e) => {
                    let wait = self.failed(id, self.clock.instant());
                    tracing::warn!(collection = %id, error = %e, retry_in_ms = wait.as_millis() as u64, "compaction failed")
                }
            }
        }
        Ok(registered)
    }

    /// Runs compaction rounds every `interval` until the task is aborted.
    pub fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.config.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut rounds: u64 = 0;
            loop {
                ticker.tick().await;
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "compaction round failed");
                }
                rounds += 1;
                if rounds.is_multiple_of(20) {
                    if let Err(e) = self.collect_garbage(self.clock.now_ms()).await {
                        tracing::warn!(error = %e, "garbage collection failed");
                    }
                }
            }
        })
    }
}
