//! The record model: what a collection stores, and the operations the log carries.

use std::collections::BTreeMap;

use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use crate::codec::{DecodeError, Reader, Writer};
use crate::sparse_vector::SparseVector;

/// A metadata value: a scalar, a homogeneous non-empty array of scalars, or a sparse vector.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    BoolArray(Vec<bool>),
    IntArray(Vec<i64>),
    FloatArray(Vec<f64>),
    StrArray(Vec<String>),
    /// Chroma's `SparseVector`: no filter compares it (it equals nothing, so `$ne`/`$nin`
    /// match it); a search ranks by it (`$knn` with `key`).
    SparseVector(SparseVector),
}

pub type Metadata = BTreeMap<String, MetadataValue>;

/// Metadata as sent by update/upsert: `None` removes the key.
pub type MetadataUpdate = BTreeMap<String, Option<MetadataValue>>;

impl MetadataValue {
    /// Parses Chroma's JSON form. `Ok(None)` is JSON null (a key removal in updates).
    pub fn from_json(v: &Value) -> Result<Option<MetadataValue>, String> {
        Ok(Some(match v {
            Value::Null => return Ok(None),
            Value::Bool(b) => MetadataValue::Bool(*b),
            Value::Number(n) => scalar_number(n)?,
            Value::String(s) => MetadataValue::Str(s.clone()),
            Value::Array(items) => array_from_json(items)?,
            Value::Object(m) if SparseVector::looks_like(m) => {
                MetadataValue::SparseVector(SparseVector::from_json(m)?)
            }
            Value::Object(_) => return Err(
                "metadata values must be str, int, float, bool, a list of them or a sparse vector, not an object"
                    .to_string(),
            ),
        }))
    }

    pub fn to_json(&self) -> Value {
        match self {
            MetadataValue::Bool(b) => Value::Bool(*b),
            MetadataValue::Int(i) => Value::from(*i),
            MetadataValue::Float(f) => float_json(*f),
            MetadataValue::Str(s) => Value::String(s.clone()),
            MetadataValue::BoolArray(v) => {
                Value::Array(v.iter().map(|b| Value::Bool(*b)).collect())
            }
            MetadataValue::IntArray(v) => Value::Array(v.iter().map(|i| Value::from(*i)).collect()),
            MetadataValue::FloatArray(v) => {
                Value::Array(v.iter().map(|f| float_json(*f)).collect())
            }
            MetadataValue::StrArray(v) => {
                Value::Array(v.iter().map(|s| Value::String(s.clone())).collect())
            }
            MetadataValue::SparseVector(v) => v.to_json(),
        }
    }

    /// The sparse vector this value is, if it is one.
    pub fn as_sparse(&self) -> Option<&SparseVector> {
        match self {
            MetadataValue::SparseVector(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(
            self,
            MetadataValue::BoolArray(_)
                | MetadataValue::IntArray(_)
                | MetadataValue::FloatArray(_)
                | MetadataValue::StrArray(_)
        )
    }

    /// Approximate in-memory/serialized size, for quota checks.
    pub fn size_hint(&self) -> usize {
        match self {
            MetadataValue::Str(s) => s.len(),
            MetadataValue::StrArray(v) => v.iter().map(|s| s.len() + 1).sum(),
            MetadataValue::BoolArray(v) => v.len(),
            MetadataValue::IntArray(v) => v.len() * 8,
            MetadataValue::FloatArray(v) => v.len() * 8,
            MetadataValue::SparseVector(v) => v.size_hint(),
            _ => 8,
        }
    }
}

fn float_json(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn scalar_number(n: &serde_json::Number) -> Result<MetadataValue, String> {
    if let Some(i) = n.as_i64() {
        Ok(MetadataValue::Int(i))
    } else if let Some(f) = n.as_f64() {
        Ok(MetadataValue::Float(f))
    } else {
        Err(format!("metadata number {n} is out of range"))
    }
}

fn array_from_json(items: &[Value]) -> Result<MetadataValue, String> {
    let Some(first) = items.first() else {
        return Err("metadata lists must not be empty".to_string());
    };
    let mixed = || "metadata lists must hold values of one type".to_string();
    Ok(match first {
        Value::Bool(_) => MetadataValue::BoolArray(
            items
                .iter()
                .map(|v| v.as_bool().ok_or_else(mixed))
                .collect::<Result<_, _>>()?,
        ),
        Value::String(_) => MetadataValue::StrArray(
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(mixed))
                .collect::<Result<_, _>>()?,
        ),
        Value::Number(_) if items.iter().all(|v| v.is_i64()) => {
            MetadataValue::IntArray(items.iter().filter_map(Value::as_i64).collect())
        }
        Value::Number(_) => MetadataValue::FloatArray(
            items
                .iter()
                .map(|v| {
                    if v.is_number() {
                        v.as_f64().ok_or_else(mixed)
                    } else {
                        Err(mixed())
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err("metadata lists may hold only str, int, float or bool".to_string()),
    })
}

impl Serialize for MetadataValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

pub fn metadata_to_json(m: &Metadata) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

pub fn metadata_update_to_json(m: &MetadataUpdate) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map_or(Value::Null, |v| v.to_json())))
            .collect(),
    )
}

/// Parses a metadata map in which null values mean "remove this key".
pub fn metadata_update_from_json(v: &Value) -> Result<MetadataUpdate, String> {
    let Value::Object(map) = v else {
        return Err("metadata must be an object".to_string());
    };
    map.iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                MetadataValue::from_json(v).map_err(|e| format!("key {k:?}: {e}"))?,
            ))
        })
        .collect()
}

/// Metadata as persisted: Chroma's JSON (so ints and floats stay distinct); `None` when empty.
pub fn stored_metadata(m: &Metadata) -> Option<String> {
    (!m.is_empty()).then(|| metadata_to_json(m).to_string())
}

/// The inverse of `stored_metadata`.
pub fn parse_stored_metadata(s: Option<String>) -> Result<Metadata, DecodeError> {
    let Some(s) = s else {
        return Ok(Metadata::new());
    };
    let v: Value = serde_json::from_str(&s).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    Ok(metadata_update_from_json(&v)
        .map_err(DecodeError::Invalid)?
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// A stored record, as a collection holds it after all operations are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub embedding: Vec<f32>,
    pub document: Option<String>,
    pub metadata: Metadata,
    pub uri: Option<String>,
}

impl Record {
    /// The stored form of one record, shared by version segments and internal RPC. Metadata
    /// travels as Chroma's JSON so that ints and floats stay distinct.
    pub fn encode(&self, w: &mut Writer) {
        w.str(&self.id);
        w.f32s(&self.embedding);
        w.opt_str(self.document.as_deref());
        w.opt_str(stored_metadata(&self.metadata).as_deref());
        w.opt_str(self.uri.as_deref());
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id = r.str()?;
        let embedding = r.f32s()?;
        let document = r.opt_str()?;
        let metadata = parse_stored_metadata(r.opt_str()?)?;
        let uri = r.opt_str()?;
        Ok(Record {
            id,
            embedding,
            document,
            metadata,
            uri,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Add,
    Upsert,
    Update,
    Delete,
}

impl Operation {
    fn code(self) -> u8 {
        match self {
            Operation::Add => 1,
            Operation::Upsert => 2,
            Operation::Update => 3,
            Operation::Delete => 4,
        }
    }

    fn from_code(c: u8) -> Result<Self, DecodeError> {
        Ok(match c {
            1 => Operation::Add,
            2 => Operation::Upsert,
            3 => Operation::Update,
            4 => Operation::Delete,
            _ => return Err(DecodeError::Invalid(format!("unknown operation {c}"))),
        })
    }
}

/// One operation on one record, as the log stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationRecord {
    pub id: String,
    pub operation: Operation,
    pub embedding: Option<Vec<f32>>,
    pub document: Option<String>,
    pub metadata: Option<MetadataUpdate>,
    pub uri: Option<String>,
}

impl OperationRecord {
    pub fn delete(id: String) -> Self {
        OperationRecord {
            id,
            operation: Operation::Delete,
            embedding: None,
            document: None,
            metadata: None,
            uri: None,
        }
    }

    pub fn encode(&self, w: &mut Writer) {
        w.u8(self.operation.code());
        w.str(&self.id);
        match &self.embedding {
            None => w.u8(0),
            Some(e) => {
                w.u8(1);
                w.f32s(e);
            }
        }
        w.opt_str(self.document.as_deref());
        let meta = self
            .metadata
            .as_ref()
            .map(|m| metadata_update_to_json(m).to_string());
        w.opt_str(meta.as_deref());
        w.opt_str(self.uri.as_deref());
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let operation = Operation::from_code(r.u8()?)?;
        let id = r.str()?;
        let embedding = match r.u8()? {
            0 => None,
            1 => Some(r.f32s()?),
            t => return Err(DecodeError::Invalid(format!("bad embedding tag {t}"))),
        };
        let document = r.opt_str()?;
        let metadata = match r.opt_str()? {
            None => None,
            Some(s) => {
                let v: Value =
                    serde_json::from_str(&s).map_err(|e| DecodeError::Invalid(e.to_string()))?;
                Some(metadata_update_from_json(&v).map_err(DecodeError::Invalid)?)
            }
        };
        let uri = r.opt_str()?;
        Ok(OperationRecord {
            id,
            operation,
            embedding,
            document,
            metadata,
            uri,
        })
    }
}

/// An operation at its position in a collection's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub offset: u64,
    pub record: OperationRecord,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_json_round_trip_keeps_int_float_distinction() {
        let v =
            json!({"a": 1, "b": 1.5, "c": "x", "d": true, "e": [1, 2], "f": ["p"], "g": [1.0, 2]});
        let m = metadata_update_from_json(&v).unwrap();
        assert_eq!(m["a"], Some(MetadataValue::Int(1)));
        assert_eq!(m["b"], Some(MetadataValue::Float(1.5)));
        assert_eq!(m["g"], Some(MetadataValue::FloatArray(vec![1.0, 2.0])));
        assert_eq!(metadata_update_to_json(&m)["e"], json!([1, 2]));
    }

    #[test]
    fn bad_metadata_is_rejected() {
        assert!(metadata_update_from_json(&json!({"a": {"b": 1}})).is_err());
        assert!(metadata_update_from_json(&json!({"a": []})).is_err());
        assert!(metadata_update_from_json(&json!({"a": [1, "x"]})).is_err());
        assert!(metadata_update_from_json(&json!([1])).is_err());
        assert!(metadata_update_from_json(
            &json!({"s": {"#type": "sparse_vector", "indices": [3, 1], "values": [1, 1]}})
        )
        .is_err());
    }

    #[test]
    fn sparse_vectors_round_trip_through_stored_metadata() {
        let v = json!({"s": {"#type": "sparse_vector", "indices": [1, 7], "values": [0.1, 2.5]},
                       "old": {"indices": [0], "values": [1]}, "n": 1});
        let m: Metadata = metadata_update_from_json(&v)
            .unwrap()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let sv = m["s"].as_sparse().unwrap();
        assert_eq!(sv.indices, [1, 7]);
        assert_eq!(sv.values, [0.1f32, 2.5]);
        let back = parse_stored_metadata(stored_metadata(&m)).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            metadata_to_json(&back)["old"],
            json!({"#type": "sparse_vector", "indices": [0], "values": [1.0]})
        );
    }

    #[test]
    fn operation_record_round_trips() {
        let mut meta = MetadataUpdate::new();
        meta.insert("k".into(), Some(MetadataValue::StrArray(vec!["a".into()])));
        meta.insert("gone".into(), None);
        let rec = OperationRecord {
            id: "id-1".into(),
            operation: Operation::Upsert,
            embedding: Some(vec![0.25, -1.0]),
            document: Some("doc".into()),
            metadata: Some(meta),
            uri: None,
        };
        let mut w = Writer::default();
        rec.encode(&mut w);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        assert_eq!(OperationRecord::decode(&mut r).unwrap(), rec);
        r.expect_end().unwrap();
    }
}
