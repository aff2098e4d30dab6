//! Validation of everything a client sends: names, ids, embeddings, documents, metadata and
//! filters. A batch is either valid as a whole or rejected as a whole: nothing is written.

use std::collections::HashSet;

use base64::Engine;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use silt_common::filter::{Where, WhereDocument};
use silt_common::record::{metadata_update_from_json, Operation, OperationRecord};
use silt_common::ErrorKind;

use crate::error::{ApiError, ApiResult};
use crate::Limits;

/// Chroma's naming rule for collections: 3–512 characters from `[a-zA-Z0-9._-]`, starting and
/// ending with a letter or digit, no `..`, and not an IPv4 address.
pub fn collection_name(name: &str) -> ApiResult<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let ends_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    let is_ipv4 = name.parse::<std::net::Ipv4Addr>().is_ok();
    if (3..=512).contains(&name.len()) && ok_chars && ends_ok && !name.contains("..") && !is_ipv4 {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "Validation error: name: Expected a name containing 3-512 characters from [a-zA-Z0-9._-], \
         starting and ending with a character in [a-zA-Z0-9], with no two consecutive periods, \
         and not a valid IPv4 address. Got: {name:?}"
    )))
}

/// Tenant and database names: printable, bounded, and usable as a path segment — no slashes,
/// no surrounding whitespace, not blank and not made of dots only (`.` and `..` would name the
/// parent of a URL path, so such a tenant could never be addressed).
pub fn plain_name(what: &str, name: &str) -> ApiResult<()> {
    let usable = !name.trim().is_empty()
        && name.trim() == name
        && name.len() <= 256
        && !name.chars().all(|c| c == '.')
        && !name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\');
    if !usable {
        return Err(ApiError::invalid(format!(
            "Invalid {what} name {name:?}: expected 1-256 printable characters without slashes \
             or surrounding spaces, not only dots"
        )));
    }
    Ok(())
}

/// An embedding sent either as a JSON list of numbers or as base64 of little-endian f32.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    Floats(Vec<f64>),
    Base64(String),
}

impl EmbeddingInput {
    pub fn decode(self) -> ApiResult<Vec<f32>> {
        let v: Vec<f32> = match self {
            EmbeddingInput::Floats(f) => f.into_iter().map(|x| x as f32).collect(),
            EmbeddingInput::Base64(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|e| ApiError::invalid(format!("Invalid base64 embedding: {e}")))?;
                if bytes.len() % 4 != 0 {
                    return Err(ApiError::invalid(
                        "Invalid base64 embedding: length is not a multiple of 4 bytes",
                    ));
                }
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
        };
        if v.iter().any(|x| !x.is_finite()) {
            return Err(ApiError::invalid(
                "Embeddings must contain only finite numbers",
            ));
        }
        Ok(v)
    }
}

/// Records to add, upsert or update, column by column: every list has one entry per id.
/// Add and upsert need embeddings; update changes only the fields it sends.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "CollectionRecordsPayload")]
pub struct BatchBody {
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub ids: Vec<String>,
    #[serde(default)]
    pub embeddings: Option<Vec<EmbeddingInput>>,
    #[serde(default)]
    pub documents: Option<Vec<Option<String>>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<Option<crate::wire::MetadataUpdate>>>")]
    pub metadatas: Option<Vec<Option<Value>>>,
    #[serde(default)]
    pub uris: Option<Vec<Option<String>>>,
}

/// A batch of `n` records or ids must fit the tenant's batch size.
pub fn batch_size(n: usize, limits: &Limits) -> ApiResult<()> {
    if n > limits.max_batch_size {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!(
                "Batch size {n} exceeds the maximum of {}",
                limits.max_batch_size
            ),
        ));
    }
    Ok(())
}

pub fn ids(ids: &[String], limits: &Limits) -> ApiResult<()> {
    if ids.is_empty() {
        return Err(ApiError::invalid("Expected IDs to be a non-empty list"));
    }
    batch_size(ids.len(), limits)?;
    let mut seen = HashSet::with_capacity(ids.len());
    let mut dups = Vec::new();
    for id in ids {
        if id.is_empty() {
            return Err(ApiError::invalid("Expected IDs to be non-empty strings"));
        }
        if id.len() > limits.max_id_bytes {
            return Err(ApiError::invalid(format!(
                "ID longer than {} bytes",
                limits.max_id_bytes
            )));
        }
        if !seen.insert(id.as_str()) && dups.len() < 10 {
            dups.push(id.as_str());
        }
    }
    if !dups.is_empty() {
        return Err(ApiError::invalid(format!(
            "Expected IDs to be unique, found duplicates of: {}",
            dups.join(", ")
        )));
    }
    Ok(())
}

fn same_length<T>(what: &str, column: &Option<Vec<T>>, n: usize) -> ApiResult<()> {
    match column {
        Some(c) if c.len() != n => Err(ApiError::invalid(format!(
            "Number of {what} ({}) does not match number of ids ({n})",
            c.len()
        ))),
        _ => Ok(()),
    }
}

/// Turns a batch body into log operations, checking every rule first. Returns the operations
/// and the dimension of the embeddings they carry, if any.
pub fn batch(
    body: BatchBody,
    operation: Operation,
    limits: &Limits,
) -> ApiResult<(Vec<OperationRecord>, Option<usize>)> {
    ids(&body.ids, limits)?;
    let n = body.ids.len();
    same_length("embeddings", &body.embeddings, n)?;
    same_length("documents", &body.documents, n)?;
    same_length("metadatas", &body.metadatas, n)?;
    same_length("uris", &body.uris, n)?;
    if body.embeddings.is_none() && operation != Operation::Update {
        return Err(ApiError::invalid(
            "Embeddings are required: compute them in the client (Chroma's clients do so from documents)",
        ));
    }
    let mut embeddings = match body.embeddings {
        Some(e) => e
            .into_iter()
            .map(|e| e.decode().map(Some))
            .collect::<ApiResult<Vec<_>>>()?,
        None => vec![None; n],
    };
    let mut dimension = None;
    for e in embeddings.iter().flatten() {
        if e.is_empty() {
            return Err(ApiError::invalid("Embeddings must not be empty"));
        }
        if e.len() > limits.max_dimension {
            return Err(ApiError::quota(format!(
                "Embedding dimension {} exceeds the maximum of {}",
                e.len(),
                limits.max_dimension
            )));
        }
        match dimension {
            None => dimension = Some(e.len()),
            Some(d) if d != e.len() => {
                return Err(ApiError::invalid(format!(
                    "All embeddings in a batch must have the same dimension: found {d} and {}",
                    e.len()
                )))
            }
            _ => {}
        }
    }
    let mut documents = body.documents.unwrap_or_else(|| vec![None; n]);
    for d in documents.iter().flatten() {
        if d.len() > limits.max_document_bytes {
            return Err(ApiError::quota(format!(
                "Document of {} bytes exceeds the maximum of {}",
                d.len(),
                limits.max_document_bytes
            )));
        }
    }
    let mut metadatas = match body.metadatas {
        Some(m) => m
            .into_iter()
            .map(|m| m.as_ref().map(|v| metadata(v, limits)).transpose())
            .collect::<ApiResult<Vec<_>>>()?,
        None => vec![None; n],
    };
    let mut uris = body.uris.unwrap_or_else(|| vec![None; n]);
    let records = body
        .ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| OperationRecord {
            id,
            operation,
            embedding: embeddings[i].take(),
            document: documents[i].take(),
            metadata: metadatas[i].take(),
            uri: uris[i].take(),
        })
        .collect();
    Ok((records, dimension))
}

fn metadata(v: &Value, limits: &Limits) -> ApiResult<silt_common::record::MetadataUpdate> {
    let m = metadata_update_from_json(v)
        .map_err(|e| ApiError::invalid(format!("Invalid metadata: {e}")))?;
    if m.len() > limits.max_metadata_keys {
        return Err(ApiError::quota(format!(
            "Metadata has {} keys, the maximum is {}",
            m.len(),
            limits.max_metadata_keys
        )));
    }
    if let Some(k) = m.keys().find(|k| k.is_empty()) {
        return Err(ApiError::invalid(format!("Invalid metadata key {k:?}")));
    }
    let bytes = v.to_string().len();
    if bytes > limits.max_metadata_bytes {
        return Err(ApiError::quota(format!(
            "Metadata is {bytes} bytes as JSON, the maximum is {}",
            limits.max_metadata_bytes
        )));
    }
    Ok(m)
}

/// Collection metadata: the same value rules as record metadata, nulls not allowed, and (as
/// Chroma refuses it) not an empty map: `field` names the body field in the refusal.
pub fn collection_metadata(
    field: &str,
    v: &Option<Value>,
    limits: &Limits,
) -> ApiResult<Option<Value>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.is_empty() => Err(ApiError::invalid(format!(
            "Validation error: {field}: Metadata cannot be empty"
        ))),
        Some(v) => {
            let m = metadata(v, limits)?;
            if m.values().any(Option::is_none) {
                return Err(ApiError::invalid(
                    "Collection metadata values must not be null",
                ));
            }
            Ok(Some(v.clone()))
        }
    }
}

pub fn where_filter(v: &Option<Value>) -> ApiResult<Option<Where>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            Where::parse(v).map_err(|e| ApiError::invalid(format!("Invalid where clause: {e}")))
        }
    }
}

pub fn where_document_filter(v: &Option<Value>) -> ApiResult<Option<WhereDocument>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => WhereDocument::parse(v)
            .map_err(|e| ApiError::invalid(format!("Invalid where document clause: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn tenant_names_must_be_addressable() {
        for bad in [
            "", " ", "  ", ".", "..", "...", " acme", "acme ", "a/b", "a\\b", "a\u{0}b",
        ] {
            assert!(plain_name("tenant", bad).is_err(), "{bad:?}");
        }
        for good in [
            "acme",
            "a",
            "a.b",
            ".hidden",
            "x..y",
            "Acme Corp",
            "ünïcode",
        ] {
            assert!(plain_name("tenant", good).is_ok(), "{good:?}");
        }
    }
}
