//! Reads: checked against the collection's row and the caller's limits, then run by the query
//! service against that same row (`Target::Row`).

use silt_common::record::Record;
use silt_common::ErrorKind;
use silt_query_service::{
    Consistency, Filters, GetRequest, Include, KnnRequest, Scored, SearchHit, SearchPlan,
    SearchRequest,
};
use silt_sysdb::Collection;

use super::Frontend;
use crate::error::{ApiError, ApiResult};

/// A `get`: which records, which page, which fields.
pub(crate) struct GetArgs {
    pub filters: Filters,
    pub limit: Option<u32>,
    pub offset: u32,
    pub include: Include,
    pub consistency: Consistency,
}

/// A `query`: the nearest `n_results` records to each embedding among those the filters pass.
pub(crate) struct QueryArgs {
    pub filters: Filters,
    pub embeddings: Vec<Vec<f32>>,
    pub n_results: usize,
    pub include: Include,
    pub consistency: Consistency,
}

/// `n` results at most, bounded by what the collection can hold: no more records than log
/// entries were ever written (the catalog's log position counts every acknowledged write, so
/// the bound is exact for strong reads too). Without a quota this is what keeps a huge
/// `limit` or `n_results` from sizing the query service's buffers.
pub(crate) fn within_collection(c: &Collection, n: usize) -> usize {
    n.min(usize::try_from(c.log_position).unwrap_or(usize::MAX).max(1))
}

impl Frontend<'_> {
    pub(crate) async fn get(&self, c: &Collection, args: GetArgs) -> ApiResult<Vec<Record>> {
        let max = self.caller.limits.max_n_results;
        if let Some(limit) = args.limit.map(|l| l as usize).filter(|l| *l > max) {
            return Err(ApiError::quota(format!(
                "limit {limit} exceeds the maximum of {max} results per request"
            )));
        }
        crate::schema::check_read_filters(c, &args.filters)?;
        Ok(self
            .state
            .query
            .get(GetRequest {
                collection: c.into(),
                filters: args.filters,
                limit: args.limit.map(|l| within_collection(c, l as usize)),
                offset: args.offset as usize,
                include: args.include,
                consistency: args.consistency,
            })
            .await?)
    }

    pub(crate) async fn query(
        &self,
        c: &Collection,
        args: QueryArgs,
    ) -> ApiResult<Vec<Vec<Scored>>> {
        let limits = &self.caller.limits;
        if args.n_results > limits.max_n_results {
            return Err(ApiError::quota(format!(
                "n_results {} exceeds the maximum of {}",
                args.n_results, limits.max_n_results
            )));
        }
        if args.embeddings.len() > limits.max_batch_size {
            return Err(ApiError::new(
                ErrorKind::TooLarge,
                "Too many query embeddings in one request",
            ));
        }
        check_query_dimensions(c, args.embeddings.iter().map(Vec::len))?;
        crate::schema::check_read_filters(c, &args.filters)?;
        Ok(self
            .state
            .query
            .knn(KnnRequest {
                collection: c.into(),
                filters: args.filters,
                query_embeddings: args.embeddings,
                n_results: within_collection(c, args.n_results),
                include: args.include,
                consistency: args.consistency,
            })
            .await?)
    }

    pub(crate) async fn count(&self, c: &Collection, consistency: Consistency) -> ApiResult<u64> {
        Ok(self.state.query.count(c.into(), consistency).await?)
    }

    /// Several searches over one collection, answered from one snapshot of it.
    pub(crate) async fn search(
        &self,
        c: &Collection,
        plans: Vec<SearchPlan>,
        consistency: Consistency,
    ) -> ApiResult<Vec<Vec<SearchHit>>> {
        self.check_search_sizes(&plans)?;
        crate::schema::check_search_filters(c, &plans)?;
        // As Chroma: a sparse `$knn` only on the key the schema declares a sparse index for.
        let terms = plans.iter().flat_map(SearchPlan::knn_terms);
        for key in terms.filter_map(|t| t.sparse_key()) {
            crate::schema::check_sparse_knn(c, key)?;
        }
        let dense = plans.iter().flat_map(SearchPlan::knn_terms);
        check_query_dimensions(c, dense.filter_map(|t| t.dense_query()).map(<[f32]>::len))?;
        Ok(self
            .state
            .query
            .search(SearchRequest {
                collection: c.into(),
                searches: plans,
                consistency,
            })
            .await?)
    }

    /// The tenant's per-request bounds, as `query` applies them: results asked for (a page and
    /// each `$knn` limit) and how many searches and terms one call carries.
    fn check_search_sizes(&self, plans: &[SearchPlan]) -> ApiResult<()> {
        let limits = &self.caller.limits;
        let max = limits.max_n_results;
        for p in plans {
            let asked = p.knn_terms().iter().map(|t| t.limit).chain(p.limit).max();
            if let Some(n) = asked.filter(|n| *n > max) {
                return Err(ApiError::quota(format!(
                    "limit {n} exceeds the maximum of {max} results per request"
                )));
            }
        }
        let terms: usize = plans.iter().map(|p| p.knn_terms().len().max(1)).sum();
        if terms > limits.max_batch_size {
            return Err(ApiError::new(
                ErrorKind::TooLarge,
                "Too many searches and $knn terms in one request",
            ));
        }
        Ok(())
    }
}

/// Query vectors must have the collection's dimension (once it has one).
fn check_query_dimensions(
    c: &Collection,
    mut lengths: impl Iterator<Item = usize>,
) -> ApiResult<()> {
    let Some(d) = c.dimension else { return Ok(()) };
    match lengths.find(|n| *n != d as usize) {
        Some(bad) => Err(ApiError::invalid(format!(
            "Collection expecting embedding with dimension of {d}, got {bad}"
        ))),
        None => Ok(()),
    }
}
