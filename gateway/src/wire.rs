//! Response shapes exactly as Chroma's clients read them, and the JSON Schemas that
//! `/openapi.json` publishes for them and for the values handlers keep as raw JSON (metadata,
//! filters, configuration). Responses are built from these types, so the published schema is
//! the one the server serializes.

pub(crate) mod configuration;

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{json, Value};
use silt_common::record::{metadata_to_json, Record};
use silt_query_service::{Include, Scored};
use silt_sysdb::Collection as CatalogCollection;

use crate::error::{ApiError, ApiResult};

/// Chroma's error body: `error` names the exception class its clients raise.
#[derive(Serialize, JsonSchema)]
pub struct ErrorResponse {
    pub error: String,
    pub message: String,
}

/// A collection as Chroma's clients read it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Collection")]
pub struct CollectionJson {
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub name: String,
    #[schemars(with = "CollectionConfiguration")]
    pub configuration_json: Value,
    /// Chroma's index schema: every value type's and key's indexes, defaults filled in.
    #[schemars(with = "Option<Value>")]
    pub schema: Option<Value>,
    #[schemars(with = "Option<Metadata>")]
    pub metadata: Option<Value>,
    /// Fixed by the first write that carries embeddings.
    pub dimension: Option<u32>,
    pub tenant: String,
    pub database: String,
    pub log_position: u64,
    /// The index version: 0 until the first compaction.
    pub version: u64,
}

pub fn collection(c: &CatalogCollection) -> Value {
    to_json(CollectionJson {
        id: c.id.to_string(),
        name: c.name.clone(),
        configuration_json: configuration::configuration_json(&c.configuration),
        schema: Some(crate::schema::wire(c)),
        metadata: c.metadata.clone(),
        dimension: c.dimension,
        tenant: c.tenant.clone(),
        database: c.database.clone(),
        log_position: c.log_position,
        version: c.version,
    })
}

/// Serializing these types cannot fail (string keys, no maps with other keys), so the
/// fallback is never taken; it keeps fallible serde calls out of handlers.
fn to_json(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The fields a response carries; `distances` only applies to queries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Projection {
    pub fields: Include,
    pub distances: bool,
}

/// A field a get or query may return.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: requests keep the names as strings
pub enum IncludeField {
    Distances,
    Documents,
    Embeddings,
    Metadatas,
    Uris,
    /// Accepted and ignored, as by Chroma.
    Data,
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

fn metadata(r: &Record) -> Option<Value> {
    (!r.metadata.is_empty()).then(|| metadata_to_json(&r.metadata))
}

/// Records of a get, column by column; a column not asked for is null.
#[derive(Serialize, JsonSchema)]
pub struct GetResponse {
    pub ids: Vec<String>,
    pub embeddings: Option<Vec<Vec<f32>>>,
    pub documents: Option<Vec<Option<String>>>,
    #[schemars(with = "Option<Vec<Option<Metadata>>>")]
    pub metadatas: Option<Vec<Option<Value>>>,
    pub uris: Option<Vec<Option<String>>>,
    /// The include list as the request gave it (or its default).
    #[schemars(with = "Vec<IncludeField>")]
    pub include: Vec<String>,
}

fn column<T>(on: bool, records: &[Record], f: impl Fn(&Record) -> T) -> Option<Vec<T>> {
    on.then(|| records.iter().map(f).collect())
}

pub fn get_result(records: &[Record], p: Projection, include: Vec<String>) -> Value {
    to_json(GetResponse {
        ids: records.iter().map(|r| r.id.clone()).collect(),
        embeddings: column(p.fields.embeddings, records, |r| r.embedding.clone()),
        documents: column(p.fields.documents, records, |r| r.document.clone()),
        metadatas: column(p.fields.metadatas, records, metadata),
        uris: column(p.fields.uris, records, |r| r.uri.clone()),
        include,
    })
}

/// Results of a query: one list per query embedding, nearest first.
#[derive(Serialize, JsonSchema)]
pub struct QueryResponse {
    pub ids: Vec<Vec<String>>,
    /// Null for a distance that is not a finite number.
    pub distances: Option<Vec<Vec<Option<f32>>>>,
    pub embeddings: Option<Vec<Vec<Vec<f32>>>>,
    pub documents: Option<Vec<Vec<Option<String>>>>,
    #[schemars(with = "Option<Vec<Vec<Option<Metadata>>>>")]
    pub metadatas: Option<Vec<Vec<Option<Value>>>>,
    pub uris: Option<Vec<Vec<Option<String>>>>,
    #[schemars(with = "Vec<IncludeField>")]
    pub include: Vec<String>,
}

pub fn query_result(results: &[Vec<Scored>], p: Projection, include: Vec<String>) -> Value {
    fn nested<T>(
        on: bool,
        results: &[Vec<Scored>],
        f: impl Fn(&Scored) -> T,
    ) -> Option<Vec<Vec<T>>> {
        on.then(|| results.iter().map(|q| q.iter().map(&f).collect()).collect())
    }
    to_json(QueryResponse {
        ids: results
            .iter()
            .map(|q| q.iter().map(|s| s.record.id.clone()).collect())
            .collect(),
        distances: nested(p.distances, results, |s| {
            s.distance.is_finite().then_some(s.distance)
        }),
        embeddings: nested(p.fields.embeddings, results, |s| s.record.embedding.clone()),
        documents: nested(p.fields.documents, results, |s| s.record.document.clone()),
        metadatas: nested(p.fields.metadatas, results, |s| metadata(&s.record)),
        uris: nested(p.fields.uris, results, |s| s.record.uri.clone()),
        include,
    })
}

/// `{}`: what writes and catalog changes answer.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "EmptyResponse")]
pub struct Empty {}

#[derive(Serialize, JsonSchema)]
pub struct HeartbeatResponse {
    #[serde(rename = "nanosecond heartbeat")]
    pub nanos: u128,
}

#[derive(Serialize, JsonSchema)]
pub struct HealthcheckResponse {
    pub is_executor_ready: bool,
    pub is_log_client_ready: bool,
}

/// The limits that apply to the caller's tenant.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ChecklistResponse")]
pub struct PreFlightChecks {
    #[serde(flatten)]
    pub limits: crate::Limits,
    pub supports_base64_encoding: bool,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "GetUserIdentityResponse")]
pub struct Identity {
    pub user_id: String,
    pub tenant: String,
    pub databases: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "GetTenantResponse")]
pub struct Tenant {
    pub name: String,
    pub resource_name: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Database {
    pub id: String,
    pub name: String,
    pub tenant: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "DeleteCollectionRecordsResponse")]
pub struct Deleted {
    /// How many records matched and were deleted.
    pub deleted: u64,
}

/// Chroma's read levels for count.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // only its schema is used: the handler matches the string
#[allow(clippy::enum_variant_names)] // Chroma's names
pub enum ReadLevel {
    /// Every acknowledged write (the default).
    IndexAndWal,
    /// The same in Silt: its unindexed tail is always bounded.
    IndexAndBoundedWal,
    /// Only what the current index version holds.
    IndexOnly,
}

/// `X-Silt-Consistency`: `strong` (the default) sees every acknowledged write, `eventual`
/// reads only the current index version (cheaper, up to one compaction behind).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: the handler matches the header
pub enum Consistency {
    Strong,
    Eventual,
}

const SCALARS: [&str; 4] = ["boolean", "integer", "number", "string"];

fn metadata_values(nullable: bool) -> Value {
    let mut any_of: Vec<Value> = SCALARS.iter().map(|t| json!({"type": t})).collect();
    any_of.extend(
        SCALARS
            .iter()
            .map(|t| json!({"type": "array", "items": {"type": t}})),
    );
    if nullable {
        any_of.push(json!({"type": "null"}));
    }
    json!({"anyOf": any_of})
}

/// Record or collection metadata: string keys, values str, int, float, bool or a list of one
/// of them. Kept as raw JSON by the handlers (`validate::metadata` checks it), so its schema is
/// written here.
pub struct Metadata;

impl JsonSchema for Metadata {
    fn schema_name() -> Cow<'static, str> {
        "Metadata".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "Metadata: values are str, int, float, bool or a list of one of them.",
            "additionalProperties": metadata_values(false),
        })
    }
}

/// Metadata in a write: a null value removes the key (update, upsert).
pub struct MetadataUpdate;

impl JsonSchema for MetadataUpdate {
    fn schema_name() -> Cow<'static, str> {
        "MetadataUpdate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "Metadata of a write; a null value removes the key.",
            "additionalProperties": metadata_values(true),
        })
    }
}

/// A `where` filter, parsed by `silt_common::filter::Where::parse`.
pub struct Where;

impl JsonSchema for Where {
    fn schema_name() -> Cow<'static, str> {
        "Where".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let this = g.subschema_for::<Where>();
        let scalar =
            json!({"anyOf": SCALARS.iter().map(|t| json!({"type": t})).collect::<Vec<_>>()});
        let list = json!({"type": "array", "items": scalar});
        let mut ops = serde_json::Map::new();
        for op in [
            "$eq",
            "$ne",
            "$gt",
            "$gte",
            "$lt",
            "$lte",
            "$contains",
            "$not_contains",
        ] {
            ops.insert(op.into(), scalar.clone());
        }
        for op in ["$in", "$nin"] {
            ops.insert(op.into(), list.clone());
        }
        json_schema!({
            "type": "object",
            "description": "A metadata filter: {key: value}, {key: {$op: value}} with $eq, $ne, \
                $gt, $gte, $lt, $lte, $in, $nin, $contains, $not_contains, or {$and|$or: [filters]}; \
                one entry per object.",
            "maxProperties": 1,
            "properties": {
                "$and": {"type": "array", "items": this, "minItems": 1},
                "$or": {"type": "array", "items": this, "minItems": 1},
            },
            "additionalProperties": {
                "anyOf": [scalar, {"type": "object", "properties": ops, "minProperties": 1, "maxProperties": 1}]
            },
        })
    }
}

/// A `where_document` filter, parsed by `silt_common::filter::WhereDocument::parse`.
pub struct WhereDocument;

impl JsonSchema for WhereDocument {
    fn schema_name() -> Cow<'static, str> {
        "WhereDocument".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let this = g.subschema_for::<WhereDocument>();
        json_schema!({
            "type": "object",
            "description": "A document filter: {$contains|$not_contains|$regex|$not_regex: text} \
                or {$and|$or: [filters]}; one entry per object.",
            "maxProperties": 1,
            "properties": {
                "$contains": {"type": "string"},
                "$not_contains": {"type": "string"},
                "$regex": {"type": "string"},
                "$not_regex": {"type": "string"},
                "$and": {"type": "array", "items": this.clone(), "minItems": 1},
                "$or": {"type": "array", "items": this, "minItems": 1},
            },
        })
    }
}

/// Collection configuration, as Chroma's clients send it and read it back (every default filled
/// in). Silt applies the distance and `ef_search`; docs/chroma-configuration.md lists the rest.
pub struct CollectionConfiguration;

impl JsonSchema for CollectionConfiguration {
    fn schema_name() -> Cow<'static, str> {
        "CollectionConfiguration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let space = json!({"type": "object", "properties": {
            "space": {"type": "string", "enum": ["l2", "cosine", "ip"]},
            "ef_construction": {"type": "integer", "minimum": 0},
            "ef_search": {"type": "integer", "minimum": 0},
            "max_neighbors": {"type": "integer", "minimum": 0},
            "num_threads": {"type": "integer", "minimum": 0},
            "resize_factor": {"type": "number"},
            "sync_threshold": {"type": "integer", "minimum": 0},
            "batch_size": {"type": "integer", "minimum": 0},
        }});
        json_schema!({
            "type": "object",
            "description": "Collection configuration: the distance function is `hnsw.space` or \
                `spann.space` (default l2); answers carry every HNSW setting with its default.",
            "properties": {
                "hnsw": {"anyOf": [space, {"type": "null"}]},
                "spann": {"anyOf": [space, {"type": "null"}]},
                "embedding_function": {},
            },
        })
    }
}
