//! Liveness, version, limits, identity and the test-only reset.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use silt_common::ErrorKind;

use crate::error::{ApiError, ApiResult};
use crate::GatewayState;

pub fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/api/v2/heartbeat", get(heartbeat))
        .route("/api/v2/healthcheck", get(healthcheck))
        .route("/api/v2/version", get(version))
        .route("/api/v2/pre-flight-checks", get(pre_flight_checks))
        .route("/api/v2/auth/identity", get(identity))
        .route("/api/v2/reset", post(reset))
}

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

async fn version() -> Json<Value> {
    Json(json!("1.0.0"))
}

async fn pre_flight_checks(State(state): State<GatewayState>) -> Json<Value> {
    let l = &state.limits;
    Json(json!({
        "max_batch_size": l.max_batch_size,
        "supports_base64_encoding": true,
        "max_request_bytes": l.max_request_bytes,
        "max_dimension": l.max_dimension,
        "max_document_bytes": l.max_document_bytes,
        "max_metadata_keys": l.max_metadata_keys,
        "max_n_results": l.max_n_results,
    }))
}

async fn identity() -> Json<Value> {
    Json(json!({
        "user_id": "",
        "tenant": silt_sysdb::DEFAULT_TENANT,
        "databases": [silt_sysdb::DEFAULT_DATABASE],
    }))
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
