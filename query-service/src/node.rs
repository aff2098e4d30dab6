//! `QueryNode`: the in-process query service.

use std::sync::Arc;

use async_trait::async_trait;
use silt_common::record::{LogEntry, Record};
use silt_common::storage::DynStore;
use silt_common::{CollectionId, SiltResult};
use silt_log_service::LogService;
use silt_sysdb::SysDb;

use crate::range_cache::{CacheConfig, CacheError, RangeCache};
use crate::read::{execute_get, execute_knn, OpenedVersion, OpenedVersions};
use crate::search::{execute_search, SearchContext};
use crate::tail_cache::{TailCache, TailPlan};
use crate::{
    CollectionRow, Consistency, GetRequest, KnnRequest, QueryService, Scored, SearchHit,
    SearchRequest, Target,
};

#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// The range cache: memory, and optionally local disk.
    pub cache: CacheConfig,
    /// Memory for opened versions (decoded heads and centroid indexes).
    pub opened_bytes: usize,
    /// Clusters probed per query instead of each version's default (benchmark sweeps).
    pub nprobe: Option<usize>,
    /// Memory for unindexed tails already read from the log (tail_cache.rs).
    pub tail_bytes: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            cache: CacheConfig::default(),
            opened_bytes: 64 << 20,
            nprobe: None,
            tail_bytes: 64 << 20,
        }
    }
}

pub struct QueryNode {
    nprobe: Option<usize>,
    sysdb: SysDb,
    log: Arc<dyn LogService>,
    cache: RangeCache,
    versions: OpenedVersions,
    tails: TailCache,
}

/// A consistent view of one collection: a version plus the log tail written after it.
struct Snapshot {
    collection: CollectionRow,
    version: Option<Arc<OpenedVersion>>,
    tail: Vec<LogEntry>,
}

impl QueryNode {
    pub async fn new(
        store: DynStore,
        sysdb: SysDb,
        log: Arc<dyn LogService>,
        config: QueryConfig,
    ) -> Result<Self, CacheError> {
        Ok(QueryNode {
            nprobe: config.nprobe,
            sysdb,
            log,
            cache: RangeCache::open(store, &config.cache).await?,
            versions: OpenedVersions::new(config.opened_bytes),
            tails: TailCache::new(config.tail_bytes),
        })
    }

    pub fn cache(&self) -> &RangeCache {
        &self.cache
    }

    pub fn opened_versions(&self) -> &OpenedVersions {
        &self.versions
    }

    /// Memory held by cached log tails.
    pub fn tail_cache_bytes(&self) -> usize {
        self.tails.resident_bytes()
    }

    /// BM25 full-text ranking over the collection's indexed documents, best first (records the
    /// unindexed tail deleted or changed are left out). Internal: the hybrid search builds on it.
    pub async fn bm25(
        &self,
        collection: CollectionId,
        text: &str,
        limit: usize,
    ) -> SiltResult<Vec<(Record, f32)>> {
        let s = self
            .snapshot(collection.into(), Consistency::Strong)
            .await?;
        crate::read::bm25(&self.cache, s.version.as_ref(), &s.tail, text, limit).await
    }

    /// Flushes the disk cache, so a restarted node starts warm.
    pub async fn close(&self) -> Result<(), CacheError> {
        self.cache.close().await
    }

    /// The collection's unindexed tail: what this node read before, plus what the log holds
    /// after it.
    async fn read_tail(&self, collection: &CollectionRow) -> SiltResult<Vec<LogEntry>> {
        let (id, compacted, position) = (
            collection.id,
            collection.compacted_offset,
            collection.log_position,
        );
        let (mut tail, from) = match self.tails.plan(id, compacted, position) {
            TailPlan::Cached(entries) => return Ok(entries),
            TailPlan::Extend { cached, from } => (cached, from),
        };
        let newer = self.log.read_tail(id, from, position).await?;
        tail.extend(newer.into_iter().filter(|e| e.offset > from));
        self.tails.store(id, compacted, position, &tail);
        Ok(tail)
    }

    async fn snapshot(&self, target: Target, consistency: Consistency) -> SiltResult<Snapshot> {
        // Version and compacted offset come from one catalog row, so the tail read after it
        // starts exactly where the version ends: no write is missed or applied twice. A
        // caller that read the row for this request passes it (target.rs).
        let collection = match target {
            Target::Row(row) => row,
            Target::Id(id) => CollectionRow::from(&self.sysdb.get_collection(id).await?),
        };
        let version = async {
            match &collection.manifest {
                Some(key) => Ok(Some(self.versions.open(&self.cache, key).await?)),
                None => Ok(None),
            }
        };
        let tail = async {
            match consistency {
                // The catalog's log position covers every acknowledged write, so a log that is
                // compacted up to it has no tail: nothing to ask the log service (which, newly
                // started, would have to read the log from the object store to know that).
                Consistency::Strong if collection.compacted_offset >= collection.log_position => {
                    Ok(Vec::new())
                }
                Consistency::Strong => self.read_tail(&collection).await,
                Consistency::Eventual => Ok(Vec::new()),
            }
        };
        let (version, tail) = tokio::join!(version, tail);
        let version: Option<Arc<OpenedVersion>> =
            version.map_err(|e: crate::read::ReadError| silt_common::SiltError::from(e))?;
        Ok(Snapshot {
            collection,
            version,
            tail: tail?,
        })
    }
}

/// Chroma's `hnsw.ef_search` is a search-effort knob whose default is 100; Silt's equivalent is
/// the clusters probed per query. A collection configured away from the default probes the
/// version's default count scaled by the same ratio (docs/chroma-configuration.md).
fn configured_nprobe(collection: &CollectionRow, version: Option<&OpenedVersion>) -> Option<usize> {
    const CHROMA_DEFAULT_EF_SEARCH: u64 = 100;
    let ef = collection
        .ef_search
        .filter(|ef| *ef != CHROMA_DEFAULT_EF_SEARCH)?;
    let index = &version?.head.manifest.index;
    let scaled = u64::from(index.nprobe).saturating_mul(ef) / CHROMA_DEFAULT_EF_SEARCH;
    Some(scaled.clamp(1, u64::from(index.clusters.max(1))) as usize)
}

#[async_trait]
impl QueryService for QueryNode {
    async fn get(&self, request: GetRequest) -> SiltResult<Vec<Record>> {
        let s = self
            .snapshot(request.collection.clone(), request.consistency)
            .await?;
        execute_get(&self.cache, s.version.as_ref(), &s.tail, &request).await
    }

    async fn knn(&self, request: KnnRequest) -> SiltResult<Vec<Vec<Scored>>> {
        let s = self
            .snapshot(request.collection.clone(), request.consistency)
            .await?;
        let distance = s.collection.distance;
        let nprobe = self
            .nprobe
            .or_else(|| configured_nprobe(&s.collection, s.version.as_deref()));
        execute_knn(
            &self.cache,
            s.version.as_ref(),
            &s.tail,
            &request,
            distance,
            nprobe,
        )
        .await
    }

    async fn count(&self, collection: Target, consistency: Consistency) -> SiltResult<u64> {
        let s = self.snapshot(collection, consistency).await?;
        crate::read::count(&self.cache, s.version.as_ref(), &s.tail).await
    }

    async fn search(&self, request: SearchRequest) -> SiltResult<Vec<Vec<SearchHit>>> {
        let s = self
            .snapshot(request.collection.clone(), request.consistency)
            .await?;
        let ctx = SearchContext {
            cache: &self.cache,
            version: s.version.as_ref(),
            tail: &s.tail,
            distance: s.collection.distance,
            nprobe: self
                .nprobe
                .or_else(|| configured_nprobe(&s.collection, s.version.as_deref())),
            most_records: usize::try_from(s.collection.log_position).unwrap_or(usize::MAX),
            idf_keys: &s.collection.idf_keys,
        };
        execute_search(&ctx, &request).await
    }
}
