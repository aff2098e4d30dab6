//! Chroma's Search API (`collection.search(...)`): each search filters, ranks by an expression
//! over nearest-neighbour terms (dense, sparse, or full text), groups, pages and selects. Plans are parsed here from
//! Chroma's JSON (the gateway parses them to answer 400 early; the query node parses the same
//! JSON again off the internal wire) and run on the query node over one snapshot.

mod execute;
mod filter;
mod group;
mod rank;
mod select;
mod terms;
mod wire;

use serde_json::{json, Map, Value};
use silt_common::record::Record;
use silt_common::{ErrorKind, SiltError};

pub(crate) use execute::{execute_search, SearchContext};
pub(crate) use wire::SEARCH;

pub use filter::Clause;
pub use group::GroupBy;
pub use rank::{KnnTerm, RankExpr};
pub use select::Select;

use crate::{Consistency, Target};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    Invalid(String),
}

impl SearchError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SearchError::Invalid(message.into())
    }
}

impl From<SearchError> for SiltError {
    fn from(e: SearchError) -> Self {
        // The request's fault: a client can only fix it by asking differently.
        SiltError::new(ErrorKind::InvalidArgument, e.to_string())
    }
}

/// One search of a request.
#[derive(Debug, Clone, Default)]
pub struct SearchPlan {
    pub filter: Option<Clause>,
    pub rank: Option<RankExpr>,
    pub group_by: Option<GroupBy>,
    pub offset: usize,
    pub limit: Option<usize>,
    pub select: Select,
}

impl SearchPlan {
    /// A search as Chroma's client sends it: `{filter, rank, group_by, limit, select}`.
    pub fn parse(v: &Value) -> Result<SearchPlan, SearchError> {
        let Value::Object(m) = v else {
            return Err(SearchError::invalid(format!(
                "Expected a search to be a dictionary, got {v}"
            )));
        };
        if let Some(k) = m.keys().find(|k| {
            !matches!(
                k.as_str(),
                "filter" | "rank" | "group_by" | "limit" | "select"
            )
        }) {
            return Err(SearchError::invalid(format!("Unknown search field {k:?}")));
        }
        let field = |k: &str| m.get(k).unwrap_or(&Value::Null);
        let rank = match field("rank") {
            Value::Null => None,
            r => Some(RankExpr::parse(r)?),
        };
        let group_by = GroupBy::parse(field("group_by"))?;
        if group_by.is_some() && rank.is_none() {
            return Err(SearchError::invalid(
                "group_by requires rank expression to be specified",
            ));
        }
        let (offset, limit) = parse_limit(field("limit"))?;
        Ok(SearchPlan {
            filter: Clause::parse(field("filter"))?,
            rank,
            group_by,
            offset,
            limit,
            select: Select::parse(field("select"))?,
        })
    }

    pub fn to_json(&self) -> Value {
        let mut limit = Map::new();
        limit.insert("offset".into(), json!(self.offset));
        if let Some(l) = self.limit {
            limit.insert("limit".into(), json!(l));
        }
        json!({
            "filter": self.filter.as_ref().map(Clause::to_json),
            "rank": self.rank.as_ref().map(RankExpr::to_json),
            "group_by": self.group_by.as_ref().map_or(json!({}), GroupBy::to_json),
            "limit": limit,
            "select": self.select.to_json(),
        })
    }

    /// The `$knn` terms of the rank expression, depth first.
    pub fn knn_terms(&self) -> Vec<&KnnTerm> {
        self.rank
            .as_ref()
            .map(RankExpr::knn_terms)
            .unwrap_or_default()
    }
}

fn parse_limit(v: &Value) -> Result<(usize, Option<usize>), SearchError> {
    let m = match v {
        Value::Null => return Ok((0, None)),
        Value::Object(m) => m,
        other => {
            return Err(SearchError::invalid(format!(
                "limit must be {{\"offset\": n, \"limit\": n}}, got {other}"
            )))
        }
    };
    if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "offset" | "limit")) {
        return Err(SearchError::invalid(format!("Unknown limit field {k:?}")));
    }
    let count = |k: &str| -> Result<Option<usize>, SearchError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    SearchError::invalid(format!("{k} must be a non-negative integer, got {n}"))
                }),
        }
    };
    Ok((count("offset")?.unwrap_or(0), count("limit")?))
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub collection: Target,
    pub searches: Vec<SearchPlan>,
    pub consistency: Consistency,
}

/// One result row: the record cut to the search's selection, and its score (with a rank, the
/// expression's value; without, its position in the page, as Chroma reports it).
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub record: Record,
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_payload_parses_and_round_trips() {
        let v = json!({
            "filter": {"$and": [{"kind": {"$eq": "x"}}, {"#id": {"$nin": ["a"]}}]},
            "rank": {"$sum": [{"$knn": {"query": [0.1, 0.2], "key": "#embedding", "limit": 5}}, {"$val": 1.0}]},
            "group_by": {},
            "limit": {"offset": 2, "limit": 3},
            "select": {"keys": ["#document", "#score", "kind"]},
        });
        let p = SearchPlan::parse(&v).unwrap();
        assert_eq!((p.offset, p.limit), (2, Some(3)));
        assert_eq!(p.knn_terms().len(), 1);
        let again = SearchPlan::parse(&p.to_json()).unwrap();
        assert_eq!(again.to_json(), p.to_json());
    }

    #[test]
    fn defaults_and_refusals() {
        let p = SearchPlan::parse(&json!({"filter": null, "rank": null, "group_by": {}, "limit": {"offset": 0}, "select": {"keys": []}})).unwrap();
        assert!(p.filter.is_none() && p.rank.is_none() && p.limit.is_none());
        for bad in [
            json!([]),
            json!({"where": {}}),
            json!({"limit": {"offset": -1}}),
            json!({"limit": {"limit": 1.5}}),
            json!({"limit": 3}),
            json!({"group_by": {"keys": ["c"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}),
        ] {
            assert!(SearchPlan::parse(&bad).is_err(), "accepted {bad}");
        }
    }
}
