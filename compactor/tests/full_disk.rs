//! A full disk under the object store: a compaction that runs out of space mid-version leaves
//! no partial version behind, the collection backs off instead of retrying every round, and
//! once space is freed the next attempt succeeds.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::memory::InMemory;
use silt_common::keys::versions_dir;
use silt_common::record::{Operation, OperationRecord};
use silt_common::storage::{DiskSpace, DynStore, FaultPlan, FaultyStore};
use silt_common::CollectionId;
use silt_compactor::{Compactor, CompactorConfig};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_sysdb::{NewCollection, SysDb};

async fn objects_under(store: &DynStore, id: CollectionId) -> usize {
    store.list(Some(&versions_dir(id))).count().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_leaves_nothing_and_backs_off_until_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let disk = DiskSpace::new(usize::MAX / 2);
    let store: DynStore = Arc::new(FaultyStore::new(
        Arc::new(InMemory::new()),
        FaultPlan {
            disk: Some(disk.clone()),
            ..FaultPlan::default()
        },
    ));
    let log = Arc::new(ObjectLog::new(
        store.clone(),
        sysdb.clone(),
        LogConfig::default(),
    ));
    // More records than a flat version holds: the version is several objects (a small one
    // would be one object, which a full disk refuses whole).
    let records = || -> Vec<OperationRecord> {
        (0..2500)
            .map(|i| OperationRecord {
                id: format!("r{i}"),
                operation: Operation::Add,
                embedding: Some((0..16).map(|d| ((i * 31 + d * 7) % 101) as f32).collect()),
                document: Some(format!("document number {i} with some words in it")),
                metadata: None,
                uri: None,
            })
            .collect()
    };
    let twin = new_collection(&sysdb, "twin").await;
    let c = new_collection(&sysdb, "full").await;
    log.append(twin, records()).await.unwrap();
    log.append(c, records()).await.unwrap();
    let compactor = Compactor::new(
        store.clone(),
        sysdb.clone(),
        log.clone(),
        CompactorConfig {
            min_tail_records: 1,
            retry_backoff: Duration::from_millis(400),
            ..CompactorConfig::default()
        },
    );
    // The size of this collection's version, measured on its twin.
    let before_twin = disk.used();
    compactor.compact(twin).await.unwrap();
    let version_bytes = disk.used() - before_twin;

    // Room for all of the version but its last few bytes: every data file lands, the head
    // or manifest (written last) does not.
    disk.set_capacity(disk.used() + version_bytes - 64);
    let used_before = disk.used();
    let writes_before = disk.writes();
    assert_eq!(compactor.run_once().await.unwrap(), 0);
    assert!(
        disk.writes() > writes_before,
        "some of the version's files fit before the disk filled up"
    );
    assert_eq!(
        objects_under(&store, c).await,
        0,
        "the failed attempt deleted what it wrote"
    );
    assert_eq!(disk.used(), used_before, "and gave the space back");
    assert_eq!(
        sysdb
            .abandoned_compaction_attempts(i64::MAX, 10)
            .await
            .unwrap()
            .len(),
        0
    );

    // Backing off: the next rounds do not try again (nothing more is written at all).
    let writes_after_failure = disk.writes();
    for _ in 0..5 {
        assert_eq!(compactor.run_once().await.unwrap(), 0);
    }
    assert_eq!(disk.writes(), writes_after_failure);
    assert_eq!(disk.used(), used_before);
    assert_eq!(sysdb.get_collection(c).await.unwrap().version, 0);

    // The operator frees space; after the backoff the collection is compacted.
    disk.set_capacity(usize::MAX / 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(compactor.run_once().await.unwrap(), 1);
    let collection = sysdb.get_collection(c).await.unwrap();
    assert_eq!(collection.version, 1);
    assert_eq!(collection.compacted_offset, collection.log_position);
}

async fn new_collection(sysdb: &SysDb, name: &str) -> CollectionId {
    let (c, _) = sysdb
        .create_collection(NewCollection::in_default_database(
            name,
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    c.id
}
