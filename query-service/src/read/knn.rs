//! Nearest-neighbour search over version + tail.
//!
//! Without a narrowing filter, the query probes the `nprobe` clusters nearest to it (step 2)
//! and ranks their vectors, skipping records the filter's index excludes. With one (ids, a
//! selective `where`, a `$contains`), it ranks exactly the candidate records: all of them when
//! few, else those in the clusters nearest to the query until enough are seen, so a filter
//! keeping 1% of a large collection neither scans everything nor loses recall.
//!
//! A version whose clusters hold quantized codes is scored by estimate first; the candidates
//! whose bound can still reach the top k (shortlist.rs) are re-ranked exactly from pages of
//! `vectors.bin`, all queries' pages in one more round trip. On such a version, a `where` that
//! the head's block counts say matches more than 1 in `SPARSE_SHARE` records is scored like a
//! probe instead (1.5× the clusters, only its candidates admitted).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use silt_common::codec::f32s_from_le;
use silt_common::distance::{norm, Distance};
use silt_common::record::{LogEntry, Record};
use silt_common::{SiltError, SiltResult};
use silt_index::format::{
    decode_cluster, decode_coded_cluster, metric_of, scored_len, ClusterRows, CodedRows, Loc,
    CLUSTERS_FILE, VECTORS_FILE,
};
use silt_index::quantize::{estimate, Query};

use super::shortlist::{shortlist, Interval};
use super::{
    add_record, estimated_matches, filter_candidates, lookup_ids, selective, tail_ids, take_record,
    text_candidates, Batch, Candidates, Lookups, OpenedVersion, ReadError, TailBase, TailView,
};
use crate::execute::{project, Matcher};
use crate::range_cache::RangeCache;
use crate::{KnnRequest, Scored};

/// Candidates are all ranked exactly while reading them costs at most this many bytes (a 1%
/// filter on 1M × 384 is ~17 MB). Beyond it, the walk over nearest clusters bounds the reads —
/// and with a filter correlated with the vectors (its matches far from the query), recall
/// falls: on synthetic 1M × 128, a 1% filter walked over 150 clusters found 0.47 of the truth.
const EXACT_CANDIDATE_BYTES: usize = 32 << 20;
/// …and only while they are at most 1/SPARSE_SHARE of the records: denser candidates sit so
/// close together that their merged ranges would span most of the file.
const SPARSE_SHARE: u32 = 20;
/// A filtered search reads candidates until it has seen this many per result wanted…
const CANDIDATES_PER_RESULT: usize = 20;
/// …and at least this many.
const MIN_FILTERED_CANDIDATES: usize = 400;

#[derive(Clone, Copy)]
enum Source {
    Cluster(usize, usize),
    Fetched(usize),
    Changed(u32),
    Appended(usize),
}

#[derive(Clone, Copy)]
struct Ranked {
    distance: f32,
    /// Half-width of the distance's interval: 0 when exact, the estimator's bound for codes.
    bound: f32,
    position: u64,
    source: Source,
}

impl Ranked {
    /// Row `i` of probed cluster `c`.
    fn row(ordinal: u32, distance: f32, bound: f32, c: usize, i: usize) -> Self {
        Ranked {
            distance,
            bound,
            position: u64::from(ordinal),
            source: Source::Cluster(c, i),
        }
    }
}

impl Interval for Ranked {
    fn distance(&self) -> f32 {
        self.distance
    }
    fn bound(&self) -> f32 {
        self.bound
    }
    fn position(&self) -> u64 {
        self.position
    }
}

/// A probed cluster's block: f32 vectors (versions without quantization) or codes.
enum Probed {
    Exact(ClusterRows),
    Coded(CodedRows),
}

/// Where a probed cluster's block landed in a batch: the whole block (f32), or the scored
/// prefix of a coded one and, unless the query needs no payloads until its results are
/// known, its payload section (adjacent ranges: one GET, two stable cache entries).
struct ClusterSlots {
    block: usize,
    payloads: Option<usize>,
}

fn add_clusters(
    batch: &mut Batch,
    v: &OpenedVersion,
    wanted: impl Iterator<Item = usize>,
    light: bool,
) -> Vec<(usize, ClusterSlots)> {
    let bits = v.head.manifest.index.quantization.map(|q| q.bits);
    wanted
        .filter_map(|c| {
            let r = v.head.clusters.get(c)?;
            let end = r.offset + r.len;
            let slots = match bits.filter(|_| v.rotation.is_some()) {
                Some(bits) => {
                    let scored = scored_len(r.count as usize, v.head.dimension(), bits);
                    let split = (r.offset + scored).min(end);
                    ClusterSlots {
                        block: batch.add(v.range(CLUSTERS_FILE, r.offset..split)),
                        payloads: (!light && split < end)
                            .then(|| batch.add(v.range(CLUSTERS_FILE, split..end))),
                    }
                }
                None => ClusterSlots {
                    block: batch.add(v.range(CLUSTERS_FILE, r.offset..end)),
                    payloads: None,
                },
            };
            Some((c, slots))
        })
        .collect()
}

fn decode_probed(
    v: &OpenedVersion,
    fetched: &[bytes::Bytes],
    slots: &ClusterSlots,
) -> Result<Probed, ReadError> {
    let dimension = v.head.dimension();
    let block = fetched[slots.block].clone();
    Ok(if v.rotation.is_some() {
        let mut rows = decode_coded_cluster(block, dimension)?;
        if let Some(p) = slots.payloads {
            rows.attach_payloads(fetched[p].clone())?;
        }
        Probed::Coded(rows)
    } else {
        Probed::Exact(decode_cluster(block, dimension)?)
    })
}

pub(crate) async fn execute_knn(
    cache: &RangeCache,
    version: Option<&Arc<OpenedVersion>>,
    tail: &[LogEntry],
    request: &KnnRequest,
    distance: Distance,
    nprobe: Option<usize>,
) -> SiltResult<Vec<Vec<Scored>>> {
    let matcher = Matcher::new(&request.filters);
    let Some(v) = version.filter(|v| v.head.record_count() > 0) else {
        let view = TailView::build(tail, &HashMap::new());
        check_dimension(view.appended.first().map(|r| r.embedding.len()), request)?;
        let mut out = Vec::new();
        for q in &request.query_embeddings {
            let ranked = rank_tail(&view, q, distance, &matcher, 0);
            out.push(finish(ranked, request, |r| match r.source {
                Source::Appended(j) => Ok(Some(view.appended[j].clone())),
                _ => Ok(None),
            })?);
        }
        return Ok(out);
    };
    check_dimension(Some(v.head.dimension()), request)?;
    let base_count = v.head.record_count();

    let text = text_candidates(cache, v, &request.filters).await?;
    let narrowed = selective(&request.filters, &text);
    let nprobe = nprobe
        .unwrap_or(v.head.manifest.index.nprobe as usize)
        .max(1);
    // A `where` too dense to rank its candidates one by one is scored through the codes of the
    // nearest clusters instead, admitting only its candidates: far fewer requests and bytes
    // than each candidate's vector, and still head, blocks, re-rank pages.
    let mut dense = narrowed
        && v.rotation.is_some()
        && request.filters.ids.is_none()
        && matches!(text, Candidates::All)
        && request.filters.r#where.as_ref().is_some_and(|w| {
            estimated_matches(&v.head, w)
                .is_some_and(|n| n * u64::from(SPARSE_SHARE) > v.head.record_count())
        });

    // Without any filter, nothing is verified: probed clusters are read without their
    // payloads, and only the clusters the results come from have theirs read, with the
    // re-rank's pages (most of a probed block's bytes are payloads nobody returns).
    let light = request.filters.ids.is_none()
        && request.filters.r#where.is_none()
        && request.filters.where_document.is_none();

    // Step 2: index blocks, and the nearest clusters when the filter cannot narrow.
    let tids = tail_ids(tail);
    let lookup_ids = lookup_ids(&tids, &request.filters);
    let mut b2 = Batch::default();
    let lookups = Lookups::plan(&mut b2, v, &lookup_ids, &request.filters);
    let mut clusters: HashMap<usize, Probed> = HashMap::new();
    let mut probe = Vec::new();
    if !narrowed || dense {
        // Half again the clusters for a filter: its nearest matches are on average farther
        // than the nearest records.
        let count = if dense { nprobe + nprobe / 2 } else { nprobe };
        let mut wanted = BTreeSet::new();
        for q in &request.query_embeddings {
            wanted.extend(v.nearest_clusters(q, count)?);
        }
        probe = add_clusters(&mut b2, v, wanted.into_iter(), light);
    }
    let f2 = b2.run(cache).await?;
    for (c, slots) in probe {
        clusters.insert(c, decode_probed(v, &f2, &slots)?);
    }
    let id_locs = lookups.id_locations(&f2, &lookup_ids)?;
    let meta = lookups.meta_blocks(&f2)?;
    let candidates = filter_candidates(v, &request.filters, &meta, &id_locs, text);
    if let (Candidates::Only(m), true) = (&candidates, dense) {
        // The estimate is an upper bound: an `$and` of dense leaves may still match few
        // records, which are ranked one by one after all (the clusters read are dropped).
        if m.len() as u64 * u64::from(SPARSE_SHARE) <= base_count {
            dense = false;
            clusters.clear();
        }
    }
    let probing = !narrowed || dense;

    // Step 3: the base records the tail touched, and the chosen candidates.
    let mut b3 = Batch::default();
    let tail_base = TailBase::plan(&mut b3, v, &tids, &id_locs);
    let mut chosen: Vec<Loc> = Vec::new();
    let mut remaining: Vec<Loc> = Vec::new();
    if let (Candidates::Only(m), false) = (&candidates, dense) {
        (chosen, remaining) = choose(v, m, request, nprobe)?;
    }
    let chosen_slots: Vec<_> = chosen
        .iter()
        .map(|l| add_record(&mut b3, v, l, true))
        .collect();
    let f3 = b3.run(cache).await?;
    let view = tail_base.view(tail, &f3)?;
    let mut fetched: Vec<(u32, Record)> = Vec::with_capacity(chosen.len());
    for (l, slots) in chosen.iter().zip(&chosen_slots) {
        fetched.push((l.ordinal, take_record(&f3, slots)?));
    }

    // Per query, the candidates that can still make its top k, verified.
    // A record is `None` while its payload is still to be read (step 4).
    let mut lists: Vec<Vec<(Ranked, Option<Record>)>> =
        Vec::with_capacity(request.query_embeddings.len());
    for q in &request.query_embeddings {
        let coded_query = match &v.rotation {
            Some(rotation) => Some(
                Query::new(rotation, metric_of(distance), q)
                    .map_err(|e| SiltError::invalid(e.to_string()))?,
            ),
            None => None,
        };
        loop {
            let mut ranked = rank_tail(&view, q, distance, &matcher, base_count);
            let qn = norm(q);
            // A probed row counts when the filter's index admits it and the tail did not
            // replace it.
            let admitted =
                |ordinal: u32| candidates.admits(ordinal) && !view.changed.contains_key(&ordinal);
            for (&c, probed) in &clusters {
                match probed {
                    Probed::Exact(rows) => {
                        for (i, &ordinal) in rows.ordinals.iter().enumerate() {
                            if admitted(ordinal) {
                                let d = rows.distance(i, distance, q, qn);
                                ranked.push(Ranked::row(ordinal, d, 0.0, c, i));
                            }
                        }
                    }
                    Probed::Coded(rows) => {
                        let Some(cq) = &coded_query else { continue };
                        let estimates = estimate(&rows.codes, cq)
                            .map_err(|e| ReadError::Corrupt(format!("code block: {e}")))?;
                        for (i, e) in estimates.iter().enumerate() {
                            let ordinal = rows.ordinals[i];
                            if admitted(ordinal) {
                                ranked.push(Ranked::row(ordinal, e.distance, e.bound, c, i));
                            }
                        }
                    }
                }
            }
            for (j, (ordinal, r)) in fetched.iter().enumerate() {
                if !view.changed.contains_key(ordinal) {
                    ranked.push(Ranked {
                        distance: distance.compute(q, qn, &r.embedding),
                        bound: 0.0,
                        position: u64::from(*ordinal),
                        source: Source::Fetched(j),
                    });
                }
            }
            let kept = shortlist(ranked, request.n_results, |r| {
                Ok::<_, ReadError>(match r.source {
                    Source::Cluster(c, i) => {
                        let rec = match &clusters[&c] {
                            Probed::Exact(rows) => rows.payload(i)?.into_record(rows.vector(i)),
                            // Unfiltered: kept unverified, its payload read in step 4.
                            Probed::Coded(_) if light => return Ok(Some(None)),
                            // The vector comes with the re-rank's pages.
                            Probed::Coded(rows) => rows.payload(i)?.into_record(Vec::new()),
                        };
                        matcher.matches(&rec).then_some(Some(rec))
                    }
                    Source::Fetched(j) => {
                        let rec = &fetched[j].1;
                        matcher.matches(rec).then(|| Some(rec.clone()))
                    }
                    Source::Changed(o) => view.changed.get(&o).cloned().flatten().map(Some),
                    Source::Appended(j) => Some(Some(view.appended[j].clone())),
                })
            })?;
            // Verification can reject candidates: widen the search while results are short
            // and something is left to read (one more round trip each time).
            let short = kept.len() < request.n_results;
            if short && probing && clusters.len() < v.cluster_count() {
                let mut next: Vec<usize> = v
                    .nearest_clusters(q, clusters.len() + 2 * nprobe)?
                    .into_iter()
                    .filter(|c| !clusters.contains_key(c))
                    .collect();
                if next.is_empty() {
                    // The graph search found nothing new: take every cluster left, so the
                    // loop always makes progress.
                    next = (0..v.cluster_count())
                        .filter(|c| !clusters.contains_key(c))
                        .collect();
                }
                let mut b = Batch::default();
                let slots = add_clusters(&mut b, v, next.into_iter(), light);
                let f = b.run(cache).await?;
                for (c, slots) in slots {
                    clusters.insert(c, decode_probed(v, &f, &slots)?);
                }
                continue;
            }
            if short && !remaining.is_empty() {
                let rest = std::mem::take(&mut remaining);
                let mut b = Batch::default();
                let slots: Vec<_> = rest
                    .iter()
                    .map(|l| add_record(&mut b, v, l, true))
                    .collect();
                let f = b.run(cache).await?;
                for (l, s) in rest.iter().zip(&slots) {
                    fetched.push((l.ordinal, take_record(&f, s)?));
                }
                continue;
            }
            lists.push(kept);
            break;
        }
    }

    // Step 4: the pages of `vectors.bin` the shortlisted codes need, and the payload sections
    // of the clusters unverified candidates come from, for every query at once. Whole
    // sections, not single payloads: like the pages, their cache keys do not depend on the
    // query, so a warm collection answers any query from memory (per-candidate payloads read
    // 1% fewer bytes cold and kept missing on every new query).
    let mut b4 = Batch::default();
    let mut pages: HashMap<(usize, usize), usize> = HashMap::new();
    let mut sections: HashMap<usize, usize> = HashMap::new();
    for (r, rec) in lists.iter().flatten() {
        if let Source::Cluster(c, i) = r.source {
            if let Probed::Coded(rows) = &clusters[&c] {
                let page = rows.page_of(i);
                pages
                    .entry((c, page))
                    .or_insert_with(|| b4.add(v.range(VECTORS_FILE, rows.page_range(page))));
                if rec.is_none() {
                    let at = v.head.clusters[c].offset;
                    let section = rows.payload_section();
                    sections.entry(c).or_insert_with(|| {
                        b4.add(v.range(CLUSTERS_FILE, at + section.start..at + section.end))
                    });
                }
            }
        }
    }
    let f4 = b4.run(cache).await?;
    for (c, slot) in &sections {
        if let Some(Probed::Coded(rows)) = clusters.get_mut(c) {
            rows.attach_payloads(f4[*slot].clone())
                .map_err(ReadError::from)?;
        }
    }
    let mut out = Vec::with_capacity(lists.len());
    for (q, list) in request.query_embeddings.iter().zip(lists) {
        let qn = norm(q);
        let mut exact = Vec::with_capacity(list.len());
        for (mut r, rec) in list {
            let mut rec = match (rec, r.source) {
                (Some(rec), _) => rec,
                (None, Source::Cluster(c, i)) => match &clusters[&c] {
                    Probed::Coded(rows) => rows
                        .payload(i)
                        .map_err(ReadError::from)?
                        .into_record(Vec::new()),
                    Probed::Exact(rows) => rows
                        .payload(i)
                        .map_err(ReadError::from)?
                        .into_record(rows.vector(i)),
                },
                (None, _) => return Err(ReadError::Corrupt("payload not read".into()).into()),
            };
            if let Source::Cluster(c, i) = r.source {
                if let Probed::Coded(rows) = &clusters[&c] {
                    let page = &f4[pages[&(c, rows.page_of(i))]];
                    let bytes = rows.vector_in_page(page, i).map_err(ReadError::from)?;
                    r.distance = distance.compute_le(q, qn, bytes);
                    rec.embedding = f32s_from_le(bytes);
                }
            }
            exact.push((r, rec));
        }
        exact.sort_by(|(a, _), (b, _)| order(a, b));
        exact.truncate(request.n_results);
        out.push(
            exact
                .into_iter()
                .map(|(r, rec)| Scored {
                    record: project(&rec, request.include),
                    distance: r.distance,
                })
                .collect(),
        );
    }
    Ok(out)
}

/// Nearest first, ties in collection order.
fn order(a: &Ranked, b: &Ranked) -> Ordering {
    a.distance
        .partial_cmp(&b.distance)
        .unwrap_or(Ordering::Equal)
        .then(a.position.cmp(&b.position))
}

fn check_dimension(expected: Option<usize>, request: &KnnRequest) -> SiltResult<()> {
    let Some(expected) = expected.filter(|&d| d > 0) else {
        return Ok(());
    };
    for q in &request.query_embeddings {
        if q.len() != expected {
            return Err(SiltError::invalid(format!(
                "Collection expecting embedding with dimension of {expected}, got {}",
                q.len()
            )));
        }
    }
    Ok(())
}

/// The candidates to read now, and the rest (read only if verification leaves results short).
fn choose(
    v: &OpenedVersion,
    m: &std::collections::BTreeMap<u32, Loc>,
    request: &KnnRequest,
    nprobe: usize,
) -> Result<(Vec<Loc>, Vec<Loc>), ReadError> {
    let per_candidate = v.head.dimension() * 4 + 128;
    let sparse = (m.len() as u64) * u64::from(SPARSE_SHARE) <= v.head.record_count();
    if (sparse && m.len() * per_candidate <= EXACT_CANDIDATE_BYTES) || v.cluster_count() <= 1 {
        return Ok((m.values().copied().collect(), Vec::new()));
    }
    let mut by_cluster: HashMap<usize, Vec<Loc>> = HashMap::new();
    for l in m.values() {
        if let Some(c) = v.head.cluster_of(l.payload_offset) {
            by_cluster.entry(c).or_default().push(*l);
        }
    }
    let enough = (request.n_results * CANDIDATES_PER_RESULT).max(MIN_FILTERED_CANDIDATES);
    let mut taken: HashSet<usize> = HashSet::new();
    for q in &request.query_embeddings {
        let mut seen = 0;
        for (walked, c) in v
            .nearest_clusters(q, v.cluster_count())?
            .into_iter()
            .enumerate()
        {
            // Half again the clusters of an unfiltered probe: the nearest matches of a filter
            // are on average farther than the nearest records.
            if walked >= nprobe + nprobe / 2 && seen >= enough {
                break;
            }
            if let Some(locs) = by_cluster.get(&c) {
                seen += locs.len();
                taken.insert(c);
            }
        }
    }
    let (mut now, mut later) = (Vec::new(), Vec::new());
    for (c, locs) in by_cluster {
        if taken.contains(&c) {
            now.extend(locs);
        } else {
            later.extend(locs);
        }
    }
    Ok((now, later))
}

/// Tail records (replacements of base records and new ones) that match, scored exactly.
fn rank_tail(
    view: &TailView,
    q: &[f32],
    distance: Distance,
    matcher: &Matcher<'_>,
    base_count: u64,
) -> Vec<Ranked> {
    let qn = norm(q);
    let mut out = Vec::new();
    for (&o, change) in &view.changed {
        if let Some(r) = change {
            if matcher.matches(r) && r.embedding.len() == q.len() {
                out.push(Ranked {
                    distance: distance.compute(q, qn, &r.embedding),
                    bound: 0.0,
                    position: u64::from(o),
                    source: Source::Changed(o),
                });
            }
        }
    }
    for (j, r) in view.appended.iter().enumerate() {
        if matcher.matches(r) && r.embedding.len() == q.len() {
            out.push(Ranked {
                distance: distance.compute(q, qn, &r.embedding),
                bound: 0.0,
                position: base_count + j as u64,
                source: Source::Appended(j),
            });
        }
    }
    out
}

/// Best first, ties in collection order; `resolve` gives the record of a candidate, or `None`
/// when verification rejects it.
fn finish(
    mut ranked: Vec<Ranked>,
    request: &KnnRequest,
    mut resolve: impl FnMut(&Ranked) -> Result<Option<Record>, ReadError>,
) -> Result<Vec<Scored>, ReadError> {
    let mut out = Vec::with_capacity(request.n_results);
    // Only the best few are put in order: a window twice the answer, doubled each time
    // verification rejects enough of it. Sorting every candidate cost more than scoring them.
    let (mut start, mut window) = (0, (request.n_results * 2).max(16));
    while start < ranked.len() && out.len() < request.n_results {
        let end = (start + window).min(ranked.len());
        if end < ranked.len() {
            ranked[start..].select_nth_unstable_by(end - start - 1, order);
        }
        ranked[start..end].sort_by(order);
        for r in &ranked[start..end] {
            if out.len() >= request.n_results {
                break;
            }
            if let Some(rec) = resolve(r)? {
                out.push(Scored {
                    record: project(&rec, request.include),
                    distance: r.distance,
                });
            }
        }
        (start, window) = (end, window * 2);
    }
    Ok(out)
}
