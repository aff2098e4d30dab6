//! Silt's object-store cost, read from its `/metrics` counters around each request: requests
//! per acknowledged write batch, and per cold and warm query, under an injected S3-like latency.
//! A cold query is the first one after a restart with the query cache deleted.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::servers::{Launch, Server};
use super::workload::{self, Requests};
use crate::stats::{Latency, Summary};

/// `/metrics` counters by series (`name{labels}`).
#[derive(Debug, Clone, Default)]
pub struct Counters(BTreeMap<String, u64>);

impl Counters {
    pub fn parse(text: &str) -> Counters {
        Counters(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let (series, value) = l.rsplit_once(' ')?;
                    Some((series.to_string(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    fn get(&self, series: &str) -> u64 {
        self.0.get(series).copied().unwrap_or(0)
    }

    /// Requests of kind `op` the component made.
    pub fn requests(&self, component: &str, op: &str) -> u64 {
        self.get(&format!(
            "silt_object_store_requests_total{{component=\"{component}\",op=\"{op}\"}}"
        ))
    }

    pub fn bytes(&self, component: &str, op: &str) -> u64 {
        self.get(&format!(
            "silt_object_store_bytes_total{{component=\"{component}\",op=\"{op}\"}}"
        ))
    }

    pub fn round_trips(&self) -> u64 {
        self.get("silt_query_cache_round_trips_total")
    }

    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(earlier.get(k))))
                .collect(),
        )
    }
}

async fn counters(server: &Server) -> anyhow::Result<Counters> {
    Ok(Counters::parse(&server.api.metrics().await?))
}

#[derive(Debug, Clone, Serialize)]
pub struct WriteCosts {
    pub batches: usize,
    pub records_per_batch: usize,
    /// Log PUTs per acknowledged batch: 1 means each write is one object.
    pub puts_per_batch: f64,
    pub put_bytes_per_record: f64,
    pub batch_latency: Latency,
    /// What building the index version cost the compactor, in all.
    pub compactor_puts: u64,
    pub compactor_gets: u64,
    pub indexed_after_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryCosts {
    pub kind: String,
    pub samples: usize,
    pub cold_round_trips: Summary,
    pub cold_gets: Summary,
    pub cold_mb: Summary,
    pub cold_latency: Latency,
    /// Requests a repeat of the same query made (0 when it is served from the cache).
    pub warm_gets: u64,
    pub warm_latency: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreCosts {
    pub get_latency_ms: u64,
    pub put_latency_ms: u64,
    pub write: WriteCosts,
    pub queries: Vec<QueryCosts>,
}

pub struct StoreCostOptions<'a> {
    pub get_latency_ms: u64,
    pub put_latency_ms: u64,
    pub cold_samples: usize,
    pub warm_repeats: usize,
    pub index_timeout: Duration,
    pub silt_args: &'a [String],
}

/// Runs the whole measurement on its own Silt instance in `dir`.
pub async fn measure(
    dir: &Path,
    space: &str,
    requests: &Requests,
    filtered: &[(String, Value)],
    o: &StoreCostOptions<'_>,
) -> anyhow::Result<StoreCosts> {
    let mut args = vec![
        "--inject-get-latency-ms".to_string(),
        o.get_latency_ms.to_string(),
        "--inject-put-latency-ms".to_string(),
        o.put_latency_ms.to_string(),
    ];
    args.extend_from_slice(o.silt_args);
    let mut silt = Server::start("silt (S3 latency)", Launch::silt(&args)?, dir).await?;
    let result = run(&mut silt, space, requests, filtered, o).await;
    silt.stop().await?;
    result
}

async fn run(
    silt: &mut Server,
    space: &str,
    requests: &Requests,
    filtered: &[(String, Value)],
    o: &StoreCostOptions<'_>,
) -> anyhow::Result<StoreCosts> {
    let collection = silt
        .api
        .fresh_collection("bench-store-costs", space)
        .await?;
    let start = counters(silt).await?;
    let (mut puts, mut put_bytes, mut times) = (0u64, 0u64, Vec::new());
    // One read of the counters between batches: the "after" of one is the "before" of the next.
    let mut before = start.clone();
    for batch in &requests.batches {
        let t = std::time::Instant::now();
        silt.api.add(&collection, batch).await?;
        times.push(workload::ms(t.elapsed()));
        let after = counters(silt).await?;
        let d = after.since(&before);
        puts += d.requests("log", "put");
        put_bytes += d.bytes("log", "put");
        before = after;
    }
    let records: usize = requests.batch_sizes.iter().sum();
    let indexed_after_s =
        workload::wait_indexed(&silt.api, &collection, records as u64, o.index_timeout).await?;
    let built = counters(silt).await?.since(&start);
    let n = requests.batches.len().max(1);
    let write = WriteCosts {
        batches: requests.batches.len(),
        records_per_batch: requests.batch_sizes.first().copied().unwrap_or(0),
        puts_per_batch: puts as f64 / n as f64,
        put_bytes_per_record: put_bytes as f64 / records.max(1) as f64,
        batch_latency: Latency::of(&times),
        compactor_puts: built.requests("compactor", "put"),
        compactor_gets: built.requests("compactor", "get"),
        indexed_after_s,
    };

    let mut kinds = vec![("unfiltered".to_string(), None)];
    kinds.extend(filtered.iter().map(|(n, w)| (n.clone(), Some(w.clone()))));
    let mut queries = Vec::new();
    for (kind, filter) in kinds {
        queries.push(cold_and_warm(silt, &collection, requests, &kind, filter.as_ref(), o).await?);
    }
    Ok(StoreCosts {
        get_latency_ms: o.get_latency_ms,
        put_latency_ms: o.put_latency_ms,
        write,
        queries,
    })
}

async fn cold_and_warm(
    silt: &mut Server,
    collection: &str,
    requests: &Requests,
    kind: &str,
    filter: Option<&Value>,
    o: &StoreCostOptions<'_>,
) -> anyhow::Result<QueryCosts> {
    let (mut trips, mut gets, mut mb, mut cold, mut warm) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut warm_gets = 0;
    let cache = silt.data_dir().join("cache");
    for s in 0..o.cold_samples {
        silt.restart(Some(&cache)).await?;
        let mut body = requests.queries[s % requests.queries.len()].clone();
        if let Some(w) = filter {
            body["where"] = w.clone();
        }
        let before = counters(silt).await?;
        cold.push(
            workload::timed_query(&silt.api, collection, &body)
                .await?
                .ms,
        );
        let d = counters(silt).await?.since(&before);
        trips.push(d.round_trips() as f64);
        gets.push(d.requests("query", "get") as f64);
        mb.push(d.bytes("query", "get") as f64 / (1 << 20) as f64);
        let before = counters(silt).await?;
        for _ in 0..o.warm_repeats {
            warm.push(
                workload::timed_query(&silt.api, collection, &body)
                    .await?
                    .ms,
            );
        }
        warm_gets += counters(silt)
            .await?
            .since(&before)
            .requests("query", "get");
    }
    Ok(QueryCosts {
        kind: kind.to_string(),
        samples: o.cold_samples,
        cold_round_trips: Summary::of(&trips),
        cold_gets: Summary::of(&gets),
        cold_mb: Summary::of(&mb),
        cold_latency: Latency::of(&cold),
        warm_gets,
        warm_latency: Latency::of(&warm),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_by_series() {
        let a = Counters::parse(
            "# TYPE x counter\nsilt_object_store_requests_total{component=\"log\",op=\"put\"} 3\n\
             silt_query_cache_round_trips_total 2\n",
        );
        let b = Counters::parse(
            "silt_object_store_requests_total{component=\"log\",op=\"put\"} 10\n\
             silt_query_cache_round_trips_total 5\n",
        );
        let d = b.since(&a);
        assert_eq!(d.requests("log", "put"), 7);
        assert_eq!(d.round_trips(), 3);
        assert_eq!(d.requests("query", "get"), 0);
    }
}
