//! The catalog side of the log's fencing: a log writer's fragment counts only once the catalog
//! agrees that its offsets lie above the collection's compacted offset.
//!
//! Why the create-only PUT alone is not enough: a writer paused between choosing an offset and
//! its PUT (a stopped process, a long GC pause, a request stuck in a proxy) can resume after
//! another node wrote that offset, a compactor folded it into a version and the log's garbage
//! collector deleted the fragment. The key is free again, so the stale PUT succeeds, below the
//! compacted offset, where no reader and no compactor will ever look: acknowledging it would
//! lose the write. The compacted offset only grows, so checking it after the PUT, in the same
//! statement that records the new log position, decides for good.

use silt_common::CollectionId;

use crate::{SysDb, SysDbError};

/// What the catalog answered to a log writer's commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogCommit {
    /// The fragment lies above the compacted offset and the log position now covers it.
    Committed,
    /// The collection was compacted past the fragment's first offset: its key may have been
    /// written, compacted and collected by another writer. The write must not be acknowledged.
    Fenced { compacted_offset: u64 },
}

impl SysDb {
    /// Records that the log of `id` reaches at least `last`, if and only if the fragment
    /// `first..=last` starts above the collection's compacted offset (and the collection is
    /// live). One conditional UPDATE, so a concurrent version registration is ordered either
    /// before it (fenced) or after it (the compactor saw the position, or will next round).
    /// `bytes`, the fragment's size, is added to the collection's uncompacted log bytes
    /// (metering, `usage.rs`) in the same statement: only a committed fragment counts.
    pub async fn commit_log_position(
        &self,
        id: CollectionId,
        first: u64,
        last: u64,
        bytes: u64,
    ) -> Result<LogCommit, SysDbError> {
        let done = sqlx::query(
            "UPDATE collections \
             SET log_position = CASE WHEN log_position < $1 THEN $1 ELSE log_position END, \
                 tail_since_ms = COALESCE(tail_since_ms, $4), \
                 log_bytes = log_bytes + $5 \
             WHERE id = $2 AND compacted_offset < $3 AND deleted_at_ms IS NULL",
        )
        .bind(last as i64)
        .bind(id.to_string())
        .bind(first as i64)
        .bind(self.now_ms())
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(LogCommit::Committed);
        }
        // Nothing matched: the collection is gone (NotFound) or compacted past `first`. The
        // compacted offset never decreases, so what this read sees still fences the write.
        let collection = self.get_collection(id).await?;
        Ok(LogCommit::Fenced {
            compacted_offset: collection.compacted_offset,
        })
    }
}
