//! The compaction loop: find collections whose log runs past their version and compact them,
//! a few at a time; collect garbage between rounds.

use std::sync::Arc;

use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::{CompactError, Compactor, Outcome};

impl Compactor {
    /// Compacts every collection that needs it once. Returns how many got a new version.
    pub async fn run_once(&self) -> Result<usize, CompactError> {
        let mut ids = self.sysdb.uncompacted_collections(256).await?;
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
                Ok(Outcome::Registered { .. }) => registered += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(collection = %id, error = %e, "compaction failed; will retry")
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
                    let now_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0);
                    if let Err(e) = self.collect_garbage(now_ms).await {
                        tracing::warn!(error = %e, "garbage collection failed");
                    }
                }
            }
        })
    }
}
