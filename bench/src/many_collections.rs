//! `silt bench collections`: memory is bounded by the cache configuration, not by how many
//! collections were ever queried. Creates K small collections, indexes them, queries each once
//! through one query node, and reports the process's RSS before and after, with the cache's own
//! accounting.

use std::sync::Arc;
use std::time::Instant;

use object_store::memory::InMemory;
use serde::Serialize;
use silt_common::record::{Operation, OperationRecord};
use silt_common::storage::DynStore;
use silt_compactor::{Compactor, CompactorConfig};
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{
    CacheConfig, Consistency, Filters, Include, KnnRequest, QueryConfig, QueryNode, QueryService,
};
use silt_sysdb::{NewCollection, SysDb};

use crate::stats::rss_mb;

pub struct CollectionsBenchOptions {
    pub collections: usize,
    pub records: usize,
    pub dimension: usize,
    pub cache_memory_bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct CollectionsReport {
    pub collections: usize,
    pub records_each: usize,
    pub dimension: usize,
    pub cache_memory_bytes: usize,
    pub rss_before_queries_mb: f64,
    pub rss_after_queries_mb: f64,
    pub opened_versions_resident: usize,
    pub opened_versions_bytes: usize,
    pub query_p50_ms: f64,
    pub query_p99_ms: f64,
}

pub async fn run(o: &CollectionsBenchOptions) -> anyhow::Result<CollectionsReport> {
    let dir = tempfile::tempdir()?;
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display())).await?;
    let store: DynStore = Arc::new(InMemory::new());
    let log = Arc::new(ObjectLog::new(
        store.clone(),
        sysdb.clone(),
        LogConfig::default(),
    ));
    let compactor = Compactor::new(
        store.clone(),
        sysdb.clone(),
        log.clone(),
        CompactorConfig {
            parallelism: 8,
            min_tail_records: 1,
            ..CompactorConfig::default()
        },
    );
    let mut ids = Vec::with_capacity(o.collections);
    for i in 0..o.collections {
        let (c, _) = sysdb
            .create_collection(NewCollection::in_default_database(
                &format!("c{i}"),
                serde_json::json!({}),
            ))
            .await?;
        let records = (0..o.records)
            .map(|j| OperationRecord {
                id: format!("r{j}"),
                operation: Operation::Add,
                embedding: Some(
                    (0..o.dimension)
                        .map(|d| ((i * 31 + j * 7 + d) % 97) as f32)
                        .collect(),
                ),
                document: Some(format!("document {j} of collection {i}")),
                metadata: None,
                uri: None,
            })
            .collect();
        log.append(c.id, records).await?;
        ids.push(c.id);
    }
    while compactor.run_once().await? > 0 {}
    // Log tails are released once compacted; what remains is the store and the catalog.
    let node = QueryNode::new(
        store.clone(),
        sysdb.clone(),
        log.clone(),
        QueryConfig {
            cache: CacheConfig {
                memory_bytes: o.cache_memory_bytes,
                disk_dir: None,
                ..CacheConfig::default()
            },
            opened_bytes: o.cache_memory_bytes / 8,
            tail_bytes: o.cache_memory_bytes / 8,
            nprobe: None,
        },
    )
    .await?;
    let before = rss_mb();
    let mut times = Vec::with_capacity(ids.len());
    for id in &ids {
        let t = Instant::now();
        node.knn(KnnRequest {
            collection: (*id).into(),
            filters: Filters::default(),
            query_embeddings: vec![vec![1.0; o.dimension]],
            n_results: 5,
            include: Include {
                documents: true,
                metadatas: true,
                ..Include::default()
            },
            consistency: Consistency::Strong,
        })
        .await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let after = rss_mb();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(CollectionsReport {
        collections: o.collections,
        records_each: o.records,
        dimension: o.dimension,
        cache_memory_bytes: o.cache_memory_bytes,
        rss_before_queries_mb: before,
        rss_after_queries_mb: after,
        opened_versions_resident: node.opened_versions().len(),
        opened_versions_bytes: node.opened_versions().resident_bytes(),
        query_p50_ms: at(0.5),
        query_p99_ms: at(0.99),
    })
}

pub fn to_markdown(r: &CollectionsReport) -> String {
    format!(
        "### {} collections × {} records ({}-d), each queried once, cache memory {} MB\n\n\
         | measure | value |\n|---|---|\n\
         | process RSS before the queries | {:.0} MB |\n\
         | process RSS after the queries | {:.0} MB |\n\
         | opened versions held | {} ({:.1} MB) |\n\
         | query p50 / p99 | {:.2} ms / {:.2} ms |\n",
        r.collections,
        r.records_each,
        r.dimension,
        r.cache_memory_bytes >> 20,
        r.rss_before_queries_mb,
        r.rss_after_queries_mb,
        r.opened_versions_resident,
        r.opened_versions_bytes as f64 / 1e6,
        r.query_p50_ms,
        r.query_p99_ms
    )
}
