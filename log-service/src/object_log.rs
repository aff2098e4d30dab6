//! `ObjectLog`: the log service over any object store. Holds per-collection state only while a
//! collection is in use; can collect any collection's compacted fragments (`crate::gc`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use silt_common::clock::{DynClock, SystemClock};
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::storage::DynStore;
use silt_common::{CollectionId, SiltError, SiltResult};
use silt_sysdb::SysDb;
use tokio::task::JoinHandle;

use crate::collection_log::{CollectionLog, Shared};
use crate::gc::collect_log_garbage;
use crate::{AppendReceipt, LogConfig, LogError, LogService};

#[derive(Clone)]
pub struct ObjectLog {
    shared: Arc<Shared>,
    collections: Arc<Mutex<HashMap<CollectionId, Arc<CollectionLog>>>>,
}

impl ObjectLog {
    pub fn new(store: DynStore, sysdb: SysDb, config: LogConfig) -> Self {
        Self::with_clock(store, sysdb, config, SystemClock::shared())
    }

    /// A log timed by `clock` (the deterministic simulation's).
    pub fn with_clock(store: DynStore, sysdb: SysDb, config: LogConfig, clock: DynClock) -> Self {
        ObjectLog {
            shared: Arc::new(Shared {
                store,
                sysdb,
                config,
                epoch: clock.instant(),
                clock,
            }),
            collections: Arc::default(),
        }
    }

    fn collection(&self, id: CollectionId) -> Arc<CollectionLog> {
        let now = self.shared.now_ms();
        let mut map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        let log = map
            .entry(id)
            .or_insert_with(|| Arc::new(CollectionLog::new(id, now)))
            .clone();
        log.touch(now);
        log
    }

    pub fn config(&self) -> &LogConfig {
        &self.shared.config
    }

    /// Number of collections whose state is held in memory.
    pub fn resident_collections(&self) -> usize {
        self.collections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// The span of every resident collection's tail, for metrics.
    fn tail_spans(&self) -> Vec<(CollectionId, Option<crate::metrics::TailSpan>)> {
        let map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(id, log)| (*id, log.tail_span())).collect()
    }

    /// Drops the state of collections idle for longer than the configured time.
    pub fn evict_idle(&self) -> usize {
        let now = self.shared.now_ms();
        let idle_ms = self.shared.config.idle_eviction.as_millis() as u64;
        let mut map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, log| !log.is_idle(now, idle_ms));
        before - map.len()
    }

    /// Deletes the fragments of every collection (not only those this node wrote or holds)
    /// that end at or below the compacted offset of a version registered a grace period before
    /// `now` (an instant of this log's clock), as the compactors do each GC round; see
    /// `collect_log_garbage`. Returns the number of fragments deleted.
    pub async fn collect_garbage(&self, now: Instant) -> Result<usize, LogError> {
        let clock = &self.shared.clock;
        // The catalog stamps versions with wall-clock milliseconds: translate `now`.
        let ahead = now.saturating_duration_since(clock.instant()).as_millis() as i64;
        let behind = clock.instant().saturating_duration_since(now).as_millis() as i64;
        let cutoff =
            clock.now_ms() + ahead - behind - self.shared.config.gc_grace.as_millis() as i64;
        let stats = collect_log_garbage(
            &self.shared.store,
            &self.shared.sysdb,
            cutoff,
            |_| true,
            usize::MAX,
        )
        .await?;
        Ok(stats.deleted)
    }

    /// Runs idle eviction every `every` until the task is aborted. Garbage collection is the
    /// compactors' (each collects the collections it compacts, by rendezvous hash): a log node
    /// collecting too would only repeat their LISTs. With metrics on, the tails are also
    /// sampled for `/metrics` each second.
    pub fn spawn_maintenance(&self, every: Duration) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            let mut sampling = tokio::time::interval(crate::metrics::SAMPLE_EVERY);
            let mut tails = crate::metrics::TailWatch::default();
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        this.evict_idle();
                    }
                    _ = sampling.tick(), if silt_common::metrics::enabled() => {
                        tails.sample(this.shared.now_ms(), this.tail_spans());
                    }
                }
            }
        })
    }
}

#[async_trait]
impl LogService for ObjectLog {
    async fn append(
        &self,
        collection: CollectionId,
        records: Vec<OperationRecord>,
    ) -> SiltResult<AppendReceipt> {
        if records.is_empty() {
            return Err(SiltError::invalid("an append needs at least one record"));
        }
        self.collection(collection)
            .append(&self.shared, records)
            .await
    }

    async fn read_tail(
        &self,
        collection: CollectionId,
        after: u64,
        known_position: u64,
    ) -> SiltResult<Vec<LogEntry>> {
        Ok(self
            .collection(collection)
            .read_tail(&self.shared, after, known_position)
            .await?)
    }

    async fn mark_compacted(&self, collection: CollectionId, offset: u64) -> SiltResult<()> {
        self.collection(collection).mark_compacted(offset).await;
        Ok(())
    }
}
