//! Reading the log back from object storage: recovery of the true tail after a restart or an
//! ownership change, and reads of ranges no longer held in memory. Only the collection's own
//! log prefix is listed, and fragments below the compacted offset are skipped without a GET.

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use silt_common::keys::{log_dir, log_fragment, parse_log_fragment};
use silt_common::record::LogEntry;
use silt_common::storage::DynStore;
use silt_common::CollectionId;

use crate::fragment::{decode_fragment, Fragment};
use crate::LogError;

const PARALLEL_GETS: usize = 16;

/// First offsets of every fragment of the collection, ascending.
pub(crate) async fn list_fragments(
    store: &DynStore,
    collection: CollectionId,
) -> Result<Vec<u64>, LogError> {
    let dir = log_dir(collection);
    let metas: Vec<_> = store.list(Some(&dir)).try_collect().await?;
    let mut firsts: Vec<u64> = metas
        .iter()
        .filter_map(|m| parse_log_fragment(&m.location))
        .collect();
    firsts.sort_unstable();
    Ok(firsts)
}

/// The stored bytes of one fragment, unchecked.
pub(crate) async fn read_fragment_bytes(
    store: &DynStore,
    collection: CollectionId,
    first: u64,
) -> Result<Vec<u8>, LogError> {
    let key: Path = log_fragment(collection, first);
    Ok(store.get(&key).await?.bytes().await?.to_vec())
}

pub(crate) async fn read_fragment(
    store: &DynStore,
    collection: CollectionId,
    first: u64,
) -> Result<Fragment, LogError> {
    let bytes = read_fragment_bytes(store, collection, first).await?;
    decode_at(&bytes, collection, first)
}

/// Decodes the fragment stored at offset `first`, checking that its header agrees.
pub(crate) fn decode_at(
    bytes: &[u8],
    collection: CollectionId,
    first: u64,
) -> Result<Fragment, LogError> {
    let key = || log_fragment(collection, first).to_string();
    let fragment = decode_fragment(bytes, collection)
        .map_err(|source| LogError::Corrupt { key: key(), source })?;
    if fragment.first_offset != first {
        return Err(LogError::Corrupt {
            key: key(),
            source: silt_common::codec::DecodeError::Invalid(format!(
                "header says first offset {}",
                fragment.first_offset
            )),
        });
    }
    Ok(fragment)
}

/// All entries with offsets greater than `after`, read from object storage, checked to be dense.
pub(crate) async fn read_after(
    store: &DynStore,
    collection: CollectionId,
    after: u64,
) -> Result<Vec<LogEntry>, LogError> {
    let firsts = list_fragments(store, collection).await?;
    // Fragments before the last one starting at or before `after + 1` end at or before `after`
    // (the next one starts no later than `after + 1`), so they are skipped without a GET.
    let from = firsts
        .partition_point(|&f| f <= after + 1)
        .saturating_sub(1);
    let wanted = &firsts[from..];
    let fragments: Vec<Fragment> = futures::stream::iter(wanted.iter().copied())
        .map(|first| read_fragment(store, collection, first))
        .buffered(PARALLEL_GETS)
        .try_collect()
        .await?;
    let mut entries = Vec::new();
    let mut expected = after + 1;
    for (i, fragment) in fragments.into_iter().enumerate() {
        if fragment.last_offset() < expected {
            continue;
        }
        if wanted
            .get(i + 1)
            .is_some_and(|&next| fragment.last_offset() >= next)
        {
            // Fragments of the real log tile it exactly. One that runs into its successor was
            // written by a stale writer into a key that had been compacted and collected, and
            // the catalog fenced it (`SysDb::commit_log_position`): it was never acknowledged.
            tracing::warn!(%collection, first = fragment.first_offset, "skipping a fenced stale log fragment");
            continue;
        }
        if fragment.first_offset > expected {
            return Err(LogError::Gap {
                collection: collection.to_string(),
                expected,
                found: fragment.first_offset,
            });
        }
        expected = fragment.last_offset() + 1;
        entries.extend(fragment.entries.into_iter().filter(|e| e.offset > after));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fragment::encode_fragment;
    use object_store::memory::InMemory;
    use silt_common::record::OperationRecord;
    use std::sync::Arc;

    async fn write(store: &DynStore, c: CollectionId, first: u64, n: usize) {
        let records: Vec<_> = (0..n)
            .map(|i| OperationRecord::delete(format!("r{}", first as usize + i)))
            .collect();
        store
            .put(
                &log_fragment(c, first),
                encode_fragment(c, first, &records).into(),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn reads_after_any_offset_including_mid_fragment() {
        let store: DynStore = Arc::new(InMemory::new());
        let c = CollectionId::new_random();
        write(&store, c, 1, 3).await; // 1..=3
        write(&store, c, 4, 2).await; // 4..=5
        write(&store, c, 6, 4).await; // 6..=9
        for after in 0..=9u64 {
            let got: Vec<u64> = read_after(&store, c, after)
                .await
                .unwrap()
                .iter()
                .map(|e| e.offset)
                .collect();
            let want: Vec<u64> = (after + 1..=9).collect();
            assert_eq!(got, want, "after {after}");
        }
    }

    #[tokio::test]
    async fn a_fragment_overlapping_its_successor_is_skipped() {
        // 1..=3 and 4..=5 were compacted and collected; a stale writer then wrote 4..=7 into
        // the free key 4 and was fenced. The real log continues at 6.
        let store: DynStore = Arc::new(InMemory::new());
        let c = CollectionId::new_random();
        write(&store, c, 4, 4).await; // stale: 4..=7
        write(&store, c, 6, 2).await; // 6..=7
        write(&store, c, 8, 1).await; // 8
        let got: Vec<String> = read_after(&store, c, 5)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.record.id)
            .collect();
        assert_eq!(got, ["r6", "r7", "r8"]);
        // A reader from further back fails loudly (its fragments are gone), never reads the
        // stale records.
        assert!(matches!(
            read_after(&store, c, 3).await,
            Err(LogError::Gap {
                expected: 4,
                found: 6,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_missing_fragment_is_a_gap_error() {
        let store: DynStore = Arc::new(InMemory::new());
        let c = CollectionId::new_random();
        write(&store, c, 1, 3).await;
        write(&store, c, 6, 1).await;
        assert!(matches!(
            read_after(&store, c, 0).await,
            Err(LogError::Gap { expected: 4, .. })
        ));
    }
}
