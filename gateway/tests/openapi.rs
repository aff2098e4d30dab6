//! `GET /openapi.json` as a client sees it: served without a key even when auth is on, valid
//! JSON, OpenAPI 3.1, and listing exactly the routes the router serves (`route_specs`), each
//! with its parameters, and its body and answer schemas where it has them.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use object_store::memory::InMemory;
use serde_json::Value;
use silt_gateway::{route_specs, GatewayConfig, GatewayState, RouteAccess};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{QueryConfig, QueryNode, QueryService};
use silt_sysdb::SysDb;
use tower::ServiceExt;

#[tokio::test]
async fn openapi_json_is_public_and_lists_every_route() {
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
    let app = silt_gateway::router(GatewayState::new(
        sysdb,
        log,
        query,
        GatewayConfig {
            auth: true,
            ..GatewayConfig::default()
        },
    ));

    // No key, auth on.
    let resp = app
        .oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let specs = route_specs();
    let mut operations = 0;
    for spec in &specs {
        let what = format!("{} {}", spec.method, spec.path);
        let op = &doc["paths"][&spec.path][spec.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{what} is not in /openapi.json");
        operations += 1;
        assert!(op["operationId"].is_string(), "{what}: no operationId");
        // Every `{name}` of the path is a declared path parameter.
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_path: Vec<&str> = spec
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, in_path, "{what}");
        // Keys: declared on every route that needs one, and only there.
        assert_eq!(
            op["security"].is_array(),
            spec.access != RouteAccess::Public,
            "{what}"
        );
        let success = op["responses"]
            .as_object()
            .and_then(|r| r.keys().find(|k| k.starts_with('2')).cloned());
        assert!(success.is_some(), "{what}: no success answer");
        assert_eq!(
            op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            if in_path.is_empty() {
                Value::Null
            } else {
                Value::from("#/components/schemas/ErrorResponse")
            },
            "{what}"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented, operations,
        "the document lists routes the router does not serve"
    );

    // The record routes carry the wire types' schemas.
    let add =
        &doc["paths"]["/api/v2/tenants/{tenant}/databases/{database}/collections/{id}/add"]["post"];
    assert_eq!(
        add["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CollectionRecordsPayload"
    );
    let query = &doc["paths"]
        ["/api/v2/tenants/{tenant}/databases/{database}/collections/{id}/query"]["post"];
    assert_eq!(
        query["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/QueryResponse"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["QueryRequestPayload"]["required"],
        serde_json::json!(["query_embeddings"])
    );
    assert!(schemas["Collection"]["properties"]["configuration_json"].is_object());
}
