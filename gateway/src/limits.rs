/// Limits enforced on every request and reported by `pre-flight-checks`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_batch_size: usize,
    pub max_request_bytes: usize,
    pub max_dimension: usize,
    pub max_id_bytes: usize,
    pub max_document_bytes: usize,
    pub max_metadata_keys: usize,
    pub max_n_results: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_batch_size: 10_000,
            max_request_bytes: 128 << 20,
            max_dimension: 16_384,
            max_id_bytes: 1024,
            max_document_bytes: 1 << 20,
            max_metadata_keys: 256,
            max_n_results: 10_000,
        }
    }
}
