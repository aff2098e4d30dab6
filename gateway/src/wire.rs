//! Response shapes exactly as Chroma's clients read them.

use serde_json::{json, Value};
use silt_common::record::{metadata_to_json, Record};
use silt_query_service::{Include, Scored};
use silt_sysdb::Collection;

use crate::error::{ApiError, ApiResult};

pub fn collection(c: &Collection) -> Value {
    json!({
        "id": c.id.to_string(),
        "name": c.name,
        "configuration_json": c.configuration,
        "schema": null,
        "metadata": c.metadata,
        "dimension": c.dimension,
        "tenant": c.tenant,
        "database": c.database,
        "log_position": c.log_position,
        "version": c.version,
    })
}

/// The fields a response carries; `distances` only applies to queries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Projection {
    pub fields: Include,
    pub distances: bool,
}

pub fn include(v: &Option<Vec<String>>, default: &[&str]) -> ApiResult<(Projection, Vec<String>)> {
    let names: Vec<String> = match v {
        Some(v) => v.clone(),
        None => default.iter().map(|s| s.to_string()).collect(),
    };
    let mut p = Projection::default();
    for name in &names {
        match name.as_str() {
            "embeddings" => p.fields.embeddings = true,
            "documents" => p.fields.documents = true,
            "metadatas" => p.fields.metadatas = true,
            "uris" => p.fields.uris = true,
            "distances" => p.distances = true,
            "data" => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid include item {other:?}: expected embeddings, documents, metadatas, uris or distances"
                )))
            }
        }
    }
    Ok((p, names))
}

fn metadata(r: &Record) -> Value {
    if r.metadata.is_empty() {
        Value::Null
    } else {
        metadata_to_json(&r.metadata)
    }
}

fn column<'a, F>(on: bool, records: impl Iterator<Item = &'a Record>, f: F) -> Value
where
    F: Fn(&Record) -> Value,
{
    if on {
        Value::Array(records.map(f).collect())
    } else {
        Value::Null
    }
}

fn embedding(r: &Record) -> Value {
    json!(r.embedding)
}

pub fn get_result(records: &[Record], p: Projection, include: Vec<String>) -> Value {
    json!({
        "ids": records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        "embeddings": column(p.fields.embeddings, records.iter(), embedding),
        "documents": column(p.fields.documents, records.iter(), |r| json!(r.document)),
        "metadatas": column(p.fields.metadatas, records.iter(), metadata),
        "uris": column(p.fields.uris, records.iter(), |r| json!(r.uri)),
        "include": include,
    })
}

pub fn query_result(results: &[Vec<Scored>], p: Projection, include: Vec<String>) -> Value {
    let nested = |on: bool, f: &dyn Fn(&Scored) -> Value| -> Value {
        if on {
            Value::Array(
                results
                    .iter()
                    .map(|q| Value::Array(q.iter().map(f).collect()))
                    .collect(),
            )
        } else {
            Value::Null
        }
    };
    json!({
        "ids": nested(true, &|s| json!(s.record.id)),
        "distances": nested(p.distances, &|s| json!(s.distance)),
        "embeddings": nested(p.fields.embeddings, &|s| embedding(&s.record)),
        "documents": nested(p.fields.documents, &|s| json!(s.record.document)),
        "metadatas": nested(p.fields.metadatas, &|s| metadata(&s.record)),
        "uris": nested(p.fields.uris, &|s| json!(s.record.uri)),
        "include": include,
    })
}
