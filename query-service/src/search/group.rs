//! `group_by`: records grouped by the values of metadata keys (a missing key is its own value),
//! each group cut to its `k` first records by `$min_k` (ascending) or `$max_k` (descending)
//! over metadata keys and `#score`, and the survivors put back in score order.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Value};
use silt_common::record::{MetadataValue, Record};

use super::SearchError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Score,
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBy {
    pub keys: Vec<String>,
    pub descending: bool,
    pub order: Vec<SortKey>,
    pub k: usize,
}

impl GroupBy {
    /// `Ok(None)` for null or `{}` (no grouping).
    pub fn parse(v: &Value) -> Result<Option<GroupBy>, SearchError> {
        let m = match v {
            Value::Null => return Ok(None),
            Value::Object(m) if m.is_empty() => return Ok(None),
            Value::Object(m) => m,
            other => {
                return Err(SearchError::invalid(format!(
                    "group_by must be a dictionary, got {other}"
                )))
            }
        };
        if let Some(k) = m
            .keys()
            .find(|k| !matches!(k.as_str(), "keys" | "aggregate"))
        {
            return Err(SearchError::invalid(format!(
                "Unknown group_by field {k:?}"
            )));
        }
        let (Some(keys), Some(aggregate)) = (m.get("keys"), m.get("aggregate")) else {
            return Err(SearchError::invalid(
                "group_by keys and aggregate must both be specified or both be omitted",
            ));
        };
        let keys = strings(keys, "group_by keys")?;
        if let Some(bad) = keys.iter().find(|k| k.starts_with('#')) {
            return Err(SearchError::invalid(format!(
                "group_by keys must be metadata keys, not {bad}"
            )));
        }
        let Some((op, body)) = aggregate.as_object().and_then(|a| {
            let mut it = a.iter();
            match (it.next(), it.next()) {
                (Some(entry), None) => Some(entry),
                _ => None,
            }
        }) else {
            return Err(SearchError::invalid(format!(
                "group_by aggregate must be {{\"$min_k\"|\"$max_k\": {{keys, k}}}}, got {aggregate}"
            )));
        };
        let descending = match op.as_str() {
            "$min_k" => false,
            "$max_k" => true,
            other => {
                return Err(SearchError::invalid(format!(
                    "Unknown aggregate {other}: expected $min_k or $max_k"
                )))
            }
        };
        let order = strings(body.get("keys").unwrap_or(&Value::Null), "aggregate keys")?
            .into_iter()
            .map(|k| match k.as_str() {
                "#score" => Ok(SortKey::Score),
                k if k.starts_with('#') => Err(SearchError::invalid(format!(
                    "aggregate keys must be metadata keys or #score, not {k}"
                ))),
                k => Ok(SortKey::Field(k.to_string())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let k = body
            .get("k")
            .and_then(Value::as_u64)
            .filter(|k| *k > 0)
            .and_then(|k| usize::try_from(k).ok())
            .ok_or_else(|| SearchError::invalid(format!("{op} k must be a positive integer")))?;
        Ok(Some(GroupBy {
            keys,
            descending,
            order,
            k,
        }))
    }

    pub fn to_json(&self) -> Value {
        let order: Vec<&str> = self
            .order
            .iter()
            .map(|k| match k {
                SortKey::Score => "#score",
                SortKey::Field(f) => f.as_str(),
            })
            .collect();
        let op = if self.descending { "$max_k" } else { "$min_k" };
        json!({"keys": self.keys, "aggregate": {op: {"keys": order, "k": self.k}}})
    }

    /// Keeps the first `k` of each group; `ranked` is (record, score) in final order.
    pub fn apply(&self, ranked: Vec<(Record, f32)>) -> Vec<(Record, f32)> {
        let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (r, _)) in ranked.iter().enumerate() {
            let key: Vec<Value> = self
                .keys
                .iter()
                .map(|k| {
                    r.metadata
                        .get(k)
                        .map_or(Value::Null, MetadataValue::to_json)
                })
                .collect();
            groups
                .entry(Value::Array(key).to_string())
                .or_default()
                .push(i);
        }
        let mut keep = vec![false; ranked.len()];
        for (_, mut members) in groups {
            members.sort_by(|&a, &b| {
                let o = self.compare(&ranked[a], &ranked[b]);
                // Ties keep the ranked order, whatever the direction.
                (if self.descending { o.reverse() } else { o }).then(a.cmp(&b))
            });
            for i in members.into_iter().take(self.k) {
                keep[i] = true;
            }
        }
        ranked
            .into_iter()
            .zip(keep)
            .filter_map(|(r, kept)| kept.then_some(r))
            .collect()
    }

    fn compare(&self, a: &(Record, f32), b: &(Record, f32)) -> Ordering {
        self.order.iter().fold(Ordering::Equal, |o, key| {
            o.then_with(|| match key {
                SortKey::Score => a.1.total_cmp(&b.1),
                SortKey::Field(f) => compare_values(a.0.metadata.get(f), b.0.metadata.get(f)),
            })
        })
    }
}

/// A missing value first, then numbers, strings, booleans; arrays are not ordered.
fn compare_values(a: Option<&MetadataValue>, b: Option<&MetadataValue>) -> Ordering {
    fn rank(v: Option<&MetadataValue>) -> u8 {
        match v {
            None => 0,
            Some(MetadataValue::Int(_) | MetadataValue::Float(_)) => 1,
            Some(MetadataValue::Str(_)) => 2,
            Some(MetadataValue::Bool(_)) => 3,
            Some(_) => 4,
        }
    }
    let number = |v: &MetadataValue| match v {
        MetadataValue::Int(i) => Some(*i as f64),
        MetadataValue::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Some(MetadataValue::Str(x)), Some(MetadataValue::Str(y))) => x.cmp(y),
        (Some(MetadataValue::Bool(x)), Some(MetadataValue::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => match (number(x), number(y)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => rank(a).cmp(&rank(b)),
        },
        _ => rank(a).cmp(&rank(b)),
    }
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, SearchError> {
    v.as_array()
        .filter(|items| !items.is_empty())
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| SearchError::invalid(format!("{what} must be a non-empty list of strings")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, cat: Option<&str>, p: i64) -> Record {
        let mut metadata = silt_common::record::Metadata::new();
        if let Some(c) = cat {
            metadata.insert("cat".into(), MetadataValue::Str(c.into()));
        }
        metadata.insert("p".into(), MetadataValue::Int(p));
        Record {
            id: id.into(),
            embedding: Vec::new(),
            document: None,
            metadata,
            uri: None,
        }
    }

    fn ids(out: &[(Record, f32)]) -> Vec<&str> {
        out.iter().map(|(r, _)| r.id.as_str()).collect()
    }

    #[test]
    fn keeps_the_best_k_per_group_in_score_order() {
        let ranked = vec![
            (rec("a", Some("x"), 3), 0.1),
            (rec("b", Some("y"), 1), 0.2),
            (rec("c", Some("x"), 2), 0.3),
            (rec("d", None, 0), 0.4),
            (rec("e", Some("x"), 1), 0.5),
        ];
        let g = |v: Value| GroupBy::parse(&v).unwrap().unwrap();
        let min_score =
            g(json!({"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}));
        assert_eq!(ids(&min_score.apply(ranked.clone())), ["a", "b", "d"]);
        let max_p = g(json!({"keys": ["cat"], "aggregate": {"$max_k": {"keys": ["p"], "k": 2}}}));
        assert_eq!(ids(&max_p.apply(ranked.clone())), ["a", "b", "c", "d"]);
        let min_p =
            g(json!({"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["p", "#score"], "k": 1}}}));
        assert_eq!(ids(&min_p.apply(ranked)), ["b", "d", "e"]);
    }

    #[test]
    fn malformed_group_by_is_refused() {
        assert!(GroupBy::parse(&json!({})).unwrap().is_none());
        for bad in [
            json!({"keys": ["cat"]}),
            json!({"keys": [], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}),
            json!({"keys": ["#score"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}),
            json!({"keys": ["cat"], "aggregate": {"$top_k": {"keys": ["#score"], "k": 1}}}),
            json!({"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#document"], "k": 1}}}),
            json!({"keys": ["cat"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 0}}}),
        ] {
            assert!(GroupBy::parse(&bad).is_err(), "accepted {bad}");
        }
    }
}
