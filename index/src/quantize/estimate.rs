//! Distance estimates with confidence bounds for every record of a cluster block.
//!
//! For a residual r = o − c with code x̄ and cosine ⟨x̄/‖x̄‖, r/‖r‖⟩ = γ, and the query's
//! rotated vector y ≈ lo + Δ·q̄:
//!
//! ⟨r, y⟩ ≈ ‖r‖/(‖x̄‖γ) · ⟨x̄, y⟩ = rescale · Δ · (Σuᵢq̄ᵢ − h·Σq̄ᵢ) + lo · offset
//!
//! (h = (2^B − 1)/2, Σuᵢq̄ᵢ from the kernels). Over the random rotation this is unbiased, and
//! its error is ‖r‖‖y‖·√(1−γ²)/γ times one coordinate of a random unit vector in D − 1
//! dimensions, so |error| ≤ ε₀·‖r‖‖y‖·√(1−γ²)/(γ√(D−1)) with high probability (ε₀ = 3 misses
//! about 0.3 % of pairs). The query's rounding adds at most ε₀·(‖r‖/γ)·Δ/√12 (rounding errors
//! are independent and uniform, a standard deviation of Δ/√12 each). Distances follow:
//! l2 = ‖r‖² + ‖y‖² − 2⟨r, y⟩ (bound doubled), ip and cosine = 1 − ⟨c, q⟩ − ⟨r, q⟩.

use super::block::CodeBlock;
use super::kernels::Kernel;
use super::metric::Metric;
use super::query::{QuantizedQuery, Query};

/// ε₀: how many standard errors the bound spans. The papers use 1.9 for a one-sided bound;
/// the tests assert ≥ 99 % of pairs within a two-sided one, which needs about 2.6.
pub const DEFAULT_EPSILON: f32 = 3.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Estimated distance (the metric's own: squared l2, 1 − dot, 1 − cosine).
    pub distance: f32,
    /// Half-width of the confidence interval around `distance`.
    pub bound: f32,
}

impl Estimate {
    pub fn lower(&self) -> f32 {
        self.distance - self.bound
    }

    pub fn upper(&self) -> f32 {
        self.distance + self.bound
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EstimateError {
    #[error("query has {got} dimensions, the index {expected}")]
    QueryDimension { got: usize, expected: usize },
    #[error("query has a NaN or infinite coordinate")]
    NonFinite,
    #[error(
        "the code block was made with rotation (seed {block_seed}, {block_dimension} dimensions), \
         the query with (seed {query_seed}, {query_dimension})"
    )]
    Rotation {
        block_seed: u64,
        block_dimension: usize,
        query_seed: u64,
        query_dimension: usize,
    },
    #[error("the code block was made for {block:?}, the query asks for {query:?}")]
    Metric { block: Metric, query: Metric },
}

/// Every record's estimate, with the best kernel this CPU has and the default ε₀.
pub fn estimate(block: &CodeBlock, query: &Query) -> Result<Vec<Estimate>, EstimateError> {
    estimate_with(block, query, Kernel::best(), DEFAULT_EPSILON)
}

pub fn estimate_with(
    block: &CodeBlock,
    query: &Query,
    kernel: Kernel,
    epsilon: f32,
) -> Result<Vec<Estimate>, EstimateError> {
    if block.seed != query.seed || block.dimension != query.dimension {
        return Err(EstimateError::Rotation {
            block_seed: block.seed,
            block_dimension: block.dimension,
            query_seed: query.seed,
            query_dimension: query.dimension,
        });
    }
    if block.metric != query.metric {
        return Err(EstimateError::Metric {
            block: block.metric,
            query: query.metric,
        });
    }
    if query.zero_cosine {
        return Ok(vec![
            Estimate {
                distance: 1.0,
                bound: 0.0
            };
            block.len()
        ]);
    }
    let q = QuantizedQuery::new(query, block);
    let mut dots = Vec::with_capacity(block.len());
    kernel.dots(
        &block.codes,
        block.bits as usize,
        block.padded / 64,
        &q,
        &mut dots,
    );
    let h = ((1u32 << block.bits) - 1) as f32 / 2.0;
    let centered = h * q.sum as f32;
    let weight = if block.metric == Metric::L2 { 2.0 } else { 1.0 };
    let rounding = block.rounding * q.delta / 12f32.sqrt();
    let mut out = Vec::with_capacity(block.len());
    for (i, s) in dots.iter().enumerate() {
        let ip = block.rescale[i] * q.delta * (*s as f32 - centered) + q.lo * block.offset[i];
        let error = epsilon * (block.error[i] * q.norm + rounding);
        out.push(Estimate {
            distance: block.add[i] + q.base - weight * ip,
            bound: weight * error,
        });
    }
    Ok(out)
}
