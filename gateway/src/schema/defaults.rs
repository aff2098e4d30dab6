//! Chroma's default schema for an HNSW collection (what `chroma run` gives a collection created
//! without one) and its test for "still the default", which decides whether a schema or the
//! configuration describes a new collection.

use std::collections::BTreeMap;

use super::model::*;
use crate::wire::configuration::defaults as hnsw_defaults;

/// Every HNSW setting at its default.
pub fn hnsw() -> HnswConfig {
    HnswConfig {
        ef_construction: Some(hnsw_defaults::EF_CONSTRUCTION),
        max_neighbors: Some(hnsw_defaults::MAX_NEIGHBORS),
        ef_search: Some(hnsw_defaults::EF_SEARCH),
        num_threads: Some(hnsw_defaults::num_threads()),
        batch_size: Some(hnsw_defaults::BATCH_SIZE),
        sync_threshold: Some(hnsw_defaults::SYNC_THRESHOLD),
        resize_factor: Some(hnsw_defaults::RESIZE_FACTOR),
    }
}

fn vector_config(source_key: Option<&str>) -> VectorIndexConfig {
    VectorIndexConfig {
        space: Some(Space::L2),
        embedding_function: None,
        source_key: source_key.map(str::to_string),
        hnsw: Some(hnsw()),
        spann: None,
    }
}

fn string(fts: bool, inverted: bool) -> StringType {
    StringType {
        fts_index: Some(Index::new(fts, Empty {})),
        string_inverted_index: Some(Index::new(inverted, Empty {})),
    }
}

/// The schema of a collection created with neither schema nor configuration: every inverted
/// index on, full-text search on `#document` only, the vector index on `#embedding` only, no
/// sparse index.
pub fn schema() -> Schema {
    let defaults = ValueTypes {
        string: Some(string(false, true)),
        float_list: Some(FloatListType {
            vector_index: Some(Index::new(false, vector_config(None))),
        }),
        sparse_vector: Some(SparseVectorType {
            sparse_vector_index: Some(Index::new(
                false,
                SparseVectorIndexConfig {
                    embedding_function: Some(EmbeddingFunction::Unknown),
                    source_key: None,
                    bm25: Some(false),
                    algorithm: SparseAlgorithm::Wand,
                },
            )),
        }),
        int: Some(IntType {
            int_inverted_index: Some(Index::new(true, Empty {})),
        }),
        float: Some(FloatType {
            float_inverted_index: Some(Index::new(true, Empty {})),
        }),
        boolean: Some(BoolType {
            bool_inverted_index: Some(Index::new(true, Empty {})),
        }),
    };
    let mut keys = BTreeMap::new();
    keys.insert(
        DOCUMENT_KEY.to_string(),
        ValueTypes {
            string: Some(string(true, false)),
            ..ValueTypes::default()
        },
    );
    keys.insert(
        EMBEDDING_KEY.to_string(),
        ValueTypes {
            float_list: Some(FloatListType {
                vector_index: Some(Index::new(true, vector_config(Some(DOCUMENT_KEY)))),
            }),
            ..ValueTypes::default()
        },
    );
    Schema {
        defaults,
        keys,
        cmek: None,
        source_attached_function_id: None,
    }
}

/// Unset settings count as default; `num_threads` is the machine's and never counts.
fn hnsw_is_default(h: &HnswConfig) -> bool {
    let d = hnsw();
    let same = |given: Option<u64>, default: Option<u64>| given.is_none() || given == default;
    same(h.ef_construction, d.ef_construction)
        && same(h.max_neighbors, d.max_neighbors)
        && same(h.ef_search, d.ef_search)
        && same(h.batch_size, d.batch_size)
        && same(h.sync_threshold, d.sync_threshold)
        && h.resize_factor.is_none_or(|r| Some(r) == d.resize_factor)
}

fn spann_is_default(s: &SpannConfig) -> bool {
    // Chroma's SPANN defaults; only their equality matters here.
    fn same<T: PartialEq>(given: Option<T>, default: T) -> bool {
        given.is_none_or(|g| g == default)
    }
    same(s.search_nprobe, 64)
        && same(s.search_rng_factor, 1.0)
        && same(s.search_rng_epsilon, 10.0)
        && same(s.nreplica_count, 8)
        && same(s.write_rng_factor, 1.0)
        && same(s.write_rng_epsilon, 5.0)
        && same(s.split_threshold, 50)
        && same(s.num_samples_kmeans, 1000)
        && same(s.initial_lambda, 100.0)
        && same(s.reassign_neighbor_count, 64)
        && same(s.merge_threshold, 25)
        && same(s.num_centers_to_merge_to, 8)
        && same(s.write_nprobe, 32)
        && same(s.ef_construction, 200)
        && same(s.ef_search, 200)
        && same(s.max_neighbors, 64)
        && same(s.center_drift_threshold, 0.125)
        && s.quantize == Quantization::None
}

fn algorithm_is_default(c: &VectorIndexConfig) -> bool {
    match (&c.hnsw, &c.spann) {
        (Some(h), None) => hnsw_is_default(h),
        (None, Some(s)) => spann_is_default(s),
        (Some(_), Some(_)) => false,
        (None, None) => true,
    }
}

fn space_is_default(space: Option<Space>) -> bool {
    space.is_none_or(|s| s == Space::L2)
}

fn defaults_are_default(v: &ValueTypes) -> bool {
    let on = |i: &Option<Index<Empty>>| i.as_ref().is_none_or(|i| i.enabled);
    if let Some(s) = &v.string {
        if !on(&s.string_inverted_index) || s.fts_index.as_ref().is_some_and(|i| i.enabled) {
            return false;
        }
    }
    if v.int.as_ref().is_some_and(|t| !on(&t.int_inverted_index))
        || v.float
            .as_ref()
            .is_some_and(|t| !on(&t.float_inverted_index))
        || v.boolean
            .as_ref()
            .is_some_and(|t| !on(&t.bool_inverted_index))
    {
        return false;
    }
    if let Some(vi) = v.float_list.as_ref().and_then(|f| f.vector_index.as_ref()) {
        if vi.enabled
            || !EmbeddingFunction::is_default(&vi.config.embedding_function)
            || !space_is_default(vi.config.space)
            || vi.config.source_key.is_some()
            || !algorithm_is_default(&vi.config)
        {
            return false;
        }
    }
    if let Some(si) = v
        .sparse_vector
        .as_ref()
        .and_then(|s| s.sparse_vector_index.as_ref())
    {
        if si.enabled
            || !EmbeddingFunction::is_default(&si.config.embedding_function)
            || si.config.source_key.is_some()
            || si.config.bm25 == Some(true)
        {
            return false;
        }
    }
    true
}

fn embedding_is_default(v: &ValueTypes) -> bool {
    if v.string.is_some()
        || v.int.is_some()
        || v.float.is_some()
        || v.boolean.is_some()
        || v.sparse_vector.is_some()
    {
        return false;
    }
    match v.float_list.as_ref().and_then(|f| f.vector_index.as_ref()) {
        Some(vi) => {
            vi.enabled
                && space_is_default(vi.config.space)
                && EmbeddingFunction::is_default(&vi.config.embedding_function)
                && vi.config.source_key.as_deref() == Some(DOCUMENT_KEY)
                && algorithm_is_default(&vi.config)
        }
        None => true,
    }
}

fn document_is_default(v: &ValueTypes) -> bool {
    if v.float_list.is_some()
        || v.int.is_some()
        || v.float.is_some()
        || v.boolean.is_some()
        || v.sparse_vector.is_some()
    {
        return false;
    }
    match &v.string {
        Some(s) => {
            s.fts_index.as_ref().is_none_or(|i| i.enabled)
                && s.string_inverted_index.as_ref().is_none_or(|i| !i.enabled)
        }
        None => true,
    }
}

/// Whether `schema` asks for nothing but the defaults (Chroma's `Schema::is_default`): then a
/// create's configuration may still set the vector index.
pub fn is_default(schema: &Schema) -> bool {
    defaults_are_default(&schema.defaults)
        && schema
            .keys
            .keys()
            .all(|k| k == EMBEDDING_KEY || k == DOCUMENT_KEY)
        && schema
            .keys
            .get(EMBEDDING_KEY)
            .is_none_or(embedding_is_default)
        && schema
            .keys
            .get(DOCUMENT_KEY)
            .is_none_or(document_is_default)
        && schema.cmek.is_none()
}
