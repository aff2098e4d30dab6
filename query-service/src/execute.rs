//! Executing get and KNN over a snapshot: filter, then page or rank, then project.

use std::cmp::Ordering;
use std::collections::HashSet;

use silt_common::distance::norm;
use silt_common::record::{Metadata, Record};
use silt_common::{SiltError, SiltResult};

use crate::node::Snapshot;
use crate::request::Filters;
use crate::{GetRequest, Include, KnnRequest, Scored};

struct Matcher<'a> {
    filters: &'a Filters,
    ids: Option<HashSet<&'a str>>,
}

impl<'a> Matcher<'a> {
    fn new(filters: &'a Filters) -> Self {
        Matcher {
            filters,
            ids: filters
                .ids
                .as_ref()
                .map(|ids| ids.iter().map(String::as_str).collect()),
        }
    }

    fn matches(&self, r: &Record) -> bool {
        self.ids
            .as_ref()
            .is_none_or(|ids| ids.contains(r.id.as_str()))
            && self
                .filters
                .r#where
                .as_ref()
                .is_none_or(|w| w.matches(&r.metadata))
            && self
                .filters
                .where_document
                .as_ref()
                .is_none_or(|w| w.matches(r.document.as_deref()))
    }
}

fn project(r: &Record, include: Include) -> Record {
    Record {
        id: r.id.clone(),
        embedding: if include.embeddings {
            r.embedding.clone()
        } else {
            Vec::new()
        },
        document: if include.documents {
            r.document.clone()
        } else {
            None
        },
        metadata: if include.metadatas {
            r.metadata.clone()
        } else {
            Metadata::new()
        },
        uri: if include.uris { r.uri.clone() } else { None },
    }
}

pub(crate) fn execute_get(snapshot: &Snapshot, request: &GetRequest) -> Vec<Record> {
    let matcher = Matcher::new(&request.filters);
    snapshot
        .records()
        .filter(|r| matcher.matches(r))
        .skip(request.offset)
        .take(request.limit.unwrap_or(usize::MAX))
        .map(|r| project(r, request.include))
        .collect()
}

pub(crate) fn execute_knn(
    snapshot: &Snapshot,
    request: &KnnRequest,
) -> SiltResult<Vec<Vec<Scored>>> {
    let distance = snapshot.collection.distance();
    let matcher = Matcher::new(&request.filters);
    let candidates: Vec<&Record> = snapshot.records().filter(|r| matcher.matches(r)).collect();
    let mut results = Vec::with_capacity(request.query_embeddings.len());
    for query in &request.query_embeddings {
        if let Some(first) = candidates.first() {
            if first.embedding.len() != query.len() {
                return Err(SiltError::invalid(format!(
                    "Collection expecting embedding with dimension of {}, got {}",
                    first.embedding.len(),
                    query.len()
                )));
            }
        }
        let qn = norm(query);
        let mut scored: Vec<(f32, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, r)| (distance.compute(query, qn, &r.embedding), i))
            .collect();
        let k = request.n_results.min(scored.len());
        let by_distance = |a: &(f32, usize), b: &(f32, usize)| {
            a.0.partial_cmp(&b.0)
                .unwrap_or(Ordering::Equal)
                .then(a.1.cmp(&b.1))
        };
        if k < scored.len() && k > 0 {
            scored.select_nth_unstable_by(k - 1, by_distance);
        }
        scored.truncate(k);
        scored.sort_by(by_distance);
        results.push(
            scored
                .into_iter()
                .map(|(d, i)| Scored {
                    record: project(candidates[i], request.include),
                    distance: d,
                })
                .collect(),
        );
    }
    Ok(results)
}
