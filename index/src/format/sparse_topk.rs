//! Exact top-k by dot product over posting lists, with MaxScore pruning.
//!
//! Lists are ordered by their upper bound (query weight × the list's extreme weight). Once k
//! records are held, the lists whose bounds together cannot beat the k-th score are
//! "non-essential": a record found only in them cannot enter, so records are enumerated from
//! the essential lists alone, and the non-essential ones are only probed for a record that
//! might still make it — skipping whole blocks by their last ordinal, and giving up on the
//! record as soon as the bound left (list bounds, refined by the block's own bound) cannot lift
//! it above the k-th score. Nothing that could enter the answer is skipped, so the result is
//! the brute-force one. Only records sharing a dimension with the query are scored.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::sparse::PostingList;

/// One query dimension: its weight and the dimension's posting list.
pub struct Term<'a> {
    pub weight: f32,
    pub list: &'a PostingList,
}

/// A scored record; `Ord` puts the worse one greater, so a max-heap keeps the worst on top.
#[derive(Debug, Clone, Copy)]
struct Held {
    score: f64,
    ordinal: u32,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.ordinal.cmp(&other.ordinal))
    }
}

/// The most a weight in `[min, max]` can add when multiplied by `q` (never below 0: a record
/// may lack the dimension altogether).
fn bound(q: f32, max: f32, min: f32) -> f64 {
    let extreme = if q >= 0.0 { max } else { min };
    (f64::from(q) * f64::from(extreme)).max(0.0)
}

struct Cursor<'a> {
    weight: f64,
    list: &'a PostingList,
    block: usize,
    pos: usize,
    bound: f64,
}

impl Cursor<'_> {
    fn current(&self) -> Option<u32> {
        self.list.ordinals.get(self.pos).copied()
    }

    /// Moves to the first posting at or after `ordinal`, skipping whole blocks.
    fn seek(&mut self, ordinal: u32) {
        let blocks = &self.list.blocks;
        while self.block < blocks.len() && blocks[self.block].last < ordinal {
            self.block += 1;
        }
        if self.block >= blocks.len() {
            self.pos = self.list.len();
            return;
        }
        let start = self.pos.max(blocks[self.block].start);
        let end = self.list.block_end(self.block);
        self.pos = start + self.list.ordinals[start..end].partition_point(|&o| o < ordinal);
    }

    fn advance(&mut self) {
        self.pos += 1;
        if self.block < self.list.blocks.len() && self.pos >= self.list.block_end(self.block) {
            self.block += 1;
        }
    }

    /// The bound of the block the cursor is in.
    fn block_bound(&self, q: f32) -> f64 {
        self.list
            .blocks
            .get(self.block)
            .map_or(0.0, |b| bound(q, b.max, b.min))
    }
}

/// The `k` records with the largest dot product with the query among those `admit` accepts,
/// best first (ties: lower ordinal first), with their scores.
pub fn top_k(terms: &[Term<'_>], k: usize, admit: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut cursors: Vec<(f32, Cursor<'_>)> = terms
        .iter()
        .filter(|t| !t.list.is_empty())
        .map(|t| {
            let max = t.list.blocks.iter().map(|b| b.max).fold(f32::MIN, f32::max);
            let min = t.list.blocks.iter().map(|b| b.min).fold(f32::MAX, f32::min);
            let c = Cursor {
                weight: f64::from(t.weight),
                list: t.list,
                block: 0,
                pos: 0,
                bound: bound(t.weight, max, min),
            };
            (t.weight, c)
        })
        .collect();
    cursors.sort_by(|a, b| a.1.bound.total_cmp(&b.1.bound));
    // prefix[i]: what lists 0..i can add together.
    let mut prefix = vec![0.0f64; cursors.len() + 1];
    for (i, (_, c)) in cursors.iter().enumerate() {
        prefix[i + 1] = prefix[i] + c.bound;
    }
    let mut heap: BinaryHeap<Held> = BinaryHeap::with_capacity(k + 1);
    // Lists before `essential` cannot lift a record found only in them past the k-th score.
    let mut essential = 0;
    loop {
        let threshold = (heap.len() == k).then(|| heap.peek().map_or(f64::MIN, |h| h.score));
        if let Some(t) = threshold {
            while essential < cursors.len() && prefix[essential + 1] <= t {
                essential += 1;
            }
        }
        let Some(d) = cursors[essential..]
            .iter()
            .filter_map(|(_, c)| c.current())
            .min()
        else {
            break;
        };
        let mut score = 0.0f64;
        for (_, c) in cursors[essential..].iter_mut() {
            if c.current() == Some(d) {
                score += c.weight * f64::from(c.list.weights[c.pos]);
                c.advance();
            }
        }
        if !admit(d) {
            continue;
        }
        // Ordinals only grow, so a record tying the k-th score never displaces it: it must
        // beat it strictly.
        let mut hopeless = false;
        for i in (0..essential).rev() {
            let Some(t) = threshold else { break };
            if score + prefix[i + 1] <= t {
                hopeless = true;
                break;
            }
            let (q, c) = &mut cursors[i];
            c.seek(d);
            if score + c.block_bound(*q) + prefix[i] <= t {
                hopeless = true;
                break;
            }
            if c.current() == Some(d) {
                score += c.weight * f64::from(c.list.weights[c.pos]);
            }
        }
        if hopeless {
            continue;
        }
        let held = Held { score, ordinal: d };
        if heap.len() < k {
            heap.push(held);
        } else if heap.peek().is_some_and(|worst| held < *worst) {
            heap.pop();
            heap.push(held);
        }
    }
    heap.into_sorted_vec()
        .into_iter()
        .map(|h| (h.ordinal, h.score as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// Every record's dot product, sorted: what `top_k` must equal.
    fn brute_force(
        query: &[(f32, &PostingList)],
        k: usize,
        admit: impl Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let mut scores: BTreeMap<u32, f64> = BTreeMap::new();
        for (q, list) in query {
            for (o, w) in list.ordinals.iter().zip(&list.weights) {
                *scores.entry(*o).or_default() += f64::from(*q) * f64::from(*w);
            }
        }
        let mut all: Vec<(u32, f64)> = scores.into_iter().filter(|(o, _)| admit(*o)).collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.into_iter()
            .take(k)
            .map(|(o, s)| (o, s as f32))
            .collect()
    }

    /// Weights are multiples of 1/8 so that every sum is exact in any order: the comparison is
    /// of the pruning, not of rounding.
    fn random_lists(
        rng: &mut StdRng,
        records: u32,
        dims: usize,
        negative: bool,
    ) -> Vec<PostingList> {
        (0..dims)
            .map(|_| {
                let density = rng.random_range(0.01..0.9);
                let lo = if negative { -40 } else { 0 };
                let mut postings: Vec<(u32, f32)> = Vec::new();
                for o in 0..records {
                    if rng.random_bool(density) {
                        postings.push((o, rng.random_range(lo..=80) as f32 / 8.0));
                    }
                }
                PostingList::from_postings(&postings)
            })
            .collect()
    }

    #[test]
    fn pruned_top_k_equals_brute_force() {
        let mut rng = StdRng::seed_from_u64(17);
        for case in 0..300 {
            let records = rng.random_range(1..2_000);
            let dims = rng.random_range(1..8);
            let lists = random_lists(&mut rng, records, dims, case % 3 == 0);
            let query: Vec<(f32, &PostingList)> = lists
                .iter()
                .map(|l| {
                    let q = rng.random_range(-8..=40) as f32 / 8.0;
                    (q, l)
                })
                .collect();
            let k = rng.random_range(1..50);
            let modulus = rng.random_range(1..5);
            let admit = |o: u32| o % modulus != 1;
            let terms: Vec<Term<'_>> = query
                .iter()
                .map(|(q, l)| Term {
                    weight: *q,
                    list: l,
                })
                .collect();
            let got = top_k(&terms, k, admit);
            let want = brute_force(&query, k, admit);
            assert_eq!(
                got, want,
                "case {case}: {records} records, {dims} dims, k {k}"
            );
        }
    }

    #[test]
    fn nothing_shared_nothing_found() {
        let list = PostingList::from_postings(&[(3, 1.0)]);
        let terms = [Term {
            weight: 2.0,
            list: &list,
        }];
        assert_eq!(top_k(&terms, 5, |_| true), vec![(3, 2.0)]);
        assert!(top_k(&terms, 5, |o| o != 3).is_empty());
        assert!(top_k(&[], 5, |_| true).is_empty());
    }
}
