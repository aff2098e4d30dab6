//! Every route of the API, in one table: method, path, the access it needs, and its handler.
//! The router is built from this table only, and every entry runs behind the tenancy guard, so
//! a route cannot be added without declaring who may call it — and the isolation test walks
//! the same table. Each entry also carries its description (`.doc(...)`: operation id, query,
//! body and answer types), from which `GET /openapi.json` is generated (`openapi.rs`).

mod collection_status;
mod collections;
mod fork;
mod openapi;
mod records;
mod search;
mod system;
mod tenants;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::handler::Handler;
use axum::http::HeaderMap;
use axum::http::Method;
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

use crate::tenancy::{guard, RouteAccess, RouteGuard};
use crate::GatewayState;

pub(crate) const DB_PATH: &str = "/api/v2/tenants/{tenant}/databases/{database}";

/// A route as the outside sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: String,
    pub access: RouteAccess,
}

pub(crate) struct Route {
    spec: RouteSpec,
    handler: MethodRouter<GatewayState>,
    doc: Option<openapi::Doc>,
}

pub(crate) fn route<H, T>(
    method: Method,
    path: impl Into<String>,
    access: RouteAccess,
    handler: H,
) -> Route
where
    H: Handler<T, GatewayState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Route {
        spec: RouteSpec {
            method,
            path: path.into(),
            access,
        },
        handler: on(filter, handler),
        doc: None,
    }
}

impl Route {
    /// Describes the route for `/openapi.json`; every route must (a test checks).
    pub(crate) fn doc(mut self, doc: openapi::Doc) -> Self {
        self.doc = Some(doc);
        self
    }
}

fn all_routes() -> Vec<Route> {
    [
        system::routes(),
        tenants::routes(),
        collections::routes(),
        collection_status::routes(),
        fork::routes(),
        records::routes(),
        search::routes(),
        openapi::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every route the router serves.
pub fn route_specs() -> Vec<RouteSpec> {
    all_routes().into_iter().map(|r| r.spec).collect()
}

pub fn router(state: GatewayState) -> Router {
    let body_limit = state.tenancy.defaults.max_request_bytes;
    let mut router = Router::new();
    for Route { spec, handler, .. } in all_routes() {
        let guarded = handler.layer(from_fn_with_state(
            RouteGuard {
                state: state.clone(),
                access: spec.access,
                route: Arc::from(format!("{} {}", spec.method, spec.path)),
            },
            guard,
        ));
        router = router.route(&spec.path, guarded);
    }
    router
        .merge(crate::console::router())
        .route_layer(from_fn(crate::request_id::record_route))
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(map_response(crate::error::json_error_body))
        // Outermost, so every answer, errors included, carries the request id.
        .layer(from_fn_with_state(
            crate::request_id::RequestIds::system(),
            crate::request_id::tag_request,
        ))
        .with_state(state)
}

/// A path no route serves: Chroma's "not implemented" (501, `ChromaError`), so a client can
/// tell a feature Silt lacks from a missing collection (404). With auth on, the caller must
/// present a valid key first: the API's shape is not disclosed to anyone without one.
async fn unknown_route(State(state): State<GatewayState>, headers: HeaderMap) -> Response {
    if let Err(refused) = state.tenancy.authenticate(&headers).await {
        return refused.into_response();
    }
    crate::error::not_implemented("This route is not implemented by Silt's Chroma-compatible API")
}
