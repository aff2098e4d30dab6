//! `get`: records in collection order (version ordinals, then records new in the tail), filtered,
//! then paged. A narrowing filter walks its candidates in ordinal order; otherwise the walk goes
//! through `locations.bin` window by window, so a page near the start never reads the rest.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use silt_common::record::{LogEntry, Record};
use silt_common::SiltResult;
use silt_index::format::{Loc, LOCATIONS_FILE};

use super::{
    add_record, filter_candidates, lookup_ids, selective, tail_ids, take_record, text_candidates,
    Batch, Candidates, Lookups, OpenedVersion, ReadError, TailBase, TailView,
};
use crate::execute::{project, Matcher};
use crate::range_cache::RangeCache;
use crate::GetRequest;

/// Extra records read beyond what a page needs, so a few rejected candidates cost no extra trip.
const SLACK: usize = 32;
const MIN_FILTERED_WINDOW: usize = 256;

/// Collects matches in order, keeping those inside the requested page.
struct Page<'a> {
    request: &'a GetRequest,
    matcher: &'a Matcher<'a>,
    seen: usize,
    out: Vec<Record>,
}

impl Page<'_> {
    fn full(&self) -> bool {
        self.request
            .limit
            .is_some_and(|l| self.seen >= self.request.offset.saturating_add(l))
    }

    /// Matches still wanted (`usize::MAX`: all).
    fn wanted(&self) -> usize {
        self.request.limit.map_or(usize::MAX, |l| {
            (self.request.offset.saturating_add(l)).saturating_sub(self.seen)
        })
    }

    fn offer(&mut self, r: &Record) {
        if self.full() || !self.matcher.matches(r) {
            return;
        }
        if self.seen >= self.request.offset {
            self.out.push(project(r, self.request.include));
        }
        self.seen += 1;
    }

    /// A match known without reading it (no filter): counted, kept only if inside the page.
    fn skip_matches(&mut self, n: usize) {
        self.seen += n;
    }
}

pub(crate) async fn execute_get(
    cache: &RangeCache,
    version: Option<&Arc<OpenedVersion>>,
    tail: &[LogEntry],
    request: &GetRequest,
) -> SiltResult<Vec<Record>> {
    let matcher = Matcher::new(&request.filters);
    let mut page = Page {
        request,
        matcher: &matcher,
        seen: 0,
        out: Vec::new(),
    };
    let Some(v) = version.filter(|v| v.head.record_count() > 0) else {
        let view = TailView::build(tail, &HashMap::new());
        view.appended.iter().for_each(|r| page.offer(r));
        return Ok(page.out);
    };
    let n = v.head.record_count() as u32;
    let with_vectors = request.include.embeddings;
    let text = text_candidates(cache, v, &request.filters).await?;
    let narrowed = selective(&request.filters, &text);
    let unfiltered = request.filters.r#where.is_none()
        && request.filters.where_document.is_none()
        && request.filters.ids.is_none();

    // Step 2: index blocks; without a narrowing filter, the first window of locations.
    let tids = tail_ids(tail);
    let lookup_ids = lookup_ids(&tids, &request.filters);
    let mut b2 = Batch::default();
    let lookups = Lookups::plan(&mut b2, v, &lookup_ids, &request.filters);
    let mut first_window: Option<(u32, u32, usize)> = None;
    if !narrowed {
        // Unfiltered, the page starts at `offset` unless the tail deleted records before it.
        let start = if unfiltered {
            request.offset.min(n as usize) as u32
        } else {
            0
        };
        let end = window_end(start, n, &page, unfiltered);
        first_window = Some((start, end, add_locations(&mut b2, v, start, end)));
    }
    let f2 = b2.run(cache).await?;
    let id_locs = lookups.id_locations(&f2, &lookup_ids)?;
    let meta = lookups.meta_blocks(&f2)?;
    let candidates = filter_candidates(v, &request.filters, &meta, &id_locs, text);

    // Step 3 (and the first window's records): the base records the tail touched.
    let mut b3 = Batch::default();
    let tail_base = TailBase::plan(&mut b3, v, &tids, &id_locs);

    // The first records the page needs ride along in step 3.
    let (order, mut window_locs): (Vec<u32>, Vec<Loc>) = match (&candidates, &first_window) {
        (Candidates::Only(m), _) => {
            let take = page.wanted().saturating_add(SLACK).min(m.len());
            (
                m.keys().copied().collect(),
                m.values().take(take).copied().collect(),
            )
        }
        (_, Some((_, _, slot))) => (Vec::new(), decode_locations(&f2[*slot])?),
        (_, None) => return Err(ReadError::Corrupt("no first window planned".into()).into()),
    };
    let early: Vec<_> = window_locs
        .iter()
        .filter(|l| candidates.admits(l.ordinal))
        .map(|l| (l.ordinal, add_record(&mut b3, v, l, with_vectors)))
        .collect();
    let f3 = b3.run(cache).await?;
    let view = tail_base.view(tail, &f3)?;
    let mut fetched: HashMap<u32, Record> = HashMap::new();
    for (o, s) in &early {
        fetched.insert(*o, take_record(&f3, s)?);
    }

    match &candidates {
        Candidates::Only(m) => {
            // Candidates plus every base record the tail changed (its new form may match).
            let order: BTreeSet<u32> = order
                .into_iter()
                .chain(view.changed.keys().copied())
                .collect();
            let order: Vec<u32> = order.into_iter().collect();
            let mut at = 0;
            while at < order.len() && !page.full() {
                let take = page.wanted().saturating_add(SLACK).min(order.len() - at);
                let window = &order[at..at + take];
                at += take;
                let missing: Vec<Loc> = window
                    .iter()
                    .filter(|o| !view.changed.contains_key(o) && !fetched.contains_key(o))
                    .filter_map(|o| m.get(o).copied())
                    .collect();
                fetch_into(cache, v, &missing, with_vectors, &mut fetched).await?;
                for o in window {
                    offer_ordinal(&mut page, &view, &fetched, *o);
                }
            }
        }
        walk => {
            let (s0, _, _) = first_window.unwrap_or_default();
            if unfiltered {
                // Ordinals before `start` are matches unless the tail deleted them.
                let deleted_before = view
                    .changed
                    .iter()
                    .filter(|(o, c)| **o < s0 && c.is_none())
                    .count();
                page.skip_matches(s0 as usize - deleted_before);
            }
            let mut ws = s0;
            loop {
                let missing: Vec<Loc> = window_locs
                    .iter()
                    .filter(|l| {
                        walk.admits(l.ordinal)
                            && !view.changed.contains_key(&l.ordinal)
                            && !fetched.contains_key(&l.ordinal)
                    })
                    .copied()
                    .collect();
                fetch_into(cache, v, &missing, with_vectors, &mut fetched).await?;
                for o in ws..ws + window_locs.len() as u32 {
                    if walk.admits(o) || view.changed.contains_key(&o) {
                        offer_ordinal(&mut page, &view, &fetched, o);
                    }
                }
                let next = ws + window_locs.len() as u32;
                if page.full() || next >= n || window_locs.is_empty() {
                    break;
                }
                let end = window_end(next, n, &page, unfiltered);
                let mut b = Batch::default();
                let slot = add_locations(&mut b, v, next, end);
                let f = b.run(cache).await?;
                window_locs = decode_locations(&f[slot])?;
                ws = next;
            }
        }
    }
    view.appended.iter().for_each(|r| page.offer(r));
    Ok(page.out)
}

fn offer_ordinal(page: &mut Page<'_>, view: &TailView, fetched: &HashMap<u32, Record>, o: u32) {
    match view.changed.get(&o) {
        Some(Some(r)) => page.offer(r),
        Some(None) => {}
        None => {
            if let Some(r) = fetched.get(&o) {
                page.offer(r);
            }
        }
    }
}

/// Reads the given records in one round trip (none if there are none).
async fn fetch_into(
    cache: &RangeCache,
    v: &OpenedVersion,
    locs: &[Loc],
    with_vectors: bool,
    into: &mut HashMap<u32, Record>,
) -> Result<(), ReadError> {
    let mut b = Batch::default();
    let slots: Vec<_> = locs
        .iter()
        .map(|l| (l.ordinal, add_record(&mut b, v, l, with_vectors)))
        .collect();
    if b.is_empty() {
        return Ok(());
    }
    let f = b.run(cache).await?;
    for (o, s) in &slots {
        into.insert(*o, take_record(&f, s)?);
    }
    Ok(())
}

fn window_end(start: u32, n: u32, page: &Page<'_>, unfiltered: bool) -> u32 {
    let wanted = page.wanted().saturating_add(SLACK);
    let size = if unfiltered {
        wanted
    } else {
        wanted.saturating_mul(2).max(MIN_FILTERED_WINDOW)
    };
    (start as usize).saturating_add(size).min(n as usize) as u32
}

fn add_locations(batch: &mut Batch, v: &OpenedVersion, start: u32, end: u32) -> usize {
    let w = Loc::ENCODED_LEN as u64;
    batch.add(v.range(LOCATIONS_FILE, u64::from(start) * w..u64::from(end) * w))
}

fn decode_locations(b: &[u8]) -> Result<Vec<Loc>, ReadError> {
    b.chunks_exact(Loc::ENCODED_LEN)
        .map(|c| Loc::decode(c).ok_or_else(|| ReadError::Corrupt("bad location".into())))
        .collect()
}
