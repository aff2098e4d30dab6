//! `ObjectLog`: the log service over any object store. Holds per-collection state only while a
//! collection is in use, and collects fragments below the compacted offset after a grace period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use silt_common::clock::{DynClock, SystemClock};
use silt_common::keys::log_fragment;
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::storage::DynStore;
use silt_common::{CollectionId, SiltError, SiltResult};
use silt_sysdb::SysDb;
use tokio::task::JoinHandle;

use crate::collection_log::{CollectionLog, GcItem, Shared};
use crate::recovery::list_fragments;
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
                gc_queue: Mutex::default(),
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

    /// Drops the state of collections idle for longer than the configured time.
    pub fn evict_idle(&self) -> usize {
        let now = self.shared.now_ms();
        let idle_ms = self.shared.config.idle_eviction.as_millis() as u64;
        let mut map = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        let before = map.len();
        map.retain(|_, log| !log.is_idle(now, idle_ms));
        before - map.len()
    }

    /// Deletes fragments wholly at or below the compacted offset of collections whose grace
    /// period has passed. Returns the number of fragments deleted.
    pub async fn collect_garbage(&self, now: Instant) -> Result<usize, LogError> {
        let due: Vec<GcItem> = {
            let mut queue = self
                .shared
                .gc_queue
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let (due, later) = queue.drain(..).partition(|item| item.due <= now);
            *queue = later;
            due
        };
        let mut deleted = 0;
        let mut items = due.into_iter();
        while let Some(item) = items.next() {
            match self.collect_one(&item).await {
                Ok(n) => deleted += n,
                Err(e) => {
                    // The store failed (a fault or an outage): keep this item and the rest for
                    // the next round, or their fragments would stay forever.
                    let mut queue = self
                        .shared
                        .gc_queue
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    queue.push(item);
                    queue.extend(items);
                    return Err(e);
                }
            }
        }
        Ok(deleted)
    }

    async fn collect_one(&self, item: &GcItem) -> Result<usize, LogError> {
        let firsts = list_fragments(&self.shared.store, item.collection).await?;
        // Fragment i ends where fragment i+1 begins; the newest one is kept (its end is not
        // known without a GET, and one fragment costs nothing).
        let doomed: Vec<_> = firsts
            .windows(2)
            .filter(|w| w[1] <= item.compacted_offset + 1)
            .map(|w| Ok(log_fragment(item.collection, w[0])))
            .collect();
        let n = doomed.len();
        let mut results = self
            .shared
            .store
            .delete_stream(futures::stream::iter(doomed).boxed());
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }

    /// Runs garbage collection and idle eviction every `every` until the task is aborted.
    pub fn spawn_maintenance(&self, every: Duration) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                if let Err(e) = this.collect_garbage(this.shared.clock.instant()).await {
                    tracing::warn!(error = %e, "log garbage collection failed; will retry");
                }
                this.evict_idle();
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
        self.shared.schedule_gc(collection, offset);
        Ok(())
    }
}
