//! The log service's series: how many records this node holds that await compaction, and how
//! long the oldest of them has waited. Sampled once a second from the in-memory tails (records
//! carry no arrival time, so each tail's growth is noted as it is seen).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use metrics::{describe_gauge, gauge, Unit};
use silt_common::CollectionId;

pub const TAIL_RECORDS: &str = "silt_log_tail_records";
pub const TAIL_AGE: &str = "silt_log_tail_age_seconds";
pub const RESIDENT_COLLECTIONS: &str = "silt_log_resident_collections";

/// How often the tails are sampled: the resolution of the age.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(1);

pub fn describe() {
    describe_gauge!(
        TAIL_RECORDS,
        "Records held in this log node's tails that await compaction"
    );
    describe_gauge!(
        TAIL_AGE,
        Unit::Seconds,
        "How long the oldest record awaiting compaction on this log node has been in its tail (1 s resolution; a node that took a collection over counts from then)"
    );
    describe_gauge!(
        RESIDENT_COLLECTIONS,
        "Collections whose log state this node holds in memory"
    );
}

/// One collection's tail as a sample sees it: the offsets it spans.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TailSpan {
    pub records: usize,
    pub first: u64,
    pub last: u64,
}

#[derive(Default)]
struct Watched {
    records: usize,
    /// (last offset seen, when it was first seen), oldest first.
    growth: VecDeque<(u64, u64)>,
}

/// What the samples have seen of each tail.
#[derive(Default)]
pub(crate) struct TailWatch {
    tails: HashMap<CollectionId, Watched>,
}

impl TailWatch {
    /// One sample at `now_ms`. `None`: the tail was busy; its last figures stand.
    pub(crate) fn sample(&mut self, now_ms: u64, spans: Vec<(CollectionId, Option<TailSpan>)>) {
        let resident = spans.len();
        let mut kept = HashMap::with_capacity(spans.len());
        for (id, span) in spans {
            let mut watched = self.tails.remove(&id).unwrap_or_default();
            match span {
                Some(span) if span.records > 0 => {
                    if watched
                        .growth
                        .back()
                        .is_none_or(|&(last, _)| span.last > last)
                    {
                        watched.growth.push_back((span.last, now_ms));
                    }
                    // Growth whose records are all compacted no longer dates the tail.
                    while watched
                        .growth
                        .front()
                        .is_some_and(|&(last, _)| last < span.first)
                    {
                        watched.growth.pop_front();
                    }
                    watched.records = span.records;
                }
                Some(_) => continue,
                None => {}
            }
            kept.insert(id, watched);
        }
        self.tails = kept;
        let records: usize = self.tails.values().map(|w| w.records).sum();
        let oldest = self
            .tails
            .values()
            .filter_map(|w| w.growth.front().map(|&(_, at)| at))
            .min();
        let age_ms = oldest.map_or(0, |at| now_ms.saturating_sub(at));
        gauge!(TAIL_RECORDS).set(records as f64);
        gauge!(TAIL_AGE).set(age_ms as f64 / 1000.0);
        gauge!(RESIDENT_COLLECTIONS).set(resident as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(records: usize, first: u64, last: u64) -> Option<TailSpan> {
        Some(TailSpan {
            records,
            first,
            last,
        })
    }

    #[test]
    fn the_age_is_that_of_the_oldest_growth_not_yet_compacted() {
        let id = CollectionId::new_random();
        let mut watch = TailWatch::default();
        watch.sample(1_000, vec![(id, span(2, 1, 2))]);
        watch.sample(2_000, vec![(id, span(5, 1, 5))]);
        assert_eq!(watch.tails[&id].growth.front(), Some(&(2, 1_000)));
        // 1..=2 compacted: the tail now dates from when 5 was seen.
        watch.sample(3_000, vec![(id, span(3, 3, 5))]);
        assert_eq!(watch.tails[&id].growth.front(), Some(&(5, 2_000)));
        // Busy: the last figures stand.
        watch.sample(4_000, vec![(id, None)]);
        assert_eq!(watch.tails[&id].records, 3);
        // Fully compacted: forgotten.
        watch.sample(5_000, vec![(id, span(0, 6, 5))]);
        assert!(watch.tails.is_empty());
    }
}
