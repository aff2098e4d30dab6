use silt_common::codec::DecodeError;
use silt_common::{ErrorKind, SiltError};
use silt_sysdb::SysDbError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LogError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("catalog: {0}")]
    SysDb(#[from] SysDbError),
    #[error("log fragment {key} is corrupt: {source}")]
    Corrupt { key: String, source: DecodeError },
    #[error("log of collection {collection} has a gap: expected offset {expected}, found fragment at {found}")]
    Gap {
        collection: String,
        expected: u64,
        found: u64,
    },
    #[error("the unindexed log of collection {collection} holds {tail} records (limit {limit}); retry after compaction catches up")]
    Backpressure {
        collection: String,
        tail: usize,
        limit: usize,
    },
    #[error("the log writer for this collection stopped")]
    WriterGone,
    /// The catalog refused a fragment that starts at or below the compacted offset: this writer
    /// chose its offset before another node's writes there were compacted and collected. The
    /// write is not acknowledged; the writer re-reads the log before its next attempt.
    #[error("log fragment {first} of collection {collection} was fenced: the collection is compacted up to {compacted_offset}")]
    Fenced {
        collection: String,
        first: u64,
        compacted_offset: u64,
    },
}

impl From<LogError> for SiltError {
    fn from(e: LogError) -> Self {
        let kind = match &e {
            LogError::Store(_) | LogError::WriterGone | LogError::Fenced { .. } => {
                ErrorKind::Unavailable
            }
            LogError::SysDb(SysDbError::NotFound(_)) => ErrorKind::NotFound,
            LogError::SysDb(SysDbError::Database(_)) => ErrorKind::Unavailable,
            LogError::SysDb(_) | LogError::Corrupt { .. } | LogError::Gap { .. } => {
                ErrorKind::Internal
            }
            LogError::Backpressure { .. } => ErrorKind::Backpressure,
        };
        SiltError::caused_by(kind, e)
    }
}
