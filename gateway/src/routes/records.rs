//! Record operations: writes go to the log service, reads to the query service.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use silt_common::record::Operation;
use silt_query_service::{Consistency, Filters};

use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::frontend::{Frontend, GetArgs, QueryArgs};
use crate::tenancy::{Caller, RouteAccess};
use crate::validate::{self, BatchBody, EmbeddingInput};
use crate::{wire, GatewayState};

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

async fn write(
    s: &GatewayState,
    caller: &Caller,
    Path((tenant, database, id)): CollectionPath,
    body: BatchBody,
    op: Operation,
) -> ApiResult<()> {
    let f = Frontend::new(s, caller);
    let c = f.collection(&tenant, &database, &id).await?;
    f.write(&c, body, op).await?;
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

/// Deletes by ids and/or filter; answers how many deletes were logged (Chroma's count).
async fn delete(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): CollectionPath,
    Body(body): Body<DeleteBody>,
) -> ApiResult<Json<Value>> {
    let f = Frontend::new(&s, &caller);
    let c = f.collection(&tenant, &database, &id).await?;
    let deleted = f.delete(&c, body.filter.parse()?, body.limit).await?;
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
    let (projection, include) = wire::include(&body.include, &["metadatas", "documents"])?;
    let f = Frontend::new(&s, &caller);
    let c = f.collection(&tenant, &database, &id).await?;
    let args = GetArgs {
        filters: body.filter.parse()?,
        limit: body.limit,
        offset: body.offset.unwrap_or(0),
        include: projection.fields,
        consistency,
    };
    let records = f.get(&c, args).await?;
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
    let (projection, include) =
        wire::include(&body.include, &["metadatas", "documents", "distances"])?;
    let f = Frontend::new(&s, &caller);
    let c = f.collection(&tenant, &database, &id).await?;
    let args = QueryArgs {
        filters: body.filter.parse()?,
        embeddings: body
            .query_embeddings
            .into_iter()
            .map(EmbeddingInput::decode)
            .collect::<ApiResult<Vec<_>>>()?,
        n_results: body.n_results,
        include: projection.fields,
        consistency,
    };
    let results = f.query(&c, args).await?;
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
    Extension(caller): Extension<Caller>,
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
    let f = Frontend::new(&s, &caller);
    let c = f.collection(&tenant, &database, &id).await?;
    let n = f.count(&c, consistency).await?;
    s.usage.read_answer(&tenant, &json!(n))
}
