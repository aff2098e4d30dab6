//! Several compactors on one catalog and store: each collection is compacted by exactly one of
//! them (rendezvous hash over the live compactors), and when two do race for the same
//! collection, one compare-and-swap wins, the other discards its work and counts the loss.

use std::sync::Arc;

use futures::StreamExt;
use object_store::memory::InMemory;
use silt_common::keys::versions_dir;
use silt_common::record::{Operation, OperationRecord};
use silt_common::routing::{Member, StaticNodes};
use silt_common::storage::DynStore;
use silt_common::CollectionId;
use silt_compactor::{Compactor, CompactorConfig, Outcome, Peers};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_sysdb::{NewCollection, SysDb};

struct Shared {
    _dir: tempfile::TempDir,
    store: DynStore,
    sysdb: SysDb,
    log: Arc<ObjectLog>,
}

async fn shared() -> Shared {
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
    Shared {
        _dir: dir,
        store,
        sysdb,
        log,
    }
}

fn compactor(s: &Shared, peers: Option<(&[&str], &str)>) -> Compactor {
    let c = Compactor::new(
        s.store.clone(),
        s.sysdb.clone(),
        s.log.clone(),
        CompactorConfig {
            min_tail_records: 1,
            ..CompactorConfig::default()
        },
    );
    match peers {
        Some((all, me)) => c.with_peers(Peers {
            nodes: Arc::new(StaticNodes::new(
                "compactor",
                all.iter()
                    .map(|id| Member {
                        id: id.to_string(),
                        address: format!("http://{id}"),
                    })
                    .collect(),
            )),
            self_id: me.to_string(),
        }),
        None => c,
    }
}

async fn collection_with_records(s: &Shared, name: &str) -> CollectionId {
    let (c, _) = s
        .sysdb
        .create_collection(NewCollection::in_default_database(
            name,
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let records = (0..20)
        .map(|i| OperationRecord {
            id: format!("r{i}"),
            operation: Operation::Add,
            embedding: Some(vec![i as f32, 1.0, 2.0]),
            document: Some(format!("doc {i}")),
            metadata: None,
            uri: None,
        })
        .collect();
    s.log.append(c.id, records).await.unwrap();
    c.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_compactors_split_the_collections_and_never_both_take_one() {
    let s = shared().await;
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(collection_with_records(&s, &format!("c{i}")).await);
    }
    let nodes = ["compactor-a", "compactor-b"];
    let a = compactor(&s, Some((&nodes, "compactor-a")));
    let b = compactor(&s, Some((&nodes, "compactor-b")));
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra + rb, ids.len(), "every collection compacted once");
    assert!(ra > 0 && rb > 0, "both compactors got work: {ra} and {rb}");
    assert_eq!(
        a.lost_races() + b.lost_races(),
        0,
        "no collection was raced for"
    );
    for id in &ids {
        let c = s.sysdb.get_collection(*id).await.unwrap();
        assert_eq!(c.version, 1, "compacted exactly once");
        assert_eq!(c.compacted_offset, c.log_position);
    }
    // A second round finds nothing to do.
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(ra.unwrap() + rb.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_tail_is_compacted_at_once_and_a_small_one_after_waiting() {
    let s = shared().await;
    let small = collection_with_records(&s, "small").await; // 20 records
    let large = collection_with_records(&s, "large").await;
    let more = (20..200)
        .map(|i| OperationRecord {
            id: format!("r{i}"),
            operation: Operation::Add,
            embedding: Some(vec![i as f32, 1.0, 2.0]),
            document: None,
            metadata: None,
            uri: None,
        })
        .collect();
    s.log.append(large, more).await.unwrap();
    let c = Compactor::new(
        s.store.clone(),
        s.sysdb.clone(),
        s.log.clone(),
        CompactorConfig {
            min_tail_records: 100,
            max_tail_age: std::time::Duration::from_millis(300),
            ..CompactorConfig::default()
        },
    );
    assert_eq!(c.run_once().await.unwrap(), 1);
    assert_eq!(s.sysdb.get_collection(large).await.unwrap().version, 1);
    assert_eq!(s.sysdb.get_collection(small).await.unwrap().version, 0);
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(c.run_once().await.unwrap(), 1);
    assert_eq!(s.sysdb.get_collection(small).await.unwrap().version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_compactors_register_one_version_and_the_loser_cleans_up() {
    let s = shared().await;
    let id = collection_with_records(&s, "raced").await;
    // No peers: nothing stops them from taking the same collection at the same time.
    let racers: Vec<Compactor> = (0..4).map(|_| compactor(&s, None)).collect();
    let outcomes: Vec<Outcome> = futures::stream::iter(racers.iter())
        .map(|c| async move { c.compact(id).await.unwrap() })
        .buffer_unordered(4)
        .collect()
        .await;
    let registered = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Registered { .. }))
        .count();
    let lost = outcomes.iter().filter(|o| **o == Outcome::LostRace).count();
    let lost_metric: u64 = racers.iter().map(Compactor::lost_races).sum();
    // All four read version 0 before any registers (their first await is that read).
    assert_eq!(registered, 1, "{outcomes:?}");
    assert_eq!(lost, 3, "{outcomes:?}");
    assert_eq!(lost as u64, lost_metric, "every lost race is counted");
    let c = s.sysdb.get_collection(id).await.unwrap();
    assert_eq!(c.version, registered as u64, "one version per registration");
    // Only registered versions' directories remain: losers deleted theirs.
    let listed: Vec<_> = s
        .store
        .list(Some(&versions_dir(id)))
        .map(|m| m.unwrap().location.to_string())
        .collect()
        .await;
    let dirs: std::collections::BTreeSet<String> = listed
        .iter()
        .filter_map(|k| k.rsplit_once('/').map(|(d, _)| d.to_string()))
        .collect();
    assert_eq!(dirs.len(), registered, "{dirs:?}");
}
