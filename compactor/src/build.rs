//! Building and registering one new version of one collection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use silt_common::clock::{DynClock, DynEntropy, Entropy, SystemClock};
use silt_common::keys::{version_dir, version_file};
use silt_common::materialize::Overlay;
use silt_common::record::Record;
use silt_common::routing::NodeSource;
use silt_common::storage::{put_if_absent, DynStore};
use silt_common::CollectionId;
use silt_index::format::read_all_records;
use silt_log_service::LogService;
use silt_sysdb::{SysDb, VersionRecord};

use crate::version::{build_version, BuildInput};
use crate::CompactError;

#[derive(Debug, Clone)]
pub struct CompactorConfig {
    /// How often the scheduler looks for collections to compact.
    pub interval: Duration,
    /// Superseded versions and deleted collections are removed only after this long.
    pub gc_grace: Duration,
    /// Collections compacted at once.
    pub parallelism: usize,
    /// A tail this long is compacted at the next round…
    pub min_tail_records: u64,
    /// …and a shorter one once it has waited this long.
    pub max_tail_age: Duration,
    /// After a failed attempt a collection waits this long before the next one, doubling with
    /// each further failure up to `max_retry_backoff`: a store that is full or down is not
    /// hammered with attempts that each write (and delete) a partial version.
    pub retry_backoff: Duration,
    pub max_retry_backoff: Duration,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        CompactorConfig {
            interval: Duration::from_millis(500),
            gc_grace: Duration::from_secs(600),
            parallelism: 4,
            min_tail_records: 1000,
            max_tail_age: Duration::from_secs(30),
            retry_backoff: Duration::from_secs(1),
            max_retry_backoff: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NothingToDo,
    Registered {
        version: u64,
        compacted_offset: u64,
        records: u64,
    },
    /// Another compactor registered a version first; this attempt's work was discarded.
    LostRace,
}

/// The other compactors of a cluster, and this one's id among them.
pub struct Peers {
    pub nodes: Arc<dyn NodeSource>,
    pub self_id: String,
}

pub struct Compactor {
    pub(crate) peers: Option<Peers>,
    pub(crate) store: DynStore,
    pub(crate) sysdb: SysDb,
    pub(crate) log: Arc<dyn LogService>,
    pub(crate) config: CompactorConfig,
    lost_races: AtomicU64,
    /// Collections whose last attempts failed, and when they may be tried again.
    pub(crate) backoff: std::sync::Mutex<HashMap<CollectionId, crate::scheduler::Backoff>>,
    /// Scheduling, backoff and GC cutoffs are timed by this; attempt ids come from `entropy`
    /// (both the simulation's in tests).
    pub(crate) clock: DynClock,
    entropy: DynEntropy,
}

impl Compactor {
    pub fn new(
        store: DynStore,
        sysdb: SysDb,
        log: Arc<dyn LogService>,
        config: CompactorConfig,
    ) -> Self {
        Compactor {
            peers: None,
            store,
            sysdb,
            log,
            config,
            lost_races: AtomicU64::new(0),
            backoff: Default::default(),
            clock: SystemClock::shared(),
            entropy: Entropy::system(),
        }
    }

    /// Times scheduling and garbage collection by `clock` (the deterministic simulation's).
    pub fn with_clock(mut self, clock: DynClock) -> Self {
        self.clock = clock;
        self
    }

    /// Draws attempt ids from `entropy` (the deterministic simulation's seeded source).
    pub fn with_entropy(mut self, entropy: DynEntropy) -> Self {
        self.entropy = entropy;
        self
    }

    /// Shares the work with the other live compactors of a cluster.
    pub fn with_peers(mut self, peers: Peers) -> Self {
        self.peers = Some(peers);
        self
    }

    pub fn lost_races(&self) -> u64 {
        self.lost_races.load(Ordering::Relaxed)
    }

    /// Folds everything logged after the current version into a new version.
    pub async fn compact(&self, id: CollectionId) -> Result<Outcome, CompactError> {
        let collection = self.sysdb.get_collection(id).await?;
        let tail = self
            .log
            .read_tail(id, collection.compacted_offset, collection.log_position)
            .await
            .map_err(CompactError::Log)?;
        let Some(last) = tail.last() else {
            return Ok(Outcome::NothingToDo);
        };
        let compacted_offset = last.offset;
        let base = match &collection.manifest {
            Some(key) => Some(read_all_records(self.store.as_ref(), key).await?),
            None => None,
        };
        let version = collection.version + 1;
        let attempt = self.entropy.uuid().simple().to_string();
        let dir = version_dir(id, version, &attempt[..12]);
        let distance = collection.distance();
        let known_dimension = collection.dimension;
        // Merging and indexing are CPU work: off the async workers.
        let (built, clustering) = tokio::task::spawn_blocking(move || {
            let empty = Vec::new();
            let base_records = base.as_ref().map_or(&empty, |b| &b.records);
            let by_id: std::collections::HashMap<&str, &Record> =
                base_records.iter().map(|r| (r.id.as_str(), r)).collect();
            let overlay = Overlay::build(|id| by_id.get(id).copied(), &tail);
            let records: Vec<&Record> = overlay.merged(base_records.iter()).collect();
            let dimension =
                known_dimension.or_else(|| records.first().map(|r| r.embedding.len() as u32));
            build_version(BuildInput {
                collection_id: id.to_string(),
                version,
                compacted_offset,
                dimension,
                distance,
                base: base.as_ref(),
                records: &records,
            })
        })
        .await
        .map_err(|e| CompactError::Index(format!("index build task: {e}")))??;
        let record_count = built.manifest.record_count;

        // Recorded before any object is written: if this process dies before registering, the
        // collector finds the directory here instead of listing the store.
        self.sysdb
            .begin_compaction_attempt(id, dir.as_ref())
            .await?;
        let registered = match self
            .write_and_register(&collection, &dir, built, compacted_offset)
            .await
        {
            Ok(registered) => registered,
            Err(e) => {
                // A failed attempt (a full disk, a store that went away) leaves nothing behind:
                // otherwise each retry would add another partial version and fill the space an
                // operator just freed.
                self.discard_attempt(id, &dir).await;
                return Err(e);
            }
        };
        if !registered {
            self.lost_races.fetch_add(1, Ordering::Relaxed);
            tracing::info!(collection = %id, version, "lost the race to register a version; discarding");
            self.discard_attempt(id, &dir).await;
            return Ok(Outcome::LostRace);
        }
        self.sysdb.end_compaction_attempt(dir.as_ref()).await?;
        self.log
            .mark_compacted(id, compacted_offset)
            .await
            .map_err(CompactError::Log)?;
        tracing::debug!(collection = %id, version, compacted_offset, records = record_count, ?clustering, "registered version");
        Ok(Outcome::Registered {
            version,
            compacted_offset,
            records: record_count,
        })
    }
}

impl Compactor {
    /// Writes the version's files with create-only PUTs, the head and manifest last (once
    /// everything they point to exists), then registers it with one compare-and-swap. Returns
    /// whether this attempt won.
    async fn write_and_register(
        &self,
        collection: &silt_sysdb::Collection,
        dir: &object_store::path::Path,
        built: crate::version::BuiltVersion,
        compacted_offset: u64,
    ) -> Result<bool, CompactError> {
        let record_count = built.manifest.record_count;
        // What the version costs in storage, for the tenant's metering.
        let version_bytes: u64 = built.files.iter().map(|(_, b)| b.len() as u64).sum();
        let mut files = built.files;
        let last_two = files.split_off(files.len().saturating_sub(2));
        let puts = files.into_iter().map(|(name, bytes)| {
            let key = version_file(dir, &name);
            let store = self.store.clone();
            async move { put_if_absent(store.as_ref(), &key, bytes).await }
        });
        futures::future::try_join_all(puts).await?;
        for (name, bytes) in last_two {
            put_if_absent(self.store.as_ref(), &version_file(dir, &name), bytes).await?;
        }
        let manifest_key = version_file(dir, built.catalog_file);
        Ok(self
            .sysdb
            .register_version_of_size(
                collection.version,
                &VersionRecord {
                    collection_id: collection.id,
                    version: collection.version + 1,
                    manifest: manifest_key.to_string(),
                    compacted_offset,
                    record_count,
                    superseded_at_ms: None,
                },
                version_bytes,
            )
            .await?)
    }

    /// Deletes an attempt that will never be registered. If that fails too, the attempt stays
    /// recorded in the catalog and the garbage collector deletes it after the grace period.
    async fn discard_attempt(&self, id: CollectionId, dir: &object_store::path::Path) {
        match crate::gc::delete_dir(&self.store, dir).await {
            Ok(_) => {
                if let Err(e) = self.sysdb.end_compaction_attempt(dir.as_ref()).await {
                    tracing::warn!(collection = %id, dir = %dir, error = %e, "could not clear a discarded attempt's record; GC will");
                }
            }
            Err(e) => {
                tracing::warn!(collection = %id, dir = %dir, error = %e, "could not delete a discarded attempt; GC will")
            }
        }
    }
}
