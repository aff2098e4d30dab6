//! The serving half of the internal codec, shared by every role's internal endpoints.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{encode_error, CONTENT_TYPE};
use super::wire::{from_bytes, to_bytes, Wire};
use crate::{SiltError, SiltResult};

/// A call's result as an HTTP answer: the encoded value, or the error with its kind.
pub fn answer<T: Wire>(result: SiltResult<T>) -> Response {
    match result {
        Ok(v) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], to_bytes(&v)).into_response(),
        Err(e) => {
            let (status, body) = encode_error(&e);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, body).into_response()
        }
    }
}

/// Decodes a request body; a malformed one is the caller's bug, reported as invalid.
pub fn parse_message<T: Wire>(body: &[u8]) -> SiltResult<T> {
    from_bytes(body).map_err(|e| SiltError::invalid(format!("bad internal message: {e}")))
}

/// Serves the call inside its caller's request (`crate::trace`): the handler's log lines carry
/// the caller's request id, and the call is logged at debug once answered. Every role's
/// internal router runs behind it.
pub async fn within_caller_request(request: Request, next: Next) -> Response {
    crate::trace::serve_internal_call(request, |request| next.run(request)).await
}

/// How long the caller will wait for this answer, in ms: sent on every internal call.
pub const TIMEOUT_HEADER: &str = "x-silt-timeout-ms";

/// Runs the handler only as long as its caller waits for the answer. Past that the caller has
/// given up (and failed over, or answered 503), so the work is dropped: its object-store
/// reads stop instead of running on for nobody. Calls without the header run unbounded.
pub async fn within_caller_deadline(request: Request, next: Next) -> Response {
    let timeout = request
        .headers()
        .get(TIMEOUT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let Some(timeout) = timeout else {
        return next.run(request).await;
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => answer::<()>(Err(SiltError::unavailable(format!(
            "stopped after the caller's {}ms deadline",
            timeout.as_millis()
        )))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use axum::body::Body;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// A caller that keeps its connection open but said how long it waits: the work stops at
    /// that deadline, answered as unavailable.
    #[tokio::test]
    async fn work_stops_at_the_callers_deadline() {
        let steps = Arc::new(AtomicU64::new(0));
        let counted = steps.clone();
        let app = Router::new()
            .route(
                "/slow",
                post(move || async move {
                    for _ in 0..40 {
                        counted.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(25)).await;
                    }
                    "done"
                }),
            )
            .layer(axum::middleware::from_fn(within_caller_deadline));
        let request = |timeout: Option<&str>| {
            let mut r = axum::http::Request::post("/slow");
            if let Some(t) = timeout {
                r = r.header(TIMEOUT_HEADER, t);
            }
            r.body(Body::empty()).expect("request")
        };
        let response = app
            .clone()
            .oneshot(request(Some("100")))
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let at_deadline = steps.load(Ordering::Relaxed);
        assert!(at_deadline < 40, "{at_deadline}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            steps.load(Ordering::Relaxed),
            at_deadline,
            "the work went on"
        );

        // Without the header, or with one that is not a number, the work runs to its end.
        steps.store(0, Ordering::Relaxed);
        let response = app.oneshot(request(Some("soon"))).await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(steps.load(Ordering::Relaxed), 40);
    }
}
