//! Exact top k from estimates: candidates are taken in order of their lower bound and each is
//! re-ranked with its exact distance, until the next lower bound cannot beat the k-th exact
//! distance found. When every bound holds the answer is exactly the exhaustive one, and only
//! the candidates whose interval reaches below the final k-th distance are re-ranked.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::estimate::Estimate;

#[derive(Debug, Clone, PartialEq)]
pub struct Reranked {
    /// (candidate index, exact distance), nearest first.
    pub top: Vec<(usize, f32)>,
    /// How many candidates needed their exact distance.
    pub reranked: usize,
}

#[derive(PartialEq)]
struct Entry(f32, usize);

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// `exact(i)` gives candidate i's exact distance (a vector read from the full-precision file).
pub fn rerank(estimates: &[Estimate], k: usize, mut exact: impl FnMut(usize) -> f32) -> Reranked {
    if k == 0 || estimates.is_empty() {
        return Reranked {
            top: Vec::new(),
            reranked: 0,
        };
    }
    // If the bounds hold, k candidates are within the k-th smallest upper bound, so nothing
    // whose lower bound is beyond it can make the top k: one linear selection leaves only the
    // few candidates worth ordering (sorting every estimate would cost more than the scan).
    let mut uppers: Vec<f32> = estimates.iter().map(Estimate::upper).collect();
    let reach = if k < uppers.len() {
        *uppers.select_nth_unstable_by(k - 1, f32::total_cmp).1
    } else {
        f32::INFINITY
    };
    let mut order: Vec<usize> = (0..estimates.len())
        .filter(|&i| estimates[i].lower() <= reach)
        .collect();
    order.sort_by(|&a, &b| estimates[a].lower().total_cmp(&estimates[b].lower()));
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(k + 1);
    let mut reranked = 0;
    for i in order {
        if heap.len() == k && heap.peek().is_some_and(|w| estimates[i].lower() > w.0) {
            break;
        }
        reranked += 1;
        heap.push(Entry(exact(i), i));
        if heap.len() > k {
            heap.pop();
        }
    }
    let mut top: Vec<(usize, f32)> = heap.into_iter().map(|Entry(d, i)| (i, d)).collect();
    top.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    Reranked { top, reranked }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_once_no_lower_bound_can_reach_the_top_k() {
        let exact = [5.0, 1.0, 3.0, 2.0, 9.0];
        let est: Vec<Estimate> = exact
            .iter()
            .map(|d| Estimate {
                distance: d + 0.1,
                bound: 0.5,
            })
            .collect();
        let r = rerank(&est, 2, |i| exact[i]);
        assert_eq!(r.top, vec![(1, 1.0), (3, 2.0)]);
        // Lower bounds 0.6, 1.6, 2.6 (k-th exact is 2.0 after two): the third is not re-ranked.
        assert_eq!(r.reranked, 2);
        assert!(rerank(&est, 0, |i| exact[i]).top.is_empty());
        assert_eq!(rerank(&est, 9, |i| exact[i]).top.len(), 5);
    }
}
