//! Sparse nearest neighbours (`$knn` on a metadata key holding sparse vectors): the exact top-k
//! by dot product over version + tail, scored as Chroma scores them, `1 - q·d` (lower is
//! better). Only records that hold a sparse vector at the key and share a dimension with the
//! query are reached, as Chroma's index reaches them.
//!
//! Reads, each one batched fetch: the head; the key's directory blocks for the query's
//! dimensions (with the id and metadata blocks the tail and the filter need); the posting lists
//! (with the base records the tail touched); the locations of the top records; the records.
//! Pruning (`silt_index::format::sparse_top_k`) needs only the lists. Records the filter's index
//! excludes or the tail changed are never admitted; each record read is verified against the
//! filter, and the top-k is asked again for twice as many while verification leaves it short.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use silt_common::record::{LogEntry, Record};
use silt_common::sparse_vector::SparseVector;
use silt_common::SiltResult;
use silt_index::format::{
    decode_directory_block, decode_postings, sparse_top_k, DirEntry, Loc, PostingList, SparseTerm,
    LOCATIONS_FILE, SPARSE_FILE,
};

use super::{
    add_record, filter_candidates, lookup_ids, tail_ids, take_record, text_candidates, Batch,
    Lookups, OpenedVersion, ReadError, TailBase, TailView,
};
use crate::execute::{project, Matcher};
use crate::range_cache::RangeCache;
use crate::request::Filters;
use crate::{Include, Scored};

/// One sparse `$knn` term.
pub(crate) struct SparseQuery<'a> {
    pub key: &'a str,
    pub vector: &'a SparseVector,
    pub limit: usize,
    /// Scale the query by each dimension's inverse document frequency over the collection (as
    /// Chroma does for an index declared with `bm25: true`).
    pub idf: bool,
}

/// A scored candidate: where it sits in collection order (ties), and its record.
struct Hit {
    distance: f32,
    position: u64,
    record: Record,
}

fn dot_at(r: &Record, key: &str, q: &SparseVector) -> Option<f32> {
    r.metadata
        .get(key)
        .and_then(|v| v.as_sparse())
        .and_then(|v| q.dot(v))
}

pub(crate) async fn execute_sparse_knn(
    cache: &RangeCache,
    version: Option<&Arc<OpenedVersion>>,
    tail: &[LogEntry],
    filters: &Filters,
    query: &SparseQuery<'_>,
    include: Include,
) -> SiltResult<Vec<Scored>> {
    let matcher = Matcher::new(filters);
    let Some(v) = version.filter(|v| v.head.record_count() > 0) else {
        let view = TailView::build(tail, &HashMap::new());
        let q = scaled(query, &view, |_| (0, 0), 0);
        let hits = rank_tail(&view, query.key, &q, &matcher, 0);
        return Ok(finish(hits, query.limit, include));
    };
    let base_count = v.head.record_count();
    let text = text_candidates(cache, v, filters).await?;

    // Step 2: id and metadata blocks, and the key's directory blocks for the query's dims.
    let tids = tail_ids(tail);
    let lookup_ids = lookup_ids(&tids, filters);
    let mut b2 = Batch::default();
    let lookups = Lookups::plan(&mut b2, v, &lookup_ids, filters);
    let key_index = v.head.sparse_key(query.key);
    let dir_blocks: BTreeSet<usize> = key_index
        .map(|k| {
            query
                .vector
                .indices
                .iter()
                .filter_map(|&d| k.block_of(d))
                .collect()
        })
        .unwrap_or_default();
    let dir_slots: Vec<usize> = match key_index {
        Some(k) => dir_blocks
            .iter()
            .map(|&i| {
                let b = &k.blocks[i];
                b2.add(v.range(SPARSE_FILE, b.offset..b.offset + u64::from(b.len)))
            })
            .collect(),
        None => Vec::new(),
    };
    let f2 = b2.run(cache).await?;
    let id_locs = lookups.id_locations(&f2, &lookup_ids)?;
    let meta = lookups.meta_blocks(&f2)?;
    let candidates = filter_candidates(v, filters, &meta, &id_locs, text);
    let wanted: BTreeSet<u32> = query.vector.indices.iter().copied().collect();
    let mut entries: Vec<DirEntry> = Vec::new();
    for slot in dir_slots {
        entries.extend(
            decode_directory_block(&f2[slot])
                .map_err(ReadError::from)?
                .into_iter()
                .filter(|e| wanted.contains(&e.dim)),
        );
    }

    // Step 3: the base records the tail touched, and the posting lists.
    let mut b3 = Batch::default();
    let tail_base = TailBase::plan(&mut b3, v, &tids, &id_locs);
    let list_slots: Vec<usize> = entries
        .iter()
        .map(|e| b3.add(v.range(SPARSE_FILE, e.offset..e.offset + u64::from(e.len))))
        .collect();
    let f3 = b3.run(cache).await?;
    let view = tail_base.view(tail, &f3)?;
    let mut lists: HashMap<u32, PostingList> = HashMap::new();
    for (e, slot) in entries.iter().zip(list_slots) {
        lists.insert(e.dim, decode_postings(&f3[slot]).map_err(ReadError::from)?);
    }

    // Document frequencies for IDF: the version's, less the base records the tail replaced or
    // deleted that held the dimension (the new states are counted from the tail).
    let base_df = |dim: u32| -> (u64, u64) {
        let Some(list) = lists.get(&dim) else {
            return (0, 0);
        };
        let gone = view
            .changed
            .keys()
            .filter(|o| list.ordinals.binary_search(o).is_ok())
            .count() as u64;
        (list.len() as u64, gone)
    };
    let deleted = view.changed.values().filter(|c| c.is_none()).count() as u64;
    let q = scaled(query, &view, base_df, base_count - deleted);
    let terms: Vec<SparseTerm<'_>> = q
        .indices
        .iter()
        .zip(&q.values)
        .filter_map(|(d, w)| lists.get(d).map(|list| SparseTerm { weight: *w, list }))
        .collect();

    let admit = |o: u32| candidates.admits(o) && !view.changed.contains_key(&o);
    let mut hits = rank_tail(&view, query.key, &q, &matcher, base_count);
    let mut resolved: HashMap<u32, Option<Record>> = HashMap::new();
    let mut want = query.limit;
    loop {
        let top = sparse_top_k(&terms, want, admit);
        let fresh: Vec<u32> = top
            .iter()
            .map(|t| t.0)
            .filter(|o| !resolved.contains_key(o))
            .collect();
        read_records(cache, v, &fresh, include.embeddings, &mut resolved).await?;
        let passing = top
            .iter()
            .filter(|(o, _)| {
                resolved
                    .get(o)
                    .is_some_and(|r| r.as_ref().is_some_and(|r| matcher.matches(r)))
            })
            .count();
        if passing >= query.limit || top.len() < want {
            for (o, _) in &top {
                let Some(Some(r)) = resolved.remove(o) else {
                    continue;
                };
                if !matcher.matches(&r) {
                    continue;
                }
                if let Some(dot) = dot_at(&r, query.key, &q) {
                    hits.push(Hit {
                        distance: 1.0 - dot,
                        position: u64::from(*o),
                        record: r,
                    });
                }
            }
            break;
        }
        want = want.saturating_mul(2);
    }
    Ok(finish(hits, query.limit, include))
}

/// The query as ranked: with IDF, each weight times `ln(1 + (n - n_t + 0.5) / (n_t + 0.5))`
/// over the collection as the snapshot sees it (`n` records, `n_t` holding the dimension).
fn scaled(
    query: &SparseQuery<'_>,
    view: &TailView,
    base_df: impl Fn(u32) -> (u64, u64),
    base_live: u64,
) -> SparseVector {
    if !query.idf {
        return query.vector.clone();
    }
    let tail_records = || view.changed.values().flatten().chain(view.appended.iter());
    let n = (base_live + view.appended.len() as u64) as f32;
    let values = query
        .vector
        .indices
        .iter()
        .zip(&query.vector.values)
        .map(|(&dim, &w)| {
            let (df, gone) = base_df(dim);
            let added = tail_records()
                .filter(|r| {
                    r.metadata
                        .get(query.key)
                        .and_then(|v| v.as_sparse())
                        .is_some_and(|s| s.indices.binary_search(&dim).is_ok())
                })
                .count() as u64;
            let nt = (df.saturating_sub(gone) + added) as f32;
            w * ((n - nt + 0.5) / (nt + 0.5)).ln_1p()
        })
        .collect();
    SparseVector {
        indices: query.vector.indices.clone(),
        values,
        tokens: None,
    }
}

/// Tail records (replacements of base records and new ones) that match, scored exactly.
fn rank_tail(
    view: &TailView,
    key: &str,
    q: &SparseVector,
    matcher: &Matcher<'_>,
    base_count: u64,
) -> Vec<Hit> {
    let changed = view
        .changed
        .iter()
        .filter_map(|(o, c)| c.as_ref().map(|r| (u64::from(*o), r)));
    let appended = view
        .appended
        .iter()
        .enumerate()
        .map(|(j, r)| (base_count + j as u64, r));
    changed
        .chain(appended)
        .filter(|(_, r)| matcher.matches(r))
        .filter_map(|(position, r)| {
            dot_at(r, key, q).map(|dot| Hit {
                distance: 1.0 - dot,
                position,
                record: r.clone(),
            })
        })
        .collect()
}

/// Reads the records at `ordinals`: their locations, then the records.
async fn read_records(
    cache: &RangeCache,
    v: &OpenedVersion,
    ordinals: &[u32],
    with_vectors: bool,
    into: &mut HashMap<u32, Option<Record>>,
) -> Result<(), ReadError> {
    if ordinals.is_empty() {
        return Ok(());
    }
    let w = Loc::ENCODED_LEN as u64;
    let mut b = Batch::default();
    let slots: Vec<usize> = ordinals
        .iter()
        .map(|&o| b.add(v.range(LOCATIONS_FILE, u64::from(o) * w..u64::from(o + 1) * w)))
        .collect();
    let f = b.run(cache).await?;
    let mut b = Batch::default();
    let mut records = Vec::with_capacity(ordinals.len());
    for (&o, slot) in ordinals.iter().zip(slots) {
        let loc = Loc::decode(&f[slot])
            .ok_or_else(|| ReadError::Corrupt(format!("no location for ordinal {o}")))?;
        records.push((o, add_record(&mut b, v, &loc, with_vectors)));
    }
    let f = b.run(cache).await?;
    for (o, slots) in records {
        into.insert(o, Some(take_record(&f, &slots)?));
    }
    Ok(())
}

/// Best first (ties in collection order), cut to `limit`, projected.
fn finish(mut hits: Vec<Hit>, limit: usize, include: Include) -> Vec<Scored> {
    hits.sort_by(|a, b| {
        a.distance
            .total_cmp(&b.distance)
            .then(a.position.cmp(&b.position))
    });
    hits.into_iter()
        .take(limit)
        .map(|h| Scored {
            record: project(&h.record, include),
            distance: h.distance,
        })
        .collect()
}
