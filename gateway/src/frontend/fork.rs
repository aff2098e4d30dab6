//! Copy-on-write forks. A fork starts as the parent's current index version, shared by
//! reference in the catalog (`SysDb::begin_fork`: two rows, whatever the collection's size).
//! The parent's unindexed tail — the writes after its compacted offset up to its log position
//! at the fork — is not in that version, so it is copied into the fork's own log with
//! `LogService::append`, at the same offsets, before the fork is complete. That copy is
//! bounded by the compaction thresholds (the log's tail limit at worst), not by the
//! collection's size (docs/decisions/2026-12-01-fork.md).

use silt_common::record::OperationRecord;
use silt_common::ErrorKind;
use silt_sysdb::{Collection, ForkStart};

use super::Frontend;
use crate::error::{ApiError, ApiResult};
use crate::GatewayState;

/// Records per append while copying the parent's tail: one fragment each, well under the
/// request and fragment sizes the log accepts.
const COPY_BATCH: usize = 1_000;

impl Frontend<'_> {
    /// Creates the fork `name` of `parent` in the parent's tenant and database, copies the
    /// parent's tail into its log and completes it. On failure the fork is deleted (the
    /// collector also deletes one whose process died half-way).
    pub(crate) async fn fork(&self, parent: &Collection, name: &str) -> ApiResult<Collection> {
        let s = self.state;
        // A fork is a new collection: it counts against the tenant's quota like a create.
        let max = self.caller.limits.max_collections_per_tenant;
        if s.sysdb.count_tenant_collections(&parent.tenant).await? >= max {
            return Err(ApiError::quota(format!(
                "Tenant {} has reached its quota of {max} collections",
                parent.tenant
            )));
        }
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

    /// Live, finished forks in the collection's lineage.
    pub(crate) async fn fork_count(&self, c: &Collection) -> ApiResult<u64> {
        Ok(self.state.sysdb.fork_count(c.id).await?)
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
