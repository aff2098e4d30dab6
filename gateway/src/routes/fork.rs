//! Copy-on-write forks: Chroma's `collection.fork(new_name)` and `collection.fork_count()`.
//! The frontend does the work (`frontend/fork.rs`).

use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::ApiResult;
use crate::frontend::Frontend;
use crate::tenancy::{Caller, RouteAccess};
use crate::validate::collection_name;
use crate::{wire, GatewayState};

/// Chroma's collection name rule, for the published schema (as `collections.rs` declares it
/// for create; `collection_name` checks the rest).
const COLLECTION_NAME: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$";

pub(crate) fn routes() -> Vec<Route> {
    let at = |leaf: &str| format!("{DB_PATH}/collections/{{id}}/{leaf}");
    vec![
        route(Method::POST, at("fork"), RouteAccess::Write, fork).doc(
            op(
                "fork_collection",
                "Collection",
                "Creates a copy-on-write fork of the collection under a new name",
            )
            .body::<ForkBody>()
            .ok::<wire::CollectionJson>(),
        ),
        route(Method::GET, at("fork_count"), RouteAccess::Read, fork_count).doc(
            op(
                "fork_count",
                "Collection",
                "How many live forks the collection's lineage holds",
            )
            .ok::<ForkCount>(),
        ),
    ]
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "ForkCollectionPayload")]
struct ForkBody {
    #[schemars(length(min = 3, max = 512), pattern(COLLECTION_NAME))]
    new_name: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ForkCountResponse")]
struct ForkCount {
    count: u64,
}

async fn fork(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): Path<(String, String, String)>,
    Body(body): Body<ForkBody>,
) -> ApiResult<Json<Value>> {
    collection_name(&body.new_name)?;
    let f = Frontend::new(&s, &caller);
    // The path's tenant and database only: a fork never leaves the caller's tenant.
    let parent = f.collection(&tenant, &database, &id).await?;
    let forked = f.fork(&parent, &body.new_name).await?;
    Ok(Json(wire::collection(&forked)))
}

async fn fork_count(
    State(s): State<GatewayState>,
    Extension(caller): Extension<Caller>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> ApiResult<Json<ForkCount>> {
    let f = Frontend::new(&s, &caller);
    let c = f.collection(&tenant, &database, &id).await?;
    Ok(Json(ForkCount {
        count: f.fork_count(&c).await?,
    }))
}
