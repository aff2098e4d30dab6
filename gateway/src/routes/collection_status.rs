//! How far a collection's index has caught up with its log, and what it occupies: Chroma's
//! `get_indexing_status`, and Silt's `stats` (for the console and operators). Both read only
//! the catalog row (and one version row), never the log or the index.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;

use super::collections::resolve;
use super::openapi::op;
use super::{route, Route, DB_PATH};
use crate::error::ApiResult;
use crate::tenancy::RouteAccess;
use crate::GatewayState;

pub(crate) fn routes() -> Vec<Route> {
    let at = |leaf: &str| format!("{DB_PATH}/collections/{{id}}/{leaf}");
    vec![
        route(
            Method::GET,
            at("indexing_status"),
            RouteAccess::Read,
            indexing_status,
        )
        .doc(
            op(
                "indexing_status",
                "Collection",
                "How many of the collection's logged operations its index holds",
            )
            .ok::<IndexingStatus>(),
        ),
        route(Method::GET, at("stats"), RouteAccess::Read, stats).doc(
            op(
                "collection_stats",
                "Collection",
                "The collection's index version, log positions and stored bytes (Silt)",
            )
            .ok::<CollectionStats>(),
        ),
    ]
}

/// Chroma's answer: operations are log entries; indexed ones are folded into the version.
#[derive(Serialize, JsonSchema)]
pub(crate) struct IndexingStatus {
    num_indexed_ops: u64,
    num_unindexed_ops: u64,
    total_ops: u64,
    /// indexed / total, 1.0 for an empty log.
    op_indexing_progress: f64,
}

impl IndexingStatus {
    fn new(indexed: u64, total: u64) -> Self {
        // The catalog never shows compacted past the log, but a stale snapshot must not
        // underflow.
        let indexed = indexed.min(total);
        IndexingStatus {
            num_indexed_ops: indexed,
            num_unindexed_ops: total - indexed,
            total_ops: total,
            op_indexing_progress: if total == 0 {
                1.0
            } else {
                indexed as f64 / total as f64
            },
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct CollectionStats {
    /// Current index version (0 before the first compaction).
    version: u64,
    /// Last log offset written.
    log_position: u64,
    /// Last log offset folded into `version`.
    compacted_offset: u64,
    /// Records in `version` (the log tail is not counted).
    indexed_records: u64,
    /// Bytes of `version`'s objects.
    index_bytes: u64,
    /// Bytes of log fragments not yet folded into the version (an estimate while a part of the
    /// tail is compacted).
    log_bytes: u64,
    /// When `version` was registered (epoch ms; absent before the first compaction).
    indexed_at_ms: Option<i64>,
    dimension: Option<u32>,
}

async fn indexing_status(
    State(s): State<GatewayState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> ApiResult<Json<IndexingStatus>> {
    let c = resolve(&s, &tenant, &database, &id).await?;
    Ok(Json(IndexingStatus::new(
        c.compacted_offset,
        c.log_position,
    )))
}

async fn stats(
    State(s): State<GatewayState>,
    Path((tenant, database, id)): Path<(String, String, String)>,
) -> ApiResult<Json<CollectionStats>> {
    let c = resolve(&s, &tenant, &database, &id).await?;
    let size = s.sysdb.version_size(c.id, c.version).await?;
    let log_bytes = s.sysdb.collection_log_bytes(c.id).await?;
    Ok(Json(CollectionStats {
        version: c.version,
        log_position: c.log_position,
        compacted_offset: c.compacted_offset,
        indexed_records: size.map_or(0, |v| v.record_count),
        index_bytes: size.map_or(0, |v| v.bytes),
        log_bytes,
        indexed_at_ms: size.map(|v| v.created_at_ms),
        dimension: c.dimension,
    }))
}

#[cfg(test)]
mod tests {
    use super::IndexingStatus;

    #[test]
    fn progress_is_the_indexed_share_and_never_underflows() {
        let s = IndexingStatus::new(30, 40);
        assert_eq!(
            (s.num_indexed_ops, s.num_unindexed_ops, s.total_ops),
            (30, 10, 40)
        );
        assert!((s.op_indexing_progress - 0.75).abs() < 1e-12);
        let empty = IndexingStatus::new(0, 0);
        assert_eq!(empty.op_indexing_progress, 1.0);
        let stale = IndexingStatus::new(50, 40);
        assert_eq!((stale.num_indexed_ops, stale.num_unindexed_ops), (40, 0));
    }
}
