//! Every public request gets an id: the client's own `x-request-id` when it is sane, a fresh
//! one otherwise. The request runs inside it (`silt_common::trace`), so the gateway's log lines
//! and those of every node it calls carry it, and the answer sends it back, errors included, so
//! a client can quote it in a report.

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use silt_common::clock::{Clock, DynEntropy, Entropy, SystemClock};
use silt_common::trace::{self, RequestId, REQUEST_ID_HEADER};

/// Where fresh ids come from.
#[derive(Clone)]
pub(crate) struct RequestIds {
    entropy: DynEntropy,
}

impl RequestIds {
    /// Ids only group log lines; no logic depends on them, so the system source is right.
    pub(crate) fn system() -> Self {
        RequestIds {
            entropy: Entropy::system(),
        }
    }

    /// The client's id if it is sane, else a fresh one. A bad one is replaced rather than
    /// refused: the id is a courtesy for tracing, not part of the request.
    fn for_request(&self, headers: &axum::http::HeaderMap) -> RequestId {
        match RequestId::from_headers(headers) {
            Some(Ok(id)) => id,
            Some(Err(why)) => {
                let id = RequestId::generate(&self.entropy);
                tracing::debug!(replacement = %id, reason = %why, "client's request id replaced");
                id
            }
            None => RequestId::generate(&self.entropy),
        }
    }
}

/// The outermost layer of the public router: gives the request its id, runs it inside it,
/// logs it at debug when answered and echoes the id in the answer.
pub(crate) async fn tag_request(
    State(ids): State<RequestIds>,
    request: Request,
    next: Next,
) -> Response {
    let id = ids.for_request(request.headers());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = trace::within(id.clone(), async move {
        // Real time: the duration is reported to people, no logic depends on it.
        let started = SystemClock.instant();
        let response = next.run(request).await;
        tracing::debug!(
            %method,
            path,
            status = response.status().as_u16(),
            duration_ms = trace::millis(SystemClock.instant().saturating_duration_since(started)),
            "request served"
        );
        response
    })
    .await;
    // Always valid: a `RequestId` holds only characters a header value may carry.
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Names the matched route (`POST /api/v2/.../{collection_id}/add`) in the request's span, so
/// lines can be grouped by route as well as by id. Runs after routing, inside `tag_request`.
pub(crate) async fn record_route(request: Request, next: Next) -> Response {
    if let Some(route) = request.extensions().get::<MatchedPath>() {
        tracing::Span::current().record(
            "route",
            tracing::field::display(format_args!("{} {}", request.method(), route.as_str())),
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::middleware::{from_fn, from_fn_with_state};
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// A router shaped like the gateway's: the id layer outermost, one route that answers the
    /// id it sees, one that fails, and a fallback.
    fn app() -> Router {
        Router::new()
            .route(
                "/seen",
                get(|| async {
                    RequestId::current()
                        .map(|id| id.to_string())
                        .unwrap_or_default()
                }),
            )
            .route(
                "/fails",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
            )
            .route_layer(from_fn(record_route))
            .fallback(|| async { (StatusCode::NOT_FOUND, "no such route") })
            .layer(from_fn_with_state(
                RequestIds {
                    entropy: Entropy::seeded(1),
                },
                tag_request,
            ))
    }

    async fn send(path: &str, id: Option<&[u8]>) -> (StatusCode, String, String) {
        let mut request = axum::http::Request::get(path);
        if let Some(id) = id {
            request = request.header(
                REQUEST_ID_HEADER,
                HeaderValue::from_bytes(id).expect("header"),
            );
        }
        let response = app()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        let status = response.status();
        let echoed = response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, echoed, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn is_generated(id: &str) -> bool {
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
    }

    #[tokio::test]
    async fn a_sane_client_id_is_used_and_echoed() {
        let chosen = format!("trace:{}-A_b.c", "9".repeat(100));
        let (status, echoed, seen) = send("/seen", Some(chosen.as_bytes())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(echoed, chosen);
        assert_eq!(seen, chosen, "the handler ran inside another id");
    }

    #[tokio::test]
    async fn a_missing_or_insane_id_is_replaced_by_a_fresh_one() {
        let too_long = "x".repeat(129);
        for sent in [
            None,
            Some(too_long.as_bytes()),
            Some(b"has space".as_slice()),
            Some(b"new\\line".as_slice()),
            Some(b"{\"json\":1}".as_slice()),
            Some(b"caf\xc3\xa9".as_slice()),
            Some(b"".as_slice()),
        ] {
            let (status, echoed, seen) = send("/seen", sent).await;
            assert_eq!(status, StatusCode::OK);
            assert!(is_generated(&echoed), "{sent:?} answered {echoed:?}");
            assert_eq!(seen, echoed, "the handler ran inside another id");
        }
        // Each request draws a new id.
        let app = app();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let response = app
                .clone()
                .oneshot(
                    axum::http::Request::get("/seen")
                        .body(Body::empty())
                        .expect("request"),
                )
                .await
                .expect("answer");
            ids.push(response.headers().get(REQUEST_ID_HEADER).cloned());
        }
        assert!(ids[0].is_some());
        assert_ne!(ids[0], ids[1]);
    }

    #[tokio::test]
    async fn errors_and_unknown_routes_carry_the_id_too() {
        let (status, echoed, _) = send("/fails", Some(b"e-1")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(echoed, "e-1");
        let (status, echoed, _) = send("/nowhere", Some(b"e-2")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(echoed, "e-2");
        let (status, echoed, _) = send("/nowhere", Some(b"bad id")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(is_generated(&echoed), "{echoed}");
    }
}
