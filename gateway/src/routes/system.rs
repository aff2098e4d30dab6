//! Liveness (Chroma's heartbeat and healthcheck, and `/healthz` as on every Silt role), version, limits, identity and the test-only reset.

use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde_json::{json, Value};
use silt_common::ErrorKind;

use super::openapi::op;
use super::{route, Route};
use crate::error::{ApiError, ApiResult};
use crate::tenancy::{Caller, RouteAccess};
use crate::{wire, GatewayState};

pub(crate) fn routes() -> Vec<Route> {
    use RouteAccess::*;
    vec![
        route(Method::GET, "/api/v2/heartbeat", Public, heartbeat).doc(
            op("heartbeat", "System", "Nanoseconds since the epoch")
                .ok::<wire::HeartbeatResponse>(),
        ),
        route(Method::GET, "/api/v2/healthcheck", Public, healthcheck).doc(
            op(
                "healthcheck",
                "System",
                "Whether the server can reach its catalog",
            )
            .ok::<wire::HealthcheckResponse>(),
        ),
        route(Method::GET, "/api/v2/version", Public, version)
            .doc(op("version", "System", "The Chroma API version Silt speaks").ok::<String>()),
        route(Method::GET, "/healthz", Public, healthz).doc(
            op(
                "healthz",
                "System",
                "Liveness, the same path on every Silt role",
            )
            .text(),
        ),
        route(
            Method::GET,
            "/api/v2/pre-flight-checks",
            Authenticated,
            pre_flight_checks,
        )
        .doc(
            op(
                "pre_flight_checks",
                "System",
                "The limits that apply to the caller's tenant",
            )
            .ok::<wire::PreFlightChecks>(),
        ),
        route(
            Method::GET,
            "/api/v2/auth/identity",
            Authenticated,
            identity,
        )
        .doc(
            op(
                "get_user_identity",
                "Auth",
                "The key's tenant and databases",
            )
            .ok::<wire::Identity>(),
        ),
        route(Method::POST, "/api/v2/reset", Operator, reset).doc(
            op(
                "reset",
                "System",
                "Deletes everything (only with --allow-reset)",
            )
            .ok::<bool>(),
        ),
    ]
}

// Chroma's heartbeat answers the server's wall-clock time: the ambient clock is the point.
#[allow(clippy::disallowed_methods)]
async fn heartbeat() -> Json<Value> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Json(json!({ "nanosecond heartbeat": nanos }))
}

async fn healthcheck(State(state): State<GatewayState>) -> ApiResult<Json<Value>> {
    state
        .sysdb
        .tenant_exists(silt_sysdb::DEFAULT_TENANT)
        .await?;
    Ok(Json(
        json!({"is_executor_ready": true, "is_log_client_ready": true}),
    ))
}

/// Liveness for load balancers and orchestrators, the same path on every role.
async fn healthz() -> &'static str {
    "ok"
}

async fn version() -> Json<Value> {
    Json(json!("1.0.0"))
}

/// The limits that apply to the caller's tenant.
async fn pre_flight_checks(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(caller.limits.report())
}

/// The key's tenant and databases, so that Chroma's clients pick them up. A key for all
/// databases lists the tenant's current ones.
async fn identity(
    State(state): State<GatewayState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let Some(key) = caller.key else {
        return Ok(Json(json!({
            "user_id": "",
            "tenant": silt_sysdb::DEFAULT_TENANT,
            "databases": [silt_sysdb::DEFAULT_DATABASE],
        })));
    };
    let databases = match &key.scope.databases {
        Some(dbs) => dbs.clone(),
        None => state
            .sysdb
            .list_databases(&key.tenant, None, 0)
            .await?
            .into_iter()
            .map(|d| d.name)
            .collect(),
    };
    Ok(Json(json!({
        "user_id": key.id,
        "tenant": key.tenant,
        "databases": databases,
    })))
}

async fn reset(State(state): State<GatewayState>) -> ApiResult<Json<Value>> {
    if !state.allow_reset {
        return Err(ApiError::new(
            ErrorKind::InvalidArgument,
            "Resetting is not allowed by this server: start it with --allow-reset",
        ));
    }
    state.sysdb.reset().await?;
    Ok(Json(json!(true)))
}
