//! The write-ahead log: one immutable fragment object per group commit per
//! collection, written with a create-only PUT at a dense offset; tail reads for query nodes;
//! recovery from object storage; garbage collection below the compacted offset, driven by the
//! catalog.

mod client;
mod collection_log;
mod config;
mod error;
mod fragment;
mod gc;
pub mod metrics;
mod object_log;
mod recovery;
mod server;
mod wire;

pub use client::LogClient;
pub use config::LogConfig;
pub use error::LogError;
pub use fragment::{decode_fragment, encode_fragment, Fragment, FRAGMENT_FORMAT_VERSION};
pub use gc::{collect_log_garbage, LogGcStats};
pub use object_log::ObjectLog;
pub use server::router;

use async_trait::async_trait;
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::{CollectionId, SiltResult};

/// Offsets a durable append was given, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    pub first_offset: u64,
    pub last_offset: u64,
}

/// What the gateway, query nodes and compactors need from the log. Implemented in-process by
/// `ObjectLog` and over the network by the log client.
#[async_trait]
pub trait LogService: Send + Sync + 'static {
    /// Appends records in order; returns once they are durable in object storage.
    async fn append(
        &self,
        collection: CollectionId,
        records: Vec<OperationRecord>,
    ) -> SiltResult<AppendReceipt>;

    /// Every entry with an offset greater than `after`, in offset order. `known_position` is
    /// the log position the caller read from the catalog: every acknowledged write is at or
    /// below it, so a node whose memory ends earlier (another node wrote meanwhile) catches up
    /// from object storage before answering. 0 when the caller knows nothing.
    async fn read_tail(
        &self,
        collection: CollectionId,
        after: u64,
        known_position: u64,
    ) -> SiltResult<Vec<LogEntry>>;

    /// Everything up to `offset` is now in an index version: memory may be released and
    /// fragments collected after the grace period.
    async fn mark_compacted(&self, collection: CollectionId, offset: u64) -> SiltResult<()>;
}
