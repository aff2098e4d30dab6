//! How a create's schema and configuration become the collection's schema, as Chroma's
//! frontend does it for an HNSW collection: the schema sent is completed with the defaults
//! (what it sets wins, field by field), a configuration that is not the default replaces the
//! vector index settings (both at once is refused), and the configuration clients read back is
//! then derived from the schema's `#embedding` index. A modify's configuration changes the
//! vector index parts of the schema the same way.

use serde_json::{json, Value};

use super::defaults;
use super::model::*;
use crate::error::{ApiError, ApiResult};
use crate::wire::configuration;

fn reconcile_error(reason: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Failed to reconcile schema: {reason}"))
}

fn merge_hnsw(default: Option<&HnswConfig>, user: Option<&HnswConfig>) -> Option<HnswConfig> {
    match (default, user) {
        (Some(d), Some(u)) => Some(HnswConfig {
            ef_construction: u.ef_construction.or(d.ef_construction),
            max_neighbors: u.max_neighbors.or(d.max_neighbors),
            ef_search: u.ef_search.or(d.ef_search),
            num_threads: u.num_threads.or(d.num_threads),
            batch_size: u.batch_size.or(d.batch_size),
            sync_threshold: u.sync_threshold.or(d.sync_threshold),
            resize_factor: u.resize_factor.or(d.resize_factor),
        }),
        (d, u) => u.or(d).cloned(),
    }
}

/// An HNSW collection keeps no SPANN settings where the defaults complete the vector index.
fn merge_vector_config(d: &VectorIndexConfig, u: &VectorIndexConfig) -> VectorIndexConfig {
    VectorIndexConfig {
        space: u.space.or(d.space),
        embedding_function: u
            .embedding_function
            .clone()
            .or_else(|| d.embedding_function.clone()),
        source_key: u.source_key.clone().or_else(|| d.source_key.clone()),
        hnsw: merge_hnsw(d.hnsw.as_ref(), u.hnsw.as_ref()),
        spann: None,
    }
}

fn merge_sparse_config(
    d: &SparseVectorIndexConfig,
    u: &SparseVectorIndexConfig,
) -> SparseVectorIndexConfig {
    SparseVectorIndexConfig {
        embedding_function: u
            .embedding_function
            .clone()
            .or_else(|| d.embedding_function.clone()),
        source_key: u.source_key.clone().or_else(|| d.source_key.clone()),
        bm25: u.bm25.or(d.bm25),
        algorithm: if u.algorithm != SparseAlgorithm::default() {
            u.algorithm
        } else {
            d.algorithm
        },
    }
}

/// `user` where given, else `default`; both given: `both` decides.
fn pick<T: Clone>(default: &Option<T>, user: &Option<T>, both: impl Fn(&T, &T) -> T) -> Option<T> {
    match (default, user) {
        (Some(d), Some(u)) => Some(both(d, u)),
        (d, u) => u.clone().or_else(|| d.clone()),
    }
}

fn user_index<C: Clone>(d: &Option<Index<C>>, u: &Option<Index<C>>) -> Option<Index<C>> {
    pick(d, u, |_, u| u.clone())
}

/// Chroma validates the HNSW settings of a completed vector index: batches and sync
/// thresholds of at least 2.
fn validate_hnsw(float_list: &Option<FloatListType>) -> ApiResult<()> {
    let Some(h) = float_list
        .as_ref()
        .and_then(|f| f.vector_index.as_ref())
        .and_then(|v| v.config.hnsw.as_ref())
    else {
        return Ok(());
    };
    let problems: Vec<String> = [
        ("batch_size", h.batch_size),
        ("sync_threshold", h.sync_threshold),
    ]
    .into_iter()
    .filter_map(|(name, value)| match value {
        Some(v) if v < 2 => Some(format!(
            "{name}: Validation error: range [{{\"value\": Number({v}), \"min\": Number(2)}}]"
        )),
        _ => None,
    })
    .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(reconcile_error(format!(
        "Invalid HNSW configuration: {}",
        problems.join("\n")
    )))
}

fn merge_value_types(d: &ValueTypes, u: &ValueTypes) -> ApiResult<ValueTypes> {
    let float_list = pick(&d.float_list, &u.float_list, |d, u| FloatListType {
        vector_index: pick(&d.vector_index, &u.vector_index, |d, u| {
            Index::new(u.enabled, merge_vector_config(&d.config, &u.config))
        }),
    });
    validate_hnsw(&float_list)?;
    Ok(ValueTypes {
        string: pick(&d.string, &u.string, |d, u| StringType {
            fts_index: user_index(&d.fts_index, &u.fts_index),
            string_inverted_index: user_index(&d.string_inverted_index, &u.string_inverted_index),
        }),
        float_list,
        sparse_vector: pick(&d.sparse_vector, &u.sparse_vector, |d, u| {
            SparseVectorType {
                sparse_vector_index: pick(
                    &d.sparse_vector_index,
                    &u.sparse_vector_index,
                    |d, u| Index::new(u.enabled, merge_sparse_config(&d.config, &u.config)),
                ),
            }
        }),
        int: pick(&d.int, &u.int, |d, u| IntType {
            int_inverted_index: user_index(&d.int_inverted_index, &u.int_inverted_index),
        }),
        float: pick(&d.float, &u.float, |d, u| FloatType {
            float_inverted_index: user_index(&d.float_inverted_index, &u.float_inverted_index),
        }),
        boolean: pick(&d.boolean, &u.boolean, |d, u| BoolType {
            bool_inverted_index: user_index(&d.bool_inverted_index, &u.bool_inverted_index),
        }),
    })
}

/// The user's schema completed with the defaults; keys the defaults do not know are kept as
/// sent (they fall back to the defaults per value type when read).
pub fn with_defaults(user: &Schema) -> ApiResult<Schema> {
    let default = defaults::schema();
    let mut keys = default.keys.clone();
    for (key, types) in &user.keys {
        let merged = match keys.get(key) {
            Some(d) => merge_value_types(d, types)?,
            None => types.clone(),
        };
        keys.insert(key.clone(), merged);
    }
    Ok(Schema {
        defaults: merge_value_types(&default.defaults, &user.defaults)?,
        keys,
        cmek: user.cmek.clone(),
        source_attached_function_id: user.source_attached_function_id.clone(),
    })
}

/// The vector index configs of the defaults and of `#embedding`, to change together.
fn vector_configs(schema: &mut Schema) -> impl Iterator<Item = &mut VectorIndexConfig> + '_ {
    let defaults = schema.defaults.float_list.as_mut();
    let embedding = schema
        .keys
        .get_mut(EMBEDDING_KEY)
        .and_then(|t| t.float_list.as_mut());
    defaults
        .into_iter()
        .chain(embedding)
        .filter_map(|f| f.vector_index.as_mut())
        .map(|v| &mut v.config)
}

/// The embedding function a stored configuration names. Configurations keep what the client
/// sent; one Chroma would not accept cannot be carried into a schema.
fn configured_ef(ef: &Value) -> ApiResult<Option<EmbeddingFunction>> {
    if ef.is_null() {
        return Ok(None);
    }
    serde_json::from_value(ef.clone()).map(Some).map_err(|e| {
        ApiError::new(
            silt_common::ErrorKind::Unprocessable,
            format!("Invalid configuration.embedding_function: {e}"),
        )
    })
}

/// The schema Chroma makes of a configuration that is not the default: the default schema
/// with the configuration's vector index settings.
fn from_configuration(config: &configuration::VectorSettings) -> ApiResult<Schema> {
    let mut schema = defaults::schema();
    let ef = configured_ef(&config.embedding_function)?;
    let hnsw: HnswConfig = serde_json::from_value(config.hnsw.clone())
        .map_err(|e| ApiError::invalid(format!("Invalid configuration.hnsw: {e}")))?;
    for c in vector_configs(&mut schema) {
        c.space = Some(Space::of(config.space));
        c.embedding_function = ef.clone();
        c.hnsw = Some(hnsw.clone());
    }
    Ok(schema)
}

/// The schema of a new collection from the schema and configuration of its create request
/// (`configuration` is the stored, complete form `wire::configuration::for_create` made).
pub fn for_create(user: Option<&Schema>, configuration: &Value) -> ApiResult<Schema> {
    let config = configuration::vector_settings(configuration);
    let config_is_default = config.is_default();
    if user.is_some_and(|u| !defaults::is_default(u)) && !config_is_default {
        return Err(reconcile_error(
            "Cannot set both collection config and schema simultaneously",
        ));
    }
    let reconciled = match user {
        Some(u) => with_defaults(u)?,
        None => defaults::schema(),
    };
    if !config_is_default {
        return from_configuration(&config);
    }
    if !defaults::is_default(&reconciled) {
        return Ok(reconciled);
    }
    // Both default: the default schema, naming the configuration's embedding function.
    let mut schema = defaults::schema();
    if let Some(ef) = configured_ef(&config.embedding_function)? {
        for c in vector_configs(&mut schema) {
            c.embedding_function = Some(ef.clone());
        }
    }
    Ok(schema)
}

/// The `#embedding` vector index settings (the defaults' when the key has none).
pub fn embedding_vector_config(schema: &Schema) -> Option<&VectorIndexConfig> {
    fn of(t: &ValueTypes) -> Option<&VectorIndexConfig> {
        t.float_list
            .as_ref()
            .and_then(|f| f.vector_index.as_ref())
            .map(|v| &v.config)
    }
    schema
        .keys
        .get(EMBEDDING_KEY)
        .and_then(of)
        .or_else(|| of(&schema.defaults))
}

/// The stored configuration that agrees with `schema` (Chroma derives `configuration_json`
/// from the schema's `#embedding` index when it reads a collection).
pub fn configuration_of(schema: &Schema) -> Value {
    let vector = embedding_vector_config(schema).cloned().unwrap_or_default();
    let space = vector.space.unwrap_or(Space::L2);
    let hnsw = serde_json::to_value(vector.hnsw.unwrap_or_default()).unwrap_or(json!({}));
    let ef = vector
        .embedding_function
        .and_then(|ef| serde_json::to_value(ef).ok())
        .unwrap_or(Value::Null);
    configuration::stored_from_parts(space.as_str(), &hnsw, ef)
}

/// A modify's `new_configuration` applied to the schema as Chroma applies it: each HNSW
/// setting it names, and the embedding function, on the defaults' and `#embedding`'s vector
/// index. `update` was accepted by `wire::configuration::for_update` already.
pub fn apply_update(schema: &mut Schema, update: &Value) -> ApiResult<()> {
    let hnsw = update.get("hnsw").filter(|h| h.is_object());
    let ef = match update.get("embedding_function") {
        Some(v) if !v.is_null() => configured_ef(v)?,
        _ => None,
    };
    for c in vector_configs(schema) {
        if let (Some(h), Some(current)) = (hnsw, c.hnsw.as_mut()) {
            let count = |k: &str| h.get(k).and_then(Value::as_u64);
            current.ef_search = count("ef_search").or(current.ef_search);
            current.max_neighbors = count("max_neighbors").or(current.max_neighbors);
            current.num_threads = count("num_threads").or(current.num_threads);
            current.sync_threshold = count("sync_threshold").or(current.sync_threshold);
            current.batch_size = count("batch_size").or(current.batch_size);
            current.resize_factor = h
                .get("resize_factor")
                .and_then(Value::as_f64)
                .or(current.resize_factor);
        }
        if let Some(ef) = &ef {
            c.embedding_function = Some(ef.clone());
        }
    }
    Ok(())
}
