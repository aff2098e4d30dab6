//! Chroma's collection schema: which indexes a collection keeps per value type and per
//! metadata key (inverted indexes, full-text search on `#document`, the vector index on
//! `#embedding`, sparse vector indexes), sent by `create_collection(schema=...)` and returned
//! with every collection. This module validates a create's schema as Chroma does, completes it
//! with Chroma's defaults, keeps it consistent with the configuration, and answers what the
//! data path needs from it: whether a filter uses a disabled index and which key holds the
//! sparse vector index. docs/chroma-configuration.md lists every option and what Silt does
//! with it.

mod defaults;
mod evolve;
mod filter;
pub(crate) mod model;
mod reconcile;
mod validate;

#[cfg(test)]
mod tests;

use serde::Deserialize;
use serde_json::Value;
use silt_common::ErrorKind;
use silt_sysdb::Collection;

use crate::error::{ApiError, ApiResult};
use crate::wire::configuration;
pub use evolve::SchemaGrowth;
pub use filter::ValueType;
pub use model::{Schema, SparseVectorIndexConfig};

/// A create's `schema` as sent: null or absent is none; a body of the wrong shape is 422, as
/// Chroma answers it.
pub fn parse(schema: Option<Value>) -> ApiResult<Option<Schema>> {
    match schema {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| ApiError::new(ErrorKind::Unprocessable, format!("Invalid schema: {e}"))),
    }
}

/// Checks a create's schema as Chroma's request validation does (400 "Validation error:
/// schema: ...").
pub fn validate(schema: &Schema) -> ApiResult<()> {
    validate::validate(schema)
}

/// The stored configuration and schema of a new collection, from its create request's schema
/// and the complete configuration `wire::configuration::for_create` made of its
/// `configuration` and legacy metadata: the configuration is derived from the schema so the
/// two always describe the same vector index.
pub fn for_create(schema: Option<&Schema>, configuration: &Value) -> ApiResult<(Value, Value)> {
    let schema = reconcile::for_create(schema, configuration)?;
    let stored_config = reconcile::configuration_of(&schema);
    Ok((stored_config, to_json(&schema)))
}

fn to_json(schema: &Schema) -> Value {
    // Serializing these types cannot fail (string keys only).
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// The collection's schema: as stored, or, for collections created before Silt stored
/// schemas, the default one its configuration implies.
pub fn of(c: &Collection) -> ApiResult<Schema> {
    stored_or_derived(&c.configuration, c.schema.as_ref()).map_err(|e| {
        ApiError::new(
            ErrorKind::Internal,
            format!(
                "The stored schema of collection {} does not parse: {e}",
                c.id
            ),
        )
    })
}

fn stored_or_derived(stored_config: &Value, stored: Option<&Value>) -> serde_json::Result<Schema> {
    match stored {
        // Deserialized from the borrowed value: no copy of the tree.
        Some(v) => Schema::deserialize(v),
        // Chroma's default schema with the configuration's vector index.
        None => serde_json::from_value(configuration::schema(stored_config)),
    }
}

/// The schema clients read back with the collection.
pub fn wire(c: &Collection) -> Value {
    wire_parts(&c.configuration, c.schema.as_ref())
}

fn wire_parts(stored_config: &Value, stored: Option<&Value>) -> Value {
    match stored {
        Some(v) => v.clone(),
        None => configuration::schema(stored_config),
    }
}

/// A modify's `new_configuration` applied: the new stored configuration and, for a collection
/// with a stored schema, its schema with the same vector index changes; `None` when the modify
/// changes no configuration.
pub fn for_update(
    c: &Collection,
    new_configuration: Option<Value>,
) -> ApiResult<Option<(Value, Option<Value>)>> {
    update_parts(&c.configuration, c.schema.as_ref(), new_configuration)
}

fn update_parts(
    stored_config: &Value,
    stored_schema: Option<&Value>,
    new_configuration: Option<Value>,
) -> ApiResult<Option<(Value, Option<Value>)>> {
    let Some(config) = configuration::for_update(stored_config, new_configuration.clone())? else {
        return Ok(None);
    };
    let schema = match stored_schema {
        Some(v) => {
            let mut schema = Schema::deserialize(v).map_err(|e| {
                ApiError::new(
                    ErrorKind::Internal,
                    format!("The stored schema does not parse: {e}"),
                )
            })?;
            let update = new_configuration.unwrap_or(Value::Null);
            reconcile::apply_update(&mut schema, &update)?;
            Some(to_json(&schema))
        }
        None => None,
    };
    Ok(Some((config, schema)))
}

/// Refuses a read's filters when they need an index the collection's schema disabled, with
/// Chroma's error (400 "Cannot filter using metadata key 'k' with type 'Str' because indexing
/// is disabled", or "... full-text search because FTS indexing is disabled"). Call it with the
/// `where` and `where_document` of get, query and delete, and with each Search API filter
/// (`where_document` None): `#document` conditions there are document filters.
pub fn check_filter(
    c: &Collection,
    where_clause: Option<&Value>,
    where_document: Option<&Value>,
) -> ApiResult<()> {
    if where_clause.is_none() && where_document.is_none() {
        return Ok(());
    }
    let schema = of(c)?;
    if let Some(w) = where_clause {
        filter::check_where(&schema, w)?;
    }
    if let Some(d) = where_document {
        filter::check_where_document(&schema, d)?;
    }
    Ok(())
}

/// `check_filter` for a parsed get, query or delete (`where` and `where_document`).
pub fn check_read_filters(c: &Collection, filters: &silt_query_service::Filters) -> ApiResult<()> {
    let where_clause = filters.r#where.as_ref().map(|w| w.to_json());
    let where_document = filters.where_document.as_ref().map(|d| d.to_json());
    check_filter(c, where_clause.as_ref(), where_document.as_ref())
}

/// `check_filter` for each search's filter of a Search API call, in order. (A sparse `$knn`
/// term's key is checked with `check_sparse_knn`.)
pub fn check_search_filters(
    c: &Collection,
    plans: &[silt_query_service::SearchPlan],
) -> ApiResult<()> {
    for clause in plans.iter().filter_map(|p| p.filter.as_ref()) {
        check_filter(c, Some(&clause.to_json()), None)?;
    }
    Ok(())
}

/// Refuses a sparse `$knn` on a key without an enabled sparse vector index (Chroma: 400
/// "Cannot filter using metadata key 'k' with type 'SparseVector' because indexing is
/// disabled").
pub fn check_sparse_knn(c: &Collection, key: &str) -> ApiResult<()> {
    filter::check_sparse_knn(&of(c)?, key)
}

/// The keys with an enabled sparse vector index (at most one: Chroma allows one per
/// collection), for the sparse index builder and `$knn`.
pub fn sparse_vector_keys(schema: &Schema) -> Vec<String> {
    schema
        .keys
        .iter()
        .filter(|(_, t)| {
            t.sparse_vector
                .as_ref()
                .and_then(|s| s.sparse_vector_index.as_ref())
                .is_some_and(|i| i.enabled)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The collection's sparse vector index: its key and settings (source key, BM25, embedding
/// function), if it declares one.
pub fn sparse_vector_index(schema: &Schema) -> Option<(String, SparseVectorIndexConfig)> {
    schema.keys.iter().find_map(|(k, t)| {
        let index = t.sparse_vector.as_ref()?.sparse_vector_index.as_ref()?;
        index.enabled.then(|| (k.clone(), index.config.clone()))
    })
}
