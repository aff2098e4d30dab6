//! Writes: validated as a whole against the collection's row and the caller's limits, then
//! appended to the log service; acknowledged only once the log has them.

use silt_common::record::{Operation, OperationRecord};
use silt_query_service::{Consistency, Filters, GetRequest, Include};
use silt_sysdb::Collection;

use super::read::within_collection;
use super::Frontend;
use crate::error::{ApiError, ApiResult};
use crate::validate::{self, BatchBody};

impl Frontend<'_> {
    /// Add, upsert or update a batch. Returns how many records were written.
    pub(crate) async fn write(
        &self,
        c: &Collection,
        body: BatchBody,
        op: Operation,
    ) -> ApiResult<usize> {
        let (records, dimension) = validate::batch(body, op, &self.caller.limits)?;
        self.check_dimension(c, dimension).await?;
        if matches!(op, Operation::Add | Operation::Upsert) {
            self.check_records_quota(c, records.len()).await?;
        }
        let written = records.len();
        // New metadata keys go into the collection's schema once the write is acknowledged.
        let growth = crate::schema::SchemaGrowth::of(c, &records);
        self.state.log.append(c.id, records).await?;
        if let Some(growth) = growth {
            growth.record(&self.state.sysdb, c).await;
        }
        self.state.usage.wrote(&c.tenant, written);
        Ok(written)
    }

    /// Chroma's rules and count: ids alone are deleted as given (one delete logged per id, and
    /// the count includes ids that never existed, as Chroma's server answers); with `where` or
    /// `where_document` the matches are resolved first (strongly consistent, within `ids` if
    /// given) and counted. Returns how many deletes were logged.
    pub(crate) async fn delete(
        &self,
        c: &Collection,
        filters: Filters,
        limit: Option<u32>,
    ) -> ApiResult<usize> {
        let limits = &self.caller.limits;
        let has_filter = filters.r#where.is_some() || filters.where_document.is_some();
        if filters.ids.as_ref().is_some_and(Vec::is_empty) && !has_filter {
            return Err(ApiError::invalid(
                "Validation error: ids, where: Either ids or where must be specified",
            ));
        }
        if limit.is_some() && !has_filter {
            return Err(ApiError::invalid(
                "Validation error: limit, where: limit can only be specified when a where clause is provided",
            ));
        }
        if let Some(ids) = &filters.ids {
            validate::batch_size(ids.len(), limits)?;
        }
        crate::schema::check_read_filters(c, &filters)?;
        let doomed: Vec<String> = if has_filter {
            self.state
                .query
                .get(GetRequest {
                    collection: c.into(),
                    filters,
                    limit: limit.map(|l| within_collection(c, l as usize)),
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
                .take(limits.max_batch_size.max(1))
                .map(OperationRecord::delete)
                .collect();
            self.state.log.append(c.id, ops).await?;
        }
        self.state.usage.wrote(&c.tenant, deleted);
        Ok(deleted)
    }

    /// Checks the batch's dimension against the collection's, fixing it on the first write.
    async fn check_dimension(&self, c: &Collection, dimension: Option<usize>) -> ApiResult<()> {
        let Some(d) = dimension else { return Ok(()) };
        let expected = match c.dimension {
            Some(e) => e,
            None => self
                .state
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

    /// Refuses a write that could take the collection past its records quota. Nothing can hold
    /// more records than log entries were ever written, so the exact count is only needed near
    /// the limit.
    async fn check_records_quota(&self, c: &Collection, adding: usize) -> ApiResult<()> {
        let max = self.caller.limits.max_records_per_collection;
        if c.log_position.saturating_add(adding as u64) <= max {
            return Ok(());
        }
        let now = self
            .state
            .query
            .count(c.into(), Consistency::Strong)
            .await?;
        if now.saturating_add(adding as u64) > max {
            return Err(ApiError::quota(format!(
                "Collection holds {now} records; adding {adding} would pass its quota of {max}"
            )));
        }
        Ok(())
    }
}
