//! The query service's messages on the internal wire. Filters travel in Chroma's JSON form and
//! are parsed again on the query node, so both ends agree on one definition of the language.

use serde_json::Value;
use silt_common::codec::{DecodeError, Reader, Writer};
use silt_common::filter::{Where, WhereDocument};
use silt_common::rpc::Wire;

use crate::{Consistency, Filters, GetRequest, Include, KnnRequest, Scored, Target};

pub(crate) const GET: &str = "/internal/query/v1/get";
pub(crate) const KNN: &str = "/internal/query/v1/knn";
pub(crate) const COUNT: &str = "/internal/query/v1/count";

pub(crate) struct CountRequest {
    pub collection: Target,
    pub consistency: Consistency,
}

impl Wire for CountRequest {
    fn encode(&self, w: &mut Writer) {
        self.collection.encode(w);
        self.consistency.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CountRequest {
            collection: Target::decode(r)?,
            consistency: Consistency::decode(r)?,
        })
    }
}

fn encode_json(w: &mut Writer, v: Option<Value>) {
    w.opt_str(v.map(|v| v.to_string()).as_deref());
}

fn decode_json<T>(
    r: &mut Reader<'_>,
    parse: impl FnOnce(&Value) -> Result<Option<T>, String>,
) -> Result<Option<T>, DecodeError> {
    let Some(text) = r.opt_str()? else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    parse(&v).map_err(DecodeError::Invalid)
}

impl Wire for Filters {
    fn encode(&self, w: &mut Writer) {
        self.ids.encode(w);
        encode_json(w, self.r#where.as_ref().map(Where::to_json));
        encode_json(w, self.where_document.as_ref().map(WhereDocument::to_json));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Filters {
            ids: Wire::decode(r)?,
            r#where: decode_json(r, Where::parse)?,
            where_document: decode_json(r, WhereDocument::parse)?,
        })
    }
}

impl Wire for Include {
    fn encode(&self, w: &mut Writer) {
        let bits = u8::from(self.embeddings)
            | u8::from(self.documents) << 1
            | u8::from(self.metadatas) << 2
            | u8::from(self.uris) << 3;
        w.u8(bits);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bits = r.u8()?;
        Ok(Include {
            embeddings: bits & 1 != 0,
            documents: bits & 2 != 0,
            metadatas: bits & 4 != 0,
            uris: bits & 8 != 0,
        })
    }
}

impl Wire for GetRequest {
    fn encode(&self, w: &mut Writer) {
        self.collection.encode(w);
        self.filters.encode(w);
        self.limit.map(|l| l as u64).encode(w);
        w.u64(self.offset as u64);
        self.include.encode(w);
        self.consistency.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(GetRequest {
            collection: Target::decode(r)?,
            filters: Filters::decode(r)?,
            limit: Option::<u64>::decode(r)?.map(|l| l as usize),
            offset: r.u64()? as usize,
            include: Include::decode(r)?,
            consistency: Consistency::decode(r)?,
        })
    }
}

impl Wire for Consistency {
    fn encode(&self, w: &mut Writer) {
        w.u8(match self {
            Consistency::Strong => 0,
            Consistency::Eventual => 1,
        });
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Consistency::Strong),
            1 => Ok(Consistency::Eventual),
            other => Err(DecodeError::Invalid(format!("consistency {other}"))),
        }
    }
}

impl Wire for KnnRequest {
    fn encode(&self, w: &mut Writer) {
        self.collection.encode(w);
        self.filters.encode(w);
        w.u64(self.query_embeddings.len() as u64);
        for q in &self.query_embeddings {
            w.f32s(q);
        }
        w.u64(self.n_results as u64);
        self.include.encode(w);
        self.consistency.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let collection = Target::decode(r)?;
        let filters = Filters::decode(r)?;
        let n = r.u64()?;
        if n > r.remaining() as u64 {
            return Err(DecodeError::Invalid(format!("{n} query embeddings")));
        }
        let query_embeddings = (0..n).map(|_| r.f32s()).collect::<Result<_, _>>()?;
        Ok(KnnRequest {
            collection,
            filters,
            query_embeddings,
            n_results: r.u64()? as usize,
            include: Include::decode(r)?,
            consistency: Consistency::decode(r)?,
        })
    }
}

impl Wire for Scored {
    fn encode(&self, w: &mut Writer) {
        self.record.encode(w);
        self.distance.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Scored {
            record: Wire::decode(r)?,
            distance: Wire::decode(r)?,
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
        let request = KnnRequest {
            collection: "2b1e3c5e-0000-4000-8000-000000000001"
                .parse::<silt_common::CollectionId>()
                .unwrap()
                .into(),
            filters: Filters {
                ids: Some(vec!["a".into(), "b".into()]),
                r#where: Where::parse(&json!({"n": {"$gt": 2}})).unwrap(),
                where_document: WhereDocument::parse(&json!({"$regex": "x+"})).unwrap(),
            },
            query_embeddings: vec![vec![1.0, 2.0], vec![-0.5, 0.0]],
            n_results: 7,
            include: Include {
                embeddings: true,
                documents: false,
                metadatas: true,
                uris: false,
            },
            consistency: Consistency::Eventual,
        };
        let back: KnnRequest = from_bytes(&to_bytes(&request)).unwrap();
        assert_eq!(back.collection, request.collection);
        assert_eq!(back.filters.ids, request.filters.ids);
        assert_eq!(
            back.filters.r#where.map(|w| w.to_json()),
            Some(json!({"n": {"$gt": 2}}))
        );
        assert_eq!(
            back.filters.where_document.map(|w| w.to_json()),
            Some(json!({"$regex": "x+"}))
        );
        assert_eq!(back.query_embeddings, request.query_embeddings);
        assert_eq!(back.n_results, 7);
        assert_eq!(back.include, request.include);
    }
}
