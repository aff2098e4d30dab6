//! The query role's internal HTTP endpoints, served over a `QueryService` (a `QueryNode`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use silt_common::rpc::{answer, parse_message, within_caller_deadline};

use crate::search::SEARCH;
use crate::wire::{CountRequest, COUNT, GET, KNN};
use crate::QueryService;

const MAX_BODY_BYTES: usize = 64 << 20;

type Query = Arc<dyn QueryService>;

pub fn router(query: Query) -> Router {
    Router::new()
        .route(GET, post(get))
        .route(KNN, post(knn))
        .route(COUNT, post(count))
        .route(SEARCH, post(search))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(within_caller_deadline))
        .with_state(query)
}

async fn get(State(query): State<Query>, body: Bytes) -> Response {
    answer(async { query.get(parse_message(&body)?).await }.await)
}

async fn knn(State(query): State<Query>, body: Bytes) -> Response {
    answer(async { query.knn(parse_message(&body)?).await }.await)
}

async fn search(State(query): State<Query>, body: Bytes) -> Response {
    answer(async { query.search(parse_message(&body)?).await }.await)
}

async fn count(State(query): State<Query>, body: Bytes) -> Response {
    answer(
        async {
            let CountRequest {
                collection,
                consistency,
            } = parse_message(&body)?;
            query.count(collection, consistency).await
        }
        .await,
    )
}
