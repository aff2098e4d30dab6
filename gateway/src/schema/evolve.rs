//! The schema grows with the data: Chroma records each metadata key a write brings, with the
//! defaults' settings for its value type, the first time that key appears with that type
//! (`chroma run` at the write, Chroma's distributed deployment at compaction). The settings a
//! key receives are the defaults it would fall back to anyway, so growing changes no filter's
//! outcome; it only makes the keys visible in the collection's schema.

use super::filter::ValueType;
use super::model::*;

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
