//! Collections: create / get_or_create, get by name or id, list, count, modify, delete.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use silt_sysdb::{CollectionUpdate, NewCollection};

use super::openapi::op;
use super::tenants::{page, Page};
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::tenancy::{Caller, RouteAccess};
use crate::validate::{collection_metadata, collection_name};
use crate::wire::configuration;
use crate::{schema, wire, GatewayState};

pub(crate) fn routes() -> Vec<Route> {
    use RouteAccess::*;
    let all = format!("{DB_PATH}/collections");
    let one = format!("{DB_PATH}/collections/{{collection}}");
    vec![
        route(Method::GET, &all, Read, list).doc(
            op(
                "list_collections",
                "Collection",
                "The database's collections",
            )
            .query::<Page>()
            .ok::<Vec<wire::CollectionJson>>(),
        ),
        route(Method::POST, &all, Write, create).doc(
            op(
                "create_collection",
                "Collection",
                "Creates a collection (or gets it, with get_or_create)",
            )
            .body::<CreateBody>()
            .ok::<wire::CollectionJson>(),
        ),
        route(
            Method::GET,
            format!("{DB_PATH}/collections_count"),
            Read,
            count,
        )
        .doc(
            op(
                "count_collections",
                "Collection",
                "How many collections the database holds",
            )
            .ok::<u64>(),
        ),
        route(
            Method::GET,
            format!("{DB_PATH}/collections/by-id/{{id}}"),
            Read,
            get_by_id,
        )
        .doc(
            op("get_collection_by_id", "Collection", "A collection by id")
                .ok::<wire::CollectionJson>(),
        ),
        route(Method::GET, &one, Read, get_by_name).doc(
            op("get_collection", "Collection", "A collection by name").ok::<wire::CollectionJson>(),
        ),
        route(Method::PUT, &one, Write, modify).doc(
            op(
                "update_collection",
                "Collection",
                "Renames a collection, replaces its metadata or changes its configuration (the path names it by id)",
            )
            .body::<ModifyBody>()
            .ok::<wire::Empty>(),
        ),
        route(Method::DELETE, &one, Write, delete).doc(
            op(
                "delete_collection",
                "Collection",
                "Deletes a collection by name",
            )
            .ok::<wire::Empty>(),
        ),
    ]
}

/// Chroma's collection name rule as a pattern, for the published schema; `collection_name`
/// also refuses `..` and IPv4 addresses.
const COLLECTION_NAME: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$";

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "CreateCollectionPayload")]
struct CreateBody {
    #[schemars(length(min = 3, max = 512), pattern(COLLECTION_NAME))]
    name: String,
    #[serde(default)]
    #[schemars(with = "Option<wire::Metadata>")]
    metadata: Option<Value>,
    #[serde(default)]
    #[schemars(with = "Option<wire::CollectionConfiguration>")]
    configuration: Option<Value>,
    /// Chroma's index schema (`Schema().create_index(...)`); completed with the defaults.
    #[serde(default)]
    #[schemars(with = "Option<Value>")]
    schema: Option<Value>,
    #[serde(default)]
    get_or_create: bool,
}

async fn create(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database)): Path<(String, String)>,
    Body(body): Body<CreateBody>,
) -> ApiResult<Json<Value>> {
    // A schema of the wrong shape is refused with the body, before anything else.
    let sent_schema = schema::parse(body.schema)?;
    collection_name(&body.name)?;
    let metadata = collection_metadata("metadata", &body.metadata, &caller.limits)?;
    let max = caller.limits.max_collections_per_tenant;
    if s.sysdb.count_tenant_collections(&tenant).await? >= max {
        // get_or_create of an existing collection creates nothing, so it stays allowed.
        let existing = match body.get_or_create {
            true => s
                .sysdb
                .get_collection_by_name(&tenant, &database, &body.name)
                .await
                .ok(),
            false => None,
        };
        match existing {
            Some(c) => return Ok(Json(wire::collection(&c))),
            None => {
                return Err(ApiError::quota(format!(
                    "Tenant {tenant} has reached its quota of {max} collections"
                )))
            }
        }
    }
    let configuration = configuration::for_create(body.configuration, &metadata)?;
    if let Some(sent) = &sent_schema {
        schema::validate(sent)?;
    }
    let (configuration, stored_schema) = schema::for_create(sent_schema.as_ref(), &configuration)?;
    let (collection, _) = s
        .sysdb
        .create_collection(NewCollection {
            tenant,
            database,
            name: body.name,
            metadata,
            configuration,
            schema: Some(stored_schema),
            dimension: None,
            get_or_create: body.get_or_create,
        })
        .await?;
    Ok(Json(wire::collection(&collection)))
}

async fn list(
    State(s): State<GatewayState>,
    Path((tenant, database)): Path<(String, String)>,
    query: Result<Query<Page>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let page = page(query)?;
    let collections = s
        .sysdb
        .list_collections(&tenant, &database, page.limit, page.offset)
        .await?;
    Ok(Json(Value::Array(
        collections.iter().map(wire::collection).collect(),
    )))
}

async fn count(
    State(s): State<GatewayState>,
    Path((tenant, database)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        s.sysdb.count_collections(&tenant, &database).await?
    )))
}

async fn get_by_name(
    State(s): State<GatewayState>,
    Path((tenant, database, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let c = s
        .sysdb
        .get_collection_by_name(&tenant, &database, &name)
        .await?;
    Ok(Json(wire::collection(&c)))
}

async fn get_by_id(
    State(s): State<GatewayState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let c = resolve(&s, &tenant, &database, &id).await?;
    Ok(Json(wire::collection(&c)))
}

// Resolution lives in the frontend service; routes that serve a collection's row use it too.
pub(crate) use crate::frontend::resolve;

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "UpdateCollectionPayload")]
struct ModifyBody {
    #[serde(default)]
    #[schemars(length(min = 3, max = 512), pattern(COLLECTION_NAME))]
    new_name: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<wire::Metadata>")]
    new_metadata: Option<Value>,
    #[serde(default)]
    #[schemars(with = "Option<wire::CollectionConfiguration>")]
    new_configuration: Option<Value>,
}

async fn modify(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): Path<(String, String, String)>,
    Body(body): Body<ModifyBody>,
) -> ApiResult<Json<Value>> {
    let c = resolve(&s, &tenant, &database, &id).await?;
    if let Some(name) = &body.new_name {
        collection_name(name)?;
    }
    let metadata = collection_metadata("new_metadata", &body.new_metadata, &caller.limits)?;
    if let Some(space) = metadata.as_ref().and_then(|m| m.get("hnsw:space")) {
        if Some(space.as_str().unwrap_or_default()) != Some(c.distance().as_str()) {
            return Err(ApiError::invalid(
                "Changing the distance function of a collection is not supported",
            ));
        }
    }
    // Checked before anything changes, so a refused configuration leaves the name as it was.
    let configuration = schema::for_update(&c, body.new_configuration)?;
    if body.new_name.is_some() || metadata.is_some() {
        s.sysdb
            .update_collection(
                c.id,
                CollectionUpdate {
                    name: body.new_name,
                    metadata,
                },
            )
            .await?;
    }
    if let Some((configuration, new_schema)) = configuration {
        s.sysdb
            .set_collection_configuration(c.id, &configuration, new_schema.as_ref())
            .await?;
    }
    Ok(Json(json!({})))
}

async fn delete(
    State(s): State<GatewayState>,
    Path((tenant, database, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    s.sysdb.delete_collection(&tenant, &database, &name).await?;
    Ok(Json(json!({})))
}
