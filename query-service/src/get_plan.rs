//! How one step's missing ranges become object-store GETs. Ranges of a file closer than
//! `MERGE_GAP` are always read as one; past `GET_BUDGET` GETs in a step, the smallest remaining
//! gaps are read through too, as long as the bytes read through stay below an eighth of the
//! bytes asked for.
//! A GET costs a request fee and a connection's first-byte wait whatever its size, while bytes
//! within a region are free: a cold unfiltered query at 100k × 384 probes ~60 clusters
//! scattered over the file, and a few of their gaps are cheaper read than requested apart.
//! The bytes cap keeps a query whose candidates are spread thinly over a large file (a sparse
//! filter: a thousand ranges over 150 MB) from reading the file.

use std::ops::Range;

/// Ranges closer than this are fetched as one request.
pub(crate) const MERGE_GAP: u64 = 16 << 10;
/// GETs of one step past which gaps are merged by size, smallest first.
pub(crate) const GET_BUDGET: usize = 24;

/// The bytes read through gaps stay below the bytes asked for divided by this.
pub(crate) const READ_THROUGH_SHARE: u64 = 8;

/// A GET: its file, its byte range, and the requested ranges it serves (with their index).
pub(crate) type Span<'a, P> = (&'a P, Range<u64>, Vec<(Range<u64>, usize)>);

/// Plans the GETs for `ranges` (file, range, index), which must be sorted by file, then by
/// start. Every range is served by exactly one span.
pub(crate) fn plan<'a, P: PartialEq>(ranges: Vec<(&'a P, Range<u64>, usize)>) -> Vec<Span<'a, P>> {
    let mut spans: Vec<Span<'a, P>> = Vec::new();
    for (path, r, i) in ranges {
        match spans.last_mut() {
            Some((p, span, members)) if *p == path && r.start <= span.end + MERGE_GAP => {
                span.end = span.end.max(r.end);
                members.push((r, i));
            }
            _ => spans.push((path, r.clone(), vec![(r, i)])),
        }
    }
    if spans.len() <= GET_BUDGET {
        return spans;
    }
    let asked: u64 = spans
        .iter()
        .flat_map(|(_, _, members)| members.iter().map(|(r, _)| r.end - r.start))
        .sum();
    // Gap `g` lies between spans g and g + 1 of the same file.
    let mut gaps: Vec<(u64, usize)> = spans
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0].0 == w[1].0)
        .map(|(g, w)| (w[1].1.start.saturating_sub(w[0].1.end), g))
        .collect();
    gaps.sort_unstable();
    let mut merge = vec![false; spans.len()];
    let (mut count, mut extra) = (spans.len(), 0u64);
    for (gap, g) in gaps {
        if count <= GET_BUDGET || extra + gap > asked / READ_THROUGH_SHARE {
            break;
        }
        merge[g] = true;
        count -= 1;
        extra += gap;
    }
    let mut out: Vec<Span<'a, P>> = Vec::with_capacity(count);
    let mut join_next = false;
    for (s, next) in spans.into_iter().zip(merge) {
        match out.last_mut() {
            Some((_, span, members)) if join_next => {
                span.end = span.end.max(s.1.end);
                members.extend(s.2);
            }
            _ => out.push(s),
        }
        join_next = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(spans: &[Span<'_, &str>]) -> Vec<usize> {
        let mut all: Vec<usize> = spans
            .iter()
            .flat_map(|(_, span, members)| {
                members.iter().map(move |(r, i)| {
                    assert!(
                        span.start <= r.start && r.end <= span.end,
                        "{r:?} in {span:?}"
                    );
                    *i
                })
            })
            .collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn near_ranges_merge_and_far_ones_stay_apart_within_the_budget() {
        let (a, b) = ("a", "b");
        let ranges = vec![
            (&a, 0..100, 0),
            (&a, 100 + MERGE_GAP..200 + MERGE_GAP, 1),
            (&a, 1 << 30..(1 << 30) + 10, 2),
            (&b, 5..6, 3),
        ];
        let spans = plan(ranges);
        let shapes: Vec<(&str, Range<u64>)> = spans.iter().map(|s| (*s.0, s.1.clone())).collect();
        assert_eq!(
            shapes,
            vec![
                ("a", 0..200 + MERGE_GAP),
                ("a", 1 << 30..(1 << 30) + 10),
                ("b", 5..6)
            ]
        );
        assert_eq!(served(&spans), vec![0, 1, 2, 3]);
    }

    #[test]
    fn past_the_budget_the_smallest_gaps_are_read_through_within_a_share_of_the_bytes_asked() {
        let f = "f";
        // 40 ranges of 64 KiB; gaps grow with the index, the first few small.
        let mut ranges = Vec::new();
        let mut at = 0u64;
        for i in 0..40u64 {
            ranges.push((&f, at..at + (64 << 10), i as usize));
            at += (64 << 10) + MERGE_GAP + 1 + i * 256;
        }
        let spans = plan(ranges.clone());
        assert_eq!(spans.len(), GET_BUDGET);
        assert_eq!(served(&spans), (0..40).collect::<Vec<_>>());
        // The merged gaps are the smallest ones: the first ranges share a span.
        assert_eq!(spans[0].2.len(), 17);
        let asked: u64 = 40 * (64 << 10);
        let read: u64 = spans.iter().map(|s| s.1.end - s.1.start).sum();
        assert!(
            read <= asked + asked / READ_THROUGH_SHARE,
            "read {read} for {asked} asked"
        );

        // Far apart and small: merging would read far more than asked, so nothing merges.
        let thin: Vec<_> = (0..100u64)
            .map(|i| (&f, i << 24..(i << 24) + 100, i as usize))
            .collect();
        let spans = plan(thin);
        assert_eq!(spans.len(), 100);
        assert_eq!(served(&spans), (0..100).collect::<Vec<_>>());
    }
}
