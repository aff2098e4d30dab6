//! The query side: rotate a query once, then quantize it once per cluster to 8-bit unsigned
//! coordinates (as bytes for masked-sum kernels and as 8 bit planes for popcount kernels).
//!
//! RaBitQ quantizes the query to 4 bits for its 1-bit codes; with B-bit codes the query's
//! rounding would dominate the error (a 4-bit step is ~5 % of a coordinate's range, while a
//! 4-bit code's cosine is > 0.99), so 8 bits are used and the rounding enters the bound.

use super::block::CodeBlock;
use super::estimate::EstimateError;
use super::metric::{dot, normalized, Metric};
use super::rotation::Rotation;

/// A query rotated into a rotation's space (once per query, whatever the clusters probed).
#[derive(Debug, Clone)]
pub struct Query {
    pub(crate) metric: Metric,
    pub(crate) seed: u64,
    pub(crate) dimension: usize,
    /// P·q, or P·(q/‖q‖) for cosine.
    pub(crate) rotated: Vec<f32>,
    /// A zero cosine query: every distance is exactly 1 (as the exact path computes it).
    pub(crate) zero_cosine: bool,
}

impl Query {
    pub fn new(rotation: &Rotation, metric: Metric, q: &[f32]) -> Result<Self, EstimateError> {
        if q.len() != rotation.dimension() {
            return Err(EstimateError::QueryDimension {
                got: q.len(),
                expected: rotation.dimension(),
            });
        }
        if q.iter().any(|x| !x.is_finite()) {
            return Err(EstimateError::NonFinite);
        }
        let zero_cosine = metric == Metric::Cosine && q.iter().all(|x| *x == 0.0);
        let rotated = match metric {
            Metric::Cosine => rotation.apply(&normalized(q)),
            Metric::L2 | Metric::Ip => rotation.apply(q),
        };
        Ok(Query {
            metric,
            seed: rotation.seed(),
            dimension: rotation.dimension(),
            rotated,
            zero_cosine,
        })
    }
}

/// The query quantized against one cluster: y = P(q − c) for l2, P·q for ip and cosine
/// (their centroid term ⟨c, q⟩ is exact and per cluster), as y ≈ lo + delta·q̄.
#[derive(Debug, Clone)]
pub struct QuantizedQuery {
    /// q̄ (D bytes).
    pub bytes: Vec<u8>,
    /// Bit k of every q̄ᵢ, 64 coordinates a word: 8 × D/64 words, plane k at k·D/64.
    pub planes: Vec<u64>,
    pub lo: f32,
    pub delta: f32,
    /// Σ q̄ᵢ.
    pub sum: u32,
    /// ‖y‖ (unquantized).
    pub norm: f32,
    /// Added to every estimate: ‖y‖² for l2, 1 − ⟨c, q⟩ for ip and cosine.
    pub base: f32,
}

impl QuantizedQuery {
    pub fn new(query: &Query, block: &CodeBlock) -> Self {
        let y: Vec<f32> = match query.metric {
            Metric::L2 => query
                .rotated
                .iter()
                .zip(&block.centroid)
                .map(|(q, c)| q - c)
                .collect(),
            Metric::Ip | Metric::Cosine => query.rotated.clone(),
        };
        let norm_sq = dot(&y, &y);
        let base = match query.metric {
            Metric::L2 => norm_sq,
            Metric::Ip | Metric::Cosine => 1.0 - dot(&query.rotated, &block.centroid),
        };
        Self::from_rotated(&y, norm_sq.sqrt(), base)
    }

    /// Quantizes rotated coordinates `y` (D of them, a multiple of 64).
    pub fn from_rotated(y: &[f32], norm: f32, base: f32) -> Self {
        let lo = y.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = y.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let delta = if hi > lo { (hi - lo) / 255.0 } else { 0.0 };
        let words = y.len() / 64;
        let mut bytes = Vec::with_capacity(y.len());
        let mut planes = vec![0u64; 8 * words];
        let mut sum = 0u32;
        for (i, x) in y.iter().enumerate() {
            let q = if delta > 0.0 {
                ((x - lo) / delta).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
            bytes.push(q);
            sum += u32::from(q);
            for (k, plane) in planes.chunks_exact_mut(words).enumerate() {
                plane[i / 64] |= u64::from(q >> k & 1) << (i % 64);
            }
        }
        QuantizedQuery {
            bytes,
            planes,
            lo: if delta > 0.0 {
                lo
            } else {
                y.first().copied().unwrap_or(0.0)
            },
            delta,
            sum,
            norm,
            base,
        }
    }
}
