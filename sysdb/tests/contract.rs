//! The catalog contract, written once and run on every backend: SQLite always, Postgres when
//! `SILT_TEST_POSTGRES_URL` points at a throwaway database (the test script starts one).

// The catalog runs on the system clock here; database names must be unique across runs.
#![allow(clippy::disallowed_methods)]

use serde_json::json;
use silt_sysdb::{
    Access, CollectionUpdate, KeyScope, NewCollection, SysDb, SysDbError, VersionRecord,
};

fn new_collection(name: &str) -> NewCollection {
    NewCollection {
        tenant: "default_tenant".into(),
        database: "default_database".into(),
        name: name.into(),
        metadata: Some(json!({"owner": "t"})),
        configuration: json!({"hnsw": {"space": "cosine"}}),
        schema: None,
        dimension: None,
        get_or_create: false,
    }
}

async fn contract(db: SysDb) {
    db.reset().await.unwrap();

    // Tenants and databases.
    db.create_tenant("acme").await.unwrap();
    assert!(matches!(
        db.create_tenant("acme").await,
        Err(SysDbError::AlreadyExists(_))
    ));
    db.create_database("acme", "prod").await.unwrap();
    assert!(matches!(
        db.create_database("acme", "prod").await,
        Err(SysDbError::AlreadyExists(_))
    ));
    assert!(matches!(
        db.create_database("nobody", "x").await,
        Err(SysDbError::NotFound(_))
    ));
    assert_eq!(db.list_databases("acme", None, 0).await.unwrap().len(), 1);

    // Collections: create, duplicate, get_or_create, rename, list, delete and reuse the name.
    let (a, created) = db.create_collection(new_collection("a")).await.unwrap();
    assert!(created);
    assert_eq!(a.distance(), silt_common::distance::Distance::Cosine);
    assert!(matches!(
        db.create_collection(new_collection("a")).await,
        Err(SysDbError::AlreadyExists(_))
    ));
    let (again, created) = db
        .create_collection(NewCollection {
            get_or_create: true,
            ..new_collection("a")
        })
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, a.id);
    let (b, _) = db.create_collection(new_collection("b")).await.unwrap();
    assert!(matches!(
        db.update_collection(
            b.id,
            CollectionUpdate {
                name: Some("a".into()),
                metadata: None
            }
        )
        .await,
        Err(SysDbError::AlreadyExists(_))
    ));
    let b = db
        .update_collection(
            b.id,
            CollectionUpdate {
                name: Some("b2".into()),
                metadata: Some(json!({"k": 1})),
            },
        )
        .await
        .unwrap();
    assert_eq!(b.name, "b2");
    assert_eq!(b.metadata, Some(json!({"k": 1})));
    let listed: Vec<String> = db
        .list_collections("default_tenant", "default_database", Some(1), 1)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, ["b2"]);
    assert_eq!(
        db.count_collections("default_tenant", "default_database")
            .await
            .unwrap(),
        2
    );
    db.delete_collection("default_tenant", "default_database", "a")
        .await
        .unwrap();
    assert!(matches!(
        db.get_collection(a.id).await,
        Err(SysDbError::NotFound(_))
    ));
    let (a2, created) = db.create_collection(new_collection("a")).await.unwrap();
    assert!(created);
    assert_ne!(a2.id, a.id);

    // Dimension is fixed once.
    assert_eq!(
        db.set_dimension_if_unset(a2.id, 3).await.unwrap().dimension,
        Some(3)
    );
    assert_eq!(
        db.set_dimension_if_unset(a2.id, 5).await.unwrap().dimension,
        Some(3)
    );

    // Log position only moves forward; the compactor sees the collection until it catches up.
    db.advance_log_position(a2.id, 10).await.unwrap();
    db.advance_log_position(a2.id, 4).await.unwrap();
    assert_eq!(db.get_collection(a2.id).await.unwrap().log_position, 10);
    assert!(db
        .uncompacted_collections(100)
        .await
        .unwrap()
        .contains(&(a2.id, 10)));

    // Version registration is a compare-and-swap: of ten concurrent attempts, one wins.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let db = db.clone();
        let id = a2.id;
        tasks.push(tokio::spawn(async move {
            let v = VersionRecord {
                collection_id: id,
                version: 1,
                manifest: format!("m{i}"),
                compacted_offset: 10,
                record_count: 5,
                superseded_at_ms: None,
            };
            db.register_version(0, &v).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as usize;
    }
    assert_eq!(wins, 1);
    let c = db.get_collection(a2.id).await.unwrap();
    assert_eq!((c.version, c.compacted_offset), (1, 10));
    assert!(!db
        .uncompacted_collections(100)
        .await
        .unwrap()
        .iter()
        .any(|(id, _)| *id == a2.id));

    // A second version supersedes the first, which then becomes collectable.
    let v2 = VersionRecord {
        collection_id: a2.id,
        version: 2,
        manifest: "m-two".into(),
        compacted_offset: 10,
        record_count: 5,
        superseded_at_ms: None,
    };
    assert!(db.register_version(1, &v2).await.unwrap());
    assert!(!db.register_version(1, &v2).await.unwrap());
    let old = db.superseded_versions(i64::MAX, 10).await.unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].version, 1);
    db.forget_version(a2.id, 1).await.unwrap();
    assert!(db
        .superseded_versions(i64::MAX, 10)
        .await
        .unwrap()
        .is_empty());

    // Deleting a database soft-deletes its collections.
    let mut in_prod = new_collection("p");
    in_prod.tenant = "acme".into();
    in_prod.database = "prod".into();
    let (p, _) = db.create_collection(in_prod).await.unwrap();
    db.delete_database("acme", "prod").await.unwrap();
    assert!(matches!(
        db.get_collection(p.id).await,
        Err(SysDbError::NotFound(_))
    ));
    assert!(db
        .deleted_collections(i64::MAX, 10)
        .await
        .unwrap()
        .contains(&p.id));
    db.purge_collection(p.id).await.unwrap();
    assert!(!db
        .deleted_collections(i64::MAX, 10)
        .await
        .unwrap()
        .contains(&p.id));
    schemas(&db).await;
    keys_and_quotas(&db).await;
    membership(&db).await;
    compaction_attempts(&db).await;
    reset_returns_to_first_start(&db).await;
    due_for_compaction_pages_oldest_first(&db).await;
}

/// A collection's schema is stored as given, read back on every lookup, replaced together with
/// the configuration, and grown only by a compare-and-swap on what was read.
async fn schemas(db: &SysDb) {
    let schema = json!({"defaults": {"int": {"int_inverted_index": {"enabled": false, "config": {}}}}, "keys": {}});
    let (c, _) = db
        .create_collection(NewCollection {
            schema: Some(schema.clone()),
            ..new_collection("with-schema")
        })
        .await
        .unwrap();
    assert_eq!(c.schema.as_ref(), Some(&schema));
    let (plain, _) = db
        .create_collection(new_collection("no-schema"))
        .await
        .unwrap();
    assert_eq!(plain.schema, None);

    // A configuration change without a schema keeps the stored one; with one, replaces it.
    db.set_collection_configuration(c.id, &json!({"hnsw": {"space": "ip"}}), None)
        .await
        .unwrap();
    let read = db.get_collection(c.id).await.unwrap();
    assert_eq!(
        (read.distance(), read.schema.as_ref()),
        (silt_common::distance::Distance::Ip, Some(&schema))
    );
    let grown = json!({"defaults": {}, "keys": {"k": {}}});
    db.set_collection_configuration(c.id, &json!({"hnsw": {"space": "ip"}}), Some(&grown))
        .await
        .unwrap();
    assert_eq!(
        db.get_collection(c.id).await.unwrap().schema,
        Some(grown.clone())
    );
    db.set_collection_configuration(plain.id, &json!({}), None)
        .await
        .unwrap();
    assert_eq!(db.get_collection(plain.id).await.unwrap().schema, None);

    // Compare-and-swap: only the writer that read the current schema wins.
    assert!(!db
        .replace_collection_schema(c.id, &schema, &json!({"stale": true}))
        .await
        .unwrap());
    assert!(db
        .replace_collection_schema(c.id, &grown, &schema)
        .await
        .unwrap());
    let by_name = db
        .get_collection_by_name("default_tenant", "default_database", "with-schema")
        .await
        .unwrap();
    assert_eq!(by_name.schema, Some(schema));
}

/// The compactor's queue: tails started longest ago first, a page at a time, with big tails due
/// at once and small ones only after the age bound; a registered version takes a collection
/// out of the queue, or leaves it in with its original age when writes came meanwhile.
async fn due_for_compaction_pages_oldest_first(db: &SysDb) {
    db.reset().await.unwrap();
    let clock = silt_common::clock::SimClock::new(1_000_000);
    let db = db.clone().with_clock(clock.clone());
    let mut ids = Vec::new();
    for i in 0..7u64 {
        let (c, _) = db
            .create_collection(new_collection(&format!("queue-{i}")))
            .await
            .unwrap();
        // Collection i's tail starts at 1_000_000 + i s; collection 3's is big.
        clock.advance(std::time::Duration::from_secs(1));
        db.advance_log_position(c.id, if i == 3 { 500 } else { 2 })
            .await
            .unwrap();
        ids.push(c.id);
    }
    let page = |after, min, before| {
        let db = db.clone();
        async move { db.due_for_compaction(min, before, after, 3).await.unwrap() }
    };
    // Everything is due: three pages, oldest first, each continuing after the last.
    let first = page(None, 1, i64::MAX).await;
    let second = page(first.last(), 1, i64::MAX).await;
    let third = page(second.last(), 1, i64::MAX).await;
    let order: Vec<_> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|t| t.id)
        .collect();
    assert_eq!(order, ids);
    assert_eq!(first[0].lag, 2);
    assert!(first[0].tail_since_ms < first[1].tail_since_ms);
    // With a 100-record threshold and tails older than 1_000_002.5 s: collections 0 and 1 by
    // age, 3 by size.
    let due: Vec<_> = page(None, 100, 1_002_500)
        .await
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(due, vec![ids[0], ids[1], ids[3]]);

    // Compacted up to its log position: out of the queue. Compacted short of it (writes came
    // during the compaction): still queued, as old as before.
    let version = |id, offset| VersionRecord {
        collection_id: id,
        version: 1,
        manifest: format!("m-{offset}"),
        compacted_offset: offset,
        record_count: 1,
        superseded_at_ms: None,
    };
    assert!(db.register_version(0, &version(ids[0], 2)).await.unwrap());
    assert!(db.register_version(0, &version(ids[1], 1)).await.unwrap());
    let all = page(None, 1, i64::MAX).await;
    assert_eq!(all[0].id, ids[1]);
    assert_eq!(all[0].lag, 1);
    assert_eq!(all[0].tail_since_ms, first[1].tail_since_ms);
    assert!(!all.iter().any(|t| t.id == ids[0]));
    // A new write to the caught-up collection starts a new tail, now.
    clock.advance(std::time::Duration::from_secs(10));
    db.advance_log_position(ids[0], 3).await.unwrap();
    let mut tails = Vec::new();
    let mut after = None;
    loop {
        let p = db
            .due_for_compaction(1, i64::MAX, after.as_ref(), 3)
            .await
            .unwrap();
        after = p.last().cloned();
        tails.extend(p.iter().cloned());
        if p.len() < 3 {
            break;
        }
    }
    assert_eq!(tails.last().map(|t| t.id), Some(ids[0]));
    db.reset().await.unwrap();
}

/// Reset recreates the defaults even after they were deleted, and leaves the collections it
/// drops to the garbage collector rather than forgetting their objects.
async fn reset_returns_to_first_start(db: &SysDb) {
    let (c, _) = db
        .create_collection(new_collection("doomed"))
        .await
        .unwrap();
    db.create_tenant("gone").await.unwrap();
    db.delete_database("default_tenant", "default_database")
        .await
        .unwrap();
    db.reset().await.unwrap();
    assert!(db.tenant_exists("default_tenant").await.unwrap());
    assert!(!db.tenant_exists("gone").await.unwrap());
    db.get_database("default_tenant", "default_database")
        .await
        .expect("reset recreates the default database");
    assert!(matches!(
        db.get_collection(c.id).await,
        Err(SysDbError::NotFound(_))
    ));
    assert!(
        db.deleted_collections(i64::MAX, 1000)
            .await
            .unwrap()
            .contains(&c.id),
        "the reset collection waits for GC to delete its objects"
    );
    let (fresh, created) = db
        .create_collection(new_collection("doomed"))
        .await
        .unwrap();
    assert!(created && fresh.id != c.id);
    db.reset().await.unwrap();
}

async fn membership(db: &SysDb) {
    db.heartbeat_node("q1", "query", "http://127.0.0.1:1", 1)
        .await
        .unwrap();
    db.heartbeat_node("q2", "query", "http://127.0.0.1:2", 1)
        .await
        .unwrap();
    db.heartbeat_node("l1", "log", "http://127.0.0.1:3", 1)
        .await
        .unwrap();
    // A second heartbeat updates the row (a new address after a restart), never duplicates it.
    db.heartbeat_node("q2", "query", "http://127.0.0.1:22", 1)
        .await
        .unwrap();
    let live = db.live_nodes("query", 60_000).await.unwrap();
    let ids: Vec<_> = live
        .iter()
        .map(|n| (n.id.as_str(), n.address.as_str()))
        .collect();
    assert_eq!(
        ids,
        [("q1", "http://127.0.0.1:1"), ("q2", "http://127.0.0.1:22")]
    );
    // A node silent for longer than the timeout is not live; a pruned row is gone.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    db.heartbeat_node("q1", "query", "http://127.0.0.1:1", 1)
        .await
        .unwrap();
    let live = db.live_nodes("query", 20).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, "q1");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert_eq!(db.prune_nodes(now - 20).await.unwrap(), 2);
    db.remove_node("q1").await.unwrap();
    assert!(db.all_nodes().await.unwrap().is_empty());
}

async fn compaction_attempts(db: &SysDb) {
    let (c, _) = db
        .create_collection(new_collection("attempted"))
        .await
        .unwrap();
    db.begin_compaction_attempt(c.id, "p/c/v/0000000001-aaa")
        .await
        .unwrap();
    db.begin_compaction_attempt(c.id, "p/c/v/0000000001-bbb")
        .await
        .unwrap();
    db.begin_compaction_attempt(c.id, "p/c/v/0000000001-ccc")
        .await
        .unwrap();
    // "bbb" registered its version but died before ending its attempt: not abandoned.
    assert!(db
        .register_version(
            0,
            &VersionRecord {
                collection_id: c.id,
                version: 1,
                manifest: "p/c/v/0000000001-bbb/manifest.json".into(),
                compacted_offset: 0,
                record_count: 0,
                superseded_at_ms: None,
            },
        )
        .await
        .unwrap());
    // "ccc" ended normally.
    db.end_compaction_attempt("p/c/v/0000000001-ccc")
        .await
        .unwrap();
    assert!(
        db.abandoned_compaction_attempts(0, 10)
            .await
            .unwrap()
            .is_empty(),
        "too young"
    );
    let abandoned = db
        .abandoned_compaction_attempts(i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(abandoned, vec![(c.id, "p/c/v/0000000001-aaa".to_string())]);
}

async fn keys_and_quotas(db: &SysDb) {
    db.create_tenant("keyed").await.unwrap();
    assert_eq!(db.count_tenant_collections("keyed").await.unwrap(), 0);
    let mut c = new_collection("counted");
    c.tenant = "keyed".into();
    db.create_database("keyed", "default_database")
        .await
        .unwrap();
    db.create_collection(c).await.unwrap();
    assert_eq!(db.count_tenant_collections("keyed").await.unwrap(), 1);
    let scope = KeyScope {
        access: Access::Read,
        databases: Some(vec!["default_database".into()]),
    };
    assert!(matches!(
        db.create_api_key("no-such-tenant", None, &scope, "h0")
            .await,
        Err(SysDbError::NotFound(_))
    ));
    let key = db
        .create_api_key("keyed", Some("ci"), &scope, "h1")
        .await
        .unwrap();
    assert!(matches!(
        db.create_api_key("keyed", None, &scope, "h1").await,
        Err(SysDbError::AlreadyExists(_))
    ));
    let found = db.find_api_key("h1").await.unwrap().unwrap();
    assert_eq!(found, key);
    assert!(found.scope.allows_database("default_database"));
    assert!(!found.scope.allows_database("other"));
    assert_eq!(db.find_api_key("h2").await.unwrap(), None);
    let all = KeyScope {
        access: Access::Write,
        databases: None,
    };
    db.create_api_key("default_tenant", None, &all, "h3")
        .await
        .unwrap();
    assert_eq!(
        db.list_api_keys(Some("keyed")).await.unwrap(),
        vec![key.clone()]
    );
    assert_eq!(db.list_api_keys(None).await.unwrap().len(), 2);
    let revoked = db.revoke_api_key(&key.id).await.unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert_eq!(
        db.find_api_key("h1").await.unwrap(),
        None,
        "revoked keys stop working"
    );
    assert!(
        db.revoke_api_key(&key.id).await.is_ok(),
        "revoking twice is fine"
    );
    assert!(matches!(
        db.revoke_api_key("nope").await,
        Err(SysDbError::NotFound(_))
    ));

    assert_eq!(db.tenant_quotas("keyed").await.unwrap(), None);
    db.set_tenant_quotas("keyed", &json!({"max_batch_size": 5}))
        .await
        .unwrap();
    db.set_tenant_quotas("keyed", &json!({"max_batch_size": 7}))
        .await
        .unwrap();
    assert_eq!(
        db.tenant_quotas("keyed").await.unwrap(),
        Some(json!({"max_batch_size": 7}))
    );
    assert!(matches!(
        db.set_tenant_quotas("ghost", &json!({})).await,
        Err(SysDbError::NotFound(_))
    ));
}

#[tokio::test]
async fn sqlite_catalog_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/catalog.db", dir.path().display());
    contract(SysDb::connect(&url).await.unwrap()).await;
    // Reopening runs no migration twice and keeps the data.
    let db = SysDb::connect(&url).await.unwrap();
    assert!(db.tenant_exists("default_tenant").await.unwrap());
}

/// A full disk is a condition to retry after (503), not a server bug (500).
#[tokio::test]
async fn a_full_sqlite_disk_is_unavailable() {
    use sqlx::{Connection, Executor};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/full.db?mode=rwc", dir.path().display());
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
    conn.execute("CREATE TABLE t (v TEXT)").await.unwrap();
    // SQLite refuses to grow the file past this many pages, exactly as on a full disk.
    conn.execute("PRAGMA max_page_count = 2").await.unwrap();
    let mut full = None;
    for _ in 0..100 {
        if let Err(e) = sqlx::query("INSERT INTO t (v) VALUES ($1)")
            .bind("x".repeat(4000))
            .execute(&mut conn)
            .await
        {
            full = Some(e);
            break;
        }
    }
    let e = full.expect("the capped database fills up");
    assert!(e.to_string().contains("full"), "{e}");
    let error = silt_common::SiltError::from(SysDbError::Database(e));
    assert_eq!(error.kind, silt_common::ErrorKind::Unavailable);
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_catalog_contract() {
    let url = std::env::var("SILT_TEST_POSTGRES_URL").expect("SILT_TEST_POSTGRES_URL");
    contract(SysDb::connect(&url).await.unwrap()).await;
}

#[tokio::test]
#[ignore = "needs SILT_TEST_POSTGRES_URL; scripts/test.sh starts a throwaway Postgres and runs it"]
async fn postgres_migrations_are_safe_when_processes_start_together() {
    use sqlx::Connection;
    let base = std::env::var("SILT_TEST_POSTGRES_URL").expect("SILT_TEST_POSTGRES_URL");
    let name = format!("silt_migrate_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let starts = (0..8).map(|_| SysDb::connect(&url));
    for db in futures::future::join_all(starts).await {
        let db = db.expect("every process starts on a freshly migrated catalog");
        assert!(db.tenant_exists("default_tenant").await.unwrap());
    }
}
