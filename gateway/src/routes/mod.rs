//! One router per resource, merged under `/api/v2`.

mod collections;
mod records;
mod system;
mod tenants;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use silt_common::ErrorKind;

use crate::error::ApiError;
use crate::GatewayState;

pub fn router(state: GatewayState) -> Router {
    let limit = state.limits.max_request_bytes;
    Router::new()
        .merge(system::routes())
        .merge(tenants::routes())
        .merge(collections::routes())
        .merge(records::routes())
        .fallback(|| async {
            ApiError::new(
                ErrorKind::NotFound,
                "No such route in Silt's Chroma-compatible API",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
