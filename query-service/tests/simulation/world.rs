//! The system under simulation: two log nodes, a compactor and a query node, in one process on
//! one seeded fault-injecting in-memory store and an SQLite catalog, all timed by one
//! `SimClock` and drawing ids from one seeded `Entropy`. A "crash" is the store going silent
//! from a chosen request on; the process is then rebuilt over the same store and catalog.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use object_store::memory::InMemory;
use silt_common::clock::{DynClock, DynEntropy, Entropy, SimClock};
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::storage::{DynStore, FaultPlan, FaultyStore};
use silt_common::{CollectionId, SiltResult};
use silt_compactor::{Compactor, CompactorConfig};
use silt_log_service::{AppendReceipt, LogConfig, LogService, ObjectLog};
use silt_query_service::{CacheConfig, QueryConfig, QueryNode};
use silt_sysdb::{NewCollection, SysDb};

use crate::trace::{Trace, TraceStore};

/// Garbage-collection grace of the log and the compactor: short, so that collection really
/// happens within a run (the log resyncs after a quarter of it).
pub const GRACE: Duration = Duration::from_secs(4);
pub const LOG_NODES: usize = 2;

/// The log nodes, and which one the next call goes to (the simulation picks, as routing would
/// after membership changes).
pub struct LogRouter {
    nodes: Mutex<Vec<Arc<ObjectLog>>>,
    current: AtomicUsize,
}

impl LogRouter {
    pub fn pick(&self, i: usize) {
        self.current.store(i % LOG_NODES, Ordering::Relaxed);
    }

    pub fn node(&self, i: usize) -> Arc<ObjectLog> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())[i % LOG_NODES].clone()
    }

    fn current(&self) -> Arc<ObjectLog> {
        self.node(self.current.load(Ordering::Relaxed))
    }

    pub fn replace(&self, i: usize, log: ObjectLog) {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())[i % LOG_NODES] = Arc::new(log);
    }
}

#[async_trait]
impl LogService for LogRouter {
    async fn append(
        &self,
        collection: CollectionId,
        records: Vec<OperationRecord>,
    ) -> SiltResult<AppendReceipt> {
        self.current().append(collection, records).await
    }

    async fn read_tail(
        &self,
        collection: CollectionId,
        after: u64,
        known_position: u64,
    ) -> SiltResult<Vec<LogEntry>> {
        self.current()
            .read_tail(collection, after, known_position)
            .await
    }

    async fn mark_compacted(&self, collection: CollectionId, offset: u64) -> SiltResult<()> {
        self.current().mark_compacted(collection, offset).await
    }
}

pub struct World {
    pub clock: Arc<SimClock>,
    entropy: DynEntropy,
    pub faulty: Arc<FaultyStore>,
    pub memory: Arc<InMemory>,
    pub store: DynStore,
    pub sysdb: SysDb,
    pub logs: Arc<LogRouter>,
    pub query: QueryNode,
    pub compactor: Compactor,
    pub collection: CollectionId,
    pub trace: Trace,
    _dir: tempfile::TempDir,
}

pub fn log_config() -> LogConfig {
    LogConfig {
        // Every append commits at once: the simulation runs one operation at a time.
        group_window: Duration::ZERO,
        // Short, so that a node the routing left for a few steps drops its memory of the
        // collection and must start again from the catalog and the store.
        idle_eviction: Duration::from_secs(3),
        ..LogConfig::default()
    }
    .with_gc_grace(GRACE)
}

impl World {
    pub async fn new(seed: u64, plan: FaultPlan) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = SimClock::new(1_700_000_000_000);
        let entropy = Entropy::seeded(seed);
        let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
            .await
            .expect("catalog")
            .with_clock(clock.clone())
            .with_entropy(entropy.clone());
        let memory = Arc::new(InMemory::new());
        let faulty = Arc::new(FaultyStore::new(memory.clone(), plan));
        let trace = Trace::default();
        let store: DynStore = Arc::new(TraceStore::new(faulty.clone(), trace.clone()));
        let dyn_clock: DynClock = clock.clone();
        let logs = Arc::new(LogRouter {
            nodes: Mutex::new(
                (0..LOG_NODES)
                    .map(|_| {
                        Arc::new(ObjectLog::with_clock(
                            store.clone(),
                            sysdb.clone(),
                            log_config(),
                            dyn_clock.clone(),
                        ))
                    })
                    .collect(),
            ),
            current: AtomicUsize::new(0),
        });
        let (collection, _) = sysdb
            .create_collection(NewCollection {
                tenant: silt_sysdb::DEFAULT_TENANT.into(),
                database: silt_sysdb::DEFAULT_DATABASE.into(),
                name: "sim".into(),
                metadata: None,
                configuration: serde_json::json!({}),
                schema: None,
                dimension: None,
                get_or_create: false,
            })
            .await
            .expect("collection");
        let query = query_node(&store, &sysdb, &logs).await;
        let compactor = compactor(&store, &sysdb, &logs, &dyn_clock, &entropy);
        World {
            clock,
            entropy,
            faulty,
            memory,
            store,
            sysdb,
            logs,
            query,
            compactor,
            collection: collection.id,
            trace,
            _dir: dir,
        }
    }

    fn dyn_clock(&self) -> DynClock {
        self.clock.clone()
    }

    /// A log node process restarts: its memory (tail, GC queue) is gone.
    pub fn restart_log(&self, i: usize) {
        self.logs.replace(
            i,
            ObjectLog::with_clock(
                self.store.clone(),
                self.sysdb.clone(),
                log_config(),
                self.dyn_clock(),
            ),
        );
    }

    pub async fn restart_query(&mut self) {
        self.query = query_node(&self.store, &self.sysdb, &self.logs).await;
    }

    /// The whole process died (the store stopped answering it): everything restarts over the
    /// same store and catalog. Requests the dead process left hanging stay hung.
    pub async fn restart_all(&mut self) {
        self.faulty.restart();
        for i in 0..LOG_NODES {
            self.restart_log(i);
        }
        self.restart_query().await;
        self.compactor = compactor(
            &self.store,
            &self.sysdb,
            &self.logs,
            &self.dyn_clock(),
            &self.entropy,
        );
    }
}

async fn query_node(store: &DynStore, sysdb: &SysDb, logs: &Arc<LogRouter>) -> QueryNode {
    // Memory only: a disk cache would add threads the simulation does not control.
    let config = QueryConfig {
        cache: CacheConfig {
            memory_bytes: 4 << 20,
            disk_dir: None,
            ..CacheConfig::default()
        },
        opened_bytes: 4 << 20,
        ..QueryConfig::default()
    };
    QueryNode::new(store.clone(), sysdb.clone(), logs.clone(), config)
        .await
        .expect("query node")
}

fn compactor(
    store: &DynStore,
    sysdb: &SysDb,
    logs: &Arc<LogRouter>,
    clock: &DynClock,
    entropy: &DynEntropy,
) -> Compactor {
    let config = CompactorConfig {
        gc_grace: GRACE,
        parallelism: 1,
        ..CompactorConfig::default()
    };
    Compactor::new(store.clone(), sysdb.clone(), logs.clone(), config)
        .with_clock(clock.clone())
        .with_entropy(entropy.clone())
}
