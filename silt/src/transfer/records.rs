//! A page of records, column by column as Chroma's API carries them. Metadata stays the JSON
//! text the server sent (`RawValue`): re-reading it into numbers and printing them again could
//! turn `1.0` into `1` or move a float by one unit in the last place, and copies must be exact.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Debug, Default)]
pub struct Records {
    pub ids: Vec<String>,
    pub embeddings: Vec<Option<Vec<f32>>>,
    pub documents: Vec<Option<String>>,
    /// Each record's metadata object as JSON text, or None.
    pub metadatas: Vec<Option<Box<RawValue>>>,
    pub uris: Vec<Option<String>>,
}

/// The body of a `get` answer; a field the server left out is a column of nulls.
#[derive(Deserialize)]
pub struct GetAnswer {
    ids: Vec<String>,
    #[serde(default)]
    embeddings: Option<Vec<Option<Vec<f32>>>>,
    #[serde(default)]
    documents: Option<Vec<Option<String>>>,
    #[serde(default)]
    metadatas: Option<Vec<Option<Box<RawValue>>>>,
    #[serde(default)]
    uris: Option<Vec<Option<String>>>,
}

impl GetAnswer {
    pub fn into_records(self) -> Result<Records, String> {
        let n = self.ids.len();
        Ok(Records {
            embeddings: column("embeddings", self.embeddings, n)?,
            documents: column("documents", self.documents, n)?,
            metadatas: column("metadatas", self.metadatas, n)?
                .into_iter()
                // `{}` and null mean the same to Chroma; null keeps files and bodies small.
                .map(|m| m.filter(|m| m.get() != "null"))
                .collect(),
            uris: column("uris", self.uris, n)?,
            ids: self.ids,
        })
    }
}

fn column<T>(
    name: &str,
    values: Option<Vec<Option<T>>>,
    n: usize,
) -> Result<Vec<Option<T>>, String> {
    match values {
        None => Ok((0..n).map(|_| None).collect()),
        Some(v) if v.len() == n => Ok(v),
        Some(v) => Err(format!("{n} ids but {} {name}", v.len())),
    }
}

#[derive(Serialize)]
struct UpsertBody<'a> {
    ids: &'a [String],
    embeddings: &'a [Option<Vec<f32>>],
    #[serde(skip_serializing_if = "Option::is_none")]
    documents: Option<&'a [Option<String>]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadatas: Option<&'a [Option<Box<RawValue>>]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uris: Option<&'a [Option<String>]>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The records from `at` on (consumes the page).
    pub fn split_off(mut self, at: usize) -> Records {
        let at = at.min(self.len());
        Records {
            ids: self.ids.split_off(at),
            embeddings: self.embeddings.split_off(at),
            documents: self.documents.split_off(at),
            metadatas: self.metadatas.split_off(at),
            uris: self.uris.split_off(at),
        }
    }

    /// The JSON body of an upsert of these records. A column without a single value is left
    /// out: some servers refuse a list made only of nulls.
    pub fn upsert_body(&self) -> serde_json::Result<Vec<u8>> {
        fn some<T>(v: &[Option<T>]) -> Option<&[Option<T>]> {
            v.iter().any(Option::is_some).then_some(v)
        }
        serde_json::to_vec(&UpsertBody {
            ids: &self.ids,
            embeddings: &self.embeddings,
            documents: some(&self.documents),
            metadatas: some(&self.metadatas),
            uris: some(&self.uris),
        })
    }

    /// The differences between record `i` here and record `j` of `other`, field by field
    /// (embeddings bit for bit, metadata as JSON values: same keys, types and numbers).
    pub fn differences(&self, i: usize, other: &Records, j: usize) -> Vec<String> {
        let mut out = Vec::new();
        let id = &self.ids[i];
        if self.embeddings[i].as_deref().map(bits) != other.embeddings[j].as_deref().map(bits) {
            out.push(format!("{id}: embeddings differ"));
        }
        if self.documents[i] != other.documents[j] {
            out.push(format!(
                "{id}: document {:?} != {:?}",
                self.documents[i], other.documents[j]
            ));
        }
        if self.uris[i] != other.uris[j] {
            out.push(format!(
                "{id}: uri {:?} != {:?}",
                self.uris[i], other.uris[j]
            ));
        }
        let (a, b) = (
            metadata_value(&self.metadatas[i]),
            metadata_value(&other.metadatas[j]),
        );
        if a != b {
            out.push(format!("{id}: metadata {a} != {b}"));
        }
        out
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Metadata as a value to compare; an empty object and null are the same record. Floats are
/// compared by their bits so that -0.0 and 0.0 differ.
fn metadata_value(m: &Option<Box<RawValue>>) -> Value {
    let v = m
        .as_ref()
        .and_then(|m| serde_json::from_str::<Value>(m.get()).ok())
        .unwrap_or(Value::Null);
    let v = match v {
        Value::Object(o) if o.is_empty() => Value::Null,
        other => other,
    };
    tag_floats(v)
}

fn tag_floats(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            Value::String(format!("f64:{:016x}", n.as_f64().unwrap_or(0.0).to_bits()))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(tag_floats).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, tag_floats(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> Records {
        serde_json::from_str::<GetAnswer>(json)
            .map_err(|e| e.to_string())
            .and_then(GetAnswer::into_records)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn metadata_text_is_kept_as_sent() {
        let r = answer(
            r#"{"ids":["a","b"],"embeddings":[[0.1,-0.0],[1e-45,3.4028235e38]],
                "metadatas":[{"f":1.0,"i":1,"z":-0.0,"big":9007199254740993},null],
                "documents":[null,""]}"#,
        );
        assert_eq!(
            r.metadatas[0].as_ref().map(|m| m.get()),
            Some(r#"{"f":1.0,"i":1,"z":-0.0,"big":9007199254740993}"#)
        );
        assert!(r.metadatas[1].is_none());
        assert_eq!(r.uris, vec![None, None]);
        assert_eq!(r.documents, vec![None, Some(String::new())]);
        let e = r.embeddings[1].clone().unwrap_or_default();
        assert_eq!(e[0].to_bits(), 1);
        assert_eq!(e[1], f32::MAX);
    }

    #[test]
    fn a_column_of_the_wrong_length_is_refused() {
        let parsed = serde_json::from_str::<GetAnswer>(r#"{"ids":["a"],"documents":[]}"#)
            .map_err(|e| e.to_string())
            .and_then(GetAnswer::into_records);
        assert!(parsed.is_err());
    }

    #[test]
    fn upsert_body_leaves_out_empty_columns_and_round_trips_floats() {
        let r = answer(r#"{"ids":["a"],"embeddings":[[0.1,-0.0]],"metadatas":[{"k":"v"}]}"#);
        let body: Value =
            serde_json::from_slice(&r.upsert_body().unwrap_or_default()).unwrap_or(Value::Null);
        assert!(body.get("documents").is_none() && body.get("uris").is_none());
        assert_eq!(body["metadatas"][0]["k"], "v");
        let back = answer(&serde_json::to_string(&body).unwrap_or_default());
        assert!(r.differences(0, &back, 0).is_empty());
    }

    #[test]
    fn differences_see_types_and_signed_zero() {
        let a = answer(r#"{"ids":["a"],"embeddings":[[0.0]],"metadatas":[{"k":1,"z":0.0}]}"#);
        let b = answer(r#"{"ids":["a"],"embeddings":[[-0.0]],"metadatas":[{"k":1.0,"z":-0.0}]}"#);
        let d = a.differences(0, &b, 0);
        assert_eq!(d.len(), 2, "{d:?}");
        let empty = answer(r#"{"ids":["a"],"embeddings":[[0.0]],"metadatas":[{}]}"#);
        let none = answer(r#"{"ids":["a"],"embeddings":[[0.0]],"metadatas":[null]}"#);
        assert!(empty.differences(0, &none, 0).is_empty());
    }
}
