//! The gateway's series: every API request by route template, method and status (count and
//! latency), and the refusals a tenant meets (rate limits, quotas). Tenant-labelled series are
//! named `silt_tenant_*`: `/metrics` leaves that family out when API keys are required.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use silt_common::ErrorKind;

pub const REQUESTS: &str = "silt_http_requests_total";
pub const REQUEST_DURATION: &str = "silt_http_request_duration_seconds";
pub const RATE_LIMITED: &str = "silt_tenant_rate_limited_total";
pub const QUOTA_REFUSED: &str = "silt_tenant_quota_refusals_total";

/// The `route` label of a request no route matched: raw paths would let any caller mint series.
const UNMATCHED: &str = "unmatched";

pub fn describe() {
    describe_counter!(
        REQUESTS,
        "API requests answered, by route template, method and status"
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "API request latency (until the response head is ready), by route template, method and status"
    );
    describe_counter!(
        RATE_LIMITED,
        "Requests refused by a rate limit (per-tenant or per-collection bucket, or too many at once), by tenant"
    );
    describe_counter!(
        QUOTA_REFUSED,
        "Requests refused by a quota (batch size, dimensions, collections or records per tenant...), by tenant"
    );
}

/// Middleware for the whole router: counts and times each request under its matched route.
// Real time: request latency for operators; nothing decides on it.
#[allow(clippy::disallowed_methods)]
pub(crate) async fn track(request: Request, next: Next) -> Response {
    if !silt_common::metrics::enabled() {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_string(), |m| m.as_str().to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    counter!(REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status.clone())
        .increment(1);
    histogram!(REQUEST_DURATION, "route" => route, "method" => method, "status" => status)
        .record(took);
    response
}

pub(crate) fn rate_limited(tenant: &str) {
    counter!(RATE_LIMITED, "tenant" => tenant.to_string()).increment(1);
}

/// Counts `response` if it is a quota refusal (the error's kind rides in its extensions).
pub(crate) fn count_quota_refusal(tenant: &str, response: &Response) {
    if response.extensions().get::<ErrorKind>() == Some(&ErrorKind::QuotaExceeded) {
        counter!(QUOTA_REFUSED, "tenant" => tenant.to_string()).increment(1);
    }
}
