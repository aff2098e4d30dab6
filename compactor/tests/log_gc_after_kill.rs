//! Log garbage collection is driven by the catalog: a log node that dies before collecting its
//! fragments leaks nothing, because any compactor's GC round deletes every fragment below the
//! compacted offset once the grace period has passed. Requests counted with `CountingStore`.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::memory::InMemory;
use silt_common::clock::{Clock, SystemClock};
use silt_common::keys::{log_dir, parse_log_fragment};
use silt_common::record::{Operation, OperationRecord};
use silt_common::routing::{Member, StaticNodes};
use silt_common::storage::{CountingStore, DynStore, StoreStatsSnapshot};
use silt_common::CollectionId;
use silt_compactor::{Compactor, CompactorConfig, Outcome, Peers};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_sysdb::{NewCollection, SysDb};

const GRACE: Duration = Duration::from_secs(600);

fn record(id: String) -> OperationRecord {
    OperationRecord {
        id,
        operation: Operation::Upsert,
        embedding: Some(vec![0.25; 4]),
        document: None,
        metadata: None,
        uri: None,
    }
}

fn log_node(store: &DynStore, sysdb: &SysDb) -> Arc<ObjectLog> {
    Arc::new(ObjectLog::new(
        store.clone(),
        sysdb.clone(),
        LogConfig {
            group_window: Duration::ZERO,
            ..LogConfig::default()
        }
        .with_gc_grace(GRACE),
    ))
}

fn compactor(store: DynStore, sysdb: &SysDb, log: Arc<ObjectLog>) -> Compactor {
    Compactor::new(
        store,
        sysdb.clone(),
        log,
        CompactorConfig {
            min_tail_records: 1,
            gc_grace: GRACE,
            ..CompactorConfig::default()
        },
    )
}

/// First offsets of the fragments in the collection's log prefix.
async fn fragments(store: &DynStore, c: CollectionId) -> Vec<u64> {
    let metas: Vec<_> = store.list(Some(&log_dir(c))).try_collect().await.unwrap();
    let mut firsts: Vec<u64> = metas
        .iter()
        .filter_map(|m| parse_log_fragment(&m.location))
        .collect();
    firsts.sort_unstable();
    firsts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_of_a_dead_log_node_are_collected_by_another_nodes_gc() {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let store: DynStore = Arc::new(InMemory::new());
    let (c, _) = sysdb
        .create_collection(NewCollection::in_default_database(
            "trickle",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let c = c.id;

    // Log node A takes ten single-record writes (ten fragments); a compactor folds them into
    // a version; two more writes arrive after it. Then A is killed before any GC of its own.
    let a = log_node(&store, &sysdb);
    for i in 1..=10 {
        a.append(c, vec![record(format!("r{i}"))]).await.unwrap();
    }
    let outcome = compactor(store.clone(), &sysdb, a.clone())
        .compact(c)
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        Outcome::Registered {
            compacted_offset: 10,
            ..
        }
    ));
    for i in 11..=12 {
        a.append(c, vec![record(format!("r{i}"))]).await.unwrap();
    }
    drop(a);
    assert_eq!(fragments(&store, c).await, (1..=12).collect::<Vec<_>>());

    // Node B (a new log node and its compactor, counting their requests) collects.
    let counting = CountingStore::new(store.clone());
    let stats = counting.stats();
    let b_store: DynStore = Arc::new(counting);
    let b = compactor(b_store.clone(), &sysdb, log_node(&b_store, &sysdb));
    let now = SystemClock.now_ms();

    // Within the grace period readers of the empty version 0 may still need them: nothing is
    // deleted, and finding that out costs no object-store request.
    assert_eq!(b.collect_garbage(now).await.unwrap(), 0);
    assert_eq!(stats.snapshot(), StoreStatsSnapshot::default());

    // After it: one LIST of the log prefix, one DELETE per fragment at or below offset 10.
    let after_grace = now + GRACE.as_millis() as i64 + 1;
    assert_eq!(b.collect_garbage(after_grace).await.unwrap(), 10);
    let s = stats.snapshot();
    assert_eq!((s.lists, s.deletes, s.gets, s.puts), (1, 10, 0, 0));
    assert_eq!(fragments(&store, c).await, [11, 12], "the tail is kept");

    // The catalog records how far it got: the next round has nothing to list.
    let before = stats.snapshot();
    assert_eq!(b.collect_garbage(after_grace).await.unwrap(), 0);
    assert_eq!(
        stats.snapshot().since(&before),
        StoreStatsSnapshot::default()
    );

    // B compacts the rest; once that version's grace has passed, the log is empty.
    assert!(matches!(
        b.compact(c).await.unwrap(),
        Outcome::Registered {
            compacted_offset: 12,
            ..
        }
    ));
    let later = after_grace + GRACE.as_millis() as i64 + 1;
    let deleted = b.collect_garbage(later).await.unwrap();
    assert!(
        deleted >= 2,
        "fragments 11 and 12 (and version 1's objects)"
    );
    assert!(fragments(&store, c).await.is_empty(), "no fragment leaked");
}

/// `n` collections, each with three single-record writes compacted into a version.
async fn compacted_collections(
    store: &DynStore,
    sysdb: &SysDb,
    log: &Arc<ObjectLog>,
    n: usize,
) -> Vec<CollectionId> {
    let mut ids = Vec::new();
    for k in 0..n {
        let (c, _) = sysdb
            .create_collection(NewCollection::in_default_database(
                &format!("c{k}"),
                serde_json::json!({}),
            ))
            .await
            .unwrap();
        for i in 1..=3 {
            log.append(c.id, vec![record(format!("r{i}"))])
                .await
                .unwrap();
        }
        compactor(store.clone(), sysdb, log.clone())
            .compact(c.id)
            .await
            .unwrap();
        ids.push(c.id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_compactor_collects_the_logs_it_owns_a_bounded_number_per_round() {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let store: DynStore = Arc::new(InMemory::new());
    let log = log_node(&store, &sysdb);
    let ids = compacted_collections(&store, &sysdb, &log, 8).await;
    let after_grace = SystemClock.now_ms() + GRACE.as_millis() as i64 + 1;

    // A round handles at most the bound it is given; the next goes on from there.
    let first = silt_log_service::collect_log_garbage(&store, &sysdb, after_grace, |_| true, 3)
        .await
        .unwrap();
    assert_eq!((first.collections, first.lists, first.deleted), (3, 3, 9));
    let mut left = 0;
    for c in &ids {
        left += fragments(&store, *c).await.len();
    }
    assert_eq!(left, 15);

    // Two compactors split the rest by rendezvous hash: each lists only its own collections.
    let peers = |me: &str| Peers {
        nodes: Arc::new(StaticNodes::new(
            "compactor",
            ["a", "b"]
                .iter()
                .map(|id| Member {
                    id: id.to_string(),
                    address: format!("http://{id}"),
                })
                .collect(),
        )),
        self_id: me.to_string(),
    };
    let mut lists = 0;
    for me in ["a", "b"] {
        let counting = CountingStore::new(store.clone());
        let stats = counting.stats();
        let c = compactor(Arc::new(counting), &sysdb, log.clone()).with_peers(peers(me));
        c.collect_garbage(after_grace).await.unwrap();
        lists += stats.snapshot().lists;
    }
    assert_eq!(
        lists, 5,
        "each remaining collection listed once, by its owner"
    );
    for c in &ids {
        assert!(fragments(&store, *c).await.is_empty());
    }
}
