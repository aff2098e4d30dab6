//! The catalog side of log garbage collection (`SysDb::log_garbage`, `log_collected`,
//! `log_garbage_at`) on every catalog backend: SQLite always, Postgres when
//! `SILT_TEST_POSTGRES_URL` points at a throwaway database.

use serde_json::json;
use silt_common::clock::{Clock, SystemClock};
use silt_common::CollectionId;
use silt_sysdb::{NewCollection, SysDb, VersionRecord};

async fn register(db: &SysDb, c: CollectionId, version: u64, compacted: u64) {
    assert!(db
        .register_version(
            version - 1,
            &VersionRecord {
                collection_id: c,
                version,
                manifest: format!("m{version}"),
                compacted_offset: compacted,
                record_count: compacted,
                superseded_at_ms: None,
            },
        )
        .await
        .unwrap());
}

async fn log_gc_contract(db: SysDb) {
    let (c, _) = db
        .create_collection(NewCollection::in_default_database(
            &format!("gc-{}", CollectionId::new_random()),
            json!({}),
        ))
        .await
        .unwrap();
    let c = c.id;
    let mine = |db: SysDb, cutoff: i64| async move {
        // Other tests share a Postgres catalog: look at this collection only.
        db.log_garbage(cutoff, None, 10_000)
            .await
            .unwrap()
            .into_iter()
            .find(|g| g.id == c)
            .map(|g| (g.collected_offset, g.collectable_offset, g.log_position))
    };
    db.advance_log_position(c, 6).await.unwrap();
    let before = SystemClock.now_ms() - 1;
    assert_eq!(
        mine(db.clone(), before).await,
        None,
        "nothing compacted yet"
    );
    register(&db, c, 1, 4).await;
    assert_eq!(
        mine(db.clone(), before).await,
        None,
        "version 1 is within its grace period"
    );
    // Registration times are the catalog's milliseconds: leave a few between the events.
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(5));
    pause().await;
    let after = SystemClock.now_ms();
    assert_eq!(mine(db.clone(), after).await, Some((0, 4, 6)));
    pause().await;
    register(&db, c, 2, 6).await;
    // The newest version old enough decides how far: here both are.
    assert_eq!(
        mine(db.clone(), SystemClock.now_ms() + 1).await,
        Some((0, 6, 6))
    );
    // Until version 2 is old enough, only version 1's offsets may go.
    db.log_collected(c, 4).await.unwrap();
    assert_eq!(mine(db.clone(), after).await, None);
    db.log_collected(c, 6).await.unwrap();
    db.log_collected(c, 5).await.unwrap(); // never moves back
    assert_eq!(mine(db.clone(), SystemClock.now_ms() + 1).await, None);

    // A fenced fragment at key 3 reopens the collection down to 2.
    db.log_garbage_at(c, 3).await.unwrap();
    assert_eq!(
        mine(db.clone(), SystemClock.now_ms() + 1).await,
        Some((2, 6, 6))
    );

    // Deleted collections are the whole-prefix collector's, not this one's.
    let name = db.get_collection(c).await.unwrap().name;
    db.delete_collection("default_tenant", "default_database", &name)
        .await
        .unwrap();
    assert_eq!(mine(db.clone(), SystemClock.now_ms() + 1).await, None);
    // Leave a shared Postgres catalog as it was (the catalog contract counts superseded
    // versions across the whole database).
    db.purge_collection(c).await.unwrap();
}

#[tokio::test]
async fn sqlite_log_gc() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/catalog.db", dir.path().display());
    log_gc_contract(SysDb::connect(&url).await.unwrap()).await;
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_log_gc() {
    let url = std::env::var("SILT_TEST_POSTGRES_URL").expect("SILT_TEST_POSTGRES_URL");
    log_gc_contract(SysDb::connect(&url).await.unwrap()).await;
}
