//! The candidates of each `$knn` term, by kind: dense terms go through the KNN read path
//! together (one read for all their queries); each sparse term is an exact top-k over its key's
//! inverted index; a text term on `#document` is tantivy's BM25. All see the same snapshot and
//! the same (index-narrowable) filter, and each returns its best `fetch` records, best first.

use silt_common::record::Record;
use silt_common::{CollectionId, SiltResult};

use super::execute::SearchContext;
use super::rank::{KnnQuery, KnnTerm};
use crate::execute::Matcher;
use crate::read::{execute_knn, execute_sparse_knn, full_text, SparseQuery};
use crate::request::Filters;
use crate::{Consistency, Include, KnnRequest, Scored};

pub(crate) async fn term_lists(
    ctx: &SearchContext<'_>,
    collection: CollectionId,
    terms: &[&KnnTerm],
    filters: &Filters,
    fetch: usize,
    include: Include,
) -> SiltResult<Vec<Vec<Scored>>> {
    let mut out: Vec<Vec<Scored>> = vec![Vec::new(); terms.len()];
    let dense: Vec<(usize, &Vec<f32>)> = terms
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match &t.query {
            KnnQuery::Dense(q) => Some((i, q)),
            _ => None,
        })
        .collect();
    if !dense.is_empty() {
        let request = KnnRequest {
            collection: collection.into(),
            filters: filters.clone(),
            query_embeddings: dense.iter().map(|(_, q)| (*q).clone()).collect(),
            n_results: fetch,
            include,
            consistency: Consistency::Strong,
        };
        let lists = execute_knn(
            ctx.cache,
            ctx.version,
            ctx.tail,
            &request,
            ctx.distance,
            ctx.nprobe,
        )
        .await?;
        for ((i, _), list) in dense.iter().zip(lists) {
            out[*i] = list;
        }
    }
    for (i, t) in terms.iter().enumerate() {
        match &t.query {
            KnnQuery::Dense(_) => {}
            KnnQuery::Sparse { key, vector } => {
                let query = SparseQuery {
                    key,
                    vector,
                    limit: fetch,
                    idf: ctx.idf_keys.iter().any(|k| k == key),
                };
                out[i] =
                    execute_sparse_knn(ctx.cache, ctx.version, ctx.tail, filters, &query, include)
                        .await?;
            }
            KnnQuery::Text(text) => {
                out[i] = text_term(ctx, filters, text, fetch, include).await?;
            }
        }
    }
    Ok(out)
}

/// BM25 over the documents (a Silt extension: `$knn` with a text query on `#document`),
/// scored `-bm25` so that lower is better like every other term.
async fn text_term(
    ctx: &SearchContext<'_>,
    filters: &Filters,
    text: &str,
    fetch: usize,
    include: Include,
) -> SiltResult<Vec<Scored>> {
    let matcher = Matcher::new(filters);
    let ranked: Vec<(Record, f32)> =
        full_text(ctx.cache, ctx.version, ctx.tail, text, fetch, &|r| {
            matcher.matches(r)
        })
        .await?;
    Ok(ranked
        .into_iter()
        .map(|(r, score)| Scored {
            record: crate::execute::project(&r, include),
            distance: -score,
        })
        .collect())
}
