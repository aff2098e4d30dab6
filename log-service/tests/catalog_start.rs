//! A new or restarted log owner learns from the catalog that a log is fully compacted and reads
//! nothing from the object store for it; a fragment left above the compacted offset by a
//! writer that died before its commit is still adopted exactly once. Counted with
//! `CountingStore`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::ObjectStoreExt;
use silt_common::keys::log_fragment;
use silt_common::storage::{CountingStore, DynStore, StoreStats, StoreStatsSnapshot};
use silt_common::CollectionId;
use silt_log_service::{encode_fragment, LogConfig, LogService, ObjectLog};
use silt_sysdb::{SysDb, VersionRecord};
use support::{catalog, new_collection, rec};

fn config() -> LogConfig {
    LogConfig {
        group_window: Duration::ZERO,
        ..LogConfig::default()
    }
}

/// A log over `store` whose requests are counted.
fn counted_log(store: &DynStore, sysdb: &SysDb) -> (ObjectLog, Arc<StoreStats>) {
    let counting = CountingStore::new(store.clone());
    let stats = counting.stats();
    (
        ObjectLog::new(Arc::new(counting), sysdb.clone(), config()),
        stats,
    )
}

/// A collection with three single-record writes (three fragments), compacted up to 3.
async fn compacted_collection(store: &DynStore, sysdb: &SysDb) -> CollectionId {
    let c = new_collection(sysdb).await;
    let writer = ObjectLog::new(store.clone(), sysdb.clone(), config());
    for i in 1..=3 {
        writer.append(c, vec![rec(format!("r{i}"))]).await.unwrap();
    }
    let registered = sysdb
        .register_version(
            0,
            &VersionRecord {
                collection_id: c,
                version: 1,
                manifest: "v1".into(),
                compacted_offset: 3,
                record_count: 3,
                superseded_at_ms: None,
            },
        )
        .await
        .unwrap();
    assert!(registered);
    c
}

async fn ids(log: &ObjectLog, c: CollectionId, after: u64, known: u64) -> Vec<String> {
    log.read_tail(c, after, known)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record.id)
        .collect()
}

fn requests(s: StoreStatsSnapshot) -> (u64, u64, u64) {
    (s.puts, s.lists, s.gets)
}

#[tokio::test]
async fn a_new_owner_of_a_compacted_log_writes_with_one_put_and_reads_nothing() {
    let env = catalog().await;
    let store: DynStore = Arc::new(InMemory::new());
    let c = compacted_collection(&store, &env.sysdb).await;

    // A fresh node's first append: one PUT, no LIST, no GET.
    let (writer, stats) = counted_log(&store, &env.sysdb);
    let receipt = writer.append(c, vec![rec("r4".into())]).await.unwrap();
    assert_eq!((receipt.first_offset, receipt.last_offset), (4, 4));
    assert_eq!(requests(stats.snapshot()), (1, 0, 0), "PUTs, LISTs, GETs");
    assert_eq!(env.sysdb.get_collection(c).await.unwrap().log_position, 4);

    // A fresh node's first tail read of a compacted log: no request at all.
    let d = compacted_collection(&store, &env.sysdb).await;
    let (reader, stats) = counted_log(&store, &env.sysdb);
    assert!(ids(&reader, d, 3, 3).await.is_empty());
    assert_eq!(stats.snapshot(), StoreStatsSnapshot::default());

    // Both go on as usual: the reader, told of a newer position, catches up from the store.
    let (other, _) = counted_log(&store, &env.sysdb);
    other.append(d, vec![rec("d4".into())]).await.unwrap();
    assert_eq!(ids(&reader, d, 3, 4).await, ["d4"]);
    assert_eq!(ids(&writer, c, 3, 4).await, ["r4"]);
}

#[tokio::test]
async fn a_fragment_left_by_a_writer_that_died_before_its_commit_is_adopted_once() {
    let env = catalog().await;
    let store: DynStore = Arc::new(InMemory::new());
    let c = compacted_collection(&store, &env.sysdb).await;
    // The dead writer's PUT landed at 4; its catalog commit never happened, so the catalog
    // still says the log is fully compacted and nobody was told the write succeeded.
    store
        .put(
            &log_fragment(c, 4),
            encode_fragment(c, 4, &[rec("orphan".into())]).into(),
        )
        .await
        .unwrap();

    // A reader need not see an unacknowledged write, and asks the store nothing.
    let (reader, stats) = counted_log(&store, &env.sysdb);
    assert!(ids(&reader, c, 3, 3).await.is_empty());
    assert_eq!(stats.snapshot(), StoreStatsSnapshot::default());

    // The next writer finds key 4 taken, adopts it (one GET) and writes after it.
    let (writer, stats) = counted_log(&store, &env.sysdb);
    let receipt = writer.append(c, vec![rec("next".into())]).await.unwrap();
    assert_eq!(receipt.first_offset, 5);
    assert_eq!(requests(stats.snapshot()), (2, 0, 1), "PUTs, LISTs, GETs");
    let position = env.sysdb.get_collection(c).await.unwrap().log_position;
    assert_eq!(position, 5, "the commit covers the adopted fragment");

    // Everyone now sees both, once: the writer, the reader that started empty, a fresh node.
    let (fresh, _) = counted_log(&store, &env.sysdb);
    for log in [&writer, &reader, &fresh] {
        assert_eq!(ids(log, c, 3, position).await, ["orphan", "next"]);
    }
}

#[tokio::test]
async fn a_reader_that_catches_up_past_the_position_records_it() {
    // A reader serves an unacknowledged fragment it found while catching up. The catalog must
    // then cover it, or a later owner starting from the catalog would hide it again (a read
    // that goes back).
    let env = catalog().await;
    let store: DynStore = Arc::new(InMemory::new());
    let c = compacted_collection(&store, &env.sysdb).await;
    let (reader, _) = counted_log(&store, &env.sysdb);
    assert!(ids(&reader, c, 3, 3).await.is_empty());
    let (writer, _) = counted_log(&store, &env.sysdb);
    writer.append(c, vec![rec("a".into())]).await.unwrap();
    store
        .put(
            &log_fragment(c, 5),
            encode_fragment(c, 5, &[rec("orphan".into())]).into(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&reader, c, 3, 4).await, ["a", "orphan"]);
    assert_eq!(env.sysdb.get_collection(c).await.unwrap().log_position, 5);
    let (fresh, _) = counted_log(&store, &env.sysdb);
    assert_eq!(ids(&fresh, c, 3, 5).await, ["a", "orphan"]);
}

#[tokio::test]
async fn an_aged_view_that_the_catalog_confirms_is_kept_without_reading_the_store() {
    // A resync is due (the view is older than `resync_after`), but the catalog's position is
    // still where this node's view ends: nothing to read. Once another node has written, the
    // position has moved, and the next resync reads the log again.
    let env = catalog().await;
    let store: DynStore = Arc::new(InMemory::new());
    let c = new_collection(&env.sysdb).await;
    let counting = CountingStore::new(store.clone());
    let stats = counting.stats();
    let quick = config().with_gc_grace(Duration::from_millis(40)); // resync after 10 ms
    let log = ObjectLog::new(Arc::new(counting), env.sysdb.clone(), quick.clone());
    log.append(c, vec![rec("a".into())]).await.unwrap();
    log.append(c, vec![rec("b".into())]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let before = stats.snapshot();
    assert_eq!(ids(&log, c, 0, 0).await, ["a", "b"]);
    assert_eq!(requests(stats.snapshot().since(&before)), (0, 0, 0));

    let other = ObjectLog::new(store.clone(), env.sysdb.clone(), quick);
    other.append(c, vec![rec("c".into())]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Even a caller that knows nothing of the new position gets the other node's write.
    assert_eq!(ids(&log, c, 0, 0).await, ["a", "b", "c"]);
    let next = log.append(c, vec![rec("d".into())]).await.unwrap();
    assert_eq!(next.first_offset, 4);
}
