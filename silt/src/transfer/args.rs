//! Flags of `silt migrate`, `silt export` and `silt import`.

use std::path::PathBuf;

use clap::Args;

/// Which tenants, databases and collections a command takes. Names may be globs (`*`, `?`).
#[derive(Args, Debug, Clone)]
pub struct Selection {
    /// Tenant to copy (repeatable). Chroma has no way to list tenants, so they are named:
    /// default `default_tenant` plus the tenant of the API key.
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Database name or glob (repeatable; default: every database of each tenant).
    #[arg(long = "database")]
    pub databases: Vec<String>,
    /// Collection name or glob (repeatable; default: every collection).
    #[arg(long = "collection")]
    pub collections: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CopyTuning {
    /// Records per page read and per upsert (lowered to the destination's max_batch_size).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: u64,
    /// Records per collection compared field by field after the copy (0: counts only).
    #[arg(long, default_value_t = 100)]
    pub verify_sample: usize,
    /// No progress bars (they are also off when stdout is not a terminal).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct MigrateArgs {
    /// Source server: Chroma (`chroma run`) or Silt, e.g. http://localhost:8000.
    #[arg(long)]
    pub from: String,
    /// Destination Silt server (or any server speaking Chroma's v2 API).
    #[arg(long)]
    pub to: String,
    /// API key for the source.
    #[arg(long, env = "SILT_MIGRATE_FROM_KEY", hide_env_values = true)]
    pub from_key: Option<String>,
    /// API key for the destination.
    #[arg(long, env = "SILT_MIGRATE_TO_KEY", hide_env_values = true)]
    pub to_key: Option<String>,
    /// Checkpoint file: written after every acknowledged page; a re-run with the same file
    /// skips finished collections and resumes the others where they stopped.
    #[arg(long)]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub select: Selection,
    #[command(flatten)]
    pub tuning: CopyTuning,
}

/// Where Parquet files go or come from, for object-store URIs.
#[derive(Args, Debug, Clone)]
pub struct StoreFlags {
    /// S3 endpoint of an S3-compatible store (MinIO, SeaweedFS); default: AWS. Credentials
    /// come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "SILT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "SILT_S3_REGION")]
    pub s3_region: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Server to read from, e.g. http://localhost:8000.
    #[arg(long, default_value = "http://localhost:8000")]
    pub url: String,
    /// API key.
    #[arg(long, env = "SILT_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// A file ending in .parquet (exactly one collection), or a directory or s3://bucket/prefix
    /// that receives one file per collection and a manifest.json.
    #[arg(long)]
    pub out: String,
    #[command(flatten)]
    pub select: Selection,
    #[command(flatten)]
    pub store: StoreFlags,
    #[command(flatten)]
    pub tuning: CopyTuning,
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// Server to write to, e.g. http://localhost:8000.
    #[arg(long, default_value = "http://localhost:8000")]
    pub url: String,
    /// API key.
    #[arg(long, env = "SILT_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// A .parquet file written by `silt export`, or a directory or s3:// prefix holding a
    /// manifest.json and its files.
    #[arg(long)]
    pub from: String,
    /// Import a single collection under this name instead of its own.
    #[arg(long = "as")]
    pub rename: Option<String>,
    /// Tenant to import into (default: the one each file was exported from).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Database to import into (default: the one each file was exported from).
    #[arg(long)]
    pub database: Option<String>,
    /// Only these collections of a directory export (names or globs, repeatable).
    #[arg(long = "collection")]
    pub collections: Vec<String>,
    /// Checkpoint file, as for `silt migrate`: a re-run resumes where the last one stopped.
    #[arg(long)]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreFlags,
    #[command(flatten)]
    pub tuning: CopyTuning,
}
