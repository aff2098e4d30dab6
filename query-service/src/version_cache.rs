//! A bounded in-memory cache of decoded versions, keyed by manifest key. Versions are immutable,
//! so entries never need invalidation; the least recently used go first when the byte budget is
//! exceeded, so memory is bounded by configuration, not by the number of collections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use silt_common::record::Record;
use silt_common::segment::{read_version, VersionReadError};
use silt_common::storage::DynStore;

pub struct LoadedVersion {
    pub records: Vec<Record>,
    pub by_id: HashMap<String, usize>,
    bytes: usize,
}

impl LoadedVersion {
    pub fn empty() -> Self {
        LoadedVersion::new(Vec::new())
    }

    fn new(records: Vec<Record>) -> Self {
        let by_id = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let bytes = records
            .iter()
            .map(|r| {
                96 + r.id.len() * 2
                    + r.embedding.len() * 4
                    + r.document.as_ref().map_or(0, String::len)
            })
            .sum();
        LoadedVersion {
            records,
            by_id,
            bytes,
        }
    }

    pub fn lookup(&self, id: &str) -> Option<&Record> {
        self.by_id.get(id).map(|&i| &self.records[i])
    }
}

struct Entry {
    version: Arc<LoadedVersion>,
    last_used: u64,
}

pub struct VersionCache {
    store: DynStore,
    budget_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    used_bytes: usize,
    clock: u64,
}

impl VersionCache {
    pub fn new(store: DynStore, budget_bytes: usize) -> Self {
        VersionCache {
            store,
            budget_bytes,
            inner: Mutex::default(),
        }
    }

    pub fn resident_bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .used_bytes
    }

    pub async fn load(&self, manifest_key: &str) -> Result<Arc<LoadedVersion>, VersionReadError> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.clock += 1;
            let now = inner.clock;
            if let Some(e) = inner.entries.get_mut(manifest_key) {
                e.last_used = now;
                return Ok(e.version.clone());
            }
        }
        let (_manifest, records) = read_version(self.store.as_ref(), manifest_key).await?;
        let version = Arc::new(LoadedVersion::new(records));
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        if !inner.entries.contains_key(manifest_key) {
            inner.used_bytes += version.bytes;
            inner.entries.insert(
                manifest_key.to_string(),
                Entry {
                    version: version.clone(),
                    last_used: now,
                },
            );
        }
        while inner.used_bytes > self.budget_bytes && inner.entries.len() > 1 {
            let Some(oldest) = inner
                .entries
                .iter()
                .filter(|(k, _)| k.as_str() != manifest_key)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.used_bytes -= e.version.bytes;
            }
        }
        Ok(version)
    }
}
