//! Copy-on-write forks: Chroma's `collection.fork(new_name)` and `collection.fork_count()`.
//!
//! A fork starts as the parent's current index version, shared by reference in the catalog
//! (`SysDb::begin_fork`: two rows, whatever the collection's size). The parent's unindexed
//! tail — the writes after its compacted offset up to its log position at the fork — is not in
//! that version, so it is copied into the fork's own log with `LogService::append`, at the
//! same offsets, before the fork is complete. That copy is bounded by the compaction
//! thresholds (the log's tail limit at worst), not by the collection's size
//! (docs/decisions/2026-12-01-fork.md).

use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use silt_common::record::OperationRecord;
use silt_common::ErrorKind;
use silt_sysdb::{Collection, ForkStart};

use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::body::Body;
use crate::error::{ApiError, ApiResult};
use crate::frontend::resolve;
use crate::tenancy::{Caller, RouteAccess};
use crate::validate::collection_name;
use crate::{wire, GatewayState};

/// Chroma's collection name rule, for the published schema (as `collections.rs` declares it
/// for create; `collection_name` checks the rest).
const COLLECTION_NAME: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$";

/// Records per append while copying the parent's tail: one fragment each, well under the
/// request and fragment sizes the log accepts.
const COPY_BATCH: usize = 1_000;

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
    // The path's tenant and database only: a fork never leaves the caller's tenant.
    let parent = resolve(&s, &tenant, &database, &id).await?;
    // A fork is a new collection: it counts against the tenant's quota like a create.
    let max = caller.limits.max_collections_per_tenant;
    if s.sysdb.count_tenant_collections(&tenant).await? >= max {
        return Err(ApiError::quota(format!(
            "Tenant {tenant} has reached its quota of {max} collections"
        )));
    }
    let forked = fork_collection(&s, &parent, &body.new_name).await?;
    Ok(Json(wire::collection(&forked)))
}

async fn fork_count(
    State(s): State<GatewayState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> ApiResult<Json<ForkCount>> {
    let c = resolve(&s, &tenant, &database, &id).await?;
    Ok(Json(ForkCount {
        count: s.sysdb.fork_count(c.id).await?,
    }))
}

/// Creates the fork, copies the parent's tail into its log and completes it. On failure the
/// fork is deleted (the collector also deletes one whose process died half-way).
async fn fork_collection(
    s: &GatewayState,
    parent: &Collection,
    name: &str,
) -> ApiResult<Collection> {
    let start = s.sysdb.begin_fork(parent.id, name).await?;
    match copy_tail(s, &start).await {
        Ok(()) => Ok(s.sysdb.finish_fork(start.fork.id).await?),
        Err(e) => {
            if let Err(abandon) = s.sysdb.abandon_fork(start.fork.id).await {
                tracing::warn!(fork = %start.fork.id, error = %abandon, "could not delete a failed fork; the collector will");
            }
            Err(e)
        }
    }
}

/// Appends the parent's entries after the shared version and up to its log position at the
/// fork to the fork's empty log, which starts right after the same compacted offset: the
/// copies land at the parent's offsets, so the fork's log position is the fork point.
async fn copy_tail(s: &GatewayState, start: &ForkStart) -> ApiResult<()> {
    if start.tail_until <= start.tail_after {
        return Ok(());
    }
    let entries = s
        .log
        .read_tail(start.parent, start.tail_after, start.tail_until)
        .await?;
    // Later writes of the parent may be in the log already: they are not the fork's.
    let records: Vec<OperationRecord> = entries
        .into_iter()
        .filter(|e| e.offset <= start.tail_until)
        .map(|e| e.record)
        .collect();
    let expected = start.tail_until - start.tail_after;
    if records.len() as u64 != expected {
        return Err(ApiError::new(
            ErrorKind::Unavailable,
            format!(
                "the parent's log answered {} of its {expected} unindexed entries; retry the fork",
                records.len()
            ),
        ));
    }
    let mut next = start.tail_after + 1;
    for batch in records.chunks(COPY_BATCH) {
        let receipt = s.log.append(start.fork.id, batch.to_vec()).await?;
        if receipt.first_offset != next {
            // Someone wrote to the fork (found by listing) before its tail was in: the tail
            // would now apply after their write. The fork is discarded instead.
            return Err(ApiError::new(
                ErrorKind::Unavailable,
                "the fork was written to before it was complete; retry the fork",
            ));
        }
        next = receipt.last_offset + 1;
    }
    Ok(())
}
