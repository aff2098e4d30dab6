//! `QueryNode`: the in-process query service.

use std::sync::Arc;

use async_trait::async_trait;
use silt_common::materialize::Overlay;
use silt_common::record::Record;
use silt_common::storage::DynStore;
use silt_common::{CollectionId, SiltError, SiltResult};
use silt_log_service::LogService;
use silt_sysdb::{Collection, SysDb};

use crate::execute::{execute_get, execute_knn};
use crate::version_cache::{LoadedVersion, VersionCache};
use crate::{GetRequest, KnnRequest, QueryService, Scored};

#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Memory budget for decoded versions.
    pub cache_bytes: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            cache_bytes: 512 << 20,
        }
    }
}

pub struct QueryNode {
    sysdb: SysDb,
    log: Arc<dyn LogService>,
    cache: VersionCache,
}

/// A consistent view of one collection: a version plus the log tail written after it.
pub(crate) struct Snapshot {
    pub collection: Collection,
    base: Arc<LoadedVersion>,
    overlay: Overlay,
}

impl Snapshot {
    pub fn records(&self) -> impl Iterator<Item = &Record> + '_ {
        self.overlay.merged(self.base.records.iter())
    }
}

impl QueryNode {
    pub fn new(
        store: DynStore,
        sysdb: SysDb,
        log: Arc<dyn LogService>,
        config: QueryConfig,
    ) -> Self {
        QueryNode {
            sysdb,
            log,
            cache: VersionCache::new(store, config.cache_bytes),
        }
    }

    pub fn cache(&self) -> &VersionCache {
        &self.cache
    }

    async fn snapshot(&self, id: CollectionId) -> SiltResult<Snapshot> {
        // Version and compacted offset come from one catalog row, so the tail read after it
        // starts exactly where the version ends: no write is missed or applied twice.
        let collection = self.sysdb.get_collection(id).await?;
        let base = match &collection.manifest {
            Some(key) => self.cache.load(key).await.map_err(|e| match e {
                silt_common::segment::VersionReadError::Store(e) => {
                    SiltError::unavailable(format!("reading index version: {e}"))
                }
                corrupt => SiltError::internal(corrupt.to_string()),
            })?,
            None => Arc::new(LoadedVersion::empty()),
        };
        let tail = self
            .log
            .read_tail(id, collection.compacted_offset, collection.log_position)
            .await?;
        let overlay = Overlay::build(|id| base.lookup(id), &tail);
        Ok(Snapshot {
            collection,
            base,
            overlay,
        })
    }
}

#[async_trait]
impl QueryService for QueryNode {
    async fn get(&self, request: GetRequest) -> SiltResult<Vec<Record>> {
        let snapshot = self.snapshot(request.collection).await?;
        Ok(execute_get(&snapshot, &request))
    }

    async fn knn(&self, request: KnnRequest) -> SiltResult<Vec<Vec<Scored>>> {
        let snapshot = self.snapshot(request.collection).await?;
        execute_knn(&snapshot, &request)
    }

    async fn count(&self, collection: CollectionId) -> SiltResult<u64> {
        let snapshot = self.snapshot(collection).await?;
        Ok(snapshot.records().count() as u64)
    }
}
