//! Filters against the indexes a schema switched off. Chroma's frontend refuses, before it
//! reads anything, a `where` clause on a key whose inverted index for the operand's type is
//! disabled, any document filter when `#document`'s full-text index is disabled, and a sparse
//! `$knn` on a key without a sparse vector index. Silt keeps its per-key metadata blocks either
//! way; the refusal is what makes a disabled index observable, as in Chroma.

use serde_json::Value;

use super::model::*;
use crate::error::{ApiError, ApiResult};

/// The value types a filter operand or a metadata value can have, named as Chroma's messages
/// name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueType {
    Bool,
    Int,
    Float,
    Str,
    SparseVector,
}

impl ValueType {
    fn name(self) -> &'static str {
        match self {
            ValueType::Bool => "Bool",
            ValueType::Int => "Int",
            ValueType::Float => "Float",
            ValueType::Str => "Str",
            ValueType::SparseVector => "SparseVector",
        }
    }

    /// A JSON scalar's type: integers are `Int`, other numbers `Float`, as Chroma parses them.
    pub fn of_scalar(v: &Value) -> Option<ValueType> {
        match v {
            Value::Bool(_) => Some(ValueType::Bool),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(ValueType::Int),
            Value::Number(_) => Some(ValueType::Float),
            Value::String(_) => Some(ValueType::Str),
            _ => None,
        }
    }
}

fn disabled(key: &str, t: ValueType) -> ApiError {
    ApiError::invalid(format!(
        "Cannot filter using metadata key '{key}' with type '{}' because indexing is disabled",
        t.name()
    ))
}

fn fts_disabled() -> ApiError {
    ApiError::invalid("Cannot filter using full-text search because FTS indexing is disabled")
}

/// The enabled flag of `t`'s index in `types`, if `types` configures one.
fn index_flag(types: &ValueTypes, t: ValueType) -> Option<bool> {
    let index = match t {
        ValueType::Bool => types.boolean.as_ref()?.bool_inverted_index.as_ref(),
        ValueType::Int => types.int.as_ref()?.int_inverted_index.as_ref(),
        ValueType::Float => types.float.as_ref()?.float_inverted_index.as_ref(),
        ValueType::Str => types.string.as_ref()?.string_inverted_index.as_ref(),
        ValueType::SparseVector => {
            return types
                .sparse_vector
                .as_ref()?
                .sparse_vector_index
                .as_ref()
                .map(|i| i.enabled)
        }
    };
    index.map(|i| i.enabled)
}

/// Whether values of type `t` under `key` are indexed: the key's own setting for that type,
/// else the defaults'. (Chroma answers 500 "Schema is malformed" for a key whose type entry
/// holds no index; Silt takes the defaults' setting for it, and an index configured nowhere
/// counts as on.)
pub fn is_indexed(schema: &Schema, key: &str, t: ValueType) -> bool {
    schema
        .keys
        .get(key)
        .and_then(|types| index_flag(types, t))
        .or_else(|| index_flag(&schema.defaults, t))
        .unwrap_or(true)
}

/// Full-text search: `#document`'s setting, else the defaults'; on when neither says.
pub fn fts_enabled(schema: &Schema) -> bool {
    let fts = |types: &ValueTypes| {
        types
            .string
            .as_ref()
            .and_then(|s| s.fts_index.as_ref())
            .map(|i| i.enabled)
    };
    schema
        .keys
        .get(DOCUMENT_KEY)
        .and_then(fts)
        .or_else(|| fts(&schema.defaults))
        .unwrap_or(true)
}

/// The type a field condition compares with: its operand's, or the first list item's for
/// `$in`/`$nin`.
fn operand_type(condition: &Value) -> Option<ValueType> {
    let operand = match condition {
        Value::Object(ops) => ops.values().next()?,
        scalar => scalar,
    };
    match operand {
        Value::Array(items) => items.first().and_then(ValueType::of_scalar),
        scalar => ValueType::of_scalar(scalar),
    }
}

/// Checks a `where` clause (also the Search API's filter, whose `#document` conditions are
/// document filters). Clauses are visited in order, so the first refused condition is the one
/// reported, as by Chroma. Shapes the filter parser refuses are left to it.
pub fn check_where(schema: &Schema, clause: &Value) -> ApiResult<()> {
    let Value::Object(entries) = clause else {
        return Ok(());
    };
    for (key, condition) in entries {
        match key.as_str() {
            "$and" | "$or" => {
                for sub in condition.as_array().into_iter().flatten() {
                    check_where(schema, sub)?;
                }
            }
            DOCUMENT_KEY => {
                if !fts_enabled(schema) {
                    return Err(fts_disabled());
                }
            }
            op if op.starts_with('$') => {}
            field => {
                if let Some(t) = operand_type(condition) {
                    if !is_indexed(schema, field, t) {
                        return Err(disabled(field, t));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Checks a `where_document` clause: any condition needs full-text search.
pub fn check_where_document(schema: &Schema, clause: &Value) -> ApiResult<()> {
    let has_condition = clause.as_object().is_some_and(|m| !m.is_empty());
    if has_condition && !fts_enabled(schema) {
        return Err(fts_disabled());
    }
    Ok(())
}

/// A sparse `$knn` ranks by `key`'s sparse vector index, which must be enabled.
pub fn check_sparse_knn(schema: &Schema, key: &str) -> ApiResult<()> {
    if is_indexed(schema, key, ValueType::SparseVector) {
        Ok(())
    } else {
        Err(disabled(key, ValueType::SparseVector))
    }
}
