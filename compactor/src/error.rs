use silt_common::storage::FenceError;
use silt_common::SiltError;
use silt_index::format::VersionReadError;
use silt_sysdb::SysDbError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CompactError {
    #[error("catalog: {0}")]
    SysDb(#[from] SysDbError),
    #[error("log: {0}")]
    Log(SiltError),
    #[error("membership: {0}")]
    Membership(SiltError),
    #[error("reading the current version: {0}")]
    ReadVersion(#[from] VersionReadError),
    #[error("writing the new version: {0}")]
    Write(#[from] FenceError),
    #[error("building the index: {0}")]
    Index(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}
