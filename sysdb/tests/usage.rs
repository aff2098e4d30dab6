//! Metering queries (`SysDb::tenant_usage`, `add_tenant_activity`, and the bytes the log
//! commit and version registration record) on every catalog backend: SQLite always, Postgres
//! when `SILT_TEST_POSTGRES_URL` points at a throwaway database.

mod support;

use support::{collection, version};

use silt_common::CollectionId;
use silt_sysdb::{Activity, LogCommit, SysDb, SysDbError, TenantUsage};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", CollectionId::new_random())
}

async fn usage_of(db: &SysDb, tenant: &str) -> TenantUsage {
    let mut rows = db.tenant_usage(Some(tenant)).await.unwrap();
    assert_eq!(rows.len(), 1);
    rows.remove(0)
}

async fn usage_contract(db: SysDb) {
    let (t, other) = (unique("usage"), unique("other"));
    for name in [&t, &other] {
        db.create_tenant(name).await.unwrap();
        db.create_database(name, "default_database").await.unwrap();
    }
    // A tenant that exists and did nothing is all zeros; one that does not exist is NotFound.
    assert_eq!(
        usage_of(&db, &t).await,
        TenantUsage {
            tenant: t.clone(),
            ..TenantUsage::default()
        }
    );
    assert!(matches!(
        db.tenant_usage(Some(&unique("nobody"))).await,
        Err(SysDbError::NotFound(_))
    ));

    let (a, b) = (
        collection(&db, &t, &unique("c")).await,
        collection(&db, &t, &unique("c")).await,
    );
    let elsewhere = collection(&db, &other, &unique("c")).await;
    // Committed fragments add their bytes; a fenced one adds nothing.
    let commit = |id, first, last, bytes| {
        let db = db.clone();
        async move {
            db.commit_log_position(id, first, last, bytes)
                .await
                .unwrap()
        }
    };
    assert_eq!(commit(a, 1, 4, 400).await, LogCommit::Committed);
    assert_eq!(commit(a, 5, 6, 200).await, LogCommit::Committed);
    assert_eq!(commit(b, 1, 3, 300).await, LogCommit::Committed);
    assert_eq!(commit(elsewhere, 1, 1, 7_000).await, LogCommit::Committed);
    let u = usage_of(&db, &t).await;
    assert_eq!(
        (
            u.collections,
            u.records,
            u.records_pending,
            u.log_bytes,
            u.version_bytes
        ),
        (2, 0, 9, 900, 0)
    );

    // A version that compacts part of the tail keeps that part's share of the log bytes
    // (offsets 5..=6 of 1..=6: a third of 600) and records its size and records.
    assert!(db
        .register_version_of_size(0, &version(a, 1, 4, 4), 1_000)
        .await
        .unwrap());
    let u = usage_of(&db, &t).await;
    assert_eq!(
        (u.records, u.records_pending, u.log_bytes, u.version_bytes),
        (4, 2 + 3, 200 + 300, 1_000)
    );
    // Fenced: offset 3 is compacted. Its bytes were never acknowledged, so never metered.
    assert!(matches!(
        commit(a, 3, 3, 999).await,
        LogCommit::Fenced { .. }
    ));
    // A version that reaches the log position leaves no log bytes; only the current version
    // of each collection counts.
    assert!(db
        .register_version_of_size(1, &version(a, 2, 6, 6), 1_500)
        .await
        .unwrap());
    assert!(db.register_version(0, &version(b, 1, 3, 3)).await.unwrap());
    let u = usage_of(&db, &t).await;
    assert_eq!(
        (
            u.collections,
            u.records,
            u.records_pending,
            u.log_bytes,
            u.version_bytes
        ),
        (2, 9, 0, 0, 1_500)
    );
    // A lost race changes nothing.
    assert!(!db
        .register_version_of_size(1, &version(a, 2, 6, 60), 9_999)
        .await
        .unwrap());
    assert_eq!(usage_of(&db, &t).await, u);

    // Deleted collections stop counting at once.
    let doomed = collection(&db, &t, &unique("c")).await;
    commit(doomed, 1, 2, 50).await;
    assert_eq!(usage_of(&db, &t).await.collections, 3);
    let name = db.get_collection(doomed).await.unwrap().name;
    db.delete_collection(&t, "default_database", &name)
        .await
        .unwrap();
    assert_eq!(usage_of(&db, &t).await, u);

    // Activity: deltas add up, across flushes and across concurrent flushers (gateways).
    let delta = Activity {
        writes: 1,
        queries: 2,
        records_written: 3,
        bytes_returned: 4,
    };
    db.add_tenant_activity(&[]).await.unwrap();
    let flushes = (0..8).map(|_| {
        let db = db.clone();
        let deltas = vec![(t.clone(), delta), (other.clone(), delta)];
        async move { db.add_tenant_activity(&deltas).await }
    });
    for flushed in futures::future::join_all(flushes).await {
        flushed.unwrap();
    }
    let u = usage_of(&db, &t).await;
    assert_eq!(
        u.activity,
        Activity {
            writes: 8,
            queries: 16,
            records_written: 24,
            bytes_returned: 32,
        }
    );

    // Every tenant, by name, each with its own figures.
    let all = db.tenant_usage(None).await.unwrap();
    let names: Vec<&str> = all.iter().map(|u| u.tenant.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let find = |name: &str| all.iter().find(|u| u.tenant == name).cloned().unwrap();
    assert_eq!(find(&t), u);
    let o = find(&other);
    assert_eq!(
        (o.collections, o.log_bytes, o.activity.writes),
        (1, 7_000, 8)
    );
    assert!(names.contains(&"default_tenant"));
}

#[tokio::test]
async fn sqlite_usage_contract() {
    let (_dir, db) = support::sqlite_catalog().await;
    usage_contract(db).await;
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_usage_contract() {
    // A database of its own: this contract's listings and sums are catalog-wide.
    usage_contract(support::own_postgres_database("silt_usage").await).await;
}
