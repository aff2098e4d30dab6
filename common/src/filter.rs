//! Chroma's filter language: `where` over metadata and `where_document` over documents.
//! Parsing validates everything a client can get wrong and reports it as a message; evaluation
//! cannot fail. Negations (`$ne`, `$nin`, `$not_contains`, `$not_regex`) are complements of their
//! positive form, so a record without the key (or without a document) matches them.

use std::cmp::Ordering;

use regex::Regex;
use serde_json::{Map, Value};

use crate::record::{Metadata, MetadataValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone)]
pub enum Where {
    And(Vec<Where>),
    Or(Vec<Where>),
    Compare {
        key: String,
        op: CmpOp,
        value: MetadataValue,
    },
    In {
        key: String,
        negate: bool,
        values: Vec<MetadataValue>,
    },
    /// Array membership: `{"tags": {"$contains": "x"}}`.
    Contains {
        key: String,
        negate: bool,
        value: MetadataValue,
    },
}

#[derive(Debug, Clone)]
pub enum WhereDocument {
    And(Vec<WhereDocument>),
    Or(Vec<WhereDocument>),
    Contains { text: String, negate: bool },
    Regex { regex: Regex, negate: bool },
}

fn single_entry<'a>(v: &'a Value, what: &str) -> Result<Option<(&'a String, &'a Value)>, String> {
    let Value::Object(map) = v else {
        return Err(format!("Expected {what} to be a dictionary, got {v}"));
    };
    if map.is_empty() {
        return Ok(None);
    }
    if map.len() != 1 {
        return Err(format!(
            "Expected {what} to have exactly one operator, got {v}"
        ));
    }
    Ok(map.iter().next())
}

fn sub_clauses<'a>(op: &str, v: &'a Value) -> Result<&'a Vec<Value>, String> {
    match v {
        Value::Array(items) if !items.is_empty() => Ok(items),
        _ => Err(format!(
            "Expected where value for {op} to be a non-empty list of where expressions, got {v}"
        )),
    }
}

impl Where {
    /// Parses a `where` object; `Ok(None)` for an empty object (no filter).
    pub fn parse(v: &Value) -> Result<Option<Where>, String> {
        let Some((key, value)) = single_entry(v, "where")? else {
            return Ok(None);
        };
        match key.as_str() {
            "$and" | "$or" => {
                let mut clauses = Vec::new();
                for c in sub_clauses(key, value)? {
                    match Where::parse(c)? {
                        Some(w) => clauses.push(w),
                        None => return Err(format!("Empty where expression inside {key}")),
                    }
                }
                Ok(Some(if key == "$and" {
                    Where::And(clauses)
                } else {
                    Where::Or(clauses)
                }))
            }
            k if k.starts_with('$') => Err(format!("Unknown where operator {k}")),
            _ => parse_field(key, value).map(Some),
        }
    }

    pub fn matches(&self, metadata: &Metadata) -> bool {
        match self {
            Where::And(cs) => cs.iter().all(|c| c.matches(metadata)),
            Where::Or(cs) => cs.iter().any(|c| c.matches(metadata)),
            Where::Compare { key, op, value } => {
                let found = metadata.get(key);
                match op {
                    CmpOp::Eq => found.is_some_and(|f| values_equal(f, value)),
                    CmpOp::Ne => !found.is_some_and(|f| values_equal(f, value)),
                    _ => found
                        .and_then(|f| numeric_cmp(f, value))
                        .is_some_and(|ord| match op {
                            CmpOp::Gt => ord == Ordering::Greater,
                            CmpOp::Gte => ord != Ordering::Less,
                            CmpOp::Lt => ord == Ordering::Less,
                            CmpOp::Lte => ord != Ordering::Greater,
                            CmpOp::Eq | CmpOp::Ne => false,
                        }),
                }
            }
            Where::In {
                key,
                negate,
                values,
            } => {
                let hit = metadata
                    .get(key)
                    .is_some_and(|f| values.iter().any(|v| values_equal(f, v)));
                hit != *negate
            }
            Where::Contains { key, negate, value } => {
                let hit = metadata.get(key).is_some_and(|f| array_contains(f, value));
                hit != *negate
            }
        }
    }
}

impl Where {
    /// Chroma's JSON form; `Where::parse` of it gives back an equal filter.
    pub fn to_json(&self) -> Value {
        let field =
            |key: &str, op: &str, operand: Value| serde_json::json!({ key: { op: operand } });
        match self {
            Where::And(cs) => {
                serde_json::json!({"$and": cs.iter().map(Where::to_json).collect::<Vec<_>>()})
            }
            Where::Or(cs) => {
                serde_json::json!({"$or": cs.iter().map(Where::to_json).collect::<Vec<_>>()})
            }
            Where::Compare { key, op, value } => {
                let op = match op {
                    CmpOp::Eq => "$eq",
                    CmpOp::Ne => "$ne",
                    CmpOp::Gt => "$gt",
                    CmpOp::Gte => "$gte",
                    CmpOp::Lt => "$lt",
                    CmpOp::Lte => "$lte",
                };
                field(key, op, value.to_json())
            }
            Where::In {
                key,
                negate,
                values,
            } => field(
                key,
                if *negate { "$nin" } else { "$in" },
                Value::Array(values.iter().map(MetadataValue::to_json).collect()),
            ),
            Where::Contains { key, negate, value } => field(
                key,
                if *negate {
                    "$not_contains"
                } else {
                    "$contains"
                },
                value.to_json(),
            ),
        }
    }
}

fn parse_field(key: &str, value: &Value) -> Result<Where, String> {
    let (op, operand) = match value {
        Value::Object(map) => one_operator(key, map)?,
        _ => ("$eq", value),
    };
    let scalar = |operand: &Value| -> Result<MetadataValue, String> {
        match MetadataValue::from_json(operand)? {
            Some(v @ (MetadataValue::Bool(_)
            | MetadataValue::Int(_)
            | MetadataValue::Float(_)
            | MetadataValue::Str(_))) => Ok(v),
            _ => Err(format!(
                "Expected where operand for {op} on {key:?} to be a str, int, float or bool, got {operand}"
            )),
        }
    };
    let cmp = |op: CmpOp| -> Result<Where, String> {
        let v = scalar(operand)?;
        if !matches!(op, CmpOp::Eq | CmpOp::Ne)
            && !matches!(v, MetadataValue::Int(_) | MetadataValue::Float(_))
        {
            return Err(format!(
                "Expected where operand for {op:?} on {key:?} to be an int or float, got {operand}"
            ));
        }
        Ok(Where::Compare {
            key: key.to_string(),
            op,
            value: v,
        })
    };
    match op {
        "$eq" => cmp(CmpOp::Eq),
        "$ne" => cmp(CmpOp::Ne),
        "$gt" => cmp(CmpOp::Gt),
        "$gte" => cmp(CmpOp::Gte),
        "$lt" => cmp(CmpOp::Lt),
        "$lte" => cmp(CmpOp::Lte),
        "$in" | "$nin" => {
            let Value::Array(items) = operand else {
                return Err(format!(
                    "Expected where value for {op} to be a list, got {operand}"
                ));
            };
            if items.is_empty() {
                return Err(format!(
                    "Expected where value for {op} to be a non-empty list"
                ));
            }
            let values = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
            Ok(Where::In {
                key: key.to_string(),
                negate: op == "$nin",
                values,
            })
        }
        "$contains" | "$not_contains" => Ok(Where::Contains {
            key: key.to_string(),
            negate: op == "$not_contains",
            value: scalar(operand)?,
        }),
        _ => Err(format!("Unknown where operator {op} on {key:?}")),
    }
}

fn one_operator<'a>(
    key: &str,
    map: &'a Map<String, Value>,
) -> Result<(&'a str, &'a Value), String> {
    if map.len() != 1 {
        return Err(format!(
            "Expected operator expression for {key:?} to have exactly one operator, got {}",
            Value::Object(map.clone())
        ));
    }
    let (op, operand) = map.iter().next().ok_or("empty operator expression")?;
    Ok((op.as_str(), operand))
}

fn as_number(v: &MetadataValue) -> Option<f64> {
    match v {
        MetadataValue::Int(i) => Some(*i as f64),
        MetadataValue::Float(f) => Some(*f),
        _ => None,
    }
}

fn values_equal(stored: &MetadataValue, wanted: &MetadataValue) -> bool {
    match (stored, wanted) {
        (MetadataValue::Int(a), MetadataValue::Int(b)) => a == b,
        (MetadataValue::Bool(a), MetadataValue::Bool(b)) => a == b,
        (MetadataValue::Str(a), MetadataValue::Str(b)) => a == b,
        _ => match (as_number(stored), as_number(wanted)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
    }
}

fn numeric_cmp(stored: &MetadataValue, wanted: &MetadataValue) -> Option<Ordering> {
    if let (MetadataValue::Int(a), MetadataValue::Int(b)) = (stored, wanted) {
        return Some(a.cmp(b));
    }
    as_number(stored)?.partial_cmp(&as_number(wanted)?)
}

fn array_contains(stored: &MetadataValue, wanted: &MetadataValue) -> bool {
    match stored {
        MetadataValue::BoolArray(v) => v
            .iter()
            .any(|x| values_equal(&MetadataValue::Bool(*x), wanted)),
        MetadataValue::IntArray(v) => v
            .iter()
            .any(|x| values_equal(&MetadataValue::Int(*x), wanted)),
        MetadataValue::FloatArray(v) => v
            .iter()
            .any(|x| values_equal(&MetadataValue::Float(*x), wanted)),
        MetadataValue::StrArray(v) => v
            .iter()
            .any(|x| matches!(wanted, MetadataValue::Str(w) if w == x)),
        _ => false,
    }
}

impl WhereDocument {
    /// Parses a `where_document` object; `Ok(None)` for an empty object (no filter).
    pub fn parse(v: &Value) -> Result<Option<WhereDocument>, String> {
        let Some((op, operand)) = single_entry(v, "where document")? else {
            return Ok(None);
        };
        let text = || -> Result<String, String> {
            operand.as_str().map(str::to_string).ok_or_else(|| {
                format!("Expected where document operand for {op} to be a str, got {operand}")
            })
        };
        Ok(Some(match op.as_str() {
            "$and" | "$or" => {
                let mut clauses = Vec::new();
                for c in sub_clauses(op, operand)? {
                    match WhereDocument::parse(c)? {
                        Some(w) => clauses.push(w),
                        None => return Err(format!("Empty where document expression inside {op}")),
                    }
                }
                if op == "$and" {
                    WhereDocument::And(clauses)
                } else {
                    WhereDocument::Or(clauses)
                }
            }
            "$contains" | "$not_contains" => {
                let text = text()?;
                if text.is_empty() {
                    return Err(format!(
                        "Expected where document operand for {op} to be a non-empty str"
                    ));
                }
                WhereDocument::Contains {
                    text,
                    negate: op == "$not_contains",
                }
            }
            "$regex" | "$not_regex" => {
                let pattern = text()?;
                let regex = Regex::new(&pattern)
                    .map_err(|e| format!("Invalid regular expression {pattern:?}: {e}"))?;
                WhereDocument::Regex {
                    regex,
                    negate: op == "$not_regex",
                }
            }
            other => return Err(format!("Unknown where document operator {other}")),
        }))
    }

    /// Chroma's JSON form; `WhereDocument::parse` of it gives back an equal filter.
    pub fn to_json(&self) -> Value {
        match self {
            WhereDocument::And(cs) => {
                serde_json::json!({"$and": cs.iter().map(WhereDocument::to_json).collect::<Vec<_>>()})
            }
            WhereDocument::Or(cs) => {
                serde_json::json!({"$or": cs.iter().map(WhereDocument::to_json).collect::<Vec<_>>()})
            }
            WhereDocument::Contains { text, negate } => {
                let op = if *negate {
                    "$not_contains"
                } else {
                    "$contains"
                };
                serde_json::json!({ op: text })
            }
            WhereDocument::Regex { regex, negate } => {
                let op = if *negate { "$not_regex" } else { "$regex" };
                serde_json::json!({ op: regex.as_str() })
            }
        }
    }

    pub fn matches(&self, document: Option<&str>) -> bool {
        match self {
            WhereDocument::And(cs) => cs.iter().all(|c| c.matches(document)),
            WhereDocument::Or(cs) => cs.iter().any(|c| c.matches(document)),
            WhereDocument::Contains { text, negate } => {
                document.is_some_and(|d| d.contains(text.as_str())) != *negate
            }
            WhereDocument::Regex { regex, negate } => {
                document.is_some_and(|d| regex.is_match(d)) != *negate
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::metadata_update_from_json;
    use serde_json::json;

    fn meta(v: Value) -> Metadata {
        metadata_update_from_json(&v)
            .unwrap()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    fn check(w: Value, m: Value) -> bool {
        Where::parse(&w).unwrap().unwrap().matches(&meta(m))
    }

    #[test]
    fn comparisons() {
        assert!(check(json!({"a": 1}), json!({"a": 1})));
        assert!(check(json!({"a": 1}), json!({"a": 1.0})));
        assert!(!check(json!({"a": true}), json!({"a": 1})));
        assert!(check(json!({"a": {"$gt": 1}}), json!({"a": 1.5})));
        assert!(!check(json!({"a": {"$gt": 1}}), json!({"a": 1})));
        assert!(check(json!({"a": {"$lte": 1}}), json!({"a": 1})));
        assert!(check(json!({"a": {"$ne": "x"}}), json!({"b": "x"})));
        assert!(!check(json!({"a": {"$gt": 0}}), json!({"a": "x"})));
        assert!(check(json!({"a": {"$in": ["x", "y"]}}), json!({"a": "y"})));
        assert!(check(json!({"a": {"$nin": ["x"]}}), json!({})));
        assert!(check(
            json!({"t": {"$contains": "b"}}),
            json!({"t": ["a", "b"]})
        ));
        assert!(check(
            json!({"$or": [{"a": 2}, {"$and": [{"b": {"$gte": 3}}, {"c": false}]}]}),
            json!({"a": 1, "b": 3, "c": false})
        ));
    }

    #[test]
    fn a_sparse_vector_equals_nothing_and_is_no_operand() {
        let sv = json!({"s": {"#type": "sparse_vector", "indices": [1], "values": [1.0]}});
        assert!(!check(json!({"s": 1}), sv.clone()));
        assert!(!check(json!({"s": {"$gt": 0}}), sv.clone()));
        assert!(!check(json!({"s": {"$in": [1, "x"]}}), sv.clone()));
        assert!(!check(json!({"s": {"$contains": 1}}), sv.clone()));
        // The negations are complements, as for any value of another type.
        assert!(check(json!({"s": {"$ne": 1}}), sv.clone()));
        assert!(check(json!({"s": {"$nin": [1]}}), sv));
        let operand = json!({"#type": "sparse_vector", "indices": [1], "values": [1.0]});
        assert!(Where::parse(&json!({"s": {"$eq": operand}})).is_err());
        assert!(Where::parse(&json!({"s": {"$in": [operand]}})).is_err());
    }

    #[test]
    fn malformed_filters_are_errors() {
        for bad in [
            json!([1]),
            json!({"a": 1, "b": 2}),
            json!({"a": {"$gt": "x"}}),
            json!({"a": {"$in": []}}),
            json!({"a": {"$in": 3}}),
            json!({"a": {"$bogus": 3}}),
            json!({"$and": []}),
            json!({"$and": {"a": 1}}),
            json!({"$xor": [{"a": 1}]}),
            json!({"a": {"$eq": 1, "$ne": 2}}),
            json!({"a": {"b": 1}}),
        ] {
            assert!(Where::parse(&bad).is_err(), "accepted {bad}");
        }
        assert!(Where::parse(&json!({})).unwrap().is_none());
        for bad in [
            json!({"$contains": 3}),
            json!({"$regex": "("}),
            json!({"$near": "x"}),
            json!({"$contains": ""}),
        ] {
            assert!(WhereDocument::parse(&bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn document_filters_use_substring_and_regex_semantics() {
        let w = WhereDocument::parse(&json!({"$contains": "at c"}))
            .unwrap()
            .unwrap();
        assert!(w.matches(Some("the cat cat")));
        assert!(!w.matches(None));
        let w = WhereDocument::parse(&json!({"$not_regex": "^th"}))
            .unwrap()
            .unwrap();
        assert!(!w.matches(Some("the")));
        assert!(w.matches(None));
    }

    #[test]
    fn filters_round_trip_through_their_json_form() {
        let wheres = [
            json!({"$and": [{"a": {"$gte": 1}}, {"$or": [{"b": "x"}, {"c": {"$nin": [1.5, 2]}}]}]}),
            json!({"tags": {"$not_contains": true}}),
            json!({"n": {"$ne": -3}}),
        ];
        let records = [
            meta(json!({"a": 1, "b": "x", "c": 2, "tags": [true]})),
            meta(json!({"a": 0, "b": "y", "c": 1.5, "tags": [false]})),
            meta(json!({"a": 2.5, "c": 3, "n": -3})),
            meta(json!({})),
        ];
        for w in wheres {
            let parsed = Where::parse(&w).unwrap().unwrap();
            let again = Where::parse(&parsed.to_json()).unwrap().unwrap();
            assert_eq!(again.to_json(), parsed.to_json());
            for m in &records {
                assert_eq!(parsed.matches(m), again.matches(m), "{w} on {m:?}");
            }
        }
        let d = json!({"$or": [{"$contains": "ab"}, {"$and": [{"$not_regex": "^x+$"}, {"$not_contains": "q"}]}]});
        let parsed = WhereDocument::parse(&d).unwrap().unwrap();
        assert_eq!(parsed.to_json(), d);
    }
}
