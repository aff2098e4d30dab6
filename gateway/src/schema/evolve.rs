//! The schema grows with the data: Chroma records each metadata key a write brings, with the
//! defaults' settings for its value type, the first time that key appears with that type
//! (`chroma run` at the write, Chroma's distributed deployment at compaction). The settings a
//! key receives are the defaults it would fall back to anyway, so growing changes no filter's
//! outcome; it only makes the keys visible in the collection's schema.

use std::collections::BTreeSet;

use silt_common::record::{MetadataValue, OperationRecord};
use silt_sysdb::{Collection, SysDb};

use super::filter::ValueType;
use super::model::*;
use serde_json::Value;

/// `schema` with every `(key, type)` it does not have yet, or `None` when it has them all.
/// Keys Chroma reserves (`chroma:*`) and `#` keys are never added.
pub fn with_metadata_keys<'a>(
    schema: &Schema,
    pairs: impl IntoIterator<Item = (&'a str, ValueType)>,
) -> Option<Schema> {
    let mut grown: Option<Schema> = None;
    for (key, t) in pairs {
        if key.starts_with("chroma:") || key.starts_with('#') {
            continue;
        }
        let current = grown.as_ref().unwrap_or(schema);
        let has = current.keys.get(key).is_some_and(|types| match t {
            ValueType::Bool => types.boolean.is_some(),
            ValueType::Int => types.int.is_some(),
            ValueType::Float => types.float.is_some(),
            ValueType::Str => types.string.is_some(),
            ValueType::SparseVector => types.sparse_vector.is_some(),
        });
        if has {
            continue;
        }
        let target = grown.get_or_insert_with(|| schema.clone());
        let defaults = target.defaults.clone();
        let types = target.keys.entry(key.to_string()).or_default();
        match t {
            ValueType::Bool => types.boolean = defaults.boolean,
            ValueType::Int => types.int = defaults.int,
            ValueType::Float => types.float = defaults.float,
            ValueType::Str => types.string = defaults.string,
            ValueType::SparseVector => types.sparse_vector = defaults.sparse_vector,
        }
    }
    grown
}

impl ValueType {
    /// The index a metadata value uses: an array's is its elements'.
    pub fn of_metadata(v: &MetadataValue) -> ValueType {
        match v {
            MetadataValue::Bool(_) | MetadataValue::BoolArray(_) => ValueType::Bool,
            MetadataValue::Int(_) | MetadataValue::IntArray(_) => ValueType::Int,
            MetadataValue::Float(_) | MetadataValue::FloatArray(_) => ValueType::Float,
            MetadataValue::Str(_) | MetadataValue::StrArray(_) => ValueType::Str,
            MetadataValue::SparseVector(_) => ValueType::SparseVector,
        }
    }
}

/// The `(key, type)` pairs a write's metadata brings that the collection's schema lacks,
/// found before the write is appended and recorded after it is acknowledged.
pub struct SchemaGrowth {
    pairs: Vec<(String, ValueType)>,
}

/// How often a growth is retried when other writers changed the schema meanwhile.
const GROWTH_ATTEMPTS: usize = 5;

impl SchemaGrowth {
    /// `None` when the collection has no stored schema or already lists every pair (the
    /// common case: no catalog write follows).
    pub fn of(c: &Collection, records: &[OperationRecord]) -> Option<SchemaGrowth> {
        c.schema.as_ref()?;
        // Deduplicated while borrowed: a batch repeats the same few keys on every record.
        let distinct: BTreeSet<(&str, ValueType)> = records
            .iter()
            .filter_map(|r| r.metadata.as_ref())
            .flat_map(|m| m.iter())
            .filter_map(|(k, v)| Some((k.as_str(), ValueType::of_metadata(v.as_ref()?))))
            .collect();
        if distinct.is_empty() {
            return None;
        }
        let pairs: Vec<(String, ValueType)> = distinct
            .into_iter()
            .map(|(k, t)| (k.to_string(), t))
            .collect();
        let schema = super::of(c).ok()?;
        with_metadata_keys(&schema, pairs.iter().map(|(k, t)| (k.as_str(), *t)))?;
        Some(SchemaGrowth { pairs })
    }

    /// Stores the grown schema by compare-and-swap, re-reading and re-growing when another
    /// writer changed it first. The write is already acknowledged and the keys only make the
    /// schema list what it holds (filters fall back to the same defaults), so a failure is
    /// logged, not returned.
    pub async fn record(self, sysdb: &SysDb, c: &Collection) {
        let mut current = c.clone();
        for _ in 0..GROWTH_ATTEMPTS {
            let (Some(expected), Ok(schema)) = (current.schema.clone(), super::of(&current)) else {
                return;
            };
            let pairs = self.pairs.iter().map(|(k, t)| (k.as_str(), *t));
            let Some(grown) = with_metadata_keys(&schema, pairs) else {
                return;
            };
            let grown = serde_json::to_value(&grown).unwrap_or(Value::Null);
            match sysdb
                .replace_collection_schema(c.id, &expected, &grown)
                .await
            {
                Ok(true) => return,
                Ok(false) => match sysdb.get_collection(c.id).await {
                    Ok(fresh) => current = fresh,
                    Err(e) => {
                        tracing::warn!(collection = %c.id, error = %e, "schema keys not recorded");
                        return;
                    }
                },
                Err(e) => {
                    tracing::warn!(collection = %c.id, error = %e, "schema keys not recorded");
                    return;
                }
            }
        }
        tracing::warn!(collection = %c.id, "schema keys not recorded: the schema kept changing");
    }
}
