//! The read path: resolve the collection's current version from the catalog,
//! read the byte ranges a query needs through a foyer memory + disk cache, merge the unindexed
//! log tail read from the log service, and execute get / KNN / count over the result.

mod client;
mod execute;
mod get_plan;
pub mod metrics;
mod node;
mod range_cache;
mod read;
mod request;
pub mod search;
mod server;
mod tail_cache;
mod target;
mod wire;

pub use client::QueryClient;
pub use node::{QueryConfig, QueryNode};
pub use range_cache::{CacheConfig, CacheError, CacheStats, RangeCache};
pub use read::{OpenedVersion, OpenedVersions};
pub use request::{Consistency, Filters, GetRequest, Include, KnnRequest, Scored};
pub use search::{SearchError, SearchHit, SearchPlan, SearchRequest};
pub use server::router;
pub use target::{CollectionRow, Target};

use async_trait::async_trait;
use silt_common::record::Record;
use silt_common::SiltResult;

/// What the gateway needs from query nodes. Implemented in-process by `QueryNode` and over the
/// network by the query client.
#[async_trait]
pub trait QueryService: Send + Sync + 'static {
    async fn get(&self, request: GetRequest) -> SiltResult<Vec<Record>>;
    /// One ranked list per query embedding, nearest first.
    async fn knn(&self, request: KnnRequest) -> SiltResult<Vec<Vec<Scored>>>;
    /// Records in the collection; `Eventual` counts only what is indexed (Chroma's
    /// `read_level=index_only`).
    async fn count(&self, collection: Target, consistency: Consistency) -> SiltResult<u64>;
    /// Chroma's Search API: one list of hits per search, all read from one snapshot.
    async fn search(&self, request: SearchRequest) -> SiltResult<Vec<Vec<SearchHit>>>;
}
