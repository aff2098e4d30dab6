//! RaBitQ-style quantization (arXiv 2405.12497, extended to B bits per dimension by
//! arXiv 2409.09913): a cluster's vectors become B-bit codes of their rotated residuals from
//! the centroid plus four correction factors, and a query is scored against a whole cluster
//! block with integer kernels, each estimate carrying a confidence bound so only the
//! candidates whose bound can still reach the top k are re-ranked with exact distances.
//!
//! - `rotation`: the seeded orthogonal transform (randomized Hadamard).
//! - `code`: one vector's code search and its factors.
//! - `block`: a cluster's code block and its versioned byte format.
//! - `query`: a query rotated once, quantized once per cluster.
//! - `kernels`: Σ uᵢ·q̄ᵢ over a block (scalar, AVX2, AVX-512), chosen at run time.
//! - `estimate`: distance estimates and bounds; `rerank`: exact top k from them.

mod block;
mod code;
mod estimate;
pub mod kernels;
mod metric;
mod query;
mod rerank;
pub mod rng;
mod rotation;

pub use block::{CodeBlock, EncodeError, FormatError, BLOCK_FORMAT_VERSION};
pub use code::{quantize, Factors, VectorCode};
pub use estimate::{estimate, estimate_with, Estimate, EstimateError, DEFAULT_EPSILON};
pub use metric::Metric;
pub use query::{QuantizedQuery, Query};
pub use rerank::{rerank, Reranked};
pub use rotation::{padded_dimension, Rotation, MAX_DIMENSION, ROUNDS};

/// Default bits per dimension (as Chroma's quantized SPANN uses).
pub const DEFAULT_BITS: u8 = 4;
