//! `QueryClient`: the query service over the network. Each collection's reads go to the query
//! node its rendezvous hash picks among live query nodes, so that node's cache holds it; when
//! that node is down or slow, the next node in the collection's order answers (cold, correct).

use async_trait::async_trait;
use silt_common::record::Record;
use silt_common::rpc::{from_bytes, to_bytes, Delivery, RpcClient, Wire};
use silt_common::{CollectionId, SiltError, SiltResult};

use crate::search::SEARCH;
use crate::wire::{CountRequest, COUNT, GET, KNN};
use crate::{
    Consistency, GetRequest, KnnRequest, QueryService, Scored, SearchHit, SearchRequest, Target,
};

pub struct QueryClient {
    rpc: RpcClient,
}

impl QueryClient {
    pub fn new(rpc: RpcClient) -> Self {
        QueryClient { rpc }
    }

    async fn call<T: Wire>(
        &self,
        collection: CollectionId,
        path: &str,
        body: Vec<u8>,
    ) -> SiltResult<T> {
        let bytes = self
            .rpc
            .call(&collection.to_string(), path, body, Delivery::Idempotent)
            .await?;
        from_bytes(&bytes)
            .map_err(|e| SiltError::internal(format!("query node answered garbage: {e}")))
    }
}

#[async_trait]
impl QueryService for QueryClient {
    async fn get(&self, request: GetRequest) -> SiltResult<Vec<Record>> {
        self.call(request.collection.id(), GET, to_bytes(&request))
            .await
    }

    async fn knn(&self, request: KnnRequest) -> SiltResult<Vec<Vec<Scored>>> {
        self.call(request.collection.id(), KNN, to_bytes(&request))
            .await
    }

    async fn count(&self, collection: Target, consistency: Consistency) -> SiltResult<u64> {
        let id = collection.id();
        let request = CountRequest {
            collection,
            consistency,
        };
        self.call(id, COUNT, to_bytes(&request)).await
    }

    async fn search(&self, request: SearchRequest) -> SiltResult<Vec<Vec<SearchHit>>> {
        self.call(request.collection.id(), SEARCH, to_bytes(&request))
            .await
    }
}
