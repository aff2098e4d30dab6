//! Which collection a read is for, and, when the caller has already read it, its catalog row.
//!
//! The gateway reads a collection's row on every request (to resolve the name in the path and
//! check dimensions and quotas). Passing that row along means the query node does not read the
//! catalog a second time, and the gateway's checks and the read agree on one version and one
//! log position. Callers without a row (tools, tests) name the collection by id.

use silt_common::codec::{DecodeError, Reader, Writer};
use silt_common::distance::Distance;
use silt_common::rpc::Wire;
use silt_common::CollectionId;
use silt_sysdb::Collection;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The query node reads the collection's row from the catalog itself.
    Id(CollectionId),
    /// The row the caller read for this request.
    Row(CollectionRow),
}

/// What a read needs of a collection's catalog row: one row, so the version ends exactly
/// where the tail (compacted offset to log position) begins.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionRow {
    pub id: CollectionId,
    pub compacted_offset: u64,
    pub log_position: u64,
    /// Object key of the current version's manifest (none before the first compaction).
    pub manifest: Option<String>,
    pub distance: Distance,
    /// Chroma's `hnsw.ef_search`, when configured: it scales the clusters probed.
    pub ef_search: Option<u64>,
    /// Metadata keys whose sparse vector index the schema declares with `bm25: true`: a sparse
    /// `$knn` on them scales the query by inverse document frequency, as Chroma does.
    pub idf_keys: Vec<String>,
}

impl Target {
    pub fn id(&self) -> CollectionId {
        match self {
            Target::Id(id) => *id,
            Target::Row(row) => row.id,
        }
    }
}

impl From<CollectionId> for Target {
    fn from(id: CollectionId) -> Self {
        Target::Id(id)
    }
}

impl From<&Collection> for CollectionRow {
    fn from(c: &Collection) -> Self {
        CollectionRow {
            id: c.id,
            compacted_offset: c.compacted_offset,
            log_position: c.log_position,
            manifest: c.manifest.clone(),
            distance: c.distance(),
            ef_search: c
                .configuration
                .pointer("/hnsw/ef_search")
                .and_then(serde_json::Value::as_u64),
            idf_keys: idf_keys(c.schema.as_ref()),
        }
    }
}

/// The keys of `schema` (Chroma's JSON) with an enabled sparse vector index set to `bm25`.
fn idf_keys(schema: Option<&serde_json::Value>) -> Vec<String> {
    let Some(keys) = schema
        .and_then(|s| s.get("keys"))
        .and_then(|k| k.as_object())
    else {
        return Vec::new();
    };
    keys.iter()
        .filter(|(_, t)| {
            let index = t.pointer("/sparse_vector/sparse_vector_index");
            let on = |p: &str| {
                index
                    .and_then(|i| i.pointer(p))
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false)
            };
            on("/enabled") && on("/config/bm25")
        })
        .map(|(k, _)| k.clone())
        .collect()
}

impl From<&Collection> for Target {
    fn from(c: &Collection) -> Self {
        Target::Row(c.into())
    }
}

fn encode_id(w: &mut Writer, id: CollectionId) {
    w.str(&id.to_string());
}

fn decode_id(r: &mut Reader<'_>) -> Result<CollectionId, DecodeError> {
    let text = r.str()?;
    text.parse()
        .map_err(|_| DecodeError::Invalid(format!("bad collection id {text:?}")))
}

impl Wire for Target {
    fn encode(&self, w: &mut Writer) {
        match self {
            Target::Id(id) => {
                w.u8(0);
                encode_id(w, *id);
            }
            Target::Row(row) => {
                w.u8(1);
                encode_id(w, row.id);
                w.u64(row.compacted_offset);
                w.u64(row.log_position);
                w.opt_str(row.manifest.as_deref());
                w.str(row.distance.as_str());
                row.ef_search.encode(w);
                row.idf_keys.encode(w);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(Target::Id(decode_id(r)?)),
            1 => {
                let id = decode_id(r)?;
                let compacted_offset = r.u64()?;
                let log_position = r.u64()?;
                let manifest = r.opt_str()?;
                let name = r.str()?;
                let distance = Distance::parse(&name)
                    .ok_or_else(|| DecodeError::Invalid(format!("distance {name:?}")))?;
                Ok(Target::Row(CollectionRow {
                    id,
                    compacted_offset,
                    log_position,
                    manifest,
                    distance,
                    ef_search: Wire::decode(r)?,
                    idf_keys: Wire::decode(r)?,
                }))
            }
            other => Err(DecodeError::Invalid(format!("collection target {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: &Target) -> Target {
        let mut w = Writer::with_capacity(64);
        t.encode(&mut w);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        let back = Target::decode(&mut r).expect("decodes");
        r.expect_end().expect("nothing left over");
        back
    }

    #[test]
    fn both_forms_round_trip() {
        let id: CollectionId = "2b1e3c5e-0000-4000-8000-000000000001"
            .parse()
            .expect("a uuid");
        let by_id = Target::Id(id);
        assert_eq!(round_trip(&by_id), by_id);
        let row = Target::Row(CollectionRow {
            id,
            compacted_offset: 7,
            log_position: 12,
            manifest: Some("ab/x/v/3-1/manifest.json".into()),
            distance: Distance::Cosine,
            ef_search: Some(200),
            idf_keys: vec!["bm25".into()],
        });
        assert_eq!(round_trip(&row), row);
        assert_eq!(row.id(), id);
    }

    #[test]
    fn idf_keys_are_the_enabled_bm25_sparse_indexes() {
        let schema = serde_json::json!({"keys": {
            "a": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {"bm25": true}}}},
            "b": {"sparse_vector": {"sparse_vector_index": {"enabled": true, "config": {"bm25": false}}}},
            "c": {"sparse_vector": {"sparse_vector_index": {"enabled": false, "config": {"bm25": true}}}},
            "d": {"string": {}},
        }});
        assert_eq!(idf_keys(Some(&schema)), ["a"]);
        assert!(idf_keys(None).is_empty());
    }
}
