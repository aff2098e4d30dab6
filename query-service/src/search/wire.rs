//! Search requests and results on the internal wire. Plans travel as Chroma's JSON and are
//! parsed again on the query node: one definition of the language on both ends.

use serde_json::Value;
use silt_common::codec::{DecodeError, Reader, Writer};
use silt_common::rpc::Wire;

use super::{SearchHit, SearchPlan, SearchRequest};
use crate::{Consistency, Target};

pub(crate) const SEARCH: &str = "/internal/query/v1/search";

impl Wire for SearchRequest {
    fn encode(&self, w: &mut Writer) {
        self.collection.encode(w);
        self.consistency.encode(w);
        let plans: Vec<String> = self
            .searches
            .iter()
            .map(|p| p.to_json().to_string())
            .collect();
        plans.encode(w);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let collection = Target::decode(r)?;
        let consistency = Consistency::decode(r)?;
        let searches = Vec::<String>::decode(r)?
            .iter()
            .map(|text| {
                let v: Value =
                    serde_json::from_str(text).map_err(|e| DecodeError::Invalid(e.to_string()))?;
                SearchPlan::parse(&v).map_err(|e| DecodeError::Invalid(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(SearchRequest {
            collection,
            searches,
            consistency,
        })
    }
}

impl Wire for SearchHit {
    fn encode(&self, w: &mut Writer) {
        self.record.encode(w);
        self.score.encode(w);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SearchHit {
            record: Wire::decode(r)?,
            score: Wire::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use silt_common::rpc::{from_bytes, to_bytes};

    #[test]
    fn requests_round_trip() {
        let plan = SearchPlan::parse(&json!({
            "filter": {"#id": {"$nin": ["a"]}},
            "rank": {"$knn": {"query": [1.0, 2.0], "limit": 4, "default": 9.0}},
            "limit": {"offset": 1, "limit": 2},
            "select": {"keys": ["#score"]},
        }))
        .unwrap();
        let request = SearchRequest {
            collection: "2b1e3c5e-0000-4000-8000-000000000001"
                .parse::<silt_common::CollectionId>()
                .unwrap()
                .into(),
            searches: vec![plan.clone(), SearchPlan::default()],
            consistency: Consistency::Eventual,
        };
        let back: SearchRequest = from_bytes(&to_bytes(&request)).unwrap();
        assert_eq!(back.collection, request.collection);
        assert_eq!(back.consistency, Consistency::Eventual);
        assert_eq!(back.searches.len(), 2);
        assert_eq!(back.searches[0].to_json(), plan.to_json());
    }
}
