//! Record operations: writes go to the log service, reads to the query service.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use silt_common::record::{Operation, OperationRecord};
use silt_common::ErrorKind;
use silt_query_service::{Consistency, Filters, GetRequest, Include, KnnRequest};
use silt_sysdb::Collection;

use super::collections::resolve;
use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::tenancy::{Caller, RouteAccess};
use crate::validate::{self, BatchBody, EmbeddingInput};
use crate::{wire, GatewayState, Limits};

pub(crate) fn routes() -> Vec<Route> {
    use RouteAccess::*;
    let at = |op: &str| format!("{DB_PATH}/collections/{{id}}/{op}");
    vec![
        route(Method::POST, at("add"), Write, add).doc(
            op(
                "collection_add",
                "Record",
                "Adds records (embeddings required)",
            )
            .body::<BatchBody>()
            .answers::<wire::Empty>(201),
        ),
        route(Method::POST, at("upsert"), Write, upsert).doc(
            op(
                "collection_upsert",
                "Record",
                "Adds records or replaces them by id (embeddings required)",
            )
            .body::<BatchBody>()
            .ok::<wire::Empty>(),
        ),
        route(Method::POST, at("update"), Write, update).doc(
            op(
                "collection_update",
                "Record",
                "Changes existing records; fields not sent are kept",
            )
            .body::<BatchBody>()
            .ok::<wire::Empty>(),
        ),
        route(Method::POST, at("delete"), Write, delete).doc(
            op(
                "collection_delete",
                "Record",
                "Deletes records by id and/or filter",
            )
            .body::<DeleteBody>()
            .ok::<wire::Deleted>(),
        ),
        route(Method::POST, at("get"), Read, get_records).doc(
            op("collection_get", "Record", "Records by id and/or filter")
                .header::<wire::Consistency>("X-Silt-Consistency")
                .body::<GetBody>()
                .ok::<wire::GetResponse>(),
        ),
        route(Method::POST, at("query"), Read, query).doc(
            op(
                "collection_query",
                "Record",
                "Nearest records to each query embedding",
            )
            .header::<wire::Consistency>("X-Silt-Consistency")
            .body::<QueryBody>()
            .ok::<wire::QueryResponse>(),
        ),
        route(Method::GET, at("count"), Read, count).doc(
            op(
                "collection_count",
                "Record",
                "How many records the collection holds",
            )
            .query::<CountParams>()
            .header::<wire::Consistency>("X-Silt-Consistency")
            .ok::<u64>(),
        ),
    ]
}

type CollectionPath = Path<(String, String, String)>;

/// Checks the batch's dimension against the collection's, fixing it on the first write.
async fn check_dimension(
    s: &GatewayState,
    c: &Collection,
    dimension: Option<usize>,
) -> ApiResult<()> {
    let Some(d) = dimension else { return Ok(()) };
    let expected = match c.dimension {
        Some(e) => e,
        None => s
            .sysdb
            .set_dimension_if_unset(c.id, d as u32)
            .await?
            .dimension
            .unwrap_or(d as u32),
    };
    if expected as usize != d {
        return Err(ApiError::invalid(format!(
            "Collection expecting embedding with dimension of {expected}, got {d}"
        )));
    }
    Ok(())
}

/// `n` results at most, bounded by what the collection can hold: no more records than log
/// entries were ever written (the catalog's log position counts every acknowledged write, so
/// the bound is exact for strong reads too). Without a quota this is what keeps a huge
/// `limit` or `n_results` from sizing the query service's buffers.
fn within_collection(c: &Collection, n: usize) -> usize {
    n.min(usize::try_from(c.log_position).unwrap_or(usize::MAX).max(1))
}

/// Refuses a write that could take the collection past its records quota. Nothing can hold
/// more records than log entries were ever written, so the exact count is only needed near
/// the limit.
async fn check_records_quota(
    s: &GatewayState,
    c: &Collection,
    adding: usize,
    limits: &Limits,
) -> ApiResult<()> {
    let max = limits.max_records_per_collection;
    if c.log_position.saturating_add(adding as u64) <= max {
        return Ok(());
    }
    let now = s.query.count(c.id, Consistency::Strong).await?;
    if now.saturating_add(adding as u64) > max {
        return Err(ApiError::quota(format!(
            "Collection holds {now} records; adding {adding} would pass its quota of {max}"
        )));
    }
    Ok(())
}

async fn write(
    s: &GatewayState,
    caller: &Caller,
    path: CollectionPath,
    body: BatchBody,
    op: Operation,
) -> ApiResult<()> {
    let Path((tenant, database, id)) = path;
    let c = resolve(s, &tenant, &database, &id).await?;
    let (records, dimension) = validate::batch(body, op, &caller.limits)?;
    check_dimension(s, &c, dimension).await?;
    if matches!(op, Operation::Add | Operation::Upsert) {
        check_records_quota(s, &c, records.len(), &caller.limits).await?;
    }
    let written = records.len();
    s.log.append(c.id, records).await?;
    s.usage.wrote(&tenant, written);
    Ok(())
}

async fn add(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    path: CollectionPath,
    Body(body): Body<BatchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    write(&s, &caller, path, body, Operation::Add).await?;
    Ok((StatusCode::CREATED, Json(json!({}))))
}

async fn upsert(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    path: CollectionPath,
    Body(body): Body<BatchBody>,
) -> ApiResult<Json<Value>> {
    write(&s, &caller, path, body, Operation::Upsert).await?;
    Ok(Json(json!({})))
}

async fn update(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    path: CollectionPath,
    Body(body): Body<BatchBody>,
) -> ApiResult<Json<Value>> {
    write(&s, &caller, path, body, Operation::Update).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize, JsonSchema)]
struct FilterBody {
    #[serde(default)]
    ids: Option<Vec<String>>,
    #[serde(default, rename = "where")]
    #[schemars(with = "Option<wire::Where>")]
    where_: Option<Value>,
    #[serde(default)]
    #[schemars(with = "Option<wire::WhereDocument>")]
    where_document: Option<Value>,
}

impl FilterBody {
    fn parse(&self) -> ApiResult<Filters> {
        Ok(Filters {
            ids: self.ids.clone(),
            r#where: validate::where_filter(&self.where_)?,
            where_document: validate::where_document_filter(&self.where_document)?,
        })
    }
}

/// Deletes what matches `ids`, `where` and `where_document` (at least one of them).
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "DeleteCollectionRecordsPayload")]
struct DeleteBody {
    #[serde(flatten)]
    filter: FilterBody,
    /// Chroma's range (u32), like get's limit and offset.
    #[serde(default)]
    limit: Option<u32>,
}

/// Chroma's rules and count: ids alone are deleted as given (one delete logged per id, and
/// `deleted` counts them whether or not they existed, as Chroma's server answers); with
/// `where` or `where_document` the matches are resolved first (strongly consistent, within
/// `ids` if given) and counted. Nothing to match at all deletes nothing.
async fn delete(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): CollectionPath,
    Body(body): Body<DeleteBody>,
) -> ApiResult<Json<Value>> {
    let c = resolve(&s, &tenant, &database, &id).await?;
    let filters = body.filter.parse()?;
    let has_filter = filters.r#where.is_some() || filters.where_document.is_some();
    if filters.ids.as_ref().is_some_and(Vec::is_empty) && !has_filter {
        return Err(ApiError::invalid(
            "Validation error: ids, where: Either ids or where must be specified",
        ));
    }
    if body.limit.is_some() && !has_filter {
        return Err(ApiError::invalid(
            "Validation error: limit, where: limit can only be specified when a where clause is provided",
        ));
    }
    if let Some(ids) = filters
        .ids
        .as_ref()
        .filter(|ids| ids.len() > caller.limits.max_batch_size)
    {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!(
                "Batch size {} exceeds the maximum of {}",
                ids.len(),
                caller.limits.max_batch_size
            ),
        ));
    }
    let doomed: Vec<String> = if has_filter {
        s.query
            .get(GetRequest {
                collection: c.id,
                filters,
                limit: body.limit.map(|l| within_collection(&c, l as usize)),
                offset: 0,
                include: Include::default(),
                consistency: Consistency::Strong,
            })
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect()
    } else {
        filters.ids.unwrap_or_default()
    };
    let deleted = doomed.len();
    let mut doomed = doomed.into_iter().peekable();
    while doomed.peek().is_some() {
        let ops = doomed
            .by_ref()
            .take(caller.limits.max_batch_size.max(1))
            .map(OperationRecord::delete)
            .collect();
        s.log.append(c.id, ops).await?;
    }
    s.usage.wrote(&tenant, deleted);
    Ok(Json(json!({ "deleted": deleted })))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "GetRequestPayload")]
struct GetBody {
    #[serde(flatten)]
    filter: FilterBody,
    // Chroma's range (u32): a larger offset is refused (422) here instead of overflowing
    // offset + limit in the query service.
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    offset: Option<u32>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<wire::IncludeField>>")]
    include: Option<Vec<String>>,
}

async fn get_records(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): CollectionPath,
    headers: HeaderMap,
    Body(body): Body<GetBody>,
) -> ApiResult<Response> {
    let consistency = consistency(&headers)?;
    let c = resolve(&s, &tenant, &database, &id).await?;
    let (projection, include) = wire::include(&body.include, &["metadatas", "documents"])?;
    if let Some(limit) = body
        .limit
        .map(|l| l as usize)
        .filter(|l| *l > caller.limits.max_n_results)
    {
        return Err(ApiError::quota(format!(
            "limit {limit} exceeds the maximum of {} results per request",
            caller.limits.max_n_results
        )));
    }
    let records = s
        .query
        .get(GetRequest {
            collection: c.id,
            filters: body.filter.parse()?,
            limit: body.limit.map(|l| within_collection(&c, l as usize)),
            offset: body.offset.unwrap_or(0) as usize,
            include: projection.fields,
            consistency,
        })
        .await?;
    s.usage
        .read_answer(&tenant, &wire::get_result(&records, projection, include))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "QueryRequestPayload")]
struct QueryBody {
    #[serde(flatten)]
    filter: FilterBody,
    query_embeddings: Vec<EmbeddingInput>,
    #[serde(default = "default_n_results")]
    n_results: usize,
    #[serde(default)]
    #[schemars(with = "Option<Vec<wire::IncludeField>>")]
    include: Option<Vec<String>>,
}

fn default_n_results() -> usize {
    10
}

async fn query(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): CollectionPath,
    headers: HeaderMap,
    Body(body): Body<QueryBody>,
) -> ApiResult<Response> {
    let consistency = consistency(&headers)?;
    let c = resolve(&s, &tenant, &database, &id).await?;
    let (projection, include) =
        wire::include(&body.include, &["metadatas", "documents", "distances"])?;
    if body.n_results > caller.limits.max_n_results {
        return Err(ApiError::quota(format!(
            "n_results {} exceeds the maximum of {}",
            body.n_results, caller.limits.max_n_results
        )));
    }
    if body.query_embeddings.len() > caller.limits.max_batch_size {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            "Too many query embeddings in one request",
        ));
    }
    let embeddings = body
        .query_embeddings
        .into_iter()
        .map(EmbeddingInput::decode)
        .collect::<ApiResult<Vec<_>>>()?;
    if let Some(d) = c.dimension {
        if let Some(bad) = embeddings.iter().find(|e| e.len() != d as usize) {
            return Err(ApiError::invalid(format!(
                "Collection expecting embedding with dimension of {d}, got {}",
                bad.len()
            )));
        }
    }
    let results = s
        .query
        .knn(KnnRequest {
            collection: c.id,
            filters: body.filter.parse()?,
            query_embeddings: embeddings,
            n_results: within_collection(&c, body.n_results),
            include: projection.fields,
            consistency,
        })
        .await?;
    s.usage
        .read_answer(&tenant, &wire::query_result(&results, projection, include))
}

/// The read mode a client asked for with `X-Silt-Consistency` (absent: strong).
fn consistency(headers: &HeaderMap) -> ApiResult<Consistency> {
    match headers.get("x-silt-consistency").map(|v| v.to_str()) {
        None => Ok(Consistency::Strong),
        Some(Ok(v)) if v.eq_ignore_ascii_case("strong") => Ok(Consistency::Strong),
        Some(Ok(v)) if v.eq_ignore_ascii_case("eventual") => Ok(Consistency::Eventual),
        Some(_) => Err(ApiError::invalid(
            "X-Silt-Consistency must be \"strong\" or \"eventual\"",
        )),
    }
}

#[derive(Deserialize, JsonSchema)]
struct CountParams {
    #[schemars(with = "Option<wire::ReadLevel>")]
    read_level: Option<String>,
}

/// Chroma's `read_level`: `index_and_wal` (the default) counts every acknowledged write,
/// `index_only` only what the current index version holds; without it, the consistency header.
async fn count(
    State(s): State<GatewayState>,
    Path((tenant, database, id)): CollectionPath,
    Query(params): Query<CountParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let consistency = match params.read_level.as_deref() {
        None => consistency(&headers)?,
        // Silt's tail is always bounded, so the bounded-WAL level is the strong one.
        Some("index_and_wal" | "index_and_bounded_wal") => Consistency::Strong,
        Some("index_only") => Consistency::Eventual,
        Some(other) => {
            return Err(ApiError::invalid(format!(
            "read_level must be index_and_wal, index_and_bounded_wal or index_only, not {other:?}"
        )))
        }
    };
    let c = resolve(&s, &tenant, &database, &id).await?;
    let n = s.query.count(c.id, consistency).await?;
    s.usage.read_answer(&tenant, &json!(n))
}
