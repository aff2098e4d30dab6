//! `LogClient`: the log service over the network. Each collection's calls go to the log node
//! its rendezvous hash picks among live log nodes, so one node holds its tail and batches its
//! group commits; another node takes over when that one is gone.

use async_trait::async_trait;
use silt_common::record::{LogEntry, OperationRecord};
use silt_common::rpc::{from_bytes, to_bytes, Delivery, RpcClient, Wire};
use silt_common::{CollectionId, SiltError, SiltResult};

use crate::wire::{path, APPEND, COMPACTED, TAIL};
use crate::{AppendReceipt, LogService};

pub struct LogClient {
    rpc: RpcClient,
}

impl LogClient {
    pub fn new(rpc: RpcClient) -> Self {
        LogClient { rpc }
    }

    async fn call<T: Wire>(
        &self,
        collection: CollectionId,
        call: &str,
        body: Vec<u8>,
        delivery: Delivery,
    ) -> SiltResult<T> {
        let key = collection.to_string();
        let bytes = self
            .rpc
            .call(&key, &path(&key, call), body, delivery)
            .await?;
        from_bytes(&bytes)
            .map_err(|e| SiltError::internal(format!("log node answered garbage: {e}")))
    }
}

#[async_trait]
impl LogService for LogClient {
    async fn append(
        &self,
        collection: CollectionId,
        records: Vec<OperationRecord>,
    ) -> SiltResult<AppendReceipt> {
        self.call(collection, APPEND, to_bytes(&records), Delivery::AtMostOnce)
            .await
    }

    async fn read_tail(
        &self,
        collection: CollectionId,
        after: u64,
        known_position: u64,
    ) -> SiltResult<Vec<LogEntry>> {
        let body = to_bytes(&(after, known_position));
        self.call(collection, TAIL, body, Delivery::Idempotent)
            .await
    }

    async fn mark_compacted(&self, collection: CollectionId, offset: u64) -> SiltResult<()> {
        self.call(
            collection,
            COMPACTED,
            to_bytes(&offset),
            Delivery::Idempotent,
        )
        .await
    }
}
