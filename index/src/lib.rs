//! Silt's index: the persisted format of an index version and its reader/writer (`format`),
//! the one contract between the compactor that writes versions and the query service that
//! reads them (golden files pin its bytes), and RaBitQ-style quantization (`quantize`), the
//! codes a version's cluster blocks will carry instead of raw f32 vectors.

pub mod format;
pub mod quantize;
