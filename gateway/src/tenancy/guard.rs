//! The middleware every route runs behind: authenticate, authorize, load the tenant's limits,
//! apply rate limits, then hand the handler a `Caller`.

use std::sync::Arc;

use axum::extract::{RawPathParams, Request, State};
use axum::http::header::CONNECTION;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use silt_common::ErrorKind;
use silt_sysdb::ApiKey;

use super::credentials::presented_key;
use super::{authorize, RouteAccess};
use crate::error::ApiError;
use crate::{GatewayState, Limits};

/// Who is calling, as the handlers see it.
#[derive(Clone)]
pub struct Caller {
    /// `None` when auth is off.
    pub key: Option<Arc<ApiKey>>,
    pub limits: Arc<Limits>,
}

/// State of one route's guard: the gateway and what the route needs.
#[derive(Clone)]
pub struct RouteGuard {
    pub state: GatewayState,
    pub access: RouteAccess,
    /// "METHOD /path", for the audit log.
    pub route: Arc<str>,
}

/// A refusal sent before the request body was read: the connection is closed after it, so a
/// client cannot send its next request onto a connection the server is about to drop.
fn refuse(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn param<'a>(params: &'a RawPathParams, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

pub async fn guard(
    State(g): State<RouteGuard>,
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    mut request: Request,
    next: Next,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return refuse(ApiError::invalid(format!("Invalid path: {e}"))),
    };
    let tenant = param(&params, "tenant");
    let database = param(&params, "database");
    let tenancy = &g.state.tenancy;

    let key = if tenancy.auth && g.access != RouteAccess::Public {
        let Some(presented) = presented_key(request.headers()) else {
            return refuse(ApiError::new(
                ErrorKind::Unauthenticated,
                "Missing API key: send it in the x-chroma-token header or as Authorization: Bearer",
            ));
        };
        let key = match tenancy.key(presented).await {
            Ok(Some(key)) => key,
            Ok(None) => {
                tracing::warn!(target: "silt::audit", route = %g.route, "denied: unknown or revoked API key");
                return refuse(ApiError::new(
                    ErrorKind::Unauthenticated,
                    "Invalid or revoked API key",
                ));
            }
            Err(e) => return ApiError(e).into_response(),
        };
        if let Err(reason) = authorize(g.access, &key, tenant, database) {
            tracing::warn!(
                target: "silt::audit",
                tenant = %key.tenant,
                key_id = %key.id,
                route = %g.route,
                requested_tenant = tenant.unwrap_or(""),
                requested_database = database.unwrap_or(""),
                %reason,
                "denied"
            );
            return refuse(ApiError::new(ErrorKind::Forbidden, reason));
        }
        Some(key)
    } else {
        None
    };

    // The tenant whose quotas apply: the key's, or with auth off the one in the path.
    let quota_tenant = match (&key, tenant) {
        (Some(k), _) => k.tenant.clone(),
        (None, Some(t)) => t.to_string(),
        (None, None) => silt_sysdb::DEFAULT_TENANT.to_string(),
    };
    let limits = match tenancy.limits(&quota_tenant).await {
        Ok(l) => l,
        Err(e) => return ApiError(e).into_response(),
    };
    // Collection buckets are keyed under the caller's tenant too: requests naming another
    // tenant's collection id (which answer 404) must not drain that collection's bucket.
    let collection = param(&params, "id").map(|id| format!("{quota_tenant}/{id}"));
    let _permit = if g.access == RouteAccess::Public {
        None
    } else {
        match tenancy
            .rates()
            .admit(&quota_tenant, collection.as_deref(), &limits)
        {
            Ok(permit) => permit,
            Err(retry) => {
                tracing::info!(target: "silt::audit", tenant = %quota_tenant, route = %g.route, "rate limited");
                crate::metrics::rate_limited(&quota_tenant);
                return refuse(retry);
            }
        }
    };
    request.extensions_mut().insert(Caller { key, limits });
    let response = next.run(request).await;
    crate::metrics::count_quota_refusal(&quota_tenant, &response);
    response
}
