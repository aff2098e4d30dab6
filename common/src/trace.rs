//! Request ids: one id follows a request through every process it touches, so an operator can
//! collect all of its log lines. The gateway takes the client's id (or makes one); every
//! internal call carries it in a header; each server runs the call's work inside a span that
//! holds it, so every log line written meanwhile shows it. Background rounds (compaction, GC)
//! get an id of their own the same way.
//!
//! The id lives in two places on purpose: in a tracing span, which is what the log formatter
//! prints, and in a task-local, which is what the RPC client reads to forward it (reading a
//! field back out of a span depends on which subscriber is installed; a task-local does not).

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use tracing::Instrument;

use crate::clock::{Clock, DynEntropy, Entropy, SystemClock};

/// The header that carries the id, from clients and between roles.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest id accepted from outside; longer ones are replaced, not truncated, so two different
/// client ids can never end up as the same one.
pub const MAX_REQUEST_ID_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: Option<RequestId>;
}

/// Why an id from a client or a peer is not used as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequestId {
    #[error("the request id is empty")]
    Empty,
    #[error("the request id has {0} characters; at most {MAX_REQUEST_ID_LEN} are accepted")]
    TooLong(usize),
    #[error("the request id contains {0:?}; only letters, digits and . _ : - are accepted")]
    BadCharacter(char),
    #[error("the request id is not text")]
    NotText,
}

/// An id known to be safe to print in a log line and to send back in a header: short, and
/// made only of characters that need no escaping anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// Accepts an id chosen elsewhere if it is sane.
    pub fn parse(raw: &str) -> Result<RequestId, InvalidRequestId> {
        if raw.is_empty() {
            return Err(InvalidRequestId::Empty);
        }
        if let Some(bad) = raw.chars().find(|c| !allowed(*c)) {
            return Err(InvalidRequestId::BadCharacter(bad));
        }
        // Only ASCII is left, so bytes are characters.
        if raw.len() > MAX_REQUEST_ID_LEN {
            return Err(InvalidRequestId::TooLong(raw.len()));
        }
        Ok(RequestId(Arc::from(raw)))
    }

    /// The id in `x-request-id`, if the header is there and sane.
    pub fn from_headers(
        headers: &axum::http::HeaderMap,
    ) -> Option<Result<RequestId, InvalidRequestId>> {
        let value = headers.get(REQUEST_ID_HEADER)?;
        Some(
            value
                .to_str()
                .map_err(|_| InvalidRequestId::NotText)
                .and_then(RequestId::parse),
        )
    }

    /// A fresh id: a version-4 UUID in its 32-hex-digit form.
    pub fn generate(entropy: &Entropy) -> RequestId {
        RequestId(Arc::from(entropy.uuid().simple().to_string()))
    }

    /// A fresh id for a round of background work, named by what it is (`compaction-…`, `gc-…`)
    /// so such lines are told from requests at a glance.
    pub fn background(kind: &str, entropy: &Entropy) -> RequestId {
        let kind: String = kind.chars().filter(|c| allowed(*c)).take(32).collect();
        RequestId(Arc::from(format!("{kind}-{}", entropy.uuid().simple())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the request (or round) the calling task is working for, if any.
    pub fn current() -> Option<RequestId> {
        CURRENT.try_with(|id| id.clone()).ok().flatten()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

/// Ids made where no injected source is at hand (the RPC server for a caller that sent none):
/// they only group log lines, no logic depends on them, so the system source is right.
static SYSTEM_ENTROPY: LazyLock<DynEntropy> = LazyLock::new(Entropy::system);

/// The span a request's work runs in. At ERROR level so that it exists under any filter that
/// lets anything through: a warning logged during a request must show its id even when debug
/// output is off. `route` is filled in once the gateway knows which route matched.
pub fn request_span(id: &RequestId) -> tracing::Span {
    tracing::error_span!("request", request_id = %id, route = tracing::field::Empty)
}

/// Runs `work` as part of request `id`: its log lines carry the id, and the internal calls it
/// makes forward it.
pub fn within<F: Future>(id: RequestId, work: F) -> impl Future<Output = F::Output> {
    let span = request_span(&id);
    CURRENT.scope(Some(id), work.instrument(span))
}

/// Wraps work about to be handed to `tokio::spawn` so that the new task still belongs to the
/// current request: tasks inherit neither task-locals nor the current span by themselves.
pub fn inherit<F: Future>(work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(
        RequestId::current(),
        work.instrument(tracing::Span::current()),
    )
}

/// Adds the current request id to an outgoing internal call, if the caller works for one.
pub fn forward(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match RequestId::current() {
        Some(id) => request.header(REQUEST_ID_HEADER, id.as_str()),
        None => request,
    }
}

/// Serves one internal call inside its caller's request: the id comes from the header (a
/// fresh one when the caller sent none or a bad one, so the call's own lines still group),
/// and the call is logged at debug once answered.
pub async fn serve_internal_call<F, Fut>(request: Request, serve: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let id = match RequestId::from_headers(request.headers()) {
        Some(Ok(id)) => id,
        _ => RequestId::generate(&SYSTEM_ENTROPY),
    };
    let path = request.uri().path().to_owned();
    within(id, async move {
        // Real time: the duration is reported to people, no logic depends on it.
        let started = SystemClock.instant();
        let response = serve(request).await;
        tracing::debug!(
            path,
            status = response.status().as_u16(),
            duration_ms = millis(SystemClock.instant().saturating_duration_since(started)),
            "internal call served"
        );
        response
    })
    .await
}

/// Milliseconds with a fractional part, for log lines: most calls take less than one.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_accepted_as_they_are() {
        for raw in ["abc", "A-b_c.d:e", "0", &"x".repeat(MAX_REQUEST_ID_LEN)] {
            assert_eq!(
                RequestId::parse(raw).map(|id| id.to_string()),
                Ok(raw.to_string())
            );
        }
    }

    #[test]
    fn ids_that_could_garble_a_log_line_or_header_are_refused() {
        assert_eq!(RequestId::parse(""), Err(InvalidRequestId::Empty));
        assert_eq!(
            RequestId::parse(&"x".repeat(MAX_REQUEST_ID_LEN + 1)),
            Err(InvalidRequestId::TooLong(MAX_REQUEST_ID_LEN + 1))
        );
        for (raw, bad) in [
            ("a b", ' '),
            ("a\"b", '"'),
            ("a\nb", '\n'),
            ("a/b", '/'),
            ("é", 'é'),
        ] {
            assert_eq!(
                RequestId::parse(raw),
                Err(InvalidRequestId::BadCharacter(bad))
            );
        }
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_background_ids_name_their_kind() {
        let entropy = Entropy::seeded(7);
        let id = RequestId::generate(&entropy);
        assert_eq!(id.as_str().len(), 32);
        assert!(id.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, RequestId::generate(&entropy));
        let round = RequestId::background("compaction round", &entropy);
        assert!(round.as_str().starts_with("compactionround-"), "{round}");
        assert!(RequestId::parse(round.as_str()).is_ok());
    }

    #[tokio::test]
    async fn the_id_is_visible_inside_and_in_inheriting_tasks_only() {
        assert_eq!(RequestId::current(), None);
        let id = RequestId::parse("req-1").expect("sane");
        let (inside, inherited, bare) = within(id.clone(), async {
            let inherited = tokio::spawn(inherit(async { RequestId::current() }));
            let bare = tokio::spawn(async { RequestId::current() });
            (
                RequestId::current(),
                inherited.await.ok().flatten(),
                bare.await.ok().flatten(),
            )
        })
        .await;
        assert_eq!(inside, Some(id.clone()));
        assert_eq!(inherited, Some(id));
        assert_eq!(bare, None);
        assert_eq!(RequestId::current(), None);
    }

    #[tokio::test]
    async fn internal_calls_forward_the_current_id_and_servers_adopt_it() {
        use axum::routing::post;
        use axum::Router;

        let app = Router::new()
            .route(
                "/echo",
                post(|| async {
                    RequestId::current()
                        .map(|id| id.to_string())
                        .unwrap_or_default()
                }),
            )
            .layer(axum::middleware::from_fn(
                |request: Request, next: axum::middleware::Next| {
                    serve_internal_call(request, |r| next.run(r))
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let url = format!("http://{address}/echo");

        let id = RequestId::parse("abc-123").expect("sane");
        let sent = within(id, async { forward(http.post(&url)).send().await });
        let echoed = sent.await.expect("answer").text().await.expect("body");
        assert_eq!(echoed, "abc-123");

        // Outside any request nothing is forwarded, and the server makes an id of its own.
        let echoed = forward(http.post(&url))
            .send()
            .await
            .expect("answer")
            .text()
            .await
            .expect("body");
        assert_eq!(echoed.len(), 32, "{echoed}");
        assert_ne!(echoed, "abc-123");
        server.abort();
    }
}
