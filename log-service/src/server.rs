//! The log role's internal HTTP endpoints, served over any `LogService` (an `ObjectLog` in
//! practice). Bodies are `Wire` messages; errors carry their kind.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use silt_common::record::OperationRecord;
use silt_common::rpc::{answer, parse_message};
use silt_common::{CollectionId, SiltError, SiltResult};

use crate::LogService;

/// Appends are bounded by the gateway's request limit; this only stops absurd bodies.
const MAX_BODY_BYTES: usize = 512 << 20;

type Log = Arc<dyn LogService>;

pub fn router(log: Log) -> Router {
    Router::new()
        .route("/internal/log/v1/{collection}/append", post(append))
        .route("/internal/log/v1/{collection}/tail", post(tail))
        .route("/internal/log/v1/{collection}/compacted", post(compacted))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(log)
}

fn collection(text: &str) -> SiltResult<CollectionId> {
    text.parse()
        .map_err(|_| SiltError::invalid(format!("bad collection id {text:?}")))
}

async fn append(State(log): State<Log>, Path(c): Path<String>, body: Bytes) -> Response {
    answer(
        async {
            let records: Vec<OperationRecord> = parse_message(&body)?;
            log.append(collection(&c)?, records).await
        }
        .await,
    )
}

async fn tail(State(log): State<Log>, Path(c): Path<String>, body: Bytes) -> Response {
    answer(
        async {
            let (after, known): (u64, u64) = parse_message(&body)?;
            log.read_tail(collection(&c)?, after, known).await
        }
        .await,
    )
}

async fn compacted(State(log): State<Log>, Path(c): Path<String>, body: Bytes) -> Response {
    answer(
        async {
            let offset: u64 = parse_message(&body)?;
            log.mark_compacted(collection(&c)?, offset).await
        }
        .await,
    )
}
