//! The measured work, the same requests for every server: ingest, wait until indexed, queries
//! (recall and latency, sequential and concurrent), filtered queries and gets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;
use serde_json::{json, Value};
use silt_common::distance::Distance;
use silt_common::record::metadata_to_json;

use super::api::ChromaApi;
use crate::dataset::Dataset;
use crate::stats::Latency;

pub fn space(d: Distance) -> &'static str {
    match d {
        Distance::L2 => "l2",
        Distance::Ip => "ip",
        Distance::Cosine => "cosine",
    }
}

/// The request bodies, built once and shared by every server.
pub struct Requests {
    pub batches: Vec<Value>,
    pub batch_sizes: Vec<usize>,
    pub queries: Vec<Value>,
    /// Row number of each id, to score recall.
    pub row_of: HashMap<String, usize>,
}

impl Requests {
    pub fn build(ds: &Dataset, batch_size: usize, queries: usize, k: usize) -> Requests {
        let mut batches = Vec::new();
        let mut batch_sizes = Vec::new();
        for start in (0..ds.base.rows).step_by(batch_size.max(1)) {
            let rows = start..(start + batch_size).min(ds.base.rows);
            batch_sizes.push(rows.len());
            batches.push(json!({
                "ids": rows.clone().map(|i| ds.ids[i].as_str()).collect::<Vec<_>>(),
                "embeddings": rows.clone().map(|i| ds.base.row(i)).collect::<Vec<_>>(),
                "documents": rows.clone().map(|i| ds.docs[i].as_str()).collect::<Vec<_>>(),
                "metadatas": rows.map(|i| metadata_to_json(&ds.metadata[i])).collect::<Vec<_>>(),
            }));
        }
        let queries = (0..queries.min(ds.queries.rows))
            .map(|q| query_body(ds.queries.row(q), k, None))
            .collect();
        let row_of = ds
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        Requests {
            batches,
            batch_sizes,
            queries,
            row_of,
        }
    }

    pub fn recall(&self, found: &[String], truth: &[usize], k: usize) -> f64 {
        let truth = &truth[..k.min(truth.len())];
        let hits = found
            .iter()
            .take(k)
            .filter_map(|id| self.row_of.get(id))
            .filter(|row| truth.contains(row))
            .count();
        hits as f64 / truth.len().max(1) as f64
    }
}

/// A query as Chroma's clients send it by default: distances, documents and metadatas back.
pub fn query_body(embedding: &[f32], k: usize, filter: Option<(&str, &Value)>) -> Value {
    let mut body = json!({
        "query_embeddings": [embedding],
        "n_results": k,
        "include": ["metadatas", "documents", "distances"],
    });
    if let Some((key, value)) = filter {
        body[key] = value.clone();
    }
    body
}

#[derive(Debug, Clone, Serialize)]
pub struct Ingest {
    pub records: usize,
    pub batch_size: usize,
    pub seconds: f64,
    pub records_per_s: f64,
    pub batch: Latency,
    /// From the last acknowledged write until `count(read_level=index_only)` saw every record.
    pub indexed_after_s: f64,
}

/// Writes every batch in order, one at a time, as a loading client does.
pub async fn ingest(
    api: &ChromaApi,
    collection: &str,
    r: &Requests,
    index_timeout: Duration,
) -> anyhow::Result<Ingest> {
    let mut times = Vec::with_capacity(r.batches.len());
    let started = Instant::now();
    for batch in &r.batches {
        let t = Instant::now();
        api.add(collection, batch).await?;
        times.push(ms(t.elapsed()));
    }
    let seconds = started.elapsed().as_secs_f64();
    let records: usize = r.batch_sizes.iter().sum();
    let indexed_after_s = wait_indexed(api, collection, records as u64, index_timeout).await?;
    Ok(Ingest {
        records,
        batch_size: r.batch_sizes.first().copied().unwrap_or(0),
        seconds,
        records_per_s: records as f64 / seconds.max(1e-9),
        batch: Latency::of(&times),
        indexed_after_s,
    })
}

/// Seconds until the index holds `records` (polled every 50 ms).
pub async fn wait_indexed(
    api: &ChromaApi,
    collection: &str,
    records: u64,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    loop {
        if api.count(collection, "index_only").await? >= records {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > timeout {
            bail!("not indexed after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request's latency and, for a query, the ids it found.
pub struct Sample {
    pub ms: f64,
    pub ids: Vec<String>,
}

pub async fn timed_query(
    api: &ChromaApi,
    collection: &str,
    body: &Value,
) -> anyhow::Result<Sample> {
    let t = Instant::now();
    let mut lists = api.query(collection, body).await?;
    Ok(Sample {
        ms: ms(t.elapsed()),
        ids: lists.pop().unwrap_or_default(),
    })
}

pub async fn timed_get(api: &ChromaApi, collection: &str, body: &Value) -> anyhow::Result<Sample> {
    let t = Instant::now();
    let ids = api.get_records(collection, body).await?;
    Ok(Sample {
        ms: ms(t.elapsed()),
        ids,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Concurrent {
    pub clients: usize,
    pub requests: usize,
    pub seconds: f64,
    pub qps: f64,
    pub latency: Latency,
    pub samples_ms: Vec<f64>,
    /// CPU seconds the server's process tree used during the run (managed servers only).
    pub server_cpu_s: Option<f64>,
    pub server_cpu_ms_per_request: Option<f64>,
}

/// `clients` clients issue the queries (cycling through them) until `requests` are answered.
pub async fn concurrent(
    api: &ChromaApi,
    collection: &str,
    queries: Arc<Vec<Value>>,
    clients: usize,
    requests: usize,
) -> anyhow::Result<Concurrent> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, collection, queries, next) = (
            api.clone(),
            collection.to_string(),
            queries.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return anyhow::Ok(times);
                }
                let body = &queries[i % queries.len()];
                times.push(timed_query(&api, &collection, body).await?.ms);
            }
        }));
    }
    let mut samples_ms = Vec::with_capacity(requests);
    for task in tasks {
        samples_ms.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Concurrent {
        clients,
        requests,
        seconds,
        qps: requests as f64 / seconds.max(1e-9),
        latency: Latency::of(&samples_ms),
        samples_ms,
        server_cpu_s: None,
        server_cpu_ms_per_request: None,
    })
}

/// A word for `$contains`: the one whose document frequency is nearest `fraction` of the
/// records, among words of at least four letters (deterministic for a dataset).
pub fn contains_word(docs: &[String], fraction: f64) -> Option<String> {
    let mut df: HashMap<&str, usize> = HashMap::new();
    for d in docs {
        let mut seen: Vec<&str> = d
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 4)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *df.entry(w).or_default() += 1;
        }
    }
    let target = docs.len() as f64 * fraction;
    df.into_iter()
        .min_by(|a, b| {
            (a.1 as f64 - target)
                .abs()
                .total_cmp(&(b.1 as f64 - target).abs())
                .then(a.0.cmp(b.0))
        })
        .map(|(w, _)| w.to_string())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_word_nearest_the_fraction() {
        let docs: Vec<String> = (0..100)
            .map(|i| {
                let mut d = String::from("common words here");
                if i % 10 == 0 {
                    d.push_str(" tenth");
                }
                if i == 0 {
                    d.push_str(" rare1");
                }
                d
            })
            .collect();
        assert_eq!(contains_word(&docs, 0.1).as_deref(), Some("tenth"));
        assert_eq!(contains_word(&docs, 1.0).as_deref(), Some("common"));
    }
}
