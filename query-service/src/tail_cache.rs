//! The unindexed tails this node has already read, so that a strong read asks the log only for
//! what was written since its last read of the collection (nothing at all when the catalog's
//! log position has not moved). Longer tails, which let a trickle of writes share one
//! compaction, then cost a strong read no more than short ones.
//!
//! Entries are immutable once their offset is acknowledged (the catalog's log position covers
//! them and the log is append-only above the compacted offset), so a cached entry never goes
//! stale; entries at or below a newer compacted offset are simply dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use silt_common::record::LogEntry;
use silt_common::CollectionId;

struct Tail {
    /// Every acknowledged entry in `(compacted_offset, last]`, in offset order.
    entries: Vec<LogEntry>,
    compacted_offset: u64,
    last: u64,
    bytes: usize,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    tails: HashMap<CollectionId, Tail>,
    bytes: usize,
    clock: u64,
}

pub struct TailCache {
    budget_bytes: usize,
    inner: Mutex<Inner>,
}

/// What a read needs from the log, given what is cached.
pub enum TailPlan {
    /// The cached entries cover the whole tail.
    Cached(Vec<LogEntry>),
    /// These entries are cached; the log must be read after `from` (up to the log position).
    Extend { cached: Vec<LogEntry>, from: u64 },
}

fn entry_bytes(e: &LogEntry) -> usize {
    let r = &e.record;
    96 + r.id.len()
        + r.embedding.as_ref().map_or(0, |v| v.len() * 4)
        + r.document.as_ref().map_or(0, String::len)
        + r.metadata.as_ref().map_or(0, |m| m.len() * 48)
        + r.uri.as_ref().map_or(0, String::len)
}

impl TailCache {
    pub fn new(budget_bytes: usize) -> Self {
        TailCache {
            budget_bytes,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn resident_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The entries of `id` in `(compacted_offset, log_position]` this node holds, and where
    /// the log must be read from for the rest.
    pub fn plan(&self, id: CollectionId, compacted_offset: u64, log_position: u64) -> TailPlan {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let Some(tail) = inner.tails.get_mut(&id) else {
            return TailPlan::Extend {
                cached: Vec::new(),
                from: compacted_offset,
            };
        };
        // A tail cached from before an older version cannot tell what lies between.
        if tail.compacted_offset > compacted_offset || tail.last < compacted_offset {
            return TailPlan::Extend {
                cached: Vec::new(),
                from: compacted_offset,
            };
        }
        tail.last_used = now;
        let cached: Vec<LogEntry> = tail
            .entries
            .iter()
            .filter(|e| e.offset > compacted_offset && e.offset <= log_position)
            .cloned()
            .collect();
        if tail.last >= log_position {
            TailPlan::Cached(cached)
        } else {
            TailPlan::Extend {
                cached,
                from: tail.last,
            }
        }
    }

    /// Remembers the tail of `id` as `(compacted_offset, log_position]` = `entries` (those above
    /// the log position, written but not yet acknowledged, are not kept).
    pub fn store(
        &self,
        id: CollectionId,
        compacted_offset: u64,
        log_position: u64,
        entries: &[LogEntry],
    ) {
        let kept: Vec<LogEntry> = entries
            .iter()
            .filter(|e| e.offset > compacted_offset && e.offset <= log_position)
            .cloned()
            .collect();
        let bytes: usize = kept.iter().map(entry_bytes).sum();
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some(old) = inner.tails.remove(&id) {
            inner.bytes -= old.bytes;
        }
        if bytes > self.budget_bytes / 4 {
            // One huge tail would push out every other collection's; read it from the log.
            crate::metrics::tail_cache_bytes(inner.bytes);
            return;
        }
        inner.bytes += bytes;
        inner.tails.insert(
            id,
            Tail {
                entries: kept,
                compacted_offset,
                last: log_position,
                bytes,
                last_used: now,
            },
        );
        while inner.bytes > self.budget_bytes {
            let Some(oldest) = inner
                .tails
                .iter()
                .min_by_key(|(_, t)| t.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(t) = inner.tails.remove(&oldest) {
                inner.bytes -= t.bytes;
            }
        }
        crate::metrics::tail_cache_bytes(inner.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_common::record::{Operation, OperationRecord};

    fn entry(offset: u64) -> LogEntry {
        LogEntry {
            offset,
            record: OperationRecord {
                id: format!("r{offset}"),
                operation: Operation::Upsert,
                embedding: Some(vec![1.0; 8]),
                document: None,
                metadata: None,
                uri: None,
            },
        }
    }

    fn offsets(entries: &[LogEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.offset).collect()
    }

    #[test]
    fn reads_extend_the_cached_tail_and_compaction_trims_it() {
        let cache = TailCache::new(1 << 20);
        let id = CollectionId::new_random();
        assert!(matches!(
            cache.plan(id, 10, 13),
            TailPlan::Extend { ref cached, from: 10 } if cached.is_empty()
        ));
        // Read (10, 13]; the log also returned 14, not yet acknowledged: not kept.
        cache.store(id, 10, 13, &[entry(11), entry(12), entry(13), entry(14)]);
        match cache.plan(id, 10, 13) {
            TailPlan::Cached(e) => assert_eq!(offsets(&e), vec![11, 12, 13]),
            TailPlan::Extend { .. } => panic!("the tail is cached"),
        }
        // Two more writes: only (13, 15] is read.
        match cache.plan(id, 10, 15) {
            TailPlan::Extend { cached, from } => {
                assert_eq!((offsets(&cached), from), (vec![11, 12, 13], 13));
            }
            TailPlan::Cached(_) => panic!("the log moved"),
        }
        cache.store(
            id,
            10,
            15,
            &[entry(11), entry(12), entry(13), entry(14), entry(15)],
        );
        // Compacted to 12: the cached entries above it still serve.
        match cache.plan(id, 12, 15) {
            TailPlan::Cached(e) => assert_eq!(offsets(&e), vec![13, 14, 15]),
            TailPlan::Extend { .. } => panic!("still covered"),
        }
        // Compacted past everything cached: read from the new compacted offset.
        assert!(matches!(
            cache.plan(id, 20, 22),
            TailPlan::Extend { ref cached, from: 20 } if cached.is_empty()
        ));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used_tail() {
        let one = entry_bytes(&entry(1));
        let nine: Vec<LogEntry> = (1..=9).map(entry).collect();
        let cache = TailCache::new(one * 40);
        let ids: Vec<CollectionId> = (0..5).map(|_| CollectionId::new_random()).collect();
        cache.store(ids[0], 0, 9, &nine);
        cache.store(ids[1], 0, 9, &nine);
        let _ = cache.plan(ids[0], 0, 9);
        cache.store(ids[2], 0, 9, &nine);
        cache.store(ids[3], 0, 9, &nine);
        assert_eq!(cache.resident_bytes(), one * 36);
        cache.store(ids[4], 0, 9, &nine);
        assert!(cache.resident_bytes() <= one * 40);
        assert!(
            matches!(cache.plan(ids[1], 0, 9), TailPlan::Extend { .. }),
            "the least recently used tail went"
        );
        assert!(matches!(cache.plan(ids[0], 0, 9), TailPlan::Cached(_)));
        // A tail bigger than a quarter of the budget is not kept at all.
        let many: Vec<LogEntry> = (1..=11).map(entry).collect();
        cache.store(ids[0], 0, 11, &many);
        assert!(matches!(cache.plan(ids[0], 0, 11), TailPlan::Extend { .. }));
    }
}
