//! A query whose caller gave up stops: once the caller drops the internal call, the query node
//! makes no further object-store request for it — including the full-text search, which runs
//! on a blocking thread that dropping cannot abort. Counted against a store that answers every
//! GET slowly, so that a cold substring search needs many sequential reads.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use serde_json::json;
use silt_common::filter::WhereDocument;
use silt_common::record::{Operation, OperationRecord};
use silt_common::routing::{Member, StaticNodes};
use silt_common::rpc::{RpcClient, RpcConfig};
use silt_common::storage::{CountingStore, DynStore, FaultPlan, FaultyStore};
use silt_common::ErrorKind;
use silt_compactor::{Compactor, CompactorConfig, Outcome};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{
    CacheConfig, Consistency, Filters, Include, KnnRequest, QueryClient, QueryConfig, QueryNode,
    QueryService,
};
use silt_sysdb::{NewCollection, SysDb};

const GET_LATENCY: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_stops_reading_when_its_caller_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let raw: DynStore = Arc::new(InMemory::new());
    let log = Arc::new(ObjectLog::new(
        raw.clone(),
        sysdb.clone(),
        LogConfig::default(),
    ));
    let (c, _) = sysdb
        .create_collection(NewCollection::in_default_database(
            "slow",
            json!({"hnsw": {"space": "l2"}}),
        ))
        .await
        .unwrap();
    // Documents of many distinct words, so that the text index spans many chunks and a
    // substring search reads several of them, one after another.
    for batch in 0..4 {
        let ops = (batch * 5000..(batch + 1) * 5000)
            .map(|i: u64| OperationRecord {
                id: format!("r{i}"),
                operation: Operation::Add,
                embedding: Some(vec![i as f32, 1.0, 0.5, -1.0]),
                document: Some(
                    (0..12)
                        .map(|w| format!("{:x}", (i * 2_654_435_761 + w * 40_503) % 1_000_003))
                        .collect::<Vec<_>>()
                        .join(" ")
                        + &format!(" words{} more{}", i % 97, i % 13),
                ),
                metadata: None,
                uri: None,
            })
            .collect();
        log.append(c.id, ops).await.unwrap();
    }
    let compactor = Compactor::new(
        raw.clone(),
        sysdb.clone(),
        log.clone(),
        CompactorConfig::default(),
    );
    assert!(matches!(
        compactor.compact(c.id).await.unwrap(),
        Outcome::Registered { .. }
    ));

    // The query node reads through a slow store, and counts what it asks of it.
    let slow: DynStore = Arc::new(FaultyStore::new(
        raw.clone(),
        FaultPlan {
            get_latency: GET_LATENCY,
            ..FaultPlan::default()
        },
    ));
    let counting = Arc::new(CountingStore::new(slow));
    let stats = counting.stats();
    let node = Arc::new(
        QueryNode::new(
            counting,
            sysdb.clone(),
            log.clone(),
            QueryConfig {
                cache: CacheConfig {
                    memory_bytes: 64 << 20,
                    disk_dir: None,
                    disk_bytes: 0,
                },
                ..QueryConfig::default()
            },
        )
        .await
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let client_for = |timeout: Duration| {
        QueryClient::new(
            RpcClient::new(
                Arc::new(StaticNodes::new(
                    "query",
                    vec![Member {
                        id: "q".into(),
                        address: address.clone(),
                    }],
                )),
                RpcConfig {
                    attempt_timeout: timeout,
                    deadline: timeout,
                    max_attempts: 1,
                    ..RpcConfig::default()
                },
            )
            .unwrap(),
        )
    };
    let server = tokio::spawn(async move {
        axum::serve(listener, silt_query_service::router(node))
            .await
            .ok();
    });

    // The caller gives up half-way through the query's second sequential round trip (a cold
    // full-text query needs at least three: head, text index, records).
    let client = client_for(GET_LATENCY * 3 / 2);
    let request = KnnRequest {
        collection: c.id.into(),
        filters: Filters {
            where_document: WhereDocument::parse(&json!({"$contains": "words42 more3"})).unwrap(),
            ..Filters::default()
        },
        query_embeddings: vec![vec![1.0, 1.0, 0.5, -1.0]],
        n_results: 5,
        include: Include::default(),
        consistency: Consistency::Eventual,
    };
    let error = client
        .knn(request.clone())
        .await
        .expect_err("the cold query takes longer than its caller waits");
    assert_eq!(error.kind, ErrorKind::Unavailable, "{error:?}");

    // Requests already sent when the deadline passed may finish; nothing new may start.
    let settled = stats.gets.load(Ordering::Relaxed);
    tokio::time::sleep(GET_LATENCY * 5).await;
    assert_eq!(
        stats.gets.load(Ordering::Relaxed),
        settled,
        "the abandoned query kept reading from the object store"
    );

    // The same query, given the time it needs, is answered by the same node.
    let answered = client_for(Duration::from_secs(60))
        .knn(request)
        .await
        .expect("a patient caller gets the answer");
    assert!(!answered[0].is_empty(), "records match the filter");
    server.abort();
}
