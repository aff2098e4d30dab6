//! What a small collection costs in object-store requests, counted exactly: indexing a
//! 20-record collection writes ONE object, and the first query after a restart (fresh query
//! node, fresh log node, no cache) makes ONE GET and reads nothing from the log.

use std::sync::Arc;

use object_store::memory::InMemory;
use serde_json::json;
use silt_common::record::{Operation, OperationRecord};
use silt_common::storage::{CountingStore, DynStore, StoreStats};
use silt_compactor::{Compactor, CompactorConfig, Outcome};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{
    CacheConfig, Consistency, Filters, GetRequest, Include, KnnRequest, QueryConfig, QueryNode,
    QueryService,
};
use silt_sysdb::{NewCollection, SysDb};

fn counted(raw: &DynStore) -> (DynStore, Arc<StoreStats>) {
    let store = CountingStore::new(raw.clone());
    let stats = store.stats();
    (Arc::new(store), stats)
}

fn memory_only() -> QueryConfig {
    QueryConfig {
        cache: CacheConfig {
            memory_bytes: 16 << 20,
            disk_dir: None,
            disk_bytes: 0,
        },
        ..QueryConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_collection_is_one_object_and_one_get() {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let raw: DynStore = Arc::new(InMemory::new());
    let (log_store, log_stats) = counted(&raw);
    let log = Arc::new(ObjectLog::new(
        log_store,
        sysdb.clone(),
        LogConfig::default(),
    ));
    let (c, _) = sysdb
        .create_collection(NewCollection::in_default_database(
            "small",
            json!({"hnsw": {"space": "l2"}}),
        ))
        .await
        .unwrap();
    let records = (0..20)
        .map(|i| OperationRecord {
            id: format!("r{i}"),
            operation: Operation::Add,
            embedding: Some(vec![i as f32, 1.0, -1.0, 0.5]),
            document: Some(format!("small document {i}")),
            metadata: Some(
                [(
                    "n".to_string(),
                    Some(silt_common::record::MetadataValue::Int(i)),
                )]
                .into_iter()
                .collect(),
            ),
            uri: None,
        })
        .collect();
    log.append(c.id, records).await.unwrap();
    assert_eq!(log_stats.snapshot().puts, 1, "one log PUT for the write");

    let (compactor_store, compactor_stats) = counted(&raw);
    let compactor = Compactor::new(
        compactor_store,
        sysdb.clone(),
        log.clone(),
        CompactorConfig::default(),
    );
    assert!(matches!(
        compactor.compact(c.id).await.unwrap(),
        Outcome::Registered { .. }
    ));
    assert_eq!(
        compactor_stats.snapshot().puts,
        1,
        "the whole version is one object"
    );

    // A restart: new log node, new query node, nothing cached.
    let (log_store, log_stats) = counted(&raw);
    let log = Arc::new(ObjectLog::new(
        log_store,
        sysdb.clone(),
        LogConfig::default(),
    ));
    let (query_store, query_stats) = counted(&raw);
    let node = QueryNode::new(query_store, sysdb.clone(), log.clone(), memory_only())
        .await
        .unwrap();
    let hits = node
        .knn(KnnRequest {
            collection: c.id.into(),
            filters: Filters::default(),
            query_embeddings: vec![vec![3.0, 1.0, -1.0, 0.5]],
            n_results: 3,
            include: Include {
                documents: true,
                metadatas: true,
                ..Include::default()
            },
            consistency: Consistency::Strong,
        })
        .await
        .unwrap();
    assert_eq!(hits[0][0].record.id, "r3");
    let q = query_stats.snapshot();
    assert_eq!((q.gets, q.lists), (1, 0), "one GET for a cold query: {q:?}");
    let l = log_stats.snapshot();
    assert_eq!(
        (l.gets, l.lists),
        (0, 0),
        "a compacted log is not read: {l:?}"
    );

    // Every other read of the version is served from that one object.
    let got = node
        .get(GetRequest {
            collection: c.id.into(),
            filters: Filters::default(),
            limit: None,
            offset: 0,
            include: Include {
                documents: true,
                metadatas: true,
                embeddings: true,
                uris: false,
            },
            consistency: Consistency::Strong,
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 20);
    assert_eq!(query_stats.snapshot().gets, 1);

    // A write after the restart: the tail is read again, and merged.
    log.append(
        c.id,
        vec![OperationRecord {
            id: "late".into(),
            operation: Operation::Add,
            embedding: Some(vec![3.0, 1.0, -1.0, 0.5]),
            document: None,
            metadata: None,
            uri: None,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        node.count(c.id.into(), Consistency::Strong).await.unwrap(),
        21
    );
}
