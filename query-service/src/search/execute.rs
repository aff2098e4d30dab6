//! Running search plans over one snapshot (version + tail), so every search of a request sees
//! the same data. The `$knn` terms of a plan are read with the plan's filter applied as `query`
//! applies it (dense terms through the KNN read path together, sparse and text terms through
//! their own indexes: `terms.rs`); a plan without a rank is a filtered, paged get.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use silt_common::distance::Distance;
use silt_common::record::{LogEntry, Record};
use silt_common::{CollectionId, SiltResult};

use super::filter::{lower, Lowered};
use super::terms::term_lists;
use super::{SearchHit, SearchPlan, SearchRequest};
use crate::range_cache::RangeCache;
use crate::read::{execute_get, OpenedVersion};
use crate::{Consistency, GetRequest, Include, Scored};

pub(crate) struct SearchContext<'a> {
    pub cache: &'a RangeCache,
    pub version: Option<&'a Arc<OpenedVersion>>,
    pub tail: &'a [LogEntry],
    pub distance: Distance,
    pub nprobe: Option<usize>,
    /// No collection holds more records than log entries were ever written: the most any
    /// candidate list can need, whatever `limit` a client sends.
    pub most_records: usize,
    /// Sparse keys whose `$knn` scales the query by IDF (the schema's `bm25: true`).
    pub idf_keys: &'a [String],
}

pub(crate) async fn execute_search(
    ctx: &SearchContext<'_>,
    request: &SearchRequest,
) -> SiltResult<Vec<Vec<SearchHit>>> {
    let mut out = Vec::with_capacity(request.searches.len());
    for plan in &request.searches {
        out.push(run_plan(ctx, request.collection.id(), plan).await?);
    }
    Ok(out)
}

async fn run_plan(
    ctx: &SearchContext<'_>,
    collection: CollectionId,
    plan: &SearchPlan,
) -> SiltResult<Vec<SearchHit>> {
    let lowered = lower(plan.filter.as_ref());
    // The residual filter and grouping read documents and metadata even when not selected.
    let checks = !lowered.residual.is_empty();
    let include = Include {
        embeddings: plan.select.embedding,
        documents: plan.select.document || checks,
        metadatas: plan.select.any_metadata() || checks || plan.group_by.is_some(),
        uris: false,
    };
    let ranked = match &plan.rank {
        None => return filtered_page(ctx, collection, plan, &lowered, include).await,
        Some(rank) => {
            let (records, hits) = nearest(ctx, collection, plan, &lowered, include).await?;
            let scores = rank.evaluate(&hits);
            let mut ranked: Vec<(Record, f32)> = Vec::with_capacity(scores.len());
            let mut records: Vec<Option<Record>> = records.into_iter().map(Some).collect();
            for (i, score) in scores {
                if let Some(r) = records.get_mut(i).and_then(Option::take) {
                    ranked.push((r, score));
                }
            }
            ranked.sort_by(by_score);
            ranked
        }
    };
    let ranked = match &plan.group_by {
        Some(g) => g.apply(ranked),
        None => ranked,
    };
    Ok(ranked
        .into_iter()
        .skip(plan.offset)
        .take(plan.limit.unwrap_or(usize::MAX))
        .map(|(r, score)| SearchHit {
            record: plan.select.project(r),
            score,
        })
        .collect())
}

/// Lower is better; equal scores in id order, so a page boundary is stable.
fn by_score(a: &(Record, f32), b: &(Record, f32)) -> Ordering {
    a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id))
}

/// Each `$knn` term's nearest records that pass the filter (index into the returned table,
/// distance), nearest first. All terms are one KNN read; when a residual filter rejects
/// candidates, the read is repeated for twice as many until each term has its `limit` or the
/// matching records run out.
async fn nearest(
    ctx: &SearchContext<'_>,
    collection: CollectionId,
    plan: &SearchPlan,
    lowered: &Lowered,
    include: Include,
) -> SiltResult<(Vec<Record>, Vec<Vec<(usize, f32)>>)> {
    let terms = plan.knn_terms();
    if terms.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let bound = ctx.most_records.max(1);
    let most = terms.iter().map(|t| t.limit).max().unwrap_or(1).min(bound);
    let mut fetch = most;
    loop {
        let lists = term_lists(ctx, collection, &terms, &lowered.filters, fetch, include).await?;
        let exhausted = lists.iter().all(|l| l.len() < fetch) || fetch >= bound;
        let kept: Vec<Vec<Scored>> = lists
            .into_iter()
            .map(|l| {
                l.into_iter()
                    .filter(|s| lowered.admits(&s.record))
                    .collect()
            })
            .collect();
        let short = kept.iter().zip(&terms).any(|(l, t)| l.len() < t.limit);
        if short && !exhausted && !lowered.residual.is_empty() {
            fetch = fetch.saturating_mul(2).min(bound);
            continue;
        }
        return Ok(table(kept, &terms));
    }
}

fn table(
    lists: Vec<Vec<Scored>>,
    terms: &[&super::KnnTerm],
) -> (Vec<Record>, Vec<Vec<(usize, f32)>>) {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut records = Vec::new();
    let mut hits = Vec::with_capacity(lists.len());
    for (list, term) in lists.into_iter().zip(terms) {
        let mut h = Vec::with_capacity(term.limit.min(list.len()));
        for s in list.into_iter().take(term.limit) {
            let i = *index.entry(s.record.id.clone()).or_insert_with(|| {
                records.push(s.record);
                records.len() - 1
            });
            h.push((i, s.distance));
        }
        hits.push(h);
    }
    (records, hits)
}

/// No rank: the filter's matches in collection order, paged; the score is the position in
/// the page, as Chroma reports it.
async fn filtered_page(
    ctx: &SearchContext<'_>,
    collection: CollectionId,
    plan: &SearchPlan,
    lowered: &Lowered,
    include: Include,
) -> SiltResult<Vec<SearchHit>> {
    let checks = !lowered.residual.is_empty();
    let limit = plan.limit.map(|l| l.min(ctx.most_records.max(1)));
    // A residual filter is checked after the read, so the page is cut after it.
    let request = GetRequest {
        collection: collection.into(),
        filters: lowered.filters.clone(),
        limit: if checks { None } else { limit },
        offset: if checks { 0 } else { plan.offset },
        include,
        consistency: Consistency::Strong,
    };
    let records = execute_get(ctx.cache, ctx.version, ctx.tail, &request).await?;
    let records: Vec<Record> = if checks {
        records
            .into_iter()
            .filter(|r| lowered.admits(r))
            .skip(plan.offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    } else {
        records
    };
    Ok(records
        .into_iter()
        .enumerate()
        .map(|(i, r)| SearchHit {
            record: plan.select.project(r),
            score: i as f32,
        })
        .collect())
}
