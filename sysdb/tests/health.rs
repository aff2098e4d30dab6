//! What `silt admin status` and the collection stats read from the catalog (lagging
//! collections, recent and failing compactions, version sizes), on every backend: SQLite
//! always, Postgres when `SILT_TEST_POSTGRES_URL` points at a throwaway server.

mod support;

use support::{collection, version};

use silt_common::CollectionId;
use silt_sysdb::{LogCommit, SysDb};

async fn health_contract(db: SysDb) {
    db.ping().await.unwrap();
    let (a, b, quiet) = (
        collection(&db, "default_tenant", "a").await,
        collection(&db, "default_tenant", "b").await,
        collection(&db, "default_tenant", "quiet").await,
    );
    assert!(db.lagging_collections(10).await.unwrap().is_empty());
    assert_eq!(
        db.commit_log_position(a, 1, 5, 500).await.unwrap(),
        LogCommit::Committed
    );
    assert_eq!(
        db.commit_log_position(b, 1, 2, 100).await.unwrap(),
        LogCommit::Committed
    );

    // Both lag, named and with their unindexed record counts, the older tail first (both
    // may have started in the same millisecond).
    let lagging = db.lagging_collections(10).await.unwrap();
    let mut seen: Vec<(CollectionId, &str, u64)> = lagging
        .iter()
        .map(|l| (l.collection.id, l.collection.name.as_str(), l.records))
        .collect();
    seen.sort_by_key(|s| s.1);
    assert_eq!(seen, [(a, "a", 5), (b, "b", 2)]);
    assert_eq!(lagging[0].collection.tenant, "default_tenant");
    assert!(lagging[0].since_ms > 0 && lagging[0].since_ms <= lagging[1].since_ms);
    assert_eq!(db.lagging_collections(1).await.unwrap().len(), 1);

    // A failure is counted and shown until the next successful registration clears it.
    db.record_compaction_failure(a, "disk full").await.unwrap();
    db.record_compaction_failure(a, &"x".repeat(2_000))
        .await
        .unwrap();
    let failing = db.failing_collections(10).await.unwrap();
    assert_eq!(failing.len(), 1);
    assert_eq!((failing[0].collection.id, failing[0].failures), (a, 2));
    assert_eq!(failing[0].last_error.len(), 500, "kept short for the table");

    assert!(db
        .register_version_of_size(0, &version(a, 1, 5, 5), 4096)
        .await
        .unwrap());
    assert!(db.failing_collections(10).await.unwrap().is_empty());
    let lagging = db.lagging_collections(10).await.unwrap();
    assert_eq!(lagging.len(), 1);
    assert_eq!(lagging[0].collection.id, b);

    // Recent compactions, newest first, with their sizes; version sizes by number.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await; // distinct registration times
    assert!(db
        .register_version_of_size(0, &version(b, 1, 2, 2), 1024)
        .await
        .unwrap());
    let recent = db.recent_compactions(10).await.unwrap();
    let seen: Vec<(CollectionId, u64, u64, u64)> = recent
        .iter()
        .map(|c| (c.collection.id, c.version, c.record_count, c.bytes))
        .collect();
    assert_eq!(seen, [(b, 1, 2, 1024), (a, 1, 5, 4096)]);
    let size = db.version_size(a, 1).await.unwrap().unwrap();
    assert_eq!((size.record_count, size.bytes), (5, 4096));
    assert_eq!(db.version_size(quiet, 0).await.unwrap(), None);
    assert_eq!(db.collection_log_bytes(a).await.unwrap(), 0);
    assert_eq!(db.collection_log_bytes(quiet).await.unwrap(), 0);

    // A deleted collection leaves every listing.
    db.delete_collection("default_tenant", "default_database", "a")
        .await
        .unwrap();
    assert!(db
        .recent_compactions(10)
        .await
        .unwrap()
        .iter()
        .all(|c| c.collection.id != a));

    db.close().await;
    assert!(db.ping().await.is_err());
}

#[tokio::test]
async fn sqlite_health_contract() {
    let (_dir, db) = support::sqlite_catalog().await;
    health_contract(db).await;
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_health_contract() {
    // A database of its own: this contract's listings and sums are catalog-wide.
    health_contract(support::own_postgres_database("silt_health").await).await;
}
