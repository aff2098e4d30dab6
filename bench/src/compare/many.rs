//! Many small collections, most idle: create K collections of a few records each, then query
//! random ones. Reports the server's resident memory before and after.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::json;

use super::servers::Server;
use super::workload::{self, query_body};
use crate::stats::Latency;

#[derive(Debug, Clone, Serialize)]
pub struct ManyCollections {
    pub collections: usize,
    pub records_each: usize,
    pub dimension: usize,
    pub create_and_add_s: f64,
    pub queries: usize,
    pub query: Latency,
    pub rss_before_mb: Option<f64>,
    pub rss_after_mb: Option<f64>,
}

pub struct ManyOptions {
    pub collections: usize,
    pub records_each: usize,
    pub dimension: usize,
    pub queries: usize,
    pub seed: u64,
}

pub async fn run(server: &Server, o: &ManyOptions) -> anyhow::Result<ManyCollections> {
    let rss_before_mb = server.rss_mb();
    let mut rng = StdRng::seed_from_u64(o.seed);
    let vector = |rng: &mut StdRng| -> Vec<f32> {
        (0..o.dimension)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect()
    };
    let started = Instant::now();
    let mut ids = Vec::with_capacity(o.collections);
    for c in 0..o.collections {
        let id = server
            .api
            .fresh_collection(&format!("bench-many-{c:06}"), "cosine")
            .await?;
        let batch = json!({
            "ids": (0..o.records_each).map(|r| format!("r{r}")).collect::<Vec<_>>(),
            "embeddings": (0..o.records_each).map(|_| vector(&mut rng)).collect::<Vec<_>>(),
            "documents": (0..o.records_each).map(|r| format!("record {r} of collection {c}")).collect::<Vec<_>>(),
            "metadatas": (0..o.records_each).map(|r| json!({"r": r})).collect::<Vec<_>>(),
        });
        server.api.add(&id, &batch).await?;
        ids.push(id);
    }
    let create_and_add_s = started.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(o.queries);
    for _ in 0..o.queries {
        let collection = &ids[rng.random_range(0..ids.len())];
        let body = query_body(&vector(&mut rng), 10, None);
        times.push(
            workload::timed_query(&server.api, collection, &body)
                .await?
                .ms,
        );
    }
    Ok(ManyCollections {
        collections: o.collections,
        records_each: o.records_each,
        dimension: o.dimension,
        create_and_add_s,
        queries: o.queries,
        query: Latency::of(&times),
        rss_before_mb,
        rss_after_mb: server.rss_mb(),
    })
}
