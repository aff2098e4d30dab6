//! Chroma's collection schema as JSON, field for field: what a create may send and what
//! clients read back. The serde attributes follow Chroma's server (1.5.9), so a body it
//! refuses as malformed (an unknown field inside an index config, a wrong type, an unknown
//! distance) is refused here too, and unknown index names or top-level fields are ignored as
//! it ignores them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Special keys: the document and the embedding.
pub const DOCUMENT_KEY: &str = "#document";
pub const EMBEDDING_KEY: &str = "#embedding";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Index settings for each value type, for keys without their own.
    pub defaults: ValueTypes,
    /// Settings per key. Chroma's older servers called it `key_overrides`.
    #[serde(rename = "keys", alias = "key_overrides")]
    pub keys: BTreeMap<String, ValueTypes>,
    /// Customer-managed encryption key (`{"gcp": "projects/.../cryptoKeys/..."}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmek: Option<Cmek>,
    /// Set by Chroma for collections its attached functions write; refused from clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_attached_function_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmek {
    Gcp(String),
}

/// Index settings per value type; a type left out takes the defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ValueTypes {
    #[serde(default, alias = "#string", skip_serializing_if = "Option::is_none")]
    pub string: Option<StringType>,
    #[serde(
        default,
        alias = "#float_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub float_list: Option<FloatListType>,
    #[serde(
        default,
        alias = "#sparse_vector",
        skip_serializing_if = "Option::is_none"
    )]
    pub sparse_vector: Option<SparseVectorType>,
    #[serde(default, alias = "#int", skip_serializing_if = "Option::is_none")]
    pub int: Option<IntType>,
    #[serde(default, alias = "#float", skip_serializing_if = "Option::is_none")]
    pub float: Option<FloatType>,
    #[serde(
        default,
        rename = "bool",
        alias = "#bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub boolean: Option<BoolType>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StringType {
    #[serde(default, alias = "$fts_index", skip_serializing_if = "Option::is_none")]
    pub fts_index: Option<Index<Empty>>,
    #[serde(
        default,
        alias = "$string_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub string_inverted_index: Option<Index<Empty>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatListType {
    #[serde(
        default,
        alias = "$vector_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub vector_index: Option<Index<VectorIndexConfig>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SparseVectorType {
    #[serde(
        default,
        alias = "$sparse_vector_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub sparse_vector_index: Option<Index<SparseVectorIndexConfig>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntType {
    #[serde(
        default,
        alias = "$int_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub int_inverted_index: Option<Index<Empty>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatType {
    #[serde(
        default,
        alias = "$float_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub float_inverted_index: Option<Index<Empty>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoolType {
    #[serde(
        default,
        alias = "$bool_inverted_index",
        skip_serializing_if = "Option::is_none"
    )]
    pub bool_inverted_index: Option<Index<Empty>>,
}

/// One index: on or off, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index<C> {
    pub enabled: bool,
    pub config: C,
}

impl<C> Index<C> {
    pub fn new(enabled: bool, config: C) -> Self {
        Index { enabled, config }
    }
}

/// The settings of the inverted and full-text indexes: none (`{}`), and nothing else allowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Space {
    #[serde(rename = "l2")]
    L2,
    #[serde(rename = "cosine")]
    Cosine,
    #[serde(rename = "ip")]
    Ip,
}

impl Space {
    pub fn of(distance: silt_common::distance::Distance) -> Space {
        use silt_common::distance::Distance;
        match distance {
            Distance::L2 => Space::L2,
            Distance::Cosine => Space::Cosine,
            Distance::Ip => Space::Ip,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Space::L2 => "l2",
            Space::Cosine => "cosine",
            Space::Ip => "ip",
        }
    }
}

/// Which function computes a vector from its source: the clients read it back to embed
/// documents and query texts, so it is kept exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EmbeddingFunction {
    #[serde(rename = "legacy")]
    Legacy,
    #[serde(rename = "known")]
    Known { name: String, config: Value },
    #[serde(rename = "unknown")]
    Unknown,
}

impl EmbeddingFunction {
    /// Chroma counts no function, an unknown one and its default model as "default".
    pub fn is_default(ef: &Option<EmbeddingFunction>) -> bool {
        match ef {
            None | Some(EmbeddingFunction::Unknown) => true,
            Some(EmbeddingFunction::Legacy) => false,
            Some(EmbeddingFunction::Known { name, .. }) => name == "default",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorIndexConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<Space>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_function: Option<EmbeddingFunction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw: Option<HnswConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spann: Option<SpannConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_neighbors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_threshold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_factor: Option<f64>,
}

/// Chroma's distributed index. A schema may carry it; like `chroma run` (whose collections are
/// HNSW), Silt drops it where it completes the embedding's index, and keeps it elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpannConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_nprobe: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_rng_factor: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_rng_epsilon: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nreplica_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_rng_factor: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_rng_epsilon: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_samples_kmeans: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_lambda: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassign_neighbor_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_centers_to_merge_to: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_nprobe: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construction: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_search: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_neighbors: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center_drift_threshold: Option<f32>,
    /// Chroma's cloud sets this itself; clients may not (see `reconcile`).
    #[serde(default, skip_serializing_if = "Quantization::is_none")]
    pub quantize: Quantization,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantization {
    #[default]
    None,
    FourBitRabitQWithUSearch,
}

impl Quantization {
    fn is_none(&self) -> bool {
        *self == Quantization::None
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SparseAlgorithm {
    #[default]
    Wand,
    MaxScore,
}

impl SparseAlgorithm {
    fn is_default(&self) -> bool {
        *self == SparseAlgorithm::Wand
    }
}

/// A sparse vector index on one metadata key. With `source_key` and `embedding_function` the
/// client computes the key's sparse vectors from that source (BM25 from `#document`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseVectorIndexConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_function: Option<EmbeddingFunction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bm25: Option<bool>,
    /// Chroma's cloud chooses it per tenant; kept and returned, Silt has one algorithm.
    #[serde(default, skip_serializing_if = "SparseAlgorithm::is_default")]
    pub algorithm: SparseAlgorithm,
}
