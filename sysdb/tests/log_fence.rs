//! The log's catalog-side fence (`SysDb::commit_log_position`) on every catalog backend:
//! SQLite always, Postgres when `SILT_TEST_POSTGRES_URL` points at a throwaway database.

use serde_json::json;
use silt_common::CollectionId;
use silt_sysdb::{LogCommit, NewCollection, SysDb, SysDbError, VersionRecord};

async fn fence_contract(db: SysDb) {
    let (c, _) = db
        .create_collection(NewCollection::in_default_database(
            &format!("fence-{}", CollectionId::new_random()),
            json!({}),
        ))
        .await
        .unwrap();
    let position = |db: SysDb| async move {
        let c = db.get_collection(c.id).await.unwrap();
        (c.compacted_offset, c.log_position)
    };

    // Above the compacted offset: committed, and the position only grows.
    assert_eq!(
        db.commit_log_position(c.id, 1, 4, 0).await.unwrap(),
        LogCommit::Committed
    );
    assert_eq!(position(db.clone()).await, (0, 4));
    assert_eq!(
        db.commit_log_position(c.id, 5, 6, 0).await.unwrap(),
        LogCommit::Committed
    );
    // A writer whose position update comes late (another node already recorded a later one)
    // is still above the compacted offset: committed, and the position does not go back.
    assert_eq!(
        db.commit_log_position(c.id, 3, 4, 0).await.unwrap(),
        LogCommit::Committed
    );
    assert_eq!(position(db.clone()).await, (0, 6));

    // Compacted up to 6: a fragment starting at or below it is fenced and changes nothing.
    assert!(db
        .register_version(
            0,
            &VersionRecord {
                collection_id: c.id,
                version: 1,
                manifest: "m".into(),
                compacted_offset: 6,
                record_count: 6,
                superseded_at_ms: None,
            },
        )
        .await
        .unwrap());
    for (first, last) in [(5, 9), (6, 6), (1, 20)] {
        assert_eq!(
            db.commit_log_position(c.id, first, last, 0).await.unwrap(),
            LogCommit::Fenced {
                compacted_offset: 6
            },
            "{first}..={last}"
        );
    }
    assert_eq!(position(db.clone()).await, (6, 6));
    assert_eq!(
        db.commit_log_position(c.id, 7, 8, 0).await.unwrap(),
        LogCommit::Committed
    );
    assert_eq!(position(db.clone()).await, (6, 8));

    // A deleted collection takes no more log.
    db.delete_collection("default_tenant", "default_database", &c.name)
        .await
        .unwrap();
    assert!(matches!(
        db.commit_log_position(c.id, 9, 9, 0).await,
        Err(SysDbError::NotFound(_))
    ));
}

#[tokio::test]
async fn sqlite_log_fence() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/catalog.db", dir.path().display());
    fence_contract(SysDb::connect(&url).await.unwrap()).await;
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_log_fence() {
    let url = std::env::var("SILT_TEST_POSTGRES_URL").expect("SILT_TEST_POSTGRES_URL");
    fence_contract(SysDb::connect(&url).await.unwrap()).await;
}
