//! `silt bench costs`: exact object-store request counts for the serverless targets of issue 16,
//! read from the `/metrics` counters of a real `silt run` (every component's store is counted;
//! counts do not depend on timing, only on what the server did).
//!
//! - small: create a collection, add 20 records in one batch, wait until it is indexed;
//! - trickle: one single-record write per second to one collection for `trickle_s` seconds,
//!   then wait until the last write is indexed and the garbage collector has deleted what the
//!   writes left behind (fragments, superseded versions): requests per write, all in;
//! - cold query: the small collection's first query after a restart with the cache deleted;
//! - idle: nothing for `idle_s` seconds.
//!
//! Each scenario that counts runs on its own fresh server, so no scenario's background work (a
//! late compaction, a GC round) is counted in another's.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;
use serde_json::json;

use crate::compare::servers::{Launch, Server};
use crate::compare::store_costs::Counters;

#[derive(Debug, Clone)]
pub struct CostsOptions {
    /// Seconds of one write per second.
    pub trickle_s: u64,
    /// Seconds of idleness counted.
    pub idle_s: u64,
    /// Extra `silt run` flags for every server (e.g. a shorter `--compaction-max-age-ms`).
    pub silt_args: Vec<String>,
    /// GC grace for the trickle's server, so that its GC is counted within the run. The grace
    /// decides when GC happens, not what it costs.
    pub gc_grace_ms: u64,
}

impl Default for CostsOptions {
    fn default() -> Self {
        CostsOptions {
            trickle_s: 60,
            idle_s: 30,
            silt_args: Vec::new(),
            gc_grace_ms: 5000,
        }
    }
}

/// Requests of each kind, over every component (log, query, compactor).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Requests {
    pub puts: u64,
    pub gets: u64,
    pub lists: u64,
    pub deletes: u64,
}

const COMPONENTS: [&str; 3] = ["log", "query", "compactor"];

impl Requests {
    fn of(c: &Counters, components: &[&str]) -> Requests {
        let sum = |op| components.iter().map(|comp| c.requests(comp, op)).sum();
        Requests {
            puts: sum("put"),
            gets: sum("get"),
            lists: sum("list"),
            deletes: sum("delete"),
        }
    }

    fn from(c: &Counters) -> Requests {
        Requests::of(c, &COMPONENTS)
    }

    /// The same counts by component, for the JSON report.
    fn by_component(c: &Counters) -> Vec<(String, Requests)> {
        COMPONENTS
            .iter()
            .map(|comp| (comp.to_string(), Requests::of(c, &[comp])))
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.puts + self.gets + self.lists + self.deletes
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub requests: Requests,
    pub by_component: Vec<(String, Requests)>,
    /// What the target is per: 1 (the whole scenario) or the number of writes.
    pub per: u64,
    /// The figure the target bounds, and the bound.
    pub figure: String,
    pub value: f64,
    pub target: f64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostsReport {
    pub scenarios: Vec<Scenario>,
}

async fn counters(server: &Server) -> anyhow::Result<Counters> {
    Ok(Counters::parse(&server.api.metrics().await?))
}

/// Waits until `collection` has indexed `n` records (Chroma's `index_only` count).
async fn wait_indexed(server: &Server, collection: &str, n: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while server.api.count(collection, "index_only").await? < n {
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{n} records not indexed after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(started.elapsed())
}

fn record(i: usize) -> serde_json::Value {
    let v: Vec<f32> = (0..8).map(|d| ((i * 8 + d) % 17) as f32 / 17.0).collect();
    json!({"id": format!("r{i}"), "embedding": v, "document": format!("record {i}")})
}

fn batch(range: std::ops::Range<usize>) -> serde_json::Value {
    let records: Vec<_> = range.map(record).collect();
    json!({
        "ids": records.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
        "embeddings": records.iter().map(|r| r["embedding"].clone()).collect::<Vec<_>>(),
        "documents": records.iter().map(|r| r["document"].clone()).collect::<Vec<_>>(),
    })
}

pub async fn run(options: &CostsOptions, work_dir: &Path) -> anyhow::Result<CostsReport> {
    let mut scenarios = Vec::new();

    // (a) and (c), (d): a small collection, then a restart, a cold query, and idleness.
    let mut server = Server::start(
        "silt",
        Launch::silt(&options.silt_args)?,
        &work_dir.join("small"),
    )
    .await?;
    let before = counters(&server).await?;
    let collection = server.api.fresh_collection("small", "l2").await?;
    server.api.add(&collection, &batch(0..20)).await?;
    let indexed_after = wait_indexed(&server, &collection, 20).await?;
    let delta = counters(&server).await?.since(&before);
    let small = Requests::from(&delta);
    scenarios.push(Scenario {
        name: "create, add 20 records, index".into(),
        requests: small,
        by_component: Requests::by_component(&delta),
        per: 1,
        figure: "PUTs".into(),
        value: small.puts as f64,
        target: 3.0,
        note: format!("indexed after {:.1} s", indexed_after.as_secs_f64()),
    });

    let cache = server.data_dir().join("cache");
    server.restart(Some(&cache)).await?;
    let before = counters(&server).await?;
    let query = json!({"query_embeddings": [record(3)["embedding"].clone()], "n_results": 3});
    let ids = server.api.query(&collection, &query).await?;
    if ids.first().and_then(|l| l.first()).map(String::as_str) != Some("r3") {
        bail!("the cold query did not find its record: {ids:?}");
    }
    let delta = counters(&server).await?.since(&before);
    let cold = Requests::from(&delta);
    scenarios.push(Scenario {
        name: "cold query of the small collection after a restart".into(),
        requests: cold,
        by_component: Requests::by_component(&delta),
        per: 1,
        figure: "requests".into(),
        value: cold.total() as f64,
        target: 2.0,
        note: "query cache deleted before the restart".into(),
    });

    let before = counters(&server).await?;
    tokio::time::sleep(Duration::from_secs(options.idle_s)).await;
    let delta = counters(&server).await?.since(&before);
    let idle = Requests::from(&delta);
    scenarios.push(Scenario {
        name: format!("idle for {} s", options.idle_s),
        requests: idle,
        by_component: Requests::by_component(&delta),
        per: 1,
        figure: "requests".into(),
        value: idle.total() as f64,
        target: 0.0,
        note: "compaction rounds and GC rounds ran (catalog only)".into(),
    });
    server.stop().await?;

    // (b) the trickle, on its own server with a GC grace short enough to count GC in the run.
    let mut args = options.silt_args.clone();
    args.extend(["--gc-grace-ms".into(), options.gc_grace_ms.to_string()]);
    let mut server = Server::start("silt", Launch::silt(&args)?, &work_dir.join("trickle")).await?;
    let collection = server.api.fresh_collection("trickle", "l2").await?;
    let before = counters(&server).await?;
    let started = Instant::now();
    let writes = options.trickle_s as usize;
    for i in 0..writes {
        let due = started + Duration::from_secs(i as u64);
        tokio::time::sleep(due.saturating_duration_since(Instant::now())).await;
        server.api.add(&collection, &batch(i..i + 1)).await?;
    }
    wait_indexed(&server, &collection, writes as u64).await?;
    // GC: after the grace, one GC round (every 20 compaction rounds) collects the fragments
    // and superseded versions; wait until the deletes stop growing for two rounds.
    let mut delta = counters(&server).await?.since(&before);
    let mut last = Requests::from(&delta);
    let mut quiet_since = Instant::now();
    let grace = Duration::from_millis(options.gc_grace_ms);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        delta = counters(&server).await?.since(&before);
        let now = Requests::from(&delta);
        if now.deletes != last.deletes || now.lists != last.lists {
            quiet_since = Instant::now();
        }
        last = now;
        if quiet_since.elapsed() > grace + Duration::from_secs(25) {
            break;
        }
    }
    let trickle = last;
    server.stop().await?;
    scenarios.push(Scenario {
        name: format!("1 write/s for {writes} s, all in (log, compaction, GC)"),
        requests: trickle,
        by_component: Requests::by_component(&delta),
        per: writes as u64,
        figure: "PUTs per write".into(),
        value: trickle.puts as f64 / writes as f64,
        target: 1.5,
        note: format!(
            "PUTs+LISTs per write {:.2}; GC grace {} ms for this run",
            (trickle.puts + trickle.lists) as f64 / writes as f64,
            options.gc_grace_ms
        ),
    });
    Ok(CostsReport { scenarios })
}

pub fn to_markdown(report: &CostsReport) -> String {
    let mut out = String::from(
        "| scenario | PUT | GET | LIST | DELETE | figure | value | target | met | note |\n\
         |---|---:|---:|---:|---:|---|---:|---:|---|---|\n",
    );
    for s in &report.scenarios {
        let r = s.requests;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | ≤ {} | {} | {} |\n",
            s.name,
            r.puts,
            r.gets,
            r.lists,
            r.deletes,
            s.figure,
            s.value,
            s.target,
            if s.value <= s.target { "yes" } else { "NO" },
            s.note
        ));
    }
    out
}
