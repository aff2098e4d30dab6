use silt_common::filter::{Where, WhereDocument};
use silt_common::record::Record;

use crate::Target;

/// Which fields a result carries; the rest are left empty to save copying and transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Include {
    pub embeddings: bool,
    pub documents: bool,
    pub metadatas: bool,
    pub uris: bool,
}

/// What a read must see. Strong (the default) merges the unindexed log tail, so every write
/// acknowledged before the read started is visible. Eventual reads only the current index
/// version: cheaper (no call to the log service), and stale by up to one compaction interval.
/// Clients ask for it with the `X-Silt-Consistency: eventual` header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Consistency {
    #[default]
    Strong,
    Eventual,
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub ids: Option<Vec<String>>,
    pub r#where: Option<Where>,
    pub where_document: Option<WhereDocument>,
}

#[derive(Debug, Clone)]
pub struct GetRequest {
    pub collection: Target,
    pub filters: Filters,
    pub limit: Option<usize>,
    pub offset: usize,
    pub include: Include,
    pub consistency: Consistency,
}

#[derive(Debug, Clone)]
pub struct KnnRequest {
    pub collection: Target,
    pub filters: Filters,
    pub query_embeddings: Vec<Vec<f32>>,
    pub n_results: usize,
    pub include: Include,
    pub consistency: Consistency,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub record: Record,
    pub distance: f32,
}
