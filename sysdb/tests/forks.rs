//! Forks in the catalog (`begin_fork` … `finish_fork`, `fork_count`, abandoned forks) and the
//! reference counting the garbage collector relies on once versions are shared
//! (`manifest_referenced_elsewhere`, `shared_manifests_under`, `forget_version` and
//! `purge_collection` recording shared garbage), on every backend: SQLite always, Postgres when
//! `SILT_TEST_POSTGRES_URL` points at a throwaway server (each run gets a database of its own:
//! these queries look across every collection).

#[allow(dead_code)] // the shared builders; this file uses some of them
mod support;

use silt_common::clock::{Clock, SystemClock};
use silt_common::keys::collection_prefix;
use silt_common::CollectionId;
use silt_sysdb::{SysDb, SysDbError, VersionRecord};

/// A manifest key under `id`'s prefix, as the compactor lays versions out.
fn manifest(id: CollectionId, version: u64) -> String {
    format!("{}/v/{version:010}-a/head.bin", collection_prefix(id))
}

async fn register(db: &SysDb, id: CollectionId, version: u64, compacted: u64, records: u64) {
    let registered = db
        .register_version_of_size(
            version - 1,
            &VersionRecord {
                collection_id: id,
                version,
                manifest: manifest(id, version),
                compacted_offset: compacted,
                record_count: records,
                superseded_at_ms: None,
            },
            1000 * version,
        )
        .await
        .unwrap();
    assert!(registered);
}

async fn delete(db: &SysDb, id: CollectionId) {
    let name = db.get_collection(id).await.unwrap().name;
    db.delete_collection("default_tenant", "default_database", &name)
        .await
        .unwrap();
}

/// A cutoff after everything the test did so far (the catalog stamps with this clock).
fn later() -> i64 {
    SystemClock.now_ms() + 1_000
}

async fn forks_contract(db: SysDb) {
    let p = support::collection(&db, "default_tenant", "parent").await;
    assert_eq!(db.fork_count(p).await.unwrap(), 0, "never forked");

    // Version 1 holds the log up to 5; 6 and 7 are the unindexed tail.
    db.advance_log_position(p, 5).await.unwrap();
    register(&db, p, 1, 5, 4).await;
    db.advance_log_position(p, 7).await.unwrap();
    let parent = db.get_collection(p).await.unwrap();

    let start = db.begin_fork(p, "child").await.unwrap();
    let f = start.fork.id;
    assert_ne!(f, p);
    assert_eq!((start.tail_after, start.tail_until), (5, 7));
    assert_eq!(start.parent, p);
    // The parent's version, shared by its manifest key; an empty log of its own after it.
    assert_eq!(start.fork.manifest, parent.manifest);
    assert_eq!(start.fork.version, parent.version);
    assert_eq!(
        (start.fork.compacted_offset, start.fork.log_position),
        (5, 5)
    );
    assert_eq!(start.fork.tenant, parent.tenant);
    assert_eq!(start.fork.database_id, parent.database_id);
    assert_eq!(start.fork.configuration, parent.configuration);
    assert_eq!(start.fork.name, "child");
    // The fork's own version row: size and record count as metered for the parent.
    let size = db.version_size(f, 1).await.unwrap().unwrap();
    assert_eq!((size.record_count, size.bytes), (4, 1000));
    assert_eq!(
        db.fork_count(p).await.unwrap(),
        0,
        "pending forks do not count"
    );
    // Nobody finds or lists a fork before its tail is in; its name is taken all the same.
    let visible = |db: SysDb| async move {
        let names: Vec<String> = db
            .list_collections("default_tenant", "default_database", None, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        let count = db
            .count_collections("default_tenant", "default_database")
            .await
            .unwrap();
        let by_name = db
            .get_collection_by_name("default_tenant", "default_database", "child")
            .await
            .is_ok();
        (names, count, by_name)
    };
    assert_eq!(
        visible(db.clone()).await,
        (vec!["parent".to_string()], 1, false)
    );
    assert!(matches!(
        db.create_collection(silt_sysdb::NewCollection::in_default_database(
            "child",
            serde_json::json!({})
        ))
        .await,
        Err(SysDbError::AlreadyExists(_))
    ));
    let child = db.finish_fork(f).await.unwrap();
    assert_eq!(
        visible(db.clone()).await,
        (vec!["parent".to_string(), "child".to_string()], 2, true)
    );
    assert_eq!(child.id, f);
    assert_eq!(db.fork_count(p).await.unwrap(), 1);
    assert_eq!(db.fork_count(f).await.unwrap(), 1, "the lineage's count");

    // Name clashes (with the fork and with the parent) and missing parents.
    assert!(matches!(
        db.begin_fork(p, "child").await,
        Err(SysDbError::AlreadyExists(_))
    ));
    assert!(matches!(
        db.begin_fork(p, "parent").await,
        Err(SysDbError::AlreadyExists(_))
    ));
    assert!(matches!(
        db.begin_fork(CollectionId::new_random(), "nobody").await,
        Err(SysDbError::NotFound(_))
    ));

    // A fork of the fork joins the same lineage; a collection never forked has none.
    let g = db.begin_fork(f, "grandchild").await.unwrap().fork.id;
    db.finish_fork(g).await.unwrap();
    for id in [p, f, g] {
        assert_eq!(db.fork_count(id).await.unwrap(), 2);
    }
    let other = support::collection(&db, "default_tenant", "other").await;
    assert_eq!(db.fork_count(other).await.unwrap(), 0);

    // Version 1 is shared three ways; version 2 of the parent is its own.
    let m1 = manifest(p, 1);
    assert!(db
        .manifest_referenced_elsewhere(&m1, Some(p))
        .await
        .unwrap());
    db.advance_log_position(p, 9).await.unwrap();
    register(&db, p, 2, 9, 6).await;
    let m2 = manifest(p, 2);
    assert!(!db
        .manifest_referenced_elsewhere(&m2, Some(p))
        .await
        .unwrap());
    let superseded = db.superseded_versions(later(), 100).await.unwrap();
    assert_eq!(
        superseded
            .iter()
            .map(|v| (v.collection_id, v.version))
            .collect::<Vec<_>>(),
        vec![(p, 1)]
    );
    // Forgetting the parent's reference to a version its forks share records it as shared
    // garbage; a version nobody shares is not recorded.
    db.forget_version(p, 1).await.unwrap();
    assert_eq!(
        db.shared_version_garbage(100).await.unwrap(),
        vec![m1.clone()]
    );
    assert!(db.manifest_referenced_elsewhere(&m1, None).await.unwrap());
    assert_eq!(
        db.shared_manifests_under(p).await.unwrap(),
        vec![m1.clone()],
        "its forks still reference version 1 under the parent's prefix"
    );

    // The parent is deleted and purged: the forks keep their rows and their version.
    delete(&db, p).await;
    assert_eq!(db.deleted_collections(later(), 100).await.unwrap(), vec![p]);
    assert_eq!(db.manifests_of(p).await.unwrap(), vec![m2.clone()]);
    db.purge_collection(p).await.unwrap();
    assert_eq!(
        db.get_collection(f).await.unwrap().manifest,
        Some(m1.clone())
    );
    assert_eq!(
        db.fork_count(f).await.unwrap(),
        2,
        "the lineage outlives its root"
    );
    db.forget_shared_version_garbage(&m1).await.unwrap();

    // The child compacts past the shared version: its reference is forgotten, the
    // grandchild's remains and is the last.
    db.advance_log_position(f, 8).await.unwrap();
    assert!(db
        .register_version(
            1,
            &VersionRecord {
                collection_id: f,
                version: 2,
                manifest: manifest(f, 2),
                compacted_offset: 8,
                record_count: 5,
                superseded_at_ms: None,
            },
        )
        .await
        .unwrap());
    assert!(db
        .manifest_referenced_elsewhere(&m1, Some(f))
        .await
        .unwrap());
    db.forget_version(f, 1).await.unwrap();
    assert_eq!(
        db.shared_version_garbage(100).await.unwrap(),
        vec![m1.clone()]
    );
    db.forget_shared_version_garbage(&m1).await.unwrap();
    // Deleting the grandchild removes the last reference: purge records nothing shared.
    delete(&db, g).await;
    assert_eq!(db.manifests_of(g).await.unwrap(), vec![m1.clone()]);
    assert!(!db
        .manifest_referenced_elsewhere(&m1, Some(g))
        .await
        .unwrap());
    db.purge_collection(g).await.unwrap();
    assert!(!db.manifest_referenced_elsewhere(&m1, None).await.unwrap());
    assert!(db.shared_version_garbage(100).await.unwrap().is_empty());
    assert_eq!(db.fork_count(f).await.unwrap(), 1);

    // A fork whose tail copy never finished is found after its creation and deleted.
    let before = SystemClock.now_ms() - 1;
    let pending = db.begin_fork(f, "pending").await.unwrap().fork.id;
    assert!(db.abandoned_forks(before, 100).await.unwrap().is_empty());
    assert_eq!(
        db.abandoned_forks(later(), 100).await.unwrap(),
        vec![pending]
    );
    db.abandon_fork(pending).await.unwrap();
    assert!(matches!(
        db.get_collection(pending).await,
        Err(SysDbError::NotFound(_))
    ));
    assert!(matches!(
        db.finish_fork(pending).await,
        Err(SysDbError::NotFound(_))
    ));
    assert!(db.abandoned_forks(later(), 100).await.unwrap().is_empty());
    // A complete fork is never abandoned.
    db.abandon_fork(f).await.unwrap();
    assert!(db.get_collection(f).await.is_ok());
    // Its name is free again once deleted.
    let again = db.begin_fork(f, "pending").await.unwrap().fork.id;
    db.finish_fork(again).await.unwrap();
}

#[tokio::test]
async fn sqlite_forks() {
    let (_dir, db) = support::sqlite_catalog().await;
    forks_contract(db).await;
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_forks() {
    forks_contract(support::own_postgres_database("silt_forks").await).await;
}
