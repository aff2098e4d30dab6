use serde_json::Value;
use silt_common::distance::Distance;
use silt_common::CollectionId;

#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub id: String,
    pub tenant: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: CollectionId,
    pub tenant: String,
    pub database: String,
    pub database_id: String,
    pub name: String,
    pub dimension: Option<u32>,
    pub metadata: Option<Value>,
    pub configuration: Value,
    /// Chroma's index schema as stored at creation (defaults completed); `None` for collections
    /// created before Silt stored schemas, whose schema follows from `configuration`.
    pub schema: Option<Value>,
    /// Current index version; 0 before the first compaction.
    pub version: u64,
    /// Last log offset folded into `version`.
    pub compacted_offset: u64,
    /// Last log offset known to be written.
    pub log_position: u64,
    /// Object key of the current version's manifest.
    pub manifest: Option<String>,
}

impl Collection {
    /// The distance function, from `configuration.hnsw.space` (L2 when absent, as in Chroma).
    pub fn distance(&self) -> Distance {
        self.configuration
            .pointer("/hnsw/space")
            .and_then(Value::as_str)
            .and_then(Distance::parse)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct NewCollection {
    pub tenant: String,
    pub database: String,
    pub name: String,
    pub metadata: Option<Value>,
    pub configuration: Value,
    /// Chroma's index schema, complete; `None` stores none (derived from `configuration`).
    pub schema: Option<Value>,
    pub dimension: Option<u32>,
    pub get_or_create: bool,
}

impl NewCollection {
    /// A collection named `name` in the default tenant's default database, with `configuration`
    /// and nothing else set: what tools and tests create most often.
    pub fn in_default_database(name: &str, configuration: Value) -> Self {
        NewCollection {
            tenant: crate::DEFAULT_TENANT.to_string(),
            database: crate::DEFAULT_DATABASE.to_string(),
            name: name.to_string(),
            metadata: None,
            configuration,
            schema: None,
            dimension: None,
            get_or_create: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CollectionUpdate {
    pub name: Option<String>,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub collection_id: CollectionId,
    pub version: u64,
    pub manifest: String,
    pub compacted_offset: u64,
    pub record_count: u64,
    pub superseded_at_ms: Option<i64>,
}
