//! Exact k-nearest-neighbour ground truth by brute force, on every core. Base rows are offered
//! in chunks (the generator streams them, so a 1M × 384 set never has to be in memory twice);
//! each query keeps its k best per set: the whole data, and each filter's matching rows.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use silt_common::distance::Distance;

/// A candidate, ordered by (distance, row): the heap's top is the worst kept.
#[derive(Clone, Copy, PartialEq)]
struct Candidate {
    distance: f32,
    row: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.row.cmp(&other.row))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct Best {
    k: usize,
    heap: BinaryHeap<Candidate>,
}

impl Best {
    fn offer(&mut self, c: Candidate) {
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if self.heap.peek().is_some_and(|worst| c < *worst) {
            self.heap.pop();
            self.heap.push(c);
        }
    }

    fn sorted_rows(self) -> Vec<u32> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|c| c.row)
            .collect()
    }
}

/// Rows of a chunk handled together per query: 256 × 384 f32 stay in a core's L2.
const TILE: usize = 256;

pub struct Truth {
    distance: Distance,
    dim: usize,
    /// Query vectors, unit length for cosine.
    queries: Vec<f32>,
    /// Per query: the best of the whole data, then of each filter's rows.
    best: Vec<Vec<Best>>,
    rows_seen: usize,
}

impl Truth {
    /// `queries` is row-major with `dim` columns; `filters` sets are kept besides the whole.
    pub fn new(queries: &[f32], dim: usize, k: usize, distance: Distance, filters: usize) -> Truth {
        let mut queries = queries.to_vec();
        if distance == Distance::Cosine {
            for q in queries.chunks_exact_mut(dim) {
                normalize(q);
            }
        }
        let best = queries
            .chunks_exact(dim)
            .map(|_| {
                (0..=filters)
                    .map(|_| Best {
                        k,
                        heap: BinaryHeap::with_capacity(k + 1),
                    })
                    .collect()
            })
            .collect();
        Truth {
            distance,
            dim,
            queries,
            best,
            rows_seen: 0,
        }
    }

    /// Offers the next base rows (row-major `vectors`); `matches[f][r]` says whether row `r` of
    /// this chunk matches filter `f`.
    pub fn offer(&mut self, vectors: &[f32], matches: &[Vec<bool>]) {
        let dim = self.dim;
        let rows = vectors.len() / dim;
        // Cosine: 1 - q·b/|b| with q already unit length; the norms once per chunk.
        let inverse_norms: Vec<f32> = match self.distance {
            Distance::Cosine => vectors
                .chunks_exact(dim)
                .map(|b| {
                    let n = dot(b, b).sqrt();
                    if n > 0.0 {
                        1.0 / n
                    } else {
                        0.0
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let first = self.rows_seen;
        let distance = self.distance;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = self.best.len().div_ceil(threads).max(1);
        let inverse_norms = &inverse_norms;
        std::thread::scope(|s| {
            for (queries, best) in self
                .queries
                .chunks(per_thread * dim)
                .zip(self.best.chunks_mut(per_thread))
            {
                s.spawn(move || {
                    for tile in (0..rows).step_by(TILE) {
                        let end = (tile + TILE).min(rows);
                        for (q, best) in queries.chunks_exact(dim).zip(best.iter_mut()) {
                            for r in tile..end {
                                let b = &vectors[r * dim..(r + 1) * dim];
                                let d = match distance {
                                    Distance::L2 => l2_squared(q, b),
                                    Distance::Ip => 1.0 - dot(q, b),
                                    Distance::Cosine => 1.0 - dot(q, b) * inverse_norms[r],
                                };
                                let c = Candidate {
                                    distance: d,
                                    row: (first + r) as u32,
                                };
                                best[0].offer(c);
                                for (f, m) in matches.iter().enumerate() {
                                    if m[r] {
                                        best[f + 1].offer(c);
                                    }
                                }
                            }
                        }
                    }
                });
            }
        });
        self.rows_seen += rows;
    }

    /// Per set (the whole data first, then each filter), per query: rows nearest first.
    pub fn finish(self) -> Vec<Vec<Vec<u32>>> {
        let sets = self.best.first().map_or(0, Vec::len);
        let mut out: Vec<Vec<Vec<u32>>> = (0..sets).map(|_| Vec::new()).collect();
        for per_query in self.best {
            for (set, best) in per_query.into_iter().enumerate() {
                out[set].push(best.sorted_rows());
            }
        }
        out
    }
}

fn normalize(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Eight independent accumulators, so the compiler vectorizes the loop.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::{Purpose, Rng};

    /// The oracle: every distance computed with silt-common's own kernel, sorted.
    fn naive(
        base: &[f32],
        q: &[f32],
        dim: usize,
        k: usize,
        d: Distance,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<u32> {
        let qn = silt_common::distance::norm(q);
        let mut all: Vec<(f32, u32)> = base
            .chunks_exact(dim)
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(i, b)| (d.compute(q, qn, b), i as u32))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|(_, i)| i).collect()
    }

    #[test]
    fn chunked_parallel_truth_equals_a_full_sort() {
        let (n, dim, nq, k) = (1_000, 20, 13, 10);
        let mut base = vec![0f32; n * dim];
        Rng::stream(1, Purpose::Base, 0).normals(&mut base);
        let mut queries = vec![0f32; nq * dim];
        Rng::stream(1, Purpose::Query, 0).normals(&mut queries);
        let even = |i: usize| i.is_multiple_of(2);
        for d in [Distance::L2, Distance::Cosine, Distance::Ip] {
            let mut truth = Truth::new(&queries, dim, k, d, 1);
            // Uneven chunks, one smaller than a tile and one larger.
            for (start, end) in [(0, 100), (100, 700), (700, n)] {
                let matches = vec![(start..end).map(even).collect::<Vec<bool>>()];
                truth.offer(&base[start * dim..end * dim], &matches);
            }
            let sets = truth.finish();
            for (qi, q) in queries.chunks_exact(dim).enumerate() {
                assert_eq!(
                    sets[0][qi],
                    naive(&base, q, dim, k, d, |_| true),
                    "{d:?} q{qi}"
                );
                assert_eq!(
                    sets[1][qi],
                    naive(&base, q, dim, k, d, even),
                    "{d:?} q{qi} filtered"
                );
            }
        }
    }
}
