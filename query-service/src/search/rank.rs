//! Rank expressions: a score per record, lower is better, built from nearest-neighbour terms.
//!
//! Evaluation follows Chroma's algebra: each `$knn` term scores the records among its `limit`
//! nearest (its distance, or its 0-based position with `return_rank`) and gives every other
//! record its `default`, or excludes it when there is none. Arithmetic combines terms record by
//! record, and a record excluded by any term it meets is excluded from the result. Constants
//! score no record by themselves, so an expression without a `$knn` ranks nothing.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use silt_common::sparse_vector::SparseVector;

use super::SearchError;

/// Chroma's default for a `$knn` term's `limit`.
const DEFAULT_KNN_LIMIT: usize = 16;
/// The key of the collection's dense embeddings.
pub const EMBEDDING_KEY: &str = "#embedding";
/// The key of the documents: a text query on it ranks by Silt's full-text index (BM25).
pub const DOCUMENT_KEY: &str = "#document";

/// What a `$knn` term ranks by.
#[derive(Debug, Clone, PartialEq)]
pub enum KnnQuery {
    /// The collection's embeddings (`key` "#embedding"), by the collection's distance.
    Dense(Vec<f32>),
    /// Sparse vectors held in metadata at `key`, by `1 - q·d` as Chroma scores them.
    Sparse { key: String, vector: SparseVector },
    /// Documents by tantivy's BM25 (`key` "#document", a Silt extension), scored `-bm25`.
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KnnTerm {
    pub query: KnnQuery,
    pub limit: usize,
    pub default: Option<f32>,
    pub return_rank: bool,
}

impl KnnTerm {
    /// The query embedding of a dense term (whose length must be the collection's dimension).
    pub fn dense_query(&self) -> Option<&[f32]> {
        match &self.query {
            KnnQuery::Dense(q) => Some(q),
            _ => None,
        }
    }

    /// The metadata key a sparse term ranks by.
    pub fn sparse_key(&self) -> Option<&str> {
        match &self.query {
            KnnQuery::Sparse { key, .. } => Some(key),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RankExpr {
    Knn(KnnTerm),
    Val(f32),
    Sum(Vec<RankExpr>),
    Mul(Vec<RankExpr>),
    Max(Vec<RankExpr>),
    Min(Vec<RankExpr>),
    Sub(Box<RankExpr>, Box<RankExpr>),
    Div(Box<RankExpr>, Box<RankExpr>),
    Abs(Box<RankExpr>),
    Exp(Box<RankExpr>),
    Log(Box<RankExpr>),
}

impl RankExpr {
    pub fn parse(v: &Value) -> Result<RankExpr, SearchError> {
        let Value::Object(map) = v else {
            return Err(SearchError::invalid(format!(
                "Expected a rank expression to be a dictionary, got {v}"
            )));
        };
        let mut entries = map.iter();
        let (op, operand) = match (entries.next(), entries.next()) {
            (Some(entry), None) => entry,
            _ => {
                return Err(SearchError::invalid(format!(
                    "A rank expression has exactly one operator, got {v}"
                )))
            }
        };
        let list = || -> Result<Vec<RankExpr>, SearchError> {
            let items = operand
                .as_array()
                .filter(|items| !items.is_empty())
                .ok_or_else(|| {
                    SearchError::invalid(format!("{op} takes a non-empty list of rank expressions"))
                })?;
            items.iter().map(RankExpr::parse).collect()
        };
        let pair = || -> Result<(Box<RankExpr>, Box<RankExpr>), SearchError> {
            let side = |name: &str| {
                operand
                    .get(name)
                    .ok_or_else(|| {
                        SearchError::invalid(format!("{op} requires 'left' and 'right'"))
                    })
                    .and_then(RankExpr::parse)
                    .map(Box::new)
            };
            Ok((side("left")?, side("right")?))
        };
        let one = || RankExpr::parse(operand).map(Box::new);
        Ok(match op.as_str() {
            "$knn" => RankExpr::Knn(parse_knn(operand)?),
            "$val" => RankExpr::Val(number(operand, "$val")?),
            "$sum" => RankExpr::Sum(list()?),
            "$mul" => RankExpr::Mul(list()?),
            "$max" => RankExpr::Max(list()?),
            "$min" => RankExpr::Min(list()?),
            "$sub" => {
                let (l, r) = pair()?;
                RankExpr::Sub(l, r)
            }
            "$div" => {
                let (l, r) = pair()?;
                RankExpr::Div(l, r)
            }
            "$abs" => RankExpr::Abs(one()?),
            "$exp" => RankExpr::Exp(one()?),
            "$log" => RankExpr::Log(one()?),
            other => {
                return Err(SearchError::invalid(format!(
                    "Unknown rank operator {other}"
                )))
            }
        })
    }

    pub fn to_json(&self) -> Value {
        let all = |rs: &[RankExpr]| Value::Array(rs.iter().map(RankExpr::to_json).collect());
        match self {
            RankExpr::Knn(k) => {
                let mut m = Map::new();
                let (query, key) = match &k.query {
                    KnnQuery::Dense(q) => (json!(q), EMBEDDING_KEY),
                    KnnQuery::Sparse { key, vector } => (vector.to_json(), key.as_str()),
                    KnnQuery::Text(t) => (json!(t), DOCUMENT_KEY),
                };
                m.insert("query".into(), query);
                m.insert("key".into(), json!(key));
                m.insert("limit".into(), json!(k.limit));
                if let Some(d) = k.default {
                    m.insert("default".into(), json!(d));
                }
                m.insert("return_rank".into(), json!(k.return_rank));
                json!({"$knn": m})
            }
            RankExpr::Val(v) => json!({"$val": v}),
            RankExpr::Sum(rs) => json!({"$sum": all(rs)}),
            RankExpr::Mul(rs) => json!({"$mul": all(rs)}),
            RankExpr::Max(rs) => json!({"$max": all(rs)}),
            RankExpr::Min(rs) => json!({"$min": all(rs)}),
            RankExpr::Sub(l, r) => json!({"$sub": {"left": l.to_json(), "right": r.to_json()}}),
            RankExpr::Div(l, r) => json!({"$div": {"left": l.to_json(), "right": r.to_json()}}),
            RankExpr::Abs(r) => json!({"$abs": r.to_json()}),
            RankExpr::Exp(r) => json!({"$exp": r.to_json()}),
            RankExpr::Log(r) => json!({"$log": r.to_json()}),
        }
    }

    /// The `$knn` terms, depth first: `evaluate` takes their results in this order.
    pub fn knn_terms(&self) -> Vec<&KnnTerm> {
        let mut out = Vec::new();
        self.collect_terms(&mut out);
        out
    }

    fn collect_terms<'a>(&'a self, out: &mut Vec<&'a KnnTerm>) {
        match self {
            RankExpr::Knn(k) => out.push(k),
            RankExpr::Val(_) => {}
            RankExpr::Sum(rs) | RankExpr::Mul(rs) | RankExpr::Max(rs) | RankExpr::Min(rs) => {
                rs.iter().for_each(|r| r.collect_terms(out))
            }
            RankExpr::Sub(l, r) | RankExpr::Div(l, r) => {
                l.collect_terms(out);
                r.collect_terms(out);
            }
            RankExpr::Abs(r) | RankExpr::Exp(r) | RankExpr::Log(r) => r.collect_terms(out),
        }
    }

    /// Scores per candidate: `knn_results[i]` is the i-th term's candidates (index into the
    /// caller's record table, distance), nearest first.
    pub fn evaluate(&self, knn_results: &[Vec<(usize, f32)>]) -> HashMap<usize, f32> {
        let mut next = knn_results.iter();
        self.domain(&mut next).support
    }

    fn domain<'a>(&self, next: &mut impl Iterator<Item = &'a Vec<(usize, f32)>>) -> Domain {
        let fold = |rs: &[RankExpr], next: &mut _, start: f32, op: fn(f32, f32) -> f32| {
            rs.iter().fold(Domain::flat(start), |acc, r| {
                Domain::merge(acc, r.domain(next), op)
            })
        };
        match self {
            RankExpr::Knn(k) => Domain {
                support: next
                    .next()
                    .map(|hits| {
                        hits.iter()
                            .enumerate()
                            .map(|(i, &(c, d))| (c, if k.return_rank { i as f32 } else { d }))
                            .collect()
                    })
                    .unwrap_or_default(),
                default: k.default,
            },
            RankExpr::Val(v) => Domain::flat(*v),
            RankExpr::Sum(rs) => fold(rs, next, 0.0, |a, b| a + b),
            RankExpr::Mul(rs) => fold(rs, next, 1.0, |a, b| a * b),
            RankExpr::Max(rs) => fold(rs, next, f32::MIN, f32::max),
            RankExpr::Min(rs) => fold(rs, next, f32::MAX, f32::min),
            RankExpr::Sub(l, r) => Domain::merge(l.domain(next), r.domain(next), |a, b| a - b),
            RankExpr::Div(l, r) => Domain::merge(l.domain(next), r.domain(next), |a, b| a / b),
            RankExpr::Abs(r) => r.domain(next).map(f32::abs),
            RankExpr::Exp(r) => r.domain(next).map(f32::exp),
            RankExpr::Log(r) => r.domain(next).map(f32::ln),
        }
    }
}

/// Scores of the records some term reached, and the score of every other record (`None`: the
/// others are excluded).
struct Domain {
    support: HashMap<usize, f32>,
    default: Option<f32>,
}

impl Domain {
    fn flat(v: f32) -> Domain {
        Domain {
            support: HashMap::new(),
            default: Some(v),
        }
    }

    fn map(self, f: fn(f32) -> f32) -> Domain {
        Domain {
            support: self.support.into_iter().map(|(c, v)| (c, f(v))).collect(),
            default: self.default.map(f),
        }
    }

    fn merge(left: Domain, right: Domain, op: fn(f32, f32) -> f32) -> Domain {
        let mut ids: Vec<usize> = match (left.default, right.default) {
            // Both cover every record: the result covers what either reached.
            (Some(_), Some(_)) => left
                .support
                .keys()
                .chain(right.support.keys())
                .copied()
                .collect(),
            (Some(_), None) => right.support.keys().copied().collect(),
            (None, Some(_)) => left.support.keys().copied().collect(),
            (None, None) => left
                .support
                .keys()
                .filter(|c| right.support.contains_key(c))
                .copied()
                .collect(),
        };
        ids.sort_unstable();
        ids.dedup();
        let support = ids
            .into_iter()
            .filter_map(|c| {
                let l = left.support.get(&c).copied().or(left.default)?;
                let r = right.support.get(&c).copied().or(right.default)?;
                Some((c, op(l, r)))
            })
            .collect();
        Domain {
            support,
            default: left.default.zip(right.default).map(|(l, r)| op(l, r)),
        }
    }
}

fn number(v: &Value, what: &str) -> Result<f32, SearchError> {
    v.as_f64()
        .map(|f| f as f32)
        .ok_or_else(|| SearchError::invalid(format!("{what} takes a number, got {v}")))
}

fn parse_knn(v: &Value) -> Result<KnnTerm, SearchError> {
    let Value::Object(m) = v else {
        return Err(SearchError::invalid(format!(
            "$knn takes a dictionary, got {v}"
        )));
    };
    if let Some(unknown) = m.keys().find(|k| {
        !matches!(
            k.as_str(),
            "query" | "key" | "limit" | "default" | "return_rank"
        )
    }) {
        return Err(SearchError::invalid(format!(
            "Unknown $knn field {unknown:?}"
        )));
    }
    let key = match m.get("key") {
        None | Some(Value::Null) => EMBEDDING_KEY,
        Some(Value::String(k)) => k.as_str(),
        Some(other) => {
            return Err(SearchError::invalid(format!(
                "$knn key must be a string, got {other}"
            )))
        }
    };
    let query = match (m.get("query"), key) {
        (Some(Value::Array(items)), EMBEDDING_KEY) if !items.is_empty() => KnnQuery::Dense(
            items
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| SearchError::invalid("$knn query must be a list of numbers"))?,
        ),
        (Some(Value::Array(_)), EMBEDDING_KEY) => {
            return Err(SearchError::invalid(
                "$knn query must be a non-empty list of numbers",
            ))
        }
        (Some(Value::Array(_)), k) => {
            return Err(SearchError::invalid(format!(
                "$knn with a dense query ranks by \"{EMBEDDING_KEY}\" only: key {k:?} needs a sparse vector query"
            )))
        }
        (Some(Value::Object(q)), k) if k != EMBEDDING_KEY && !k.starts_with('#') => {
            let vector = SparseVector::from_json(q)
                .map_err(|e| SearchError::invalid(format!("Invalid sparse vector in KNN query: {e}")))?;
            KnnQuery::Sparse {
                key: k.to_string(),
                vector,
            }
        }
        (Some(Value::Object(_)), k) => {
            return Err(SearchError::invalid(format!(
                "$knn with a sparse vector query needs the metadata key holding sparse vectors, not {k:?}"
            )))
        }
        (Some(Value::String(t)), DOCUMENT_KEY) if !t.trim().is_empty() => KnnQuery::Text(t.clone()),
        (Some(Value::String(_)), _) => {
            return Err(SearchError::invalid(
                "$knn query is text: Silt does not embed text; send the query embedding (or a text query on \"#document\" for full-text ranking)",
            ))
        }
        (Some(other), _) => {
            return Err(SearchError::invalid(format!(
                "$knn query must be a list of numbers or a sparse vector, got {other}"
            )))
        }
        (None, _) => return Err(SearchError::invalid("$knn requires 'query'")),
    };
    let limit = match m.get("limit") {
        None => DEFAULT_KNN_LIMIT,
        Some(l) => l
            .as_u64()
            .filter(|l| *l > 0)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| {
                SearchError::invalid(format!("$knn limit must be a positive integer, got {l}"))
            })?,
    };
    let default = match m.get("default") {
        None | Some(Value::Null) => None,
        Some(d) => Some(number(d, "$knn default")?),
    };
    let return_rank = match m.get("return_rank") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(SearchError::invalid(format!(
                "$knn return_rank must be a boolean, got {other}"
            )))
        }
    };
    Ok(KnnTerm {
        query,
        limit,
        default,
        return_rank,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> RankExpr {
        RankExpr::parse(&v).unwrap()
    }

    fn knn(default: Option<f32>, return_rank: bool) -> Value {
        let mut k = json!({"query": [1.0, 0.0], "limit": 3, "return_rank": return_rank});
        if let Some(d) = default {
            k["default"] = json!(d);
        }
        json!({"$knn": k})
    }

    #[test]
    fn knn_alone_scores_its_candidates_by_distance() {
        let e = parse(knn(None, false));
        let s = e.evaluate(&[vec![(7, 0.1), (3, 0.5)]]);
        assert_eq!(s, HashMap::from([(7, 0.1), (3, 0.5)]));
    }

    #[test]
    fn missing_candidates_take_the_default_or_are_dropped() {
        let a = vec![(1, 0.1), (2, 0.2)];
        let b = vec![(2, 1.0), (3, 3.0)];
        let no_default = parse(json!({"$sum": [knn(None, false), knn(None, false)]}));
        assert_eq!(
            no_default.evaluate(&[a.clone(), b.clone()]),
            HashMap::from([(2, 1.2)])
        );
        let with_default = parse(json!({"$sum": [knn(Some(10.0), false), knn(None, false)]}));
        assert_eq!(
            with_default.evaluate(&[a.clone(), b.clone()]),
            HashMap::from([(2, 1.2), (3, 13.0)])
        );
        let both = parse(json!({"$sum": [knn(Some(10.0), false), knn(Some(5.0), false)]}));
        assert_eq!(
            both.evaluate(&[a, b]),
            HashMap::from([(1, 5.1), (2, 1.2), (3, 13.0)])
        );
    }

    #[test]
    fn rrf_as_the_client_sends_it() {
        // -(1/(60+rank_a) + 2/(60+rank_b)), as Rrf.to_dict() expands it.
        let term = |w: f32, k: Value| json!({"$div": {"left": {"$val": w}, "right": {"$sum": [{"$val": 60}, k]}}});
        let e = parse(json!({"$mul": [{"$val": -1},
            {"$sum": [term(1.0, knn(Some(100.0), true)), term(2.0, knn(Some(100.0), true))]}]}));
        assert_eq!(e.knn_terms().len(), 2);
        let s = e.evaluate(&[vec![(1, 0.3), (2, 0.4)], vec![(2, 0.9)]]);
        let want1 = -(1.0 / 60.0 + 2.0 / 160.0);
        let want2 = -(1.0 / 61.0 + 2.0 / 60.0);
        assert!((s[&1] - want1).abs() < 1e-6 && (s[&2] - want2).abs() < 1e-6);
    }

    #[test]
    fn arithmetic_operators() {
        let hits = [vec![(0, 4.0)]];
        let one = |op: Value| parse(op).evaluate(&hits)[&0];
        let k = knn(None, false);
        assert_eq!(one(json!({"$sub": {"left": k, "right": {"$val": 1}}})), 3.0);
        assert_eq!(one(json!({"$div": {"left": k, "right": {"$val": 2}}})), 2.0);
        assert_eq!(one(json!({"$abs": {"$mul": [k, {"$val": -1}]}})), 4.0);
        assert_eq!(one(json!({"$exp": {"$mul": [k, {"$val": 0}]}})), 1.0);
        assert_eq!(
            one(json!({"$log": {"$div": {"left": k, "right": {"$val": 4}}}})),
            0.0
        );
        assert_eq!(one(json!({"$max": [k, {"$val": 9}]})), 9.0);
        assert_eq!(one(json!({"$min": [k, {"$val": 9}]})), 4.0);
    }

    #[test]
    fn constants_alone_rank_nothing() {
        assert!(parse(json!({"$val": 1})).evaluate(&[]).is_empty());
    }

    #[test]
    fn round_trips_and_refusals() {
        let e = parse(json!({"$sum": [knn(Some(1.0), true), {"$log": {"$val": 2}}]}));
        assert_eq!(RankExpr::parse(&e.to_json()).unwrap(), e);
        for bad in [
            json!(1),
            json!({}),
            json!({"$knn": {"query": [1.0]}, "$val": 1}),
            json!({"$bogus": 1}),
            json!({"$val": "x"}),
            json!({"$sum": []}),
            json!({"$sub": {"left": {"$val": 1}}}),
            json!({"$knn": {"limit": 3}}),
            json!({"$knn": {"query": []}}),
            json!({"$knn": {"query": [1.0], "limit": 0}}),
            json!({"$knn": {"query": [1.0], "return_rank": 1}}),
            json!({"$knn": {"query": [1.0], "extra": 1}}),
            json!({"$knn": {"query": "text"}}),
            json!({"$knn": {"query": [1.0], "key": "sparse"}}),
            json!({"$knn": {"query": {"indices": [1], "values": [1]}}}),
            json!({"$knn": {"query": {"indices": [2, 1], "values": [1, 1]}, "key": "s"}}),
            json!({"$knn": {"query": {"indices": [1], "values": [1]}, "key": "#document"}}),
            json!({"$knn": {"query": " ", "key": "#document"}}),
        ] {
            assert!(RankExpr::parse(&bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn sparse_and_text_terms_parse_and_round_trip() {
        let e = parse(json!({"$sum": [
            {"$knn": {"query": {"#type": "sparse_vector", "indices": [1, 4], "values": [0.5, 2]}, "key": "bm25", "limit": 7}},
            {"$knn": {"query": {"indices": [3], "values": [1]}, "key": "splade"}},
            {"$knn": {"query": "rust search", "key": "#document"}},
        ]}));
        let terms = e.knn_terms();
        assert!(
            matches!(&terms[0].query, KnnQuery::Sparse { key, vector } if key == "bm25" && vector.indices == [1, 4])
        );
        assert_eq!(terms[0].limit, 7);
        assert!(matches!(&terms[2].query, KnnQuery::Text(t) if t == "rust search"));
        assert_eq!(RankExpr::parse(&e.to_json()).unwrap(), e);
    }
}
