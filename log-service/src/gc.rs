//! Garbage collection of log fragments, driven by the catalog alone: any process with the store
//! and the catalog (every compactor runs it; `ObjectLog::collect_garbage` too) deletes what is
//! compacted and past the grace period, whichever log node wrote it and whether or not that
//! node is still alive.
//!
//! Fragment keys are their first offsets and a fragment's end is only in its header, so the
//! collector LISTs the collection's log prefix (one request per 1,000 fragments) and deletes
//! the fragments that end at or below the collectable offset. It lists the whole prefix, not
//! from the collected offset on: a fenced stale writer can land a fragment in a key that was
//! already collected (`SysDb::log_garbage_at` reopens the collection for it).

use futures::{StreamExt, TryStreamExt};
use silt_common::keys::log_fragment;
use silt_common::storage::DynStore;
use silt_common::CollectionId;
use silt_sysdb::{LogGarbage, SysDb};

use crate::recovery::list_fragments;
use crate::LogError;

/// Collections read from the catalog at a time.
const PAGE: u32 = 256;
/// Collections collected at once (each one LIST, then its DELETEs).
const PARALLEL: usize = 8;

/// What one collection round did, for the caller's counts and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogGcStats {
    /// Collections whose log was listed.
    pub collections: usize,
    /// LIST calls made (each is one request per 1,000 keys listed).
    pub lists: usize,
    /// Fragments deleted.
    pub deleted: usize,
}

/// Deletes the fragments every collection that `owns` accepts no longer needs: those ending at
/// or below the compacted offset of its newest version registered at or before
/// `registered_before_ms` (now minus the grace period, in the catalog's clock). Advances each
/// collection's collected offset in the catalog once its fragments are gone. Handles at most
/// `max_collections` (a few at a time), so that a round after a burst of many collections
/// does not hold up its caller (the compaction loop); the rest wait for the next round.
pub async fn collect_log_garbage(
    store: &DynStore,
    sysdb: &SysDb,
    registered_before_ms: i64,
    owns: impl Fn(&CollectionId) -> bool,
    max_collections: usize,
) -> Result<LogGcStats, LogError> {
    let mut stats = LogGcStats::default();
    let mut after = None;
    while stats.collections < max_collections {
        let page = sysdb.log_garbage(registered_before_ms, after, PAGE).await?;
        let last_page = page.len() < PAGE as usize;
        after = page.last().map(|g| g.id);
        let mine: Vec<LogGarbage> = page
            .into_iter()
            .filter(|g| owns(&g.id))
            .take(max_collections - stats.collections)
            .collect();
        // Owned values and handles in each future: a future borrowing from this frame is not
        // `Send` for every lifetime, which the compactor's spawned loop requires.
        let deleted: Vec<usize> = futures::stream::iter(mine)
            .map(|garbage| {
                let (store, sysdb) = (store.clone(), sysdb.clone());
                async move {
                    let n = collect_one(&store, &garbage).await?;
                    sysdb
                        .log_collected(garbage.id, garbage.collectable_offset)
                        .await?;
                    Ok::<_, LogError>(n)
                }
            })
            .buffer_unordered(PARALLEL)
            .try_collect()
            .await?;
        stats.collections += deleted.len();
        stats.lists += deleted.len();
        stats.deleted += deleted.iter().sum::<usize>();
        if last_page {
            break;
        }
    }
    Ok(stats)
}

/// Deletes one collection's fragments at or below its collectable offset.
async fn collect_one(store: &DynStore, garbage: &LogGarbage) -> Result<usize, LogError> {
    let firsts = list_fragments(store, garbage.id).await?;
    let doomed = doomed(&firsts, garbage);
    if let Some(&kept) = firsts
        .iter()
        .find(|&&f| f <= garbage.collectable_offset && !doomed.contains(&f))
    {
        // Every compacted offset ends a fragment, so this should not happen; if it does, the
        // fragment may hold offsets past the collectable one and is kept.
        tracing::warn!(collection = %garbage.id, first = kept, collectable = garbage.collectable_offset, "log fragment straddles the collectable offset; kept");
    }
    let n = doomed.len();
    let keys = doomed
        .into_iter()
        .map(move |f| Ok(log_fragment(garbage.id, f)))
        .collect::<Vec<_>>();
    let mut results = store.delete_stream(futures::stream::iter(keys).boxed());
    while let Some(r) = results.next().await {
        match r {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// The fragments (by first offset, ascending) that certainly end at or below the collectable
/// offset: those followed by a fragment starting at or before the offset after it, and the
/// newest one when the collectable offset reaches the log position (nothing acknowledged lies
/// past it, so no real fragment can straddle it). Fragments of the real log tile it and every
/// compacted offset ends one of them, so this is every fragment at or below the offset; any
/// other fragment there is a fenced stale writer's, garbage from the start.
pub(crate) fn doomed(firsts: &[u64], garbage: &LogGarbage) -> Vec<u64> {
    let limit = garbage.collectable_offset;
    let mut out = Vec::new();
    for (i, &first) in firsts.iter().enumerate() {
        if first > limit {
            break;
        }
        let ends_below = match firsts.get(i + 1) {
            Some(&next) => next <= limit + 1,
            None => limit >= garbage.log_position,
        };
        if ends_below {
            out.push(first);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn garbage(collectable: u64, position: u64) -> LogGarbage {
        LogGarbage {
            id: CollectionId::new_random(),
            collected_offset: 0,
            collectable_offset: collectable,
            log_position: position,
        }
    }

    #[test]
    fn doomed_fragments_end_at_or_below_the_collectable_offset() {
        // Fragments 1..=3, 4..=5, 6..=9, 10..
        let firsts = [1, 4, 6, 10];
        assert_eq!(doomed(&firsts, &garbage(5, 12)), [1, 4]);
        assert_eq!(doomed(&firsts, &garbage(9, 12)), [1, 4, 6]);
        // The newest fragment goes only when nothing acknowledged lies past the offset.
        assert_eq!(doomed(&firsts, &garbage(12, 12)), [1, 4, 6, 10]);
        assert_eq!(doomed(&firsts, &garbage(12, 13)), [1, 4, 6]);
        assert!(doomed(&[], &garbage(12, 12)).is_empty());
        // A straddler (should never exist) is kept: 4's successor starts past 6.
        assert_eq!(doomed(&[1, 4, 8], &garbage(5, 9)), [1]);
    }

    #[test]
    fn a_fenced_fragment_in_a_collected_key_is_doomed() {
        // 1..=3 and 4..=5 were collected; a stale writer then wrote 2..=7 into key 2, fenced.
        // The real log goes on at 6 and 8.
        assert_eq!(doomed(&[2, 6, 8], &garbage(7, 9)), [2, 6]);
    }
}
