//! The whole read path in one process for the oracle tests: an in-memory store, a SQLite
//! catalog in a temporary directory, the object log, a query node and a compactor over them.

// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

use std::sync::Arc;

use object_store::memory::InMemory;
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::storage::DynStore;
use silt_common::CollectionId;
use silt_compactor::{Compactor, CompactorConfig, Outcome};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{QueryConfig, QueryNode};
use silt_sysdb::SysDb;

pub struct Harness {
    _dir: tempfile::TempDir,
    pub store: DynStore,
    pub sysdb: SysDb,
    pub log: Arc<ObjectLog>,
    pub query: QueryNode,
    pub compactor: Compactor,
}

pub async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let store: DynStore = Arc::new(InMemory::new());
    let log = Arc::new(ObjectLog::new(
        store.clone(),
        sysdb.clone(),
        LogConfig::default(),
    ));
    let query = QueryNode::new(
        store.clone(),
        sysdb.clone(),
        log.clone(),
        QueryConfig::default(),
    )
    .await
    .unwrap();
    let compactor = Compactor::new(
        store.clone(),
        sysdb.clone(),
        log.clone(),
        CompactorConfig::default(),
    );
    Harness {
        _dir: dir,
        store,
        sysdb,
        log,
        query,
        compactor,
    }
}

impl Harness {
    /// Appends `ops` as one write and returns them as the log entries they became.
    pub async fn append(&self, c: CollectionId, ops: Vec<OperationRecord>) -> Vec<LogEntry> {
        let receipt = self.log.append(c, ops.clone()).await.unwrap();
        ops.into_iter()
            .enumerate()
            .map(|(i, record)| LogEntry {
                offset: receipt.first_offset + i as u64,
                record,
            })
            .collect()
    }

    /// Compacts `c`, which must register a new version.
    pub async fn compact(&self, c: CollectionId) {
        match self.compactor.compact(c).await.unwrap() {
            Outcome::Registered { .. } => {}
            other => panic!("compaction did not register: {other:?}"),
        }
    }
}
