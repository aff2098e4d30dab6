//! Silt's vector index. Today: RaBitQ-style quantization (`quantize`), the codes a version's
//! cluster blocks will carry instead of raw f32 vectors. The index format and its reader/writer
//! move here from `silt-common` next, so the compactor and the query service share one crate.

pub mod quantize;
