//! The compaction loop: find collections whose log runs past their version and compact them,
//! a few at a time; collect garbage between rounds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_common::clock::{DynEntropy, Entropy};
use silt_common::trace::{self, RequestId};
use silt_common::CollectionId;

use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::{CompactError, Compactor, Outcome};

/// Rows read from the catalog at a time while looking for due collections.
const PAGE: u32 = 1000;
/// Most collections one round compacts; the rest wait for the next round, oldest first.
const ROUND_MAX: usize = 256;

/// Where the ids of background rounds come from (they only group log lines).
static ROUND_IDS: std::sync::LazyLock<DynEntropy> = std::sync::LazyLock::new(Entropy::system);

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

    /// Which collections are this compactor's to compact and collect. With several
    /// compactors, each collection belongs to the one its rendezvous hash picks among live
    /// compactors; a compactor missing from the list (its heartbeat is late) takes nothing
    /// rather than race the others.
    pub(crate) async fn ownership(
        &self,
    ) -> Result<impl Fn(&CollectionId) -> bool + '_, CompactError> {
        let ring = match &self.peers {
            Some(peers) => Some(peers.nodes.ring().await.map_err(CompactError::Membership)?),
            None => None,
        };
        Ok(move |id: &CollectionId| match (&ring, &self.peers) {
            (Some(ring), Some(peers)) => ring
                .owner(&id.to_string())
                .is_some_and(|m| m.id == peers.self_id),
            _ => true,
        })
    }

    /// Collections to compact this round, oldest tail first: a tail of at least
    /// `min_tail_records` (merging it into every strong read and holding it in the log node's
    /// memory is what costs), or one that has waited `max_tail_age` (the long bound: a trickle
    /// of writes makes one version per bound, not one per write). The catalog knows both, so
    /// the order survives restarts and every lagging collection is reached, a page at a time.
    async fn due(&self) -> Result<Vec<CollectionId>, CompactError> {
        let now = self.clock.instant();
        let started_before = self
            .clock
            .now_ms()
            .saturating_sub(self.config.max_tail_age.as_millis() as i64);
        let mine = self.ownership().await?;
        let mut lag = crate::metrics::Lag::new(self.clock.now_ms());
        let mut due = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .sysdb
                .due_for_compaction(
                    self.config.min_tail_records,
                    started_before,
                    after.as_ref(),
                    PAGE,
                )
                .await?;
            let last_page = page.len() < PAGE as usize;
            after = page.last().cloned();
            for tail in page {
                if mine(&tail.id) {
                    lag.add(tail.lag, tail.tail_since_ms);
                }
                if mine(&tail.id) && !self.backing_off(&tail.id, now) {
                    due.push(tail.id);
                    if due.len() >= ROUND_MAX {
                        return Ok(due);
                    }
                }
            }
            if last_page {
                return Ok(due);
            }
        }
    }

    /// Compacts every collection that needs it once. Returns how many got a new version.
    pub async fn run_once(&self) -> Result<usize, CompactError> {
        let ids = self.due().await?;
        let outcomes: Vec<_> = futures::stream::iter(ids)
            .map(|id| async move {
                let started = self.clock.instant();
                let outcome = self.compact(id).await;
                let took = self.clock.instant().saturating_duration_since(started);
                crate::metrics::compaction(&outcome, took);
                (id, outcome)
            })
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
                    tracing::warn!(collection = %id, error = %e, retry_in_ms = wait.as_millis() as u64, "compaction failed");
                    // For `silt admin status`; losing this note costs nothing but the display.
                    if let Err(note) = self
                        .sysdb
                        .record_compaction_failure(id, &e.to_string())
                        .await
                    {
                        tracing::debug!(collection = %id, error = %note, "could not record the failure");
                    }
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
                // Each round is traced as a request of its own (its log lines and the log
                // nodes' lines for its calls share an id); ids drawn from the system, not
                // `self.entropy`, so a simulation's draws do not depend on how often it ticks.
                let round = RequestId::background("compaction", &ROUND_IDS);
                trace::within(round, async {
                    if let Err(e) = self.run_once().await {
                        tracing::warn!(error = %e, "compaction round failed");
                    }
                })
                .await;
                rounds += 1;
                if rounds.is_multiple_of(20) {
                    let round = RequestId::background("gc", &ROUND_IDS);
                    trace::within(round, async {
                        if let Err(e) = self.collect_garbage(self.clock.now_ms()).await {
                            tracing::warn!(error = %e, "garbage collection failed");
                        }
                    })
                    .await;
                }
            }
        })
    }
}
