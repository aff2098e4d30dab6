//! Tenant isolation, route by route. The routes come from the router's own table
//! (`route_specs`), so a route added later is tried here without anyone remembering to.
//!
//! Tenant B owns a collection with records. With tenant A's read-write key, every route is
//! called on B's tenant, database and collection: each must refuse (403) or answer only about
//! A, reveal nothing of B, and leave B unchanged. Then the same key tries B's collection id
//! under A's own path (must look exactly like an id that does not exist), a read-only key tries
//! every write route, and requests without a valid key get 401.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use object_store::memory::InMemory;
use serde_json::{json, Value};
use silt_common::api_key::{generate_key, hash_key};
use silt_gateway::{route_specs, GatewayConfig, GatewayState, RouteAccess, RouteSpec};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{QueryConfig, QueryNode, QueryService};
use silt_sysdb::{Access, KeyScope, SysDb};
use tower::ServiceExt;

struct World {
    _dir: tempfile::TempDir,
    app: Router,
    sysdb: SysDb,
}

async fn world() -> World {
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
    let state = GatewayState::new(
        sysdb.clone(),
        log,
        query,
        GatewayConfig {
            auth: true,
            allow_reset: true,
            catalog_cache_ttl: std::time::Duration::ZERO,
            ..GatewayConfig::default()
        },
    );
    World {
        _dir: dir,
        app: silt_gateway::router(state),
        sysdb,
    }
}

async fn key(sysdb: &SysDb, tenant: &str, access: Access) -> String {
    let key = generate_key();
    let scope = KeyScope {
        access,
        databases: None,
    };
    sysdb
        .create_api_key(tenant, None, &scope, &hash_key(&key))
        .await
        .unwrap();
    key
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        req = req.header("x-chroma-token", k);
    }
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
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

/// A plausible body for each route, so that a refusal is about access, not about bad input.
fn body_for(spec: &RouteSpec) -> Option<Value> {
    let p = spec.path.as_str();
    let record = json!({"ids": ["intruder"], "embeddings": [[9.0, 9.0, 9.0]], "documents": ["x"]});
    match spec.method {
        Method::POST if p.ends_with("/add") || p.ends_with("/upsert") || p.ends_with("/update") => {
            Some(record)
        }
        Method::POST if p.ends_with("/delete") => Some(json!({"ids": ["b1", "b2"]})),
        Method::POST if p.ends_with("/get") => Some(json!({})),
        Method::POST if p.ends_with("/query") => {
            Some(json!({"query_embeddings": [[1.0, 0.0, 0.0]], "n_results": 5}))
        }
        Method::POST if p.ends_with("/search") => Some(json!({"searches": [
            {"rank": {"$knn": {"query": [1.0, 0.0, 0.0], "limit": 5}}, "select": {"keys": ["#document"]}}
        ]})),
        Method::POST if p.ends_with("/fork") => Some(json!({"new_name": "intruder-fork"})),
        Method::POST if p.ends_with("/reset") => None,
        Method::POST => Some(json!({"name": "intruder"})),
        Method::PUT => Some(json!({"new_name": "pwned", "new_metadata": {"pwned": true}})),
        _ => None,
    }
}

struct Target<'a> {
    tenant: &'a str,
    collection_name: &'a str,
    collection_id: &'a str,
}

fn path_for(spec: &RouteSpec, t: &Target) -> String {
    // `{collection}` is the name for GET and DELETE, and the id for PUT (modify), as in Chroma.
    let collection = if spec.method == Method::PUT {
        t.collection_id
    } else {
        t.collection_name
    };
    spec.path
        .replace("{tenant}", t.tenant)
        .replace("{database}", "default_database")
        .replace("{collection}", collection)
        .replace("{id}", t.collection_id)
}

/// Calls one route of the table on `target`, with the route's plausible body.
async fn call_route(
    app: &Router,
    spec: &RouteSpec,
    target: &Target<'_>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    call(
        app,
        spec.method.clone(),
        &path_for(spec, target),
        key,
        body_for(spec),
    )
    .await
}

/// Everything observable about tenant B, read with B's own key.
async fn snapshot_of_b(app: &Router, b_key: &str, b_id: &str) -> Value {
    let base = "/api/v2/tenants/tenant-b/databases/default_database";
    let (_, collections) = call(
        app,
        Method::GET,
        &format!("{base}/collections"),
        Some(b_key),
        None,
    )
    .await;
    let (_, databases) = call(
        app,
        Method::GET,
        "/api/v2/tenants/tenant-b/databases",
        Some(b_key),
        None,
    )
    .await;
    let (_, records) = call(
        app,
        Method::POST,
        &format!("{base}/collections/{b_id}/get"),
        Some(b_key),
        Some(json!({"include": ["documents", "metadatas", "embeddings"]})),
    )
    .await;
    json!({"collections": collections, "databases": databases, "records": records})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_keeps_tenants_apart() {
    let w = world().await;
    for t in ["tenant-a", "tenant-b"] {
        w.sysdb.create_tenant(t).await.unwrap();
        w.sysdb
            .create_database(t, "default_database")
            .await
            .unwrap();
    }
    let a_key = key(&w.sysdb, "tenant-a", Access::Write).await;
    let a_read_only = key(&w.sysdb, "tenant-a", Access::Read).await;
    let b_key = key(&w.sysdb, "tenant-b", Access::Write).await;

    // B's secret collection and records; A's own collection for the same-path checks.
    let make =
        |tenant: &'static str, k: String, name: &'static str| {
            let app = w.app.clone();
            async move {
                let base = format!("/api/v2/tenants/{tenant}/databases/default_database");
                let (s, c) = call(
                    &app,
                    Method::POST,
                    &format!("{base}/collections"),
                    Some(&k),
                    Some(json!({"name": name})),
                )
                .await;
                assert_eq!(s, StatusCode::OK, "{c}");
                let id = c["id"].as_str().unwrap().to_string();
                let (s, e) = call(
                &app,
                Method::POST,
                &format!("{base}/collections/{id}/add"),
                Some(&k),
                Some(json!({"ids": ["b1", "b2"], "embeddings": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                            "documents": ["classified one", "classified two"],
                            "metadatas": [{"level": "secret"}, {"level": "top"}]})),
            )
            .await;
                assert_eq!(s, StatusCode::CREATED, "{e}");
                id
            }
        };
    let b_id = make("tenant-b", b_key.clone(), "b-secret").await;
    let a_id = make("tenant-a", a_key.clone(), "a-own").await;
    let before = snapshot_of_b(&w.app, &b_key, &b_id).await;
    let secrets = [b_id.as_str(), "b-secret", "classified", "tenant-b-db-id"];

    let target_b = Target {
        tenant: "tenant-b",
        collection_name: "b-secret",
        collection_id: &b_id,
    };
    let mut report = Vec::new();
    let specs = route_specs();
    assert!(
        specs.len() >= 25,
        "the route table looks incomplete: {}",
        specs.len()
    );
    for spec in &specs {
        let (status, body) = call_route(&w.app, spec, &target_b, Some(&a_key)).await;
        let text = body.to_string();
        match spec.access {
            RouteAccess::Public => assert!(
                status.is_success(),
                "{} {}: {status}",
                spec.method,
                spec.path
            ),
            RouteAccess::Authenticated => {
                assert!(
                    status.is_success(),
                    "{} {}: {status}",
                    spec.method,
                    spec.path
                );
                assert!(
                    !text.contains("tenant-b"),
                    "{} {} mentions tenant B: {text}",
                    spec.method,
                    spec.path
                );
            }
            _ => {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {}: {text}",
                    spec.method,
                    spec.path
                );
                assert_eq!(body["error"], "AuthError");
            }
        }
        // Even an echo of the tenant name is fine only in a refusal; B's data never appears.
        for secret in &secrets[..3] {
            assert!(
                !text.contains(secret),
                "{} {} revealed {secret}: {text}",
                spec.method,
                spec.path
            );
        }
        report.push(format!(
            "{:<6} {:<75} {:<13} {}",
            spec.method.as_str(),
            spec.path,
            spec.access.as_str(),
            status
        ));
    }
    // B's collection id under A's own tenant looks exactly like an id that does not exist.
    let missing = "00000000-0000-4000-8000-000000000000";
    for spec in specs
        .iter()
        .filter(|s| s.path.contains("{id}") || s.method == Method::PUT)
    {
        let under_a = |collection_id| Target {
            tenant: "tenant-a",
            collection_name: "b-secret",
            collection_id,
        };
        let (s1, b1) = call_route(&w.app, spec, &under_a(&b_id), Some(&a_key)).await;
        let (s2, b2) = call_route(&w.app, spec, &under_a(missing), Some(&a_key)).await;
        assert_eq!(s1, StatusCode::NOT_FOUND, "{} {}", spec.method, spec.path);
        assert_eq!(s1, s2);
        assert_eq!(
            b1.to_string().replace(&b_id, "ID"),
            b2.to_string().replace(missing, "ID"),
            "{} {}: B's id is distinguishable from a missing one",
            spec.method,
            spec.path
        );
        report.push(format!(
            "{:<6} {:<75} {:<13} {} (B's collection id under tenant A's path)",
            spec.method.as_str(),
            spec.path,
            "",
            s1
        ));
    }
    assert_eq!(
        snapshot_of_b(&w.app, &b_key, &b_id).await,
        before,
        "tenant B changed"
    );

    // A read-only key writes nothing, even in its own tenant.
    let target_a = Target {
        tenant: "tenant-a",
        collection_name: "a-own",
        collection_id: &a_id,
    };
    for spec in specs.iter().filter(|s| {
        matches!(
            s.access,
            RouteAccess::Write | RouteAccess::TenantAdmin | RouteAccess::Operator
        )
    }) {
        let (status, _) = call_route(&w.app, spec, &target_a, Some(&a_read_only)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "read-only key: {} {}",
            spec.method,
            spec.path
        );
    }
    for spec in specs.iter().filter(|s| s.access == RouteAccess::Read) {
        let (status, body) = call_route(&w.app, spec, &target_a, Some(&a_read_only)).await;
        assert!(
            status.is_success(),
            "read-only key reading: {} {}: {status} {body}",
            spec.method,
            spec.path
        );
    }

    // No key, or a wrong one: 401 everywhere but the public routes.
    for spec in specs.iter().filter(|s| s.access != RouteAccess::Public) {
        for k in [None, Some("silt_not-a-real-key")] {
            let (status, body) = call_route(&w.app, spec, &target_a, k).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {}",
                spec.method,
                spec.path
            );
            assert_eq!(body["error"], "AuthorizationError");
        }
    }
    // Revocation takes effect (the catalog cache is off here).
    let (s, _) = call(
        &w.app,
        Method::GET,
        "/api/v2/auth/identity",
        Some(&b_key),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for k in w.sysdb.list_api_keys(Some("tenant-b")).await.unwrap() {
        w.sysdb.revoke_api_key(&k.id).await.unwrap();
    }
    let (s, _) = call(
        &w.app,
        Method::GET,
        "/api/v2/auth/identity",
        Some(&b_key),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    println!(
        "cross-tenant outcomes with tenant A's read-write key:\n{}",
        report.join("\n")
    );
}
