//! Inputs the API fuzzing (tests/fuzz) and its follow-up probes found mishandled, each answered
//! now with a Chroma error instead of a panic or a stored mistake.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use object_store::memory::InMemory;
use serde_json::{json, Value};
use silt_gateway::{GatewayConfig, GatewayState};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{QueryConfig, QueryNode, QueryService};
use silt_sysdb::SysDb;
use tower::ServiceExt;

const DB: &str = "/api/v2/tenants/default_tenant/databases/default_database";

async fn app() -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display()))
        .await
        .unwrap();
    let store = Arc::new(InMemory::new());
    let log: Arc<dyn LogService> = Arc::new(ObjectLog::new(
        store.clone(),
        sysdb.clone(),
        LogConfig::default(),
    ));
    let query: Arc<dyn QueryService> = Arc::new(
        QueryNode::new(store, sysdb.clone(), log.clone(), QueryConfig::default())
            .await
            .unwrap(),
    );
    let state = GatewayState::new(sysdb, log, query, GatewayConfig::default());
    (dir, silt_gateway::router(state))
}

async fn call(app: &Router, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn collection_with_records(app: &Router) -> String {
    let (status, c) = call(
        app,
        Method::POST,
        &format!("{DB}/collections"),
        json!({"name": "fuzzed"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let records = json!({
        "ids": ["a", "b", "c"],
        "embeddings": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        "metadatas": [{"n": 1}, {"n": 2}, {"n": 3}],
    });
    let (status, body) = call(
        app,
        Method::POST,
        &format!("{DB}/collections/{id}/add"),
        records,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id
}

fn is_chroma_error(body: &Value) -> bool {
    body["error"].is_string() && body["message"].is_string()
}

/// `offset` near u64::MAX with a `limit` overflowed `offset + limit` in the query service (a
/// panic that dropped the connection). Offsets and limits are Chroma's u32 now.
#[tokio::test]
async fn get_and_delete_refuse_offsets_and_limits_past_u32() {
    let (_dir, app) = app().await;
    let id = collection_with_records(&app).await;
    let get = format!("{DB}/collections/{id}/get");
    let (status, body) = call(
        &app,
        Method::POST,
        &get,
        json!({"offset": u64::MAX, "limit": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(is_chroma_error(&body), "{body}");

    // The largest offset allowed, with a limit: an empty page, not an overflow.
    let (status, body) = call(
        &app,
        Method::POST,
        &get,
        json!({"offset": u32::MAX, "limit": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ids"], json!([]));
    let (status, body) = call(&app, Method::POST, &get, json!({"offset": 1, "limit": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ids"], json!(["b"]));

    let delete = format!("{DB}/collections/{id}/delete");
    let (status, body) = call(
        &app,
        Method::POST,
        &delete,
        json!({"where": {"n": {"$gt": 1}}, "limit": u64::MAX}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{DB}/collections/{id}/get"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["ids"].as_array().map(Vec::len),
        Some(3),
        "nothing was deleted"
    );
}

/// A configuration whose `spann` (or `hnsw`) is not an object was stored and echoed back in
/// `configuration_json`.
#[tokio::test]
async fn index_settings_that_are_not_objects_are_refused() {
    let (_dir, app) = app().await;
    // Chroma 1.5.9 answers a section of the wrong shape 422 (a body its types cannot take):
    // strings, numbers, booleans, empty arrays. Only a non-empty array gets 400 from it, a quirk
    // of its positional struct parsing; Silt answers 422 for every wrong shape.
    for config in [json!({"spann": "__main__"}), json!({"hnsw": [1]})] {
        let (status, body) = call(
            &app,
            Method::POST,
            &format!("{DB}/collections"),
            json!({"name": "cfg", "configuration": config}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{config}: {body}");
        assert!(is_chroma_error(&body), "{body}");
    }
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{DB}/collections"),
        json!({"name": "cfg", "configuration": {"spann": null, "hnsw": {"space": "ip"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["configuration_json"]["hnsw"]["space"], "ip");
}
