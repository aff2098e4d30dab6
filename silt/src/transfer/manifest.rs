//! `manifest.json` of a database or tenant export: which file holds which collection. Written
//! last, so an export directory with a manifest is complete.

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT: &str = "silt-export";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// The server the export was read from.
    pub source: String,
    pub collections: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub tenant: String,
    pub database: String,
    pub name: String,
    /// Relative to the manifest.
    pub file: String,
    pub records: u64,
    pub bytes: u64,
}

/// The file of a collection inside an export directory. Tenant and database names cannot hold
/// slashes (the API refuses them), so each is one path segment.
pub fn file_name(tenant: &str, database: &str, collection: &str) -> String {
    format!("{tenant}/{database}/{collection}.parquet")
}
