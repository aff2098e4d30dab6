//! Every read of index data goes through here: a foyer hybrid cache (memory, then local disk)
//! in front of the object store. Version files are immutable, so an entry keyed by file and byte
//! range is valid forever and is never invalidated; eviction alone bounds the cache.
//!
//! `fetch` takes all the ranges one step of a query needs and misses them in ONE round trip:
//! every missing range (near ones merged, `get_plan`) is requested at once, in parallel. A query's
//! number of sequential object-store round trips is therefore its number of `fetch` calls that
//! missed, which `stats` counts.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use foyer::{
    BlockEngineConfig, DeviceBuilder, FsDeviceBuilder, HybridCache, HybridCacheBuilder,
    HybridCachePolicy, RecoverMode,
};
use futures::future::try_join_all;
use object_store::path::Path;
use object_store::ObjectStoreExt;
use silt_common::storage::DynStore;
use silt_index::format::BUNDLE_FILE;

use crate::get_plan;

const DISK_BLOCK_BYTES: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub memory_bytes: usize,
    /// Local disk cache; `None` keeps the cache in memory only.
    pub disk_dir: Option<PathBuf>,
    pub disk_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_bytes: 256 << 20,
            disk_dir: None,
            disk_bytes: 4 << 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("cache: {0}")]
    Cache(String),
}

#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// `fetch` calls that went to the object store: sequential round trips.
    pub round_trips: AtomicU64,
}

/// One range of one file; `range: None` is the whole object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RangeRequest {
    pub path: Path,
    pub range: Option<Range<u64>>,
}

impl RangeRequest {
    pub fn whole(path: Path) -> Self {
        RangeRequest { path, range: None }
    }

    pub fn range(path: Path, range: Range<u64>) -> Self {
        RangeRequest {
            path,
            range: Some(range),
        }
    }

    fn is_bundle_range(&self) -> bool {
        self.range.is_some() && self.path.filename() == Some(BUNDLE_FILE)
    }

    fn key(&self) -> String {
        match &self.range {
            Some(r) => format!("{}#{}-{}", self.path, r.start, r.end),
            None => format!("{}#all", self.path),
        }
    }
}

/// One GET: a file's range covering several requested ranges (with their request numbers).
#[derive(Clone)]
pub struct RangeCache {
    store: DynStore,
    cache: HybridCache<String, Bytes>,
    stats: Arc<CacheStats>,
}

impl RangeCache {
    pub async fn open(store: DynStore, config: &CacheConfig) -> Result<Self, CacheError> {
        let err = |e: foyer::Error| CacheError::Cache(e.to_string());
        let builder = HybridCacheBuilder::new()
            .with_name("silt-query")
            .with_policy(HybridCachePolicy::WriteOnInsertion)
            .memory(config.memory_bytes.max(1 << 20))
            .with_weighter(|k: &String, v: &Bytes| k.len() + v.len() + 64);
        let cache = match &config.disk_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| CacheError::Cache(e.to_string()))?;
                let device = FsDeviceBuilder::new(dir)
                    .with_capacity(config.disk_bytes.max(4 * DISK_BLOCK_BYTES))
                    .build()
                    .map_err(err)?;
                builder
                    .storage()
                    .with_engine_config(
                        BlockEngineConfig::new(device).with_block_size(DISK_BLOCK_BYTES),
                    )
                    .with_recover_mode(RecoverMode::Quiet)
                    .build()
                    .await
                    .map_err(err)?
            }
            None => builder.storage().build().await.map_err(err)?,
        };
        Ok(RangeCache {
            store,
            cache,
            stats: Arc::default(),
        })
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Flushes the disk part so a restarted node finds it.
    pub async fn close(&self) -> Result<(), CacheError> {
        self.cache
            .close()
            .await
            .map_err(|e| CacheError::Cache(e.to_string()))
    }

    /// The bytes of every request, in order: from the cache, else from the object store in one
    /// round trip of parallel GETs. A range of a bundle (a small version stored as one object)
    /// is a slice of the whole bundle, which is fetched and cached as one entry.
    pub async fn fetch(&self, requests: &[RangeRequest]) -> Result<Vec<Bytes>, CacheError> {
        if !requests.iter().any(RangeRequest::is_bundle_range) {
            return self.fetch_exact(requests).await;
        }
        let mut unique: Vec<RangeRequest> = Vec::new();
        let mut index: std::collections::HashMap<RangeRequest, usize> = Default::default();
        let mut plan: Vec<(usize, Option<Range<u64>>)> = Vec::with_capacity(requests.len());
        for r in requests {
            let (wanted, slice) = if r.is_bundle_range() {
                (RangeRequest::whole(r.path.clone()), r.range.clone())
            } else {
                (r.clone(), None)
            };
            let at = *index.entry(wanted.clone()).or_insert_with(|| {
                unique.push(wanted);
                unique.len() - 1
            });
            plan.push((at, slice));
        }
        let fetched = self.fetch_exact(&unique).await?;
        plan.into_iter()
            .map(|(at, slice)| {
                let bytes = &fetched[at];
                match slice {
                    None => Ok(bytes.clone()),
                    Some(r) if r.start <= r.end && r.end <= bytes.len() as u64 => {
                        Ok(bytes.slice(r.start as usize..r.end as usize))
                    }
                    Some(r) => Err(CacheError::Cache(format!(
                        "range {r:?} is outside {} ({} bytes)",
                        unique[at].path,
                        bytes.len()
                    ))),
                }
            })
            .collect()
    }

    async fn fetch_exact(&self, requests: &[RangeRequest]) -> Result<Vec<Bytes>, CacheError> {
        let keys: Vec<String> = requests.iter().map(RangeRequest::key).collect();
        let lookups = keys.iter().map(|k| self.cache.get(k));
        let found = futures::future::join_all(lookups).await;
        let mut out: Vec<Option<Bytes>> = Vec::with_capacity(requests.len());
        let mut missing: Vec<usize> = Vec::new();
        for (i, f) in found.into_iter().enumerate() {
            match f {
                Ok(Some(entry)) => out.push(Some(entry.value().clone())),
                // A disk read error is a miss: the object store still has the bytes.
                Ok(None) | Err(_) => {
                    out.push(None);
                    missing.push(i);
                }
            }
        }
        self.stats
            .hits
            .fetch_add((requests.len() - missing.len()) as u64, Ordering::Relaxed);
        let hit_bytes = out.iter().flatten().map(Bytes::len).sum();
        crate::metrics::cache_lookup(requests.len() - missing.len(), hit_bytes);
        if !missing.is_empty() {
            self.stats
                .misses
                .fetch_add(missing.len() as u64, Ordering::Relaxed);
            self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
            crate::metrics::cache_misses(missing.len());
            let fetched = self.fetch_from_store(requests, &missing).await?;
            crate::metrics::cache_miss_bytes(fetched.iter().map(Bytes::len).sum());
            for (i, bytes) in missing.into_iter().zip(fetched) {
                self.cache.insert(keys[i].clone(), bytes.clone());
                out[i] = Some(bytes);
            }
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    pub async fn fetch_one(&self, request: RangeRequest) -> Result<Bytes, CacheError> {
        let mut v = self.fetch(std::slice::from_ref(&request)).await?;
        Ok(v.pop().unwrap_or_default())
    }

    async fn fetch_from_store(
        &self,
        requests: &[RangeRequest],
        missing: &[usize],
    ) -> Result<Vec<Bytes>, CacheError> {
        // Per file, sorted ranges merged into few GETs (`get_plan`); then every GET at once.
        let mut by_file: BTreeMap<&Path, Vec<(Range<u64>, usize)>> = BTreeMap::new();
        let mut wholes = Vec::new();
        for &i in missing {
            match &requests[i].range {
                Some(r) => by_file
                    .entry(&requests[i].path)
                    .or_default()
                    .push((r.clone(), i)),
                None => wholes.push(i),
            }
        }
        let mut ranges = Vec::with_capacity(missing.len());
        for (path, mut of_file) in by_file {
            of_file.sort_by_key(|(r, _)| (r.start, r.end));
            ranges.extend(of_file.into_iter().map(|(r, i)| (path, r, i)));
        }
        let spans = get_plan::plan(ranges);
        let store = &self.store;
        let span_gets = spans.iter().map(|(path, span, _)| async move {
            if span.is_empty() {
                return Ok(Bytes::new());
            }
            store.get_range(path, span.clone()).await
        });
        let whole_gets = wholes
            .iter()
            .map(|&i| async move { store.get(&requests[i].path).await?.bytes().await });
        let (span_bytes, whole_bytes) =
            futures::future::join(try_join_all(span_gets), try_join_all(whole_gets)).await;
        let (span_bytes, whole_bytes) = (span_bytes?, whole_bytes?);

        let mut result: Vec<(usize, Bytes)> = Vec::with_capacity(missing.len());
        for ((_, span, members), bytes) in spans.iter().zip(span_bytes) {
            for (r, i) in members {
                let start = (r.start - span.start) as usize;
                let end = (r.end - span.start) as usize;
                if end > bytes.len() {
                    return Err(CacheError::Store(object_store::Error::Generic {
                        store: "range cache",
                        source: format!("short read of {}: {r:?}", requests[*i].path).into(),
                    }));
                }
                result.push((*i, bytes.slice(start..end)));
            }
        }
        result.extend(wholes.into_iter().zip(whole_bytes));
        let order: std::collections::HashMap<usize, usize> = missing
            .iter()
            .enumerate()
            .map(|(pos, &i)| (i, pos))
            .collect();
        let mut ordered = vec![Bytes::new(); missing.len()];
        for (i, b) in result {
            // Copy out of the span: a cached entry must not pin the whole span in memory.
            ordered[order[&i]] = Bytes::copy_from_slice(&b);
        }
        Ok(ordered)
    }
}
