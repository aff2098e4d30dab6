//! `GET /openapi.json` as a client sees it: served without a key even when auth is on, valid
//! JSON, OpenAPI 3.1, and listing exactly the routes the router serves (`route_specs`), each
//! with its parameters, and its body and answer schemas where it has them. Routes Silt shares
//! with Chroma keep Chroma's operation ids (checked against Chroma 1.5.9's own document).

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

async fn app() -> (tempfile::TempDir, axum::Router) {
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
    (dir, app)
}

/// GET /openapi.json without a key.
async fn document(app: axum::Router) -> Value {
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
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn openapi_json_is_public_and_lists_every_route() {
    let (_dir, app) = app().await;
    let doc = document(app).await;
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

/// Chroma 1.5.9's routes as its server's /openapi.json lists them: (operationId, method, path).
const CHROMA_ROUTES: &[(&str, &str, &str)] = &[
    ("get_user_identity", "GET", "/api/v2/auth/identity"),
    ("get_collection_by_crn", "GET", "/api/v2/collections/{crn}"),
    ("healthcheck", "GET", "/api/v2/healthcheck"),
    ("heartbeat", "GET", "/api/v2/heartbeat"),
    ("pre_flight_checks", "GET", "/api/v2/pre-flight-checks"),
    ("reset", "POST", "/api/v2/reset"),
    ("create_tenant", "POST", "/api/v2/tenants"),
    ("get_tenant", "GET", "/api/v2/tenants/{tenant_name}"),
    ("update_tenant", "PATCH", "/api/v2/tenants/{tenant_name}"),
    ("list_databases", "GET", "/api/v2/tenants/{tenant}/databases"),
    ("create_database", "POST", "/api/v2/tenants/{tenant}/databases"),
    ("get_database", "GET", "/api/v2/tenants/{tenant}/databases/{database}"),
    ("delete_database", "DELETE", "/api/v2/tenants/{tenant}/databases/{database}"),
    ("list_collections", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections"),
    ("create_collection", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections"),
    ("get_collection_by_id", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections/by-id/{collection_id}"),
    ("get_collection", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}"),
    ("update_collection", "PUT", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}"),
    ("delete_collection", "DELETE", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}"),
    ("collection_add", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/add"),
    ("detach_function", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/attached_functions/{name}/detach"),
    ("collection_count", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/count"),
    ("collection_delete", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/delete"),
    ("fork_collection", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/fork"),
    ("fork_count", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/fork_count"),
    ("attach_function", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/functions/attach"),
    ("get_attached_function", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/functions/{function_name}"),
    ("collection_get", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/get"),
    ("indexing_status", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/indexing_status"),
    ("collection_query", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query"),
    ("collection_search", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/search"),
    ("collection_update", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/update"),
    ("collection_upsert", "POST", "/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/upsert"),
    ("count_collections", "GET", "/api/v2/tenants/{tenant}/databases/{database}/collections_count"),
    ("version", "GET", "/api/v2/version"),
];

/// A route Silt shares with Chroma carries Chroma's operation id, method and path (parameter
/// names aside), so clients generated from either document agree.
#[tokio::test]
async fn shared_routes_have_chromas_operation_ids() {
    let (_dir, app) = app().await;
    let doc = document(app).await;
    let shape = |path: &str| -> Vec<String> {
        path.split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "{}".to_string()
                } else {
                    s.to_string()
                }
            })
            .collect()
    };
    let mut shared = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            let same_route = CHROMA_ROUTES
                .iter()
                .find(|(_, m, p)| m.eq_ignore_ascii_case(method) && shape(p) == shape(path));
            if let Some((chroma_id, _, _)) = same_route {
                assert_eq!(id, *chroma_id, "{method} {path}");
                shared += 1;
            }
            if let Some((_, m, p)) = CHROMA_ROUTES.iter().find(|(i, _, _)| *i == id) {
                assert!(
                    m.eq_ignore_ascii_case(method) && shape(p) == shape(path),
                    "{id} is {m} {p} in Chroma, {method} {path} in Silt"
                );
            }
        }
    }
    assert!(shared >= 25, "only {shared} routes in common with Chroma");
}
