//! The HTTP server every role runs: axum's router on hyper, with the limits a public server
//! needs and `axum::serve` does not offer. A bounded number of connections (past it, new ones
//! are closed at once instead of exhausting file descriptors), a deadline for request headers
//! that also closes idle keep-alive connections, a deadline between body bytes and one for the
//! whole request, so slow or silent clients cannot hold connections for ever.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use silt_common::clock::{Clock, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// Connection and request limits (flags: `--max-connections`, `--header-timeout-ms`,
/// `--body-timeout-ms`, `--request-timeout-ms`).
#[derive(Debug, Clone)]
pub struct ServeLimits {
    pub max_connections: usize,
    /// Time a client gets to send a request's headers, counted from when the server starts
    /// waiting for them: it is also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Longest silence while a request body is being sent.
    pub body_timeout: Duration,
    /// Longest a request may take from its headers to its response.
    pub request_timeout: Duration,
}

/// How long a draining server waits for requests in flight at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let app = app
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(axum::middleware::map_response(timeout_body));
    let max_connections = effective_max_connections(limits.max_connections);
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut last_refusal_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: keep
                    // serving the connections there are, and try again shortly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closing at once keeps the listener's backlog moving: waiting clients get a
            // reset they can retry, instead of hanging behind connections that are full.
            drop(stream);
            // A log throttle in real time: the system clock is the point.
            let now = SystemClock.instant();
            if last_refusal_log
                .is_none_or(|t| now.saturating_duration_since(t) > Duration::from_secs(1))
            {
                tracing::warn!(%peer, max_connections, "too many connections; refusing new ones");
                last_refusal_log = Some(now);
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|r: axum::http::Request<Incoming>| r.map(axum::body::Body::new)),
        );
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}

/// The timeout layers answer 408 with an empty body; clients expect Chroma's error body.
async fn timeout_body(response: axum::response::Response) -> axum::response::Response {
    if response.status() != axum::http::StatusCode::REQUEST_TIMEOUT
        || response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let body = r#"{"error":"ChromaError","message":"The request took too long: the client sent its body too slowly, or the server could not answer in time"}"#;
    (
        axum::http::StatusCode::REQUEST_TIMEOUT,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `wanted`, or fewer when the process may not open that many files: every connection is a
/// file descriptor, and the store, the catalog and the disk cache need some too.
fn effective_max_connections(wanted: usize) -> usize {
    let files = raise_open_files_limit();
    let reserve = 256;
    let allowed = files.saturating_sub(reserve).max(16) as usize;
    if wanted > allowed {
        tracing::warn!(
            wanted,
            allowed,
            open_files = files,
            "--max-connections lowered to fit the open-files limit (ulimit -n)"
        );
    }
    wanted.min(allowed)
}

/// Raises the soft open-files limit to the hard one (a default soft limit of 1,024 is common
/// and far too low for a server) and returns the limit in force.
fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer, which
    // lives on this stack frame for the duration of each call.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}
