//! A Search API `filter`: one `where` tree over metadata keys, `#id` and `#document`.
//!
//! The read path takes filters as three parts joined by AND (ids, metadata `where`,
//! `where_document`), which it narrows with the index. `lower` splits a search filter into those
//! parts and a residual: the clauses they cannot express (`#id` `$nin`, an `$or` across
//! metadata and documents), which are checked on each record after the read.

use serde_json::{json, Map, Value};
use silt_common::filter::{Where, WhereDocument};
use silt_common::record::Record;

use super::SearchError;
use crate::request::Filters;

#[derive(Debug, Clone)]
pub enum Clause {
    And(Vec<Clause>),
    Or(Vec<Clause>),
    /// A comparison on one metadata key.
    Meta(Where),
    /// A `$contains`/`$regex` test (or their negations) on the document.
    Document(WhereDocument),
    Ids {
        ids: Vec<String>,
        negate: bool,
    },
}

impl Clause {
    /// `Ok(None)` for null or `{}`: no filter.
    pub fn parse(v: &Value) -> Result<Option<Clause>, SearchError> {
        match v {
            Value::Null => Ok(None),
            Value::Object(m) if m.is_empty() => Ok(None),
            _ => parse_clause(v).map(Some),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Clause::And(cs) => json!({"$and": cs.iter().map(Clause::to_json).collect::<Vec<_>>()}),
            Clause::Or(cs) => json!({"$or": cs.iter().map(Clause::to_json).collect::<Vec<_>>()}),
            Clause::Meta(w) => w.to_json(),
            Clause::Document(d) => json!({"#document": d.to_json()}),
            Clause::Ids { ids, negate } => {
                json!({"#id": {(if *negate { "$nin" } else { "$in" }): ids}})
            }
        }
    }

    pub fn matches(&self, r: &Record) -> bool {
        match self {
            Clause::And(cs) => cs.iter().all(|c| c.matches(r)),
            Clause::Or(cs) => cs.iter().any(|c| c.matches(r)),
            Clause::Meta(w) => w.matches(&r.metadata),
            Clause::Document(d) => d.matches(r.document.as_deref()),
            Clause::Ids { ids, negate } => ids.contains(&r.id) != *negate,
        }
    }

    /// The whole clause as a metadata filter, when every leaf is a metadata comparison.
    fn as_where(&self) -> Option<Where> {
        match self {
            Clause::Meta(w) => Some(w.clone()),
            Clause::And(cs) => cs
                .iter()
                .map(Clause::as_where)
                .collect::<Option<_>>()
                .map(Where::And),
            Clause::Or(cs) => cs
                .iter()
                .map(Clause::as_where)
                .collect::<Option<_>>()
                .map(Where::Or),
            _ => None,
        }
    }

    /// The whole clause as a document filter, when every leaf is a document test.
    fn as_document(&self) -> Option<WhereDocument> {
        match self {
            Clause::Document(d) => Some(d.clone()),
            Clause::And(cs) => cs
                .iter()
                .map(Clause::as_document)
                .collect::<Option<_>>()
                .map(WhereDocument::And),
            Clause::Or(cs) => cs
                .iter()
                .map(Clause::as_document)
                .collect::<Option<_>>()
                .map(WhereDocument::Or),
            _ => None,
        }
    }
}

/// The filter as the read path takes it, plus what must be checked on each record after.
#[derive(Debug, Clone, Default)]
pub struct Lowered {
    pub filters: Filters,
    pub residual: Vec<Clause>,
}

impl Lowered {
    pub fn admits(&self, r: &Record) -> bool {
        self.residual.iter().all(|c| c.matches(r))
    }
}

pub fn lower(clause: Option<&Clause>) -> Lowered {
    let mut conjuncts = Vec::new();
    if let Some(c) = clause {
        flatten_and(c, &mut conjuncts);
    }
    let (mut wheres, mut documents, mut residual) = (Vec::new(), Vec::new(), Vec::new());
    let mut ids: Option<Vec<String>> = None;
    for c in conjuncts {
        if let Clause::Ids {
            ids: wanted,
            negate: false,
        } = c
        {
            ids = Some(match ids {
                None => wanted.clone(),
                Some(have) => have.into_iter().filter(|id| wanted.contains(id)).collect(),
            });
        } else if let Some(w) = c.as_where() {
            wheres.push(w);
        } else if let Some(d) = c.as_document() {
            documents.push(d);
        } else {
            residual.push(c.clone());
        }
    }
    Lowered {
        filters: Filters {
            ids,
            r#where: one_or_all(wheres, Where::And),
            where_document: one_or_all(documents, WhereDocument::And),
        },
        residual,
    }
}

fn one_or_all<T>(mut items: Vec<T>, all: impl FnOnce(Vec<T>) -> T) -> Option<T> {
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(all(items)),
    }
}

fn flatten_and<'a>(c: &'a Clause, out: &mut Vec<&'a Clause>) {
    match c {
        Clause::And(cs) => cs.iter().for_each(|c| flatten_and(c, out)),
        other => out.push(other),
    }
}

fn parse_clause(v: &Value) -> Result<Clause, SearchError> {
    let Value::Object(map) = v else {
        return Err(SearchError::invalid(format!(
            "Expected a filter to be a dictionary, got {v}"
        )));
    };
    let (key, cond) = single(map, "filter")?;
    match key.as_str() {
        "$and" | "$or" => {
            let Value::Array(items) = cond else {
                return Err(SearchError::invalid(format!(
                    "{key} must be a list, got {cond}"
                )));
            };
            if items.is_empty() {
                return Err(SearchError::invalid(format!(
                    "{key} requires at least one condition"
                )));
            }
            let cs = items
                .iter()
                .map(parse_clause)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if key == "$and" {
                Clause::And(cs)
            } else {
                Clause::Or(cs)
            })
        }
        "#id" => parse_ids(cond),
        "#document" => parse_document(cond),
        "#embedding" | "#metadata" | "#score" => Err(SearchError::invalid(format!(
            "{key} cannot be filtered on; filters take metadata keys, #id and #document"
        ))),
        _ => {
            if let Value::Object(ops) = cond {
                if let Some(op) = ops.keys().find(|op| *op == "$regex" || *op == "$not_regex") {
                    return Err(SearchError::invalid(format!(
                        "{op} on metadata key {key:?} is not supported; it applies to #document"
                    )));
                }
            }
            let w = Where::parse(&json!({ key: cond })).map_err(SearchError::invalid)?;
            w.map(Clause::Meta)
                .ok_or_else(|| SearchError::invalid(format!("Empty condition on {key:?}")))
        }
    }
}

fn parse_ids(cond: &Value) -> Result<Clause, SearchError> {
    let Value::Object(ops) = cond else {
        return Err(SearchError::invalid(format!(
            "#id takes {{\"$in\": [ids]}} or {{\"$nin\": [ids]}}, got {cond}"
        )));
    };
    let (op, operand) = single(ops, "#id condition")?;
    let negate = match op.as_str() {
        "$in" => false,
        "$nin" => true,
        other => {
            return Err(SearchError::invalid(format!(
                "#id supports $in and $nin, not {other}"
            )))
        }
    };
    let ids = operand
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| SearchError::invalid(format!("#id {op} takes a list of strings")))?;
    Ok(Clause::Ids { ids, negate })
}

fn parse_document(cond: &Value) -> Result<Clause, SearchError> {
    let Value::Object(ops) = cond else {
        return Err(SearchError::invalid(format!(
            "#document takes {{\"$contains\"|\"$not_contains\"|\"$regex\"|\"$not_regex\": text}}, got {cond}"
        )));
    };
    let (op, _) = single(ops, "#document condition")?;
    if !matches!(
        op.as_str(),
        "$contains" | "$not_contains" | "$regex" | "$not_regex"
    ) {
        return Err(SearchError::invalid(format!(
            "#document supports $contains, $not_contains, $regex and $not_regex, not {op}"
        )));
    }
    WhereDocument::parse(cond)
        .map_err(SearchError::invalid)?
        .map(Clause::Document)
        .ok_or_else(|| SearchError::invalid("Empty #document condition"))
}

fn single<'a>(
    map: &'a Map<String, Value>,
    what: &str,
) -> Result<(&'a String, &'a Value), SearchError> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some(entry), None) => Ok(entry),
        _ => Err(SearchError::invalid(format!(
            "Expected a {what} to have exactly one key, got {}",
            Value::Object(map.clone())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use silt_common::record::MetadataValue;

    fn record(id: &str, doc: Option<&str>, kind: &str) -> Record {
        Record {
            id: id.into(),
            embedding: Vec::new(),
            document: doc.map(str::to_string),
            metadata: [("kind".to_string(), MetadataValue::Str(kind.into()))].into(),
            uri: None,
        }
    }

    fn lowered(v: Value) -> Lowered {
        lower(Clause::parse(&v).unwrap().as_ref())
    }

    #[test]
    fn conjunctions_split_into_the_index_filters() {
        let l = lowered(json!({"$and": [
            {"#id": {"$in": ["a", "b", "c"]}},
            {"kind": {"$eq": "x"}},
            {"#document": {"$contains": "cat"}},
            {"$and": [{"#id": {"$in": ["b", "c", "d"]}}]},
        ]}));
        assert_eq!(l.filters.ids, Some(vec!["b".to_string(), "c".to_string()]));
        assert_eq!(
            l.filters.r#where.unwrap().to_json(),
            json!({"kind": {"$eq": "x"}})
        );
        assert_eq!(
            l.filters.where_document.unwrap().to_json(),
            json!({"$contains": "cat"})
        );
        assert!(l.residual.is_empty());
    }

    #[test]
    fn what_the_index_filters_cannot_say_is_checked_per_record() {
        let l = lowered(json!({"$and": [
            {"#id": {"$nin": ["a"]}},
            {"$or": [{"kind": "y"}, {"#document": {"$regex": "^do"}}]},
        ]}));
        assert!(l.filters.ids.is_none() && l.filters.r#where.is_none());
        assert_eq!(l.residual.len(), 2);
        assert!(!l.admits(&record("a", Some("dog"), "x")));
        assert!(l.admits(&record("b", Some("dog"), "x")));
        assert!(l.admits(&record("b", None, "y")));
        assert!(!l.admits(&record("b", Some("cat"), "x")));
    }

    #[test]
    fn pure_metadata_disjunctions_stay_index_filters() {
        let l = lowered(json!({"$or": [{"kind": "y"}, {"n": {"$gt": 2}}]}));
        assert!(l.residual.is_empty());
        assert!(l.filters.r#where.is_some());
    }

    #[test]
    fn clauses_round_trip_through_json() {
        let v = json!({"$or": [
            {"#id": {"$nin": ["a"]}},
            {"#document": {"$not_contains": "x"}},
            {"kind": {"$in": ["x", "y"]}},
        ]});
        let c = Clause::parse(&v).unwrap().unwrap();
        assert_eq!(c.to_json(), v);
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            json!([1]),
            json!({"a": 1, "b": 2}),
            json!({"$and": []}),
            json!({"#id": {"$eq": "a"}}),
            json!({"#id": {"$in": [1]}}),
            json!({"#document": {"$eq": "x"}}),
            json!({"#document": "x"}),
            json!({"#embedding": {"$eq": 1}}),
            json!({"title": {"$regex": "x"}}),
            json!({"n": {"$gt": "x"}}),
        ] {
            assert!(Clause::parse(&bad).is_err(), "accepted {bad}");
        }
        assert!(Clause::parse(&json!({})).unwrap().is_none());
        assert!(Clause::parse(&Value::Null).unwrap().is_none());
    }
}
