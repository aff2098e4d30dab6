//! `GET /readyz`: answers 200 only when this process can serve — the catalog answers, the
//! object store answers, and (in a cluster) the node's membership heartbeat is current, so
//! other nodes route to it. `/healthz` stays a liveness probe that checks nothing.
//!
//! Load balancers probe often; the checks' outcome is reused for a short while so that a probe
//! every second costs the store and the catalog at most one request per `REUSE`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use silt_common::clock::{Clock, SystemClock};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use serde_json::{json, Map, Value};
use silt_common::storage::DynStore;
use silt_sysdb::{Heartbeat, SysDb};
use tokio::sync::Mutex;

const REUSE: Duration = Duration::from_secs(2);
/// A check slower than this counts as failed: a probe must answer before the balancer's own
/// timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Readiness {
    sysdb: SysDb,
    /// The store as this process opened it, without request counting: probes are not traffic.
    store: DynStore,
    heartbeat: Option<Heartbeat>,
    last: Arc<Mutex<Option<(Instant, Checked)>>>,
}

#[derive(Clone)]
struct Checked {
    ready: bool,
    checks: Map<String, Value>,
}

impl Readiness {
    pub fn new(sysdb: SysDb, store: DynStore) -> Self {
        Readiness {
            sysdb,
            store,
            heartbeat: None,
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// Also requires the node's membership heartbeat to be current.
    pub fn member(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Adds `GET /readyz` to `app`.
    pub fn serve_on(self, app: Router) -> Router {
        app.route(
            "/readyz",
            get(move || {
                let readiness = self.clone();
                async move { readiness.answer().await }
            }),
        )
    }

    async fn answer(&self) -> Response {
        let checked = self.checked().await;
        let status = if checked.ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = json!({ "ready": checked.ready, "checks": checked.checks });
        (status, Json(body)).into_response()
    }

    async fn checked(&self) -> Checked {
        let mut last = self.last.lock().await;
        if let Some((at, checked)) = last.as_ref() {
            if SystemClock.instant().saturating_duration_since(*at) < REUSE {
                return checked.clone();
            }
        }
        let checked = self.run_checks().await;
        *last = Some((SystemClock.instant(), checked.clone()));
        checked
    }

    async fn run_checks(&self) -> Checked {
        let catalog = async {
            match tokio::time::timeout(CHECK_TIMEOUT, self.sysdb.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            }
        };
        let store = async {
            // Any answer about a key that never exists proves the store is reachable and the
            // credentials work; only "not found" is the expected answer.
            let probe = Path::from("_silt/readyz-probe");
            match tokio::time::timeout(CHECK_TIMEOUT, self.store.head(&probe)).await {
                Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            }
        };
        let (catalog, store) = tokio::join!(catalog, store);
        let mut results = vec![("catalog", catalog), ("store", store)];
        if let Some(heartbeat) = &self.heartbeat {
            let current = if heartbeat.is_current() {
                Ok(())
            } else {
                Err("membership heartbeat is stale: other nodes no longer route here".into())
            };
            results.push(("membership", current));
        }
        let ready = results.iter().all(|(_, r)| r.is_ok());
        let checks = results
            .into_iter()
            .map(|(name, r)| {
                let v = match r {
                    Ok(()) => Value::from("ok"),
                    Err(e) => Value::from(e),
                };
                (name.to_string(), v)
            })
            .collect();
        Checked { ready, checks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use object_store::memory::InMemory;
    use tower::ServiceExt;

    async fn probe(app: Router) -> (StatusCode, Value) {
        let response = app
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn ready_when_catalog_and_store_answer_and_not_once_the_catalog_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
        let sysdb = SysDb::connect(&url).await.unwrap();
        let readiness = Readiness::new(sysdb.clone(), Arc::new(InMemory::new()));
        let (status, body) = probe(readiness.clone().serve_on(Router::new())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["checks"]["catalog"], "ok");
        assert_eq!(body["checks"]["store"], "ok");

        sysdb.close().await;
        // A fresh probe (no reused answer) sees the closed catalog.
        let fresh = Readiness::new(sysdb, Arc::new(InMemory::new()));
        let (status, body) = probe(fresh.serve_on(Router::new())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["ready"], false);
        assert_ne!(body["checks"]["catalog"], "ok");
        assert_eq!(body["checks"]["store"], "ok");
    }
}
