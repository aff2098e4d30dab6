//! The catalog side of the log's garbage collection: which collections have log fragments that
//! no reader can need any more, and how far each has been collected.
//!
//! A fragment at or below a version's compacted offset is needed only by readers of older
//! versions, and those started before that version was registered. So once the grace period
//! has passed since a version's registration, everything up to its compacted offset can go.
//! Keeping the record here rather than in the memory of the log node that wrote the fragments
//! means any process can collect them, and a log node that dies leaks nothing.

use silt_common::CollectionId;
use sqlx::Row;

use crate::collections::collection_id;
use crate::{SysDb, SysDbError};

/// A collection whose log can be collected further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGarbage {
    pub id: CollectionId,
    /// Fragments ending at or below this were already deleted.
    pub collected_offset: u64,
    /// Fragments ending at or below this may be deleted now: the compacted offset of the newest
    /// version registered before the cutoff.
    pub collectable_offset: u64,
    /// The log position when this was read: every acknowledged write is at or below it.
    pub log_position: u64,
}

fn offset(row: &sqlx::any::AnyRow, col: &str) -> Result<u64, SysDbError> {
    let v: i64 = row.try_get(col)?;
    u64::try_from(v).map_err(|_| SysDbError::Corrupt(format!("{col} is negative")))
}

impl SysDb {
    /// Live collections whose versions registered at or before `registered_before_ms` cover log
    /// offsets not yet collected, in id order after `after`. Served by the
    /// `collections_log_garbage` partial index: only collections compacted past their collected
    /// offset are visited, and the versions of each by their primary key.
    pub async fn log_garbage(
        &self,
        registered_before_ms: i64,
        after: Option<CollectionId>,
        limit: u32,
    ) -> Result<Vec<LogGarbage>, SysDbError> {
        let rows = sqlx::query(
            "SELECT c.id, c.log_collected_offset, c.log_position, \
                    MAX(v.compacted_offset) AS collectable \
             FROM collections c JOIN collection_versions v ON v.collection_id = c.id \
             WHERE c.compacted_offset > c.log_collected_offset AND c.deleted_at_ms IS NULL \
               AND c.id > $1 AND v.created_at_ms <= $2 \
             GROUP BY c.id, c.log_collected_offset, c.log_position \
             HAVING MAX(v.compacted_offset) > c.log_collected_offset \
             ORDER BY c.id LIMIT $3",
        )
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(registered_before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LogGarbage {
                    id: collection_id(r, "id")?,
                    collected_offset: offset(r, "log_collected_offset")?,
                    collectable_offset: offset(r, "collectable")?,
                    log_position: offset(r, "log_position")?,
                })
            })
            .collect()
    }

    /// Records that the log of `id` is collected up to `offset` (never moves back).
    pub async fn log_collected(&self, id: CollectionId, offset: u64) -> Result<(), SysDbError> {
        sqlx::query(
            "UPDATE collections SET log_collected_offset = $1 \
             WHERE id = $2 AND log_collected_offset < $1",
        )
        .bind(offset as i64)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A fenced log writer left a fragment at `first`, a key the collector may already have
    /// passed: move the collected offset back below it so the next round lists the log again
    /// and deletes it (after the grace period of the version covering it, as for any other).
    pub async fn log_garbage_at(&self, id: CollectionId, first: u64) -> Result<(), SysDbError> {
        let below = first.saturating_sub(1);
        sqlx::query(
            "UPDATE collections SET log_collected_offset = $1 \
             WHERE id = $2 AND log_collected_offset > $1",
        )
        .bind(below as i64)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
