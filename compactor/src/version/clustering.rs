//! Partitioning a collection's vectors into clusters: k-means on a sample to train centroids,
//! then every record to its nearest centroid. Nearest-centroid search goes through a usearch
//! index over the centroids, which is also what queries search (so both agree on "nearest").

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;
use silt_common::distance::{norm, Distance};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::CompactError;

/// Records per cluster the index aims for. A probe reads whole clusters, so this trades the
/// bytes of a probe against the size of the centroid index every query reads first.
pub const TARGET_CLUSTER_SIZE: usize = 512;
/// Up to this many records a version is one cluster, scanned whole.
pub const FLAT_MAX_RECORDS: usize = 2048;
const TRAINING_SAMPLE_PER_CLUSTER: usize = 48;
const TRAINING_ITERATIONS: usize = 10;
const SEED: u64 = 0x0051_17c1;

pub fn cluster_count(records: usize) -> usize {
    if records <= FLAT_MAX_RECORDS {
        1
    } else {
        records.div_ceil(TARGET_CLUSTER_SIZE)
    }
}

fn metric(distance: Distance) -> MetricKind {
    match distance {
        Distance::Cosine => MetricKind::Cos,
        Distance::L2 => MetricKind::L2sq,
        Distance::Ip => MetricKind::IP,
    }
}

fn usearch_error(e: impl std::fmt::Display) -> CompactError {
    CompactError::Index(format!("usearch: {e}"))
}

/// A searchable set of centroids.
pub struct Centroids {
    pub dimension: usize,
    pub vectors: Vec<f32>,
    /// How `nearest` ranks centroids: squared l2, or `1 − dot` for ip and for cosine (whose
    /// centroids are unit vectors, so the dot ranks directions).
    scan: Distance,
    index: Index,
}

/// Up to this many centroids, `nearest` scans them all: the graph search missed near centroids
/// (at query time it held syn-100k-384's recall@10 at 0.84 for any nprobe), and an exact scan
/// costs k·D multiply-adds a record (0.1 G for a 1,000-centroid assignment of 100 records).
const EXACT_ASSIGNMENT_MAX_CENTROIDS: usize = 1024;

impl Centroids {
    pub fn new(
        vectors: Vec<f32>,
        dimension: usize,
        distance: Distance,
    ) -> Result<Self, CompactError> {
        let index = Index::new(&IndexOptions {
            dimensions: dimension,
            metric: metric(distance),
            quantization: ScalarKind::F32,
            connectivity: 16,
            expansion_add: 128,
            // Wide enough that assignment finds the true nearest centroid in high dimensions.
            expansion_search: 256,
            multi: false,
        })
        .map_err(usearch_error)?;
        let n = vectors.len() / dimension.max(1);
        index.reserve(n.max(1)).map_err(usearch_error)?;
        for (i, v) in vectors.chunks_exact(dimension).enumerate() {
            index.add(i as u64, v).map_err(usearch_error)?;
        }
        Ok(Centroids {
            dimension,
            vectors,
            scan: match distance {
                Distance::L2 => Distance::L2,
                Distance::Ip | Distance::Cosine => Distance::Ip,
            },
            index,
        })
    }

    pub fn len(&self) -> usize {
        self.vectors.len() / self.dimension.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    pub fn nearest(&self, v: &[f32]) -> Result<u32, CompactError> {
        if self.len() <= EXACT_ASSIGNMENT_MAX_CENTROIDS && v.len() == self.dimension {
            let mut best = (f32::INFINITY, 0u32);
            for (c, centre) in self.vectors.chunks_exact(self.dimension).enumerate() {
                let d = self.scan.compute(v, 0.0, centre);
                if d < best.0 {
                    best = (d, c as u32);
                }
            }
            return Ok(best.1);
        }
        let found = self.index.search(v, 1).map_err(usearch_error)?;
        Ok(found.keys.first().copied().unwrap_or(0) as u32)
    }

    pub fn serialize(&self) -> Result<Vec<u8>, CompactError> {
        let mut buf = vec![0u8; self.index.serialized_length()];
        self.index.save_to_buffer(&mut buf).map_err(usearch_error)?;
        Ok(buf)
    }

    /// Recovers the centroids from a serialized index (a previous version's head).
    pub fn restore(
        bytes: &[u8],
        dimension: usize,
        distance: Distance,
    ) -> Result<Self, CompactError> {
        let probe = Index::new(&IndexOptions {
            dimensions: dimension,
            metric: metric(distance),
            quantization: ScalarKind::F32,
            ..Default::default()
        })
        .map_err(usearch_error)?;
        probe.load_from_buffer(bytes).map_err(usearch_error)?;
        let n = probe.size();
        let mut vectors = vec![0f32; n * dimension];
        for (i, out) in vectors.chunks_exact_mut(dimension).enumerate() {
            probe.get(i as u64, out).map_err(usearch_error)?;
        }
        Centroids::new(vectors, dimension, distance)
    }
}

/// Vectors as k-means sees them: cosine clusters directions, so its inputs are normalized.
fn training_view(v: &[f32], distance: Distance) -> Vec<f32> {
    match distance {
        Distance::Cosine => {
            let n = norm(v);
            if n > 0.0 {
                v.iter().map(|x| x / n).collect()
            } else {
                v.to_vec()
            }
        }
        _ => v.to_vec(),
    }
}

/// Trains `k` centroids with k-means over a sample of `vectors`.
pub fn train(
    vectors: &[&[f32]],
    dimension: usize,
    k: usize,
    distance: Distance,
) -> Result<Centroids, CompactError> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let sample_size = (k * TRAINING_SAMPLE_PER_CLUSTER).min(vectors.len());
    let sample: Vec<Vec<f32>> = sample(&mut rng, vectors.len(), sample_size)
        .into_iter()
        .map(|i| training_view(vectors[i], distance))
        .collect();
    let mut centroids: Vec<f32> = sample
        .iter()
        .take(k)
        .flat_map(|v| v.iter().copied())
        .collect();
    for _ in 0..TRAINING_ITERATIONS {
        let current = Centroids::new(centroids.clone(), dimension, Distance::L2)?;
        let assignment = assign_all(
            &current,
            &sample.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        )?;
        let mut sums = vec![0f64; k * dimension];
        let mut counts = vec![0usize; k];
        for (v, &c) in sample.iter().zip(&assignment) {
            let c = c as usize;
            counts[c] += 1;
            for (s, x) in sums[c * dimension..(c + 1) * dimension].iter_mut().zip(v) {
                *s += f64::from(*x);
            }
        }
        for c in 0..k {
            let out = &mut centroids[c * dimension..(c + 1) * dimension];
            if counts[c] == 0 {
                // An empty cluster restarts at a random sample point.
                let pick = &sample[rand::Rng::random_range(&mut rng, 0..sample.len())];
                out.copy_from_slice(pick);
            } else {
                for (o, s) in out
                    .iter_mut()
                    .zip(&sums[c * dimension..(c + 1) * dimension])
                {
                    *o = (*s / counts[c] as f64) as f32;
                }
            }
        }
    }
    if distance == Distance::Cosine {
        for c in centroids.chunks_exact_mut(dimension) {
            let n = norm(c);
            if n > 0.0 {
                c.iter_mut().for_each(|x| *x /= n);
            }
        }
    }
    Centroids::new(centroids, dimension, distance)
}

/// Exact nearest centroid (squared L2) of every vector, on all cores.
fn exact_nearest(centroids: &[f32], dimension: usize, vectors: &[&[f32]]) -> Vec<u32> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = vectors.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = vectors
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|v| {
                            let mut best = (f32::INFINITY, 0u32);
                            for (c, centre) in centroids.chunks_exact(dimension).enumerate() {
                                let d: f32 =
                                    v.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
                                if d < best.0 {
                                    best = (d, c as u32);
                                }
                            }
                            best.1
                        })
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// The nearest centroid of every vector, on all cores.
pub fn assign_all(centroids: &Centroids, vectors: &[&[f32]]) -> Result<Vec<u32>, CompactError> {
    if centroids.len() <= 1 {
        return Ok(vec![0; vectors.len()]);
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let chunk = vectors.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<u32>, CompactError>> = std::thread::scope(|s| {
        let handles: Vec<_> = vectors
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|v| centroids.nearest(v)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(CompactError::Index("assignment thread panicked".into()))
                })
            })
            .collect()
    });
    let mut out = Vec::with_capacity(vectors.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Mean squared L2 distance of vectors to their assigned centroids: how tight the clusters are.
pub fn spread(
    centroids: &Centroids,
    vectors: &[&[f32]],
    assignment: &[u32],
    distance: Distance,
) -> f32 {
    if vectors.is_empty() || centroids.is_empty() {
        return 0.0;
    }
    let d = centroids.dimension;
    let total: f64 = vectors
        .iter()
        .zip(assignment)
        .map(|(v, &c)| {
            let c = &centroids.vectors[c as usize * d..(c as usize + 1) * d];
            let v = training_view(v, distance);
            // In f64: the difference of two large f32 components overflows f32, and an
            // infinite spread would be written to the manifest as JSON null.
            v.iter()
                .zip(c)
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                .sum::<f64>()
        })
        .sum();
    (total / vectors.len() as f64).min(f64::from(f32::MAX)) as f32
}

/// Records a cluster may hold before it is split: a probe reads whole clusters, so one huge
/// cluster near many queries costs as much as probing dozens of normal ones.
pub const MAX_CLUSTER_SIZE: usize = 2 * TARGET_CLUSTER_SIZE;

/// Rounds of splitting in `cap_cluster_sizes`.
const SPLIT_ROUNDS: usize = 4;

/// Splits oversized clusters until none is above `MAX_CLUSTER_SIZE` (or `SPLIT_ROUNDS` have
/// run): a split's own k-means can be uneven too. On syn-100k-384 one round left the largest
/// cluster at 2,397 records (p99 1,705); four leave it at the cap, and a cold query's bytes
/// fell from 17.3 to 13.8 MB.
pub fn cap_cluster_sizes(
    mut centroids: Centroids,
    assignment: &mut [u32],
    vectors: &[&[f32]],
    distance: Distance,
) -> Result<Centroids, CompactError> {
    for _ in 0..SPLIT_ROUNDS {
        centroids = split_oversized(centroids, assignment, vectors, distance)?;
    }
    Ok(centroids)
}

/// Splits every cluster larger than `MAX_CLUSTER_SIZE` with a small k-means over its own
/// members. k-means on real data leaves a few clusters many times the target size, and queries
/// land near them most often (they are where the data is).
fn split_oversized(
    centroids: Centroids,
    assignment: &mut [u32],
    vectors: &[&[f32]],
    distance: Distance,
) -> Result<Centroids, CompactError> {
    let d = centroids.dimension;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); centroids.len()];
    for (i, &c) in assignment.iter().enumerate() {
        members[c as usize].push(i);
    }
    if members.iter().all(|m| m.len() <= MAX_CLUSTER_SIZE) {
        return Ok(centroids);
    }
    let mut all = centroids.vectors;
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x5b11);
    for (c, ids) in members.iter().enumerate() {
        if ids.len() <= MAX_CLUSTER_SIZE {
            continue;
        }
        let parts = ids.len().div_ceil(TARGET_CLUSTER_SIZE);
        let points: Vec<Vec<f32>> = ids
            .iter()
            .map(|&i| training_view(vectors[i], distance))
            .collect();
        let refs: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
        let mut sub: Vec<f32> = sample(&mut rng, refs.len(), parts)
            .into_iter()
            .flat_map(|i| refs[i].iter().copied())
            .collect();
        let mut local = vec![0u32; refs.len()];
        for _ in 0..TRAINING_ITERATIONS {
            local = exact_nearest(&sub, d, &refs);
            let mut sums = vec![0f64; parts * d];
            let mut counts = vec![0usize; parts];
            for (p, &k) in refs.iter().zip(&local) {
                counts[k as usize] += 1;
                for (s, x) in sums[k as usize * d..(k as usize + 1) * d]
                    .iter_mut()
                    .zip(p.iter())
                {
                    *s += f64::from(*x);
                }
            }
            for k in 0..parts {
                if counts[k] > 0 {
                    for (o, s) in sub[k * d..(k + 1) * d]
                        .iter_mut()
                        .zip(&sums[k * d..(k + 1) * d])
                    {
                        *o = (*s / counts[k] as f64) as f32;
                    }
                }
            }
        }
        // The first part keeps number `c`; the others become new clusters.
        all[c * d..(c + 1) * d].copy_from_slice(&sub[..d]);
        let first_new = all.len() / d;
        all.extend_from_slice(&sub[d..]);
        for (&i, &k) in ids.iter().zip(&local) {
            assignment[i] = if k == 0 {
                c as u32
            } else {
                (first_new + k as usize - 1) as u32
            };
        }
    }
    if distance == Distance::Cosine {
        for c in all.chunks_exact_mut(d) {
            let n = norm(c);
            if n > 0.0 {
                c.iter_mut().for_each(|x| *x /= n);
            }
        }
    }
    Centroids::new(all, d, distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_clusters_hold_at_most_the_cap_and_nearest_is_exact() {
        // One tight blob of 5,000 points in nested sub-blobs beside 500 scattered ones: the
        // blob's first split is uneven, as on real data.
        let mut rng = StdRng::seed_from_u64(3);
        let mut points: Vec<Vec<f32>> = Vec::new();
        for i in 0..5000 {
            let scale = if i % 10 == 0 { 1.0 } else { 0.01 };
            points.push(
                (0..8)
                    .map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0) * scale)
                    .collect(),
            );
        }
        for _ in 0..500 {
            points.push(
                (0..8)
                    .map(|_| rand::Rng::random_range(&mut rng, -100.0f32..100.0))
                    .collect(),
            );
        }
        let refs: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
        let c = train(&refs, 8, 4, Distance::L2).unwrap();
        let mut a = assign_all(&c, &refs).unwrap();
        let c = cap_cluster_sizes(c, &mut a, &refs, Distance::L2).unwrap();
        let mut sizes = vec![0usize; c.len()];
        for &k in &a {
            sizes[k as usize] += 1;
        }
        assert!(c.len() > 4, "the blob was split: {sizes:?}");
        assert!(
            sizes.iter().all(|&s| s <= MAX_CLUSTER_SIZE),
            "{sizes:?} above {MAX_CLUSTER_SIZE}"
        );
        // Assignment after the split is to the truly nearest centroid.
        for v in refs.iter().take(300) {
            let exact = exact_nearest(&c.vectors, 8, &[v])[0];
            let d = |k: u32| Distance::L2.compute(v, 0.0, &c.vectors[k as usize * 8..][..8]);
            assert_eq!(d(c.nearest(v).unwrap()), d(exact));
        }
    }

    #[test]
    fn spread_stays_finite_for_the_largest_components() {
        // Components of opposite sign and maximal size: their difference overflows f32.
        let big = [f32::MAX, -f32::MAX];
        let small = [-f32::MAX, f32::MAX];
        let centroids = Centroids::new(small.to_vec(), 2, Distance::L2).unwrap();
        let s = spread(&centroids, &[&big[..]], &[0], Distance::L2);
        assert!(s.is_finite(), "{s}");
        assert_eq!(s, f32::MAX);
        let json = serde_json::to_string(&s).unwrap();
        assert_ne!(json, "null");
    }
}
