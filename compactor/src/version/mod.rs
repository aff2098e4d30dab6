//! Building the objects of a new version from the merged records: clustering (trained anew or
//! carried over from the previous version), then the files of `write`.
//!
//! Clusters are carried over while they stay good: records that did not change keep their
//! cluster, new or re-embedded ones go to their nearest existing centroid, and k-means runs again
//! only when the collection has drifted (docs/decisions/2026-11-21-incremental-clustering.md).

mod clustering;
mod text;
mod write;

pub use clustering::{cluster_count, FLAT_MAX_RECORDS, TARGET_CLUSTER_SIZE};
pub use write::BuiltVersion;

use silt_common::distance::Distance;
use silt_common::record::Record;
use silt_index::format::{IndexParams, Quantization, VersionContents};
use silt_index::quantize::MAX_DIMENSION;

use crate::CompactError;
use clustering::{assign_all, cap_cluster_sizes, spread, train, Centroids};
use write::{write_version, VersionSpec};

/// Clustered versions store 4-bit codes in their cluster blocks (docs/decisions/
/// 2026-12-01-quantized-versions.md); flat ones, read whole in one GET, keep exact f32.
const QUANTIZATION_BITS: u8 = silt_index::quantize::DEFAULT_BITS;
/// Any fixed seed serves: it is recorded in each version's manifest.
const ROTATION_SEED: u64 = 0x5117_0000_0000_0001;

/// Re-cluster when the records' mean distance to their centroid grew by this factor…
const MAX_SPREAD_GROWTH: f32 = 1.25;
/// …or the collection grew or shrank by this factor since the centroids were trained.
const MAX_SIZE_CHANGE: f64 = 2.0;

pub struct BuildInput<'a> {
    pub collection_id: String,
    pub version: u64,
    pub compacted_offset: u64,
    pub dimension: Option<u32>,
    pub distance: Distance,
    pub base: Option<&'a VersionContents>,
    /// The merged records in ordinal order; unchanged ones borrow from `base.records`.
    pub records: &'a [&'a Record],
}

/// What the build did, for logs and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clustering {
    Flat,
    Trained,
    CarriedOver,
}

pub fn build_version(input: BuildInput<'_>) -> Result<(BuiltVersion, Clustering), CompactError> {
    let n = input.records.len();
    let dimension = input.dimension.unwrap_or(0) as usize;
    let vectors: Vec<&[f32]> = input
        .records
        .iter()
        .map(|r| r.embedding.as_slice())
        .collect();
    let k = cluster_count(n);

    let (centroids, assignment, trained_on, trained_spread, how) = if k <= 1 || dimension == 0 {
        (None, vec![0u32; n], n as u64, 0.0, Clustering::Flat)
    } else {
        match carry_over(&input, &vectors)? {
            Some(kept) => kept,
            None => {
                let c = train(&vectors, dimension, k, input.distance)?;
                let mut a = assign_all(&c, &vectors)?;
                let c = cap_cluster_sizes(c, &mut a, &vectors, input.distance)?;
                let s = spread(&c, &vectors, &a, input.distance);
                (Some(c), a, n as u64, s, Clustering::Trained)
            }
        }
    };
    let clusters = centroids.as_ref().map_or(1, Centroids::len);
    let current_spread = match &centroids {
        Some(c) => spread(c, &vectors, &assignment, input.distance),
        None => 0.0,
    };
    let params = IndexParams {
        kind: if clusters > 1 { "ivf" } else { "flat" }.to_string(),
        clusters: clusters as u32,
        nprobe: default_nprobe(clusters) as u32,
        trained_on,
        trained_spread,
        spread: current_spread,
        // Beyond the codes' largest dimension (a deployment may lift the gateway's limit),
        // blocks stay f32 rather than failing every compaction of the collection.
        quantization: (clusters > 1 && dimension <= MAX_DIMENSION).then_some(Quantization {
            bits: QUANTIZATION_BITS,
            seed: ROTATION_SEED,
        }),
    };
    let centroid_bytes = match &centroids {
        Some(c) => c.serialize()?,
        None => Vec::new(),
    };
    let built = write_version(VersionSpec {
        collection_id: input.collection_id,
        version: input.version,
        compacted_offset: input.compacted_offset,
        dimension: input.dimension,
        distance: input.distance,
        records: input.records,
        assignment: &assignment,
        clusters,
        centroids: centroid_bytes,
        params,
    })?;
    Ok((built, how))
}

/// Clusters probed by default: a fifth of them, but no more than 3·√clusters and no fewer
/// than 26. Measured on quantized versions (docs/benchmarks.md): wordnet-20k, 41 clusters:
/// 20 probed gave recall@10 0.976, 26 gave 0.993, 32 gave 0.998; synthetic 100k × 384, 321
/// clusters: 20 gave 0.983, 32 gave 0.997, 53 gave 1.000. Earlier, on f32 versions: synthetic
/// 1M × 128, 3,050 clusters: 150 gave 0.999 and 610 gave 1.000 at 3× the bytes.
pub fn default_nprobe(clusters: usize) -> usize {
    let by_share = clusters / 5;
    let by_sqrt = (3.0 * (clusters as f64).sqrt()) as usize;
    by_share.min(by_sqrt).max(26).min(clusters.max(1))
}

type Clustered = (Option<Centroids>, Vec<u32>, u64, f32, Clustering);

/// Keeps the previous version's centroids when they still fit the records.
fn carry_over(
    input: &BuildInput<'_>,
    vectors: &[&[f32]],
) -> Result<Option<Clustered>, CompactError> {
    let Some(base) = input.base else {
        return Ok(None);
    };
    let params = &base.head.manifest.index;
    let dimension = input.dimension.unwrap_or(0) as usize;
    if base.head.centroids.is_empty() || base.head.dimension() != dimension {
        return Ok(None);
    }
    let n = vectors.len() as f64;
    let trained_on = params.trained_on.max(1) as f64;
    if n > trained_on * MAX_SIZE_CHANGE || n < trained_on / MAX_SIZE_CHANGE {
        return Ok(None);
    }
    let centroids = Centroids::restore(&base.head.centroids, dimension, input.distance)?;
    // A record borrowed from the base version is unchanged: it keeps its cluster. Everything
    // else (new, or updated with a new embedding) goes to its nearest centroid.
    let base_range = base.records.as_ptr_range();
    let mut assignment = vec![0u32; vectors.len()];
    let mut fresh = Vec::new();
    for (i, r) in input.records.iter().enumerate() {
        let p: *const Record = *r;
        if base_range.contains(&p) {
            let at = (p as usize - base_range.start as usize) / std::mem::size_of::<Record>();
            assignment[i] = base.cluster_of[at];
        } else {
            fresh.push(i);
        }
    }
    let fresh_vectors: Vec<&[f32]> = fresh.iter().map(|&i| vectors[i]).collect();
    for (i, c) in fresh.iter().zip(assign_all(&centroids, &fresh_vectors)?) {
        assignment[*i] = c;
    }
    let now = spread(&centroids, vectors, &assignment, input.distance);
    if now > params.trained_spread * MAX_SPREAD_GROWTH + f32::EPSILON {
        return Ok(None);
    }
    Ok(Some((
        Some(centroids),
        assignment,
        params.trained_on,
        params.trained_spread,
        Clustering::CarriedOver,
    )))
}
