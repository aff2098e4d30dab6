//! A fork whose tail copy fails is abandoned: the request answers 503 (retry), and nothing of
//! the half-made fork is visible afterwards: not by name, not in the listing, not in
//! `fork_count`, and its name is free for the retry, which then succeeds. The failure is a
//! write that reaches the pending fork before its tail (a log wrapper appends to every pending
//! fork when the parent's tail is read), which would otherwise reorder the fork's log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use object_store::memory::InMemory;
use serde_json::{json, Value};
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::{CollectionId, SiltResult};
use silt_gateway::{GatewayConfig, GatewayState};
use silt_log_service::{AppendReceipt, LogConfig, LogService, ObjectLog};
use silt_query_service::{QueryConfig, QueryNode, QueryService};
use silt_sysdb::SysDb;
use tower::ServiceExt;

const BASE: &str = "/api/v2/tenants/default_tenant/databases/default_database/collections";

/// The log, plus, once armed, a write into every pending fork when a tail is read.
struct Intruder {
    log: Arc<ObjectLog>,
    sysdb: SysDb,
    armed: AtomicBool,
}

#[async_trait]
impl LogService for Intruder {
    async fn append(
        &self,
        collection: CollectionId,
        records: Vec<OperationRecord>,
    ) -> SiltResult<AppendReceipt> {
        self.log.append(collection, records).await
    }

    async fn read_tail(
        &self,
        collection: CollectionId,
        after: u64,
        known_position: u64,
    ) -> SiltResult<Vec<LogEntry>> {
        if self.armed.swap(false, Ordering::SeqCst) {
            // Every fork not yet complete (none is older than i64::MAX ms).
            for fork in self.sysdb.abandoned_forks(i64::MAX, 10).await? {
                self.log
                    .append(fork, vec![OperationRecord::delete("intruder".to_string())])
                    .await?;
            }
        }
        self.log.read_tail(collection, after, known_position).await
    }

    async fn mark_compacted(&self, collection: CollectionId, offset: u64) -> SiltResult<()> {
        self.log.mark_compacted(collection, offset).await
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder().method(method).uri(path);
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_whose_tail_copy_fails_leaves_nothing_visible_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let store = Arc::new(InMemory::new());
    let object_log = Arc::new(ObjectLog::new(
        store.clone(),
        sysdb.clone(),
        LogConfig::default(),
    ));
    let intruder = Arc::new(Intruder {
        log: object_log,
        sysdb: sysdb.clone(),
        armed: AtomicBool::new(false),
    });
    let log: Arc<dyn LogService> = intruder.clone();
    let query: Arc<dyn QueryService> = Arc::new(
        QueryNode::new(store, sysdb.clone(), log.clone(), QueryConfig::default())
            .await
            .unwrap(),
    );
    let app = silt_gateway::router(GatewayState::new(
        sysdb.clone(),
        log,
        query,
        GatewayConfig::default(),
    ));

    // A parent whose records are all in its log tail (nothing compacts here).
    let (s, parent) = call(&app, Method::POST, BASE, Some(json!({"name": "parent"}))).await;
    assert_eq!(s, StatusCode::OK, "{parent}");
    let pid = parent["id"].as_str().unwrap().to_string();
    let ids = ["a", "b", "c"];
    let (s, e) = call(
        &app,
        Method::POST,
        &format!("{BASE}/{pid}/add"),
        Some(json!({"ids": ids, "embeddings": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");

    intruder.armed.store(true, Ordering::SeqCst);
    let fork = json!({"new_name": "child"});
    let (s, e) = call(
        &app,
        Method::POST,
        &format!("{BASE}/{pid}/fork"),
        Some(fork.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    assert!(e["message"].as_str().unwrap().contains("retry"), "{e}");

    let (s, _) = call(&app, Method::GET, &format!("{BASE}/child"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, listed) = call(&app, Method::GET, BASE, None).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["parent"]);
    let (_, count) = call(&app, Method::GET, &format!("{BASE}/{pid}/fork_count"), None).await;
    assert_eq!(count, json!({"count": 0}));

    // The retry takes the same name and holds exactly the parent's records.
    let (s, child) = call(
        &app,
        Method::POST,
        &format!("{BASE}/{pid}/fork"),
        Some(fork),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{child}");
    let cid = child["id"].as_str().unwrap();
    assert_eq!(child["log_position"], json!(3));
    let (s, got) = call(
        &app,
        Method::POST,
        &format!("{BASE}/{cid}/get"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    let mut got_ids: Vec<&str> = got["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    got_ids.sort_unstable();
    assert_eq!(got_ids, ids);
    let (_, count) = call(&app, Method::GET, &format!("{BASE}/{pid}/fork_count"), None).await;
    assert_eq!(count, json!({"count": 1}));
}
