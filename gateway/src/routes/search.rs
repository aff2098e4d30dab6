//! `POST .../collections/{id}/search`: Chroma's Search API. The handler parses the plans (bad
//! input is refused before anything is read) and hands them to the frontend, which checks
//! sizes and dimensions against the collection's row and has the query service run them over
//! one snapshot of the collection.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::Extension;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use silt_common::record::metadata_to_json;
use silt_common::ErrorKind;
use silt_query_service::{Consistency, SearchHit, SearchPlan};

use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::frontend::Frontend;
use crate::tenancy::{Caller, RouteAccess};
use crate::{wire, GatewayState};

pub(crate) fn routes() -> Vec<Route> {
    vec![route(
        Method::POST,
        format!("{DB_PATH}/collections/{{id}}/search"),
        RouteAccess::Read,
        search,
    )
    .doc(
        op(
            "collection_search",
            "Record",
            "Filters, ranks (dense $knn terms combined arithmetically), groups, pages and selects records; one result per search",
        )
        .header::<wire::Consistency>("X-Silt-Consistency")
        .body::<SearchBody>()
        .ok::<SearchResponse>(),
    )]
}

/// Several searches over the same collection, answered from one snapshot.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "SearchRequestPayload")]
struct SearchBody {
    /// Each `{filter, rank, group_by, limit, select}`, as `Search.to_dict()` sends it.
    #[schemars(with = "Vec<Map>")]
    searches: Vec<Value>,
    /// Without it, the `X-Silt-Consistency` header decides (default: every acknowledged write).
    #[serde(default)]
    #[schemars(with = "Option<wire::ReadLevel>")]
    read_level: Option<Value>,
}

/// A JSON object (its schema is the Search API's expression language).
type Map = serde_json::Map<String, Value>;

/// Column-major results, one entry per search; a column the search did not select is null.
#[derive(Serialize, JsonSchema)]
struct SearchResponse {
    ids: Vec<Vec<String>>,
    documents: Vec<Option<Vec<Option<String>>>>,
    embeddings: Vec<Option<Vec<Option<Vec<f32>>>>>,
    #[schemars(with = "Vec<Option<Vec<Option<wire::Metadata>>>>")]
    metadatas: Vec<Option<Vec<Option<Value>>>>,
    /// Null for a score that is not a finite number.
    scores: Vec<Option<Vec<Option<f32>>>>,
    select: Vec<Vec<String>>,
}

async fn search(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    Body(body): Body<SearchBody>,
) -> ApiResult<Response> {
    let consistency = read_level(body.read_level.as_ref(), &headers)?;
    let plans = body
        .searches
        .iter()
        .map(SearchPlan::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let f = Frontend::new(&s, &caller);
    let c = f.collection(&tenant, &database, &id).await?;
    let results = f.search(&c, plans.clone(), consistency).await?;
    let answer = serde_json::to_value(response(&plans, &results))
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("serializing results: {e}")))?;
    s.usage.read_answer(&tenant, &answer)
}

/// Chroma's `read_level`: `index_and_wal` (its default) and `index_and_bounded_wal` see every
/// acknowledged write (Silt's unindexed tail is always bounded), `index_only` only the index.
fn read_level(level: Option<&Value>, headers: &HeaderMap) -> ApiResult<Consistency> {
    match level {
        Some(Value::String(l)) if l == "index_and_wal" || l == "index_and_bounded_wal" => {
            Ok(Consistency::Strong)
        }
        Some(Value::String(l)) if l == "index_only" => Ok(Consistency::Eventual),
        Some(Value::Null) | None => match headers.get("x-silt-consistency").map(|v| v.to_str()) {
            None => Ok(Consistency::Strong),
            Some(Ok(v)) if v.eq_ignore_ascii_case("strong") => Ok(Consistency::Strong),
            Some(Ok(v)) if v.eq_ignore_ascii_case("eventual") => Ok(Consistency::Eventual),
            Some(_) => Err(ApiError::invalid(
                "X-Silt-Consistency must be \"strong\" or \"eventual\"",
            )),
        },
        Some(other) => Err(ApiError::invalid(format!(
            "read_level must be index_and_wal, index_and_bounded_wal or index_only, not {other}"
        ))),
    }
}

fn response(plans: &[SearchPlan], results: &[Vec<SearchHit>]) -> SearchResponse {
    let mut r = SearchResponse {
        ids: Vec::new(),
        documents: Vec::new(),
        embeddings: Vec::new(),
        metadatas: Vec::new(),
        scores: Vec::new(),
        select: Vec::new(),
    };
    for (plan, hits) in plans.iter().zip(results) {
        let sel = &plan.select;
        r.ids
            .push(hits.iter().map(|h| h.record.id.clone()).collect());
        r.documents.push(
            sel.document
                .then(|| hits.iter().map(|h| h.record.document.clone()).collect()),
        );
        r.embeddings.push(sel.embedding.then(|| {
            hits.iter()
                .map(|h| Some(h.record.embedding.clone()))
                .collect()
        }));
        r.metadatas.push(sel.any_metadata().then(|| {
            hits.iter()
                .map(|h| {
                    (!h.record.metadata.is_empty()).then(|| metadata_to_json(&h.record.metadata))
                })
                .collect()
        }));
        r.scores.push(sel.score.then(|| {
            hits.iter()
                .map(|h| h.score.is_finite().then_some(h.score))
                .collect()
        }));
        r.select.push(sel.keys());
    }
    r
}
