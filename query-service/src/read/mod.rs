//! Reading a collection: its current version through the range cache, merged with the log tail.
//!
//! A query proceeds in steps, each ONE `RangeCache::fetch` of everything it can know it needs:
//! 1. the version's head (skipped while the version is open in memory);
//! 2. index blocks (ids the tail touched, metadata values the filter names) and, when the filter
//!    cannot narrow by index, the probed clusters;
//! 3. the records those lead to.
//!
//! So a cold query makes at most three sequential object-store round trips; a warm one none.
//! A `where_document` filter adds the text index's own reads before step 2 (tantivy opens its
//! files one after another), bounded in bytes but not in that count.
//! Extra steps happen only when verification rejects so many candidates that a page or a top-k
//! is not yet full (the index gives a superset; each record is checked itself).

mod candidates;
mod full_text;
mod get;
mod knn;
mod opened;
mod shortlist;
mod sparse;
mod text;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use silt_common::codec::DecodeError;
use silt_common::materialize::Overlay;
use silt_common::record::{LogEntry, Record};
use silt_common::{ErrorKind, SiltError};
use silt_index::format::{
    decode_block, decode_payload, f32s_from_le, BlockEntry, Loc, CLUSTERS_FILE, IDS_FILE,
    META_FILE, TEXT_FILE,
};

pub(crate) use candidates::Candidates;
pub(crate) use full_text::full_text;
pub(crate) use get::execute_get;
pub(crate) use knn::execute_knn;
pub use opened::{OpenedVersion, OpenedVersions};
pub(crate) use sparse::{execute_sparse_knn, SparseQuery};

use crate::range_cache::{CacheError, RangeCache, RangeRequest};
use crate::request::Filters;
use candidates::{blocks_needed, estimated_matches, evaluate, is_selective, BlockId};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Cache(#[from] CacheError),
    #[error("index version is corrupt: {0}")]
    Corrupt(String),
}

impl From<DecodeError> for ReadError {
    fn from(e: DecodeError) -> Self {
        ReadError::Corrupt(e.to_string())
    }
}

impl From<ReadError> for SiltError {
    fn from(e: ReadError) -> Self {
        let kind = match &e {
            ReadError::Cache(CacheError::Store(_)) => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        SiltError::new(kind, format!("reading index version: {e}")).with_source(e)
    }
}

/// The requests of one step, fetched together.
#[derive(Default)]
pub(crate) struct Batch {
    requests: Vec<RangeRequest>,
}

impl Batch {
    pub fn add(&mut self, r: RangeRequest) -> usize {
        self.requests.push(r);
        self.requests.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub async fn run(self, cache: &RangeCache) -> Result<Vec<Bytes>, ReadError> {
        if self.requests.is_empty() {
            return Ok(Vec::new());
        }
        Ok(cache.fetch(&self.requests).await?)
    }
}

/// A record to be read: its vector (if wanted) and payload.
pub(crate) struct RecordSlots {
    vector: Option<usize>,
    payload: usize,
}

pub(crate) fn add_record(
    batch: &mut Batch,
    v: &OpenedVersion,
    loc: &Loc,
    with_vector: bool,
) -> RecordSlots {
    let dim_bytes = (v.head.dimension() * 4) as u64;
    RecordSlots {
        vector: with_vector.then(|| {
            batch.add(v.range(
                v.head.manifest.vectors_file(),
                loc.vector_offset..loc.vector_offset + dim_bytes,
            ))
        }),
        payload: batch.add(v.range(
            CLUSTERS_FILE,
            loc.payload_offset..loc.payload_offset + u64::from(loc.payload_len),
        )),
    }
}

pub(crate) fn take_record(fetched: &[Bytes], slots: &RecordSlots) -> Result<Record, ReadError> {
    let payload = decode_payload(&fetched[slots.payload])?;
    let embedding = slots
        .vector
        .map_or_else(Vec::new, |i| f32s_from_le(&fetched[i]));
    Ok(payload.into_record(embedding))
}

/// The index lookups of step 2 for one query: id blocks and metadata blocks.
#[derive(Default)]
pub(crate) struct Lookups {
    id_blocks: Vec<(usize, usize)>,
    meta_blocks: Vec<(BlockId, usize)>,
}

impl Lookups {
    pub fn plan(
        batch: &mut Batch,
        v: &OpenedVersion,
        ids: &BTreeSet<&str>,
        filters: &Filters,
    ) -> Lookups {
        let mut needed_ids = BTreeSet::new();
        // Id blocks are sorted and disjoint: the only block that can hold an id is the first
        // whose last key is not below it.
        let blocks = &v.head.id_blocks;
        for id in ids {
            let key = id.as_bytes();
            let i = blocks.partition_point(|b| b.last.as_slice() < key);
            if blocks
                .get(i)
                .is_some_and(|b| b.overlaps(Some(key), Some(key)))
            {
                needed_ids.insert(i);
            }
        }
        let id_blocks = needed_ids
            .into_iter()
            .map(|i| {
                let b = &v.head.id_blocks[i];
                let slot = batch.add(v.range(IDS_FILE, b.offset..b.offset + u64::from(b.len)));
                (i, slot)
            })
            .collect();
        let mut needed_meta = BTreeSet::new();
        if let Some(w) = &filters.r#where {
            blocks_needed(&v.head, w, &mut needed_meta);
        }
        let meta_blocks = needed_meta
            .into_iter()
            .map(|(k, j)| {
                let b = &v.head.meta[k].blocks[j];
                let slot = batch.add(v.range(META_FILE, b.offset..b.offset + u64::from(b.len)));
                ((k, j), slot)
            })
            .collect();
        Lookups {
            id_blocks,
            meta_blocks,
        }
    }

    /// Locations of the given ids that the version holds.
    pub fn id_locations(
        &self,
        fetched: &[Bytes],
        ids: &BTreeSet<&str>,
    ) -> Result<HashMap<String, Loc>, ReadError> {
        let mut out = HashMap::new();
        for (_, slot) in &self.id_blocks {
            for e in decode_block(&fetched[*slot])? {
                if let Ok(id) = std::str::from_utf8(&e.key) {
                    if ids.contains(id) {
                        out.insert(id.to_string(), e.loc);
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn meta_blocks(
        &self,
        fetched: &[Bytes],
    ) -> Result<HashMap<BlockId, Vec<BlockEntry>>, ReadError> {
        self.meta_blocks
            .iter()
            .map(|(id, slot)| Ok((*id, decode_block(&fetched[*slot])?)))
            .collect()
    }
}

/// Candidates from every index a filter can use; `text` is the where_document narrowing, found
/// before step 2 (`text_candidates`).
pub(crate) fn filter_candidates(
    v: &OpenedVersion,
    filters: &Filters,
    meta: &HashMap<BlockId, Vec<BlockEntry>>,
    id_locs: &HashMap<String, Loc>,
    text: Candidates,
) -> Candidates {
    let mut c = text;
    if let Some(w) = &filters.r#where {
        c = c.and(evaluate(&v.head, w, meta));
    }
    if let Some(ids) = &filters.ids {
        let only = ids
            .iter()
            .filter_map(|id| id_locs.get(id))
            .map(|l| (l.ordinal, *l))
            .collect();
        c = c.and(Candidates::Only(only));
    }
    c
}

/// Whether the filter will narrow to an explicit set before reading records.
pub(crate) fn selective(filters: &Filters, text: &Candidates) -> bool {
    filters.ids.is_some()
        || filters.r#where.as_ref().is_some_and(is_selective)
        || matches!(text, Candidates::Only(_))
}

/// The where_document narrowing from the version's text index (its own reads, on a blocking
/// thread, since tantivy reads synchronously).
pub(crate) async fn text_candidates(
    cache: &RangeCache,
    v: &Arc<OpenedVersion>,
    filters: &Filters,
) -> Result<Candidates, ReadError> {
    let Some(wd) = filters.where_document.clone() else {
        return Ok(Candidates::All);
    };
    let Some(text) = open_text(cache, v).await? else {
        // No record of the version has a document: a positive test matches none of them.
        return Ok(if wd.matches(None) {
            Candidates::All
        } else {
            Candidates::none()
        });
    };
    text::run_blocking("text search", move || text.candidates(&wd)).await
}

pub(crate) async fn open_text(
    cache: &RangeCache,
    v: &Arc<OpenedVersion>,
) -> Result<Option<Arc<text::TextIndex>>, ReadError> {
    let opened = v
        .text
        .get_or_try_init(|| async {
            if v.head.text.is_empty() {
                return Ok::<_, ReadError>(None);
            }
            let size = v.head.manifest.file_size(TEXT_FILE).unwrap_or(0);
            let (path, base) = v.locate(TEXT_FILE);
            let (cache, files) = (cache.clone(), v.head.text.clone());
            let runtime = tokio::runtime::Handle::current();
            let index = text::run_blocking("text open", move || {
                text::TextIndex::open(cache, path, base, size, &files, runtime)
            })
            .await?;
            Ok(Some(Arc::new(index)))
        })
        .await?;
    Ok(opened.clone())
}

/// The log tail applied over the version: which base records it replaced or deleted (by
/// ordinal), and which records it added.
pub(crate) struct TailView {
    pub changed: HashMap<u32, Option<Record>>,
    pub appended: Vec<Record>,
}

impl TailView {
    pub fn build(tail: &[LogEntry], base: &HashMap<String, (Loc, Record)>) -> TailView {
        let overlay = Overlay::build(|id| base.get(id).map(|(_, r)| r), tail);
        let mut changed = HashMap::new();
        for (id, change) in overlay.base_changes() {
            if let Some((loc, _)) = base.get(id) {
                changed.insert(loc.ordinal, change.cloned());
            }
        }
        TailView {
            changed,
            appended: overlay.appended().cloned().collect(),
        }
    }
}

/// Ids the tail names, which step 2 looks up in the version.
pub(crate) fn tail_ids(tail: &[LogEntry]) -> BTreeSet<&str> {
    tail.iter().map(|e| e.record.id.as_str()).collect()
}

/// Ids step 2 looks up: the tail's, and those an ids filter names.
pub(crate) fn lookup_ids<'a>(tids: &BTreeSet<&'a str>, filters: &'a Filters) -> BTreeSet<&'a str> {
    let mut ids = tids.clone();
    if let Some(wanted) = &filters.ids {
        ids.extend(wanted.iter().map(String::as_str));
    }
    ids
}

/// The version's records that the tail names, read in step 3 so the tail can be applied.
pub(crate) struct TailBase(Vec<(String, Loc, RecordSlots)>);

impl TailBase {
    pub fn plan(
        batch: &mut Batch,
        v: &OpenedVersion,
        tids: &BTreeSet<&str>,
        id_locs: &HashMap<String, Loc>,
    ) -> TailBase {
        TailBase(
            tids.iter()
                .filter_map(|id| id_locs.get(*id).map(|l| (id.to_string(), *l)))
                .map(|(id, l)| {
                    let slots = add_record(batch, v, &l, true);
                    (id, l, slots)
                })
                .collect(),
        )
    }

    pub fn view(&self, tail: &[LogEntry], fetched: &[Bytes]) -> Result<TailView, ReadError> {
        let mut base: HashMap<String, (Loc, Record)> = HashMap::new();
        for (id, loc, slots) in &self.0 {
            base.insert(id.clone(), (*loc, take_record(fetched, slots)?));
        }
        Ok(TailView::build(tail, &base))
    }
}

/// Records in version + tail. Counting needs only which ids the version holds, so it reads the
/// id blocks the tail names and no record.
pub(crate) async fn count(
    cache: &RangeCache,
    version: Option<&Arc<OpenedVersion>>,
    tail: &[LogEntry],
) -> Result<u64, SiltError> {
    let Some(v) = version.filter(|v| v.head.record_count() > 0) else {
        return Ok(TailView::build(tail, &HashMap::new()).appended.len() as u64);
    };
    let tids = tail_ids(tail);
    let mut b = Batch::default();
    let lookups = Lookups::plan(&mut b, v, &tids, &Filters::default());
    let f = b.run(cache).await?;
    let base: HashMap<String, (Loc, Record)> = lookups
        .id_locations(&f, &tids)?
        .into_iter()
        .map(|(id, loc)| {
            let stand_in = Record {
                id: id.clone(),
                embedding: Vec::new(),
                document: None,
                metadata: Default::default(),
                uri: None,
            };
            (id, (loc, stand_in))
        })
        .collect();
    let view = TailView::build(tail, &base);
    let deleted = view.changed.values().filter(|c| c.is_none()).count() as u64;
    Ok(v.head.record_count() - deleted + view.appended.len() as u64)
}

/// BM25 ranking of the version's documents, best first, leaving out records the tail deleted or
/// replaced. The tail itself is not ranked: this is the full-text half of a hybrid search.
pub(crate) async fn bm25(
    cache: &RangeCache,
    version: Option<&Arc<OpenedVersion>>,
    tail: &[LogEntry],
    text: &str,
    limit: usize,
) -> Result<Vec<(Record, f32)>, SiltError> {
    let Some(v) = version else {
        return Ok(Vec::new());
    };
    let Some(index) = open_text(cache, v).await? else {
        return Ok(Vec::new());
    };
    let touched: BTreeSet<&str> = tail_ids(tail);
    let query = text.to_string();
    // Ask for more than `limit`: some may be overridden by the tail.
    let want = limit + touched.len();
    let ranked = text::run_blocking("text search", move || index.bm25(&query, want)).await?;
    let mut b = Batch::default();
    let slots: Vec<_> = ranked
        .iter()
        .map(|(score, loc)| (*score, add_record(&mut b, v, loc, false)))
        .collect();
    let f = b.run(cache).await?;
    let mut out = Vec::with_capacity(limit);
    for (score, s) in &slots {
        let r = take_record(&f, s)?;
        if !touched.contains(r.id.as_str()) && out.len() < limit {
            out.push((r, *score));
        }
    }
    Ok(out)
}
