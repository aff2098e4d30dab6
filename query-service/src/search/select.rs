//! `select`: the fields each result carries. Ids always come back; `#document`, `#embedding`,
//! `#metadata` (all of it), `#score`, and metadata keys (just those) on request.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use silt_common::record::{Metadata, Record};

use super::SearchError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Select {
    pub document: bool,
    pub embedding: bool,
    pub all_metadata: bool,
    pub score: bool,
    /// `#id` was named (ids come back regardless; kept so `select` echoes it).
    pub id: bool,
    pub fields: BTreeSet<String>,
}

impl Select {
    pub fn parse(v: &Value) -> Result<Select, SearchError> {
        let keys = match v {
            Value::Null => return Ok(Select::default()),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| *k != "keys") {
                    return Err(SearchError::invalid(format!("Unknown select field {k:?}")));
                }
                match m.get("keys") {
                    None | Some(Value::Null) => return Ok(Select::default()),
                    Some(Value::Array(keys)) => keys,
                    Some(other) => {
                        return Err(SearchError::invalid(format!(
                            "select keys must be a list of strings, got {other}"
                        )))
                    }
                }
            }
            other => {
                return Err(SearchError::invalid(format!(
                    "select must be {{\"keys\": [...]}}, got {other}"
                )))
            }
        };
        let mut s = Select::default();
        for k in keys {
            let Some(k) = k.as_str() else {
                return Err(SearchError::invalid(format!(
                    "select key must be a string, got {k}"
                )));
            };
            match k {
                "#id" => s.id = true,
                "#document" => s.document = true,
                "#embedding" => s.embedding = true,
                "#metadata" => s.all_metadata = true,
                "#score" => s.score = true,
                k if k.starts_with('#') => {
                    return Err(SearchError::invalid(format!(
                        "Unknown select key {k:?}: expected #id, #document, #embedding, #metadata, #score or a metadata key"
                    )))
                }
                field => {
                    s.fields.insert(field.to_string());
                }
            }
        }
        Ok(s)
    }

    /// The selected keys in Chroma's order (the predefined ones, then metadata keys sorted), as
    /// a response's `select` echoes them.
    pub fn keys(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            (self.document, "#document"),
            (self.embedding, "#embedding"),
            (self.all_metadata, "#metadata"),
            (self.score, "#score"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, k)| k.to_string())
        .collect();
        let mut fields: Vec<String> = self.fields.iter().cloned().collect();
        if self.id {
            fields.push("#id".into());
        }
        fields.sort();
        out.extend(fields);
        out
    }

    pub fn to_json(&self) -> Value {
        json!({"keys": self.keys()})
    }

    pub fn any_metadata(&self) -> bool {
        self.all_metadata || !self.fields.is_empty()
    }

    /// The record cut down to the selection; an empty metadata selection is empty metadata.
    pub fn project(&self, r: Record) -> Record {
        let metadata: Metadata = if self.all_metadata {
            r.metadata
        } else {
            r.metadata
                .into_iter()
                .filter(|(k, _)| self.fields.contains(k))
                .collect()
        };
        Record {
            id: r.id,
            embedding: if self.embedding {
                r.embedding
            } else {
                Vec::new()
            },
            document: if self.document { r.document } else { None },
            metadata,
            uri: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_common::record::MetadataValue;

    #[test]
    fn keys_come_back_in_chromas_order() {
        let s =
            Select::parse(&json!({"keys": ["title", "#score", "#id", "#document", "a"]})).unwrap();
        assert_eq!(s.keys(), ["#document", "#score", "#id", "a", "title"]);
        assert!(Select::parse(&json!({"keys": ["#uri"]})).is_err());
        assert!(Select::parse(&json!({"keys": [1]})).is_err());
        assert!(Select::parse(&json!({"fields": []})).is_err());
        assert_eq!(
            Select::parse(&json!({"keys": []})).unwrap(),
            Select::default()
        );
    }

    #[test]
    fn projection_keeps_only_selected_metadata_keys() {
        let s = Select::parse(&json!({"keys": ["a"]})).unwrap();
        let r = Record {
            id: "x".into(),
            embedding: vec![1.0],
            document: Some("d".into()),
            metadata: [
                ("a".to_string(), MetadataValue::Int(1)),
                ("b".to_string(), MetadataValue::Int(2)),
            ]
            .into(),
            uri: None,
        };
        let p = s.project(r);
        assert_eq!(p.metadata.keys().collect::<Vec<_>>(), ["a"]);
        assert!(p.embedding.is_empty() && p.document.is_none());
    }
}
