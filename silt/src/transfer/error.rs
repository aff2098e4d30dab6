//! What can go wrong while copying data between servers and files, worded for the person
//! running the command: which server, which collection, what to do.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TransferError {
    #[error("cannot reach {url}: {reason} (is the server running, and is the URL right?)")]
    Unreachable { url: String, reason: String },
    #[error("{url} refused the API key ({status}): {message}")]
    Auth {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {method} {path} answered {status}: {message}")]
    Http {
        url: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {path}: unexpected answer: {reason}")]
    BadAnswer {
        url: String,
        path: String,
        reason: String,
    },
    #[error(
        "{target} already holds a collection {name:?} (in {tenant}/{database}) that this run did \
         not create: delete or rename it, import under another name, or re-run with the --state \
         file of the run that created it"
    )]
    NameClash {
        target: String,
        tenant: String,
        database: String,
        name: String,
    },
    #[error("state file {path}: {reason}")]
    State { path: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("Parquet file {path}: {reason}")]
    Format { path: String, reason: String },
    #[error("Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("Arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("object store: {0}")]
    OpenStore(#[from] silt_common::storage::StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("verification failed: {0}")]
    Verify(String),
}

pub type Result<T> = std::result::Result<T, TransferError>;
