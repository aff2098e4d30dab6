//! `silt bench compare`: Silt and Chroma (and any other server that speaks Chroma's API) on the
//! same data, with the same requests, in one run. Each phase runs on every server in turn, and
//! query phases alternate between servers block by block, so the machine's noise falls on all
//! of them alike.

pub mod api;
pub mod many;
pub mod markdown;
pub mod servers;
pub mod store_costs;
pub mod sweep;
pub mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use serde_json::{json, Value};

use crate::dataset::Dataset;
use crate::stats::Latency;
use many::{ManyCollections, ManyOptions};
use servers::{Launch, Server};
use store_costs::{StoreCostOptions, StoreCosts};
use workload::{query_body, Concurrent, Ingest, Requests, Sample};

#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub data: PathBuf,
    /// Start Silt embedded (`silt run`) from this binary.
    pub silt: bool,
    /// Extra flags for every Silt this run starts.
    pub silt_args: Vec<String>,
    /// The `chroma` executable (`pip install chromadb`); None: no Chroma.
    pub chroma: Option<PathBuf>,
    /// Servers started elsewhere: (name, base URL).
    pub external: Vec<(String, String)>,
    /// Data directories of the servers started here.
    pub work_dir: PathBuf,
    pub k: usize,
    pub batch_size: usize,
    /// Queries for recall and sequential latency (and for each filter).
    pub queries: usize,
    /// Queries alternate between servers in blocks of this many.
    pub block: usize,
    pub clients: usize,
    pub concurrent_requests: usize,
    pub collections: usize,
    pub collection_records: usize,
    pub collection_dimension: usize,
    pub collection_queries: usize,
    /// Cold samples per query kind for Silt's object-store costs (0: skip them).
    pub cold_samples: usize,
    pub get_latency_ms: u64,
    pub put_latency_ms: u64,
    pub index_timeout: Duration,
    /// `hnsw.ef_search` values of the search-effort sweep, and queries per value (0: none).
    pub sweep: Vec<u64>,
    pub sweep_queries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryLine {
    pub name: String,
    pub request: Value,
    pub selectivity: Option<f64>,
    pub recall: Option<f64>,
    pub latency: Latency,
    pub mean_results: f64,
    pub samples_ms: Vec<f64>,
    /// CPU seconds the server's process tree used during this phase (managed servers only).
    /// Servers take turns, so the phase also holds the other servers' turns, when this one
    /// idles: the total is what serving these requests cost it.
    pub server_cpu_s: Option<f64>,
    pub server_cpu_ms_per_request: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub name: String,
    pub rss_start_mb: Option<f64>,
    pub ingest: Ingest,
    pub rss_after_ingest_mb: Option<f64>,
    /// Seconds waited after the ingest (once everything was indexed) until the server's
    /// process tree was idle, before the first measured query; and whether it got there.
    pub settle_s: Option<f64>,
    pub settled: Option<bool>,
    /// Unfiltered KNN: recall and sequential latency.
    pub sequential: QueryLine,
    pub concurrent: Concurrent,
    /// Filtered KNN (where, where_document) and filtered gets.
    pub filtered: Vec<QueryLine>,
    /// Recall and sequential latency at each `hnsw.ef_search` of the sweep.
    pub sweep: Vec<sweep::SweepPoint>,
    pub many_collections: Option<ManyCollections>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub dataset: String,
    pub records: usize,
    pub dimension: usize,
    pub metric: String,
    pub k: usize,
    pub queries: usize,
    pub clients: usize,
    pub targets: Vec<TargetReport>,
    pub silt_store_costs: Option<StoreCosts>,
}

/// One server with its benchmark collection and what was measured so far.
struct Target {
    server: Server,
    collection: String,
    rss_start_mb: Option<f64>,
    ingest: Option<Ingest>,
    rss_after_ingest_mb: Option<f64>,
    settle: Option<(f64, bool)>,
    lines: Vec<QueryLine>,
    concurrent: Vec<Concurrent>,
    sweep: Vec<sweep::SweepPoint>,
    many: Option<ManyCollections>,
}

/// A filtered request: its name, body template and, for KNN, ground truth.
struct Case {
    name: String,
    kind: CaseKind,
    filter: (&'static str, Value),
    selectivity: Option<f64>,
    truth: Option<Vec<Vec<usize>>>,
}

#[derive(Clone, Copy)]
enum CaseKind {
    Knn,
    Get,
}

pub async fn run(o: &CompareOptions) -> anyhow::Result<CompareReport> {
    let ds =
        Dataset::load(&o.data, o.k).with_context(|| format!("loading {}", o.data.display()))?;
    let space = workload::space(ds.distance);
    let requests = Requests::build(&ds, o.batch_size, o.queries, o.k);
    let cases = cases(&ds);
    eprintln!(
        "dataset {}: {} x {}, {} queries; {} batches of {}",
        ds.name,
        ds.base.rows,
        ds.base.cols,
        requests.queries.len(),
        requests.batches.len(),
        o.batch_size
    );

    let mut targets = start_targets(o).await?;
    let result = measure(o, &ds, space, &requests, &cases, &mut targets).await;
    for t in &mut targets {
        t.server.stop().await?;
    }
    let mut report = result?;

    if o.silt && o.cold_samples > 0 {
        eprintln!(
            "silt object-store costs ({} ms GET, {} ms PUT)",
            o.get_latency_ms, o.put_latency_ms
        );
        let filtered: Vec<(String, Value)> = ds
            .filters
            .iter()
            .map(|f| (format!("where {}", f.name), f.r#where.clone()))
            .collect();
        report.silt_store_costs = Some(
            store_costs::measure(
                &o.work_dir.join("silt-store-costs"),
                space,
                &requests,
                &filtered,
                &StoreCostOptions {
                    get_latency_ms: o.get_latency_ms,
                    put_latency_ms: o.put_latency_ms,
                    cold_samples: o.cold_samples,
                    warm_repeats: 5,
                    index_timeout: o.index_timeout,
                    silt_args: &o.silt_args,
                },
            )
            .await?,
        );
    }
    Ok(report)
}

async fn start_targets(o: &CompareOptions) -> anyhow::Result<Vec<Target>> {
    let mut servers = Vec::new();
    if o.silt {
        servers.push(
            Server::start(
                "silt",
                Launch::silt(&o.silt_args)?,
                &o.work_dir.join("silt"),
            )
            .await?,
        );
    }
    if let Some(chroma) = &o.chroma {
        servers.push(
            Server::start("chroma", Launch::chroma(chroma), &o.work_dir.join("chroma")).await?,
        );
    }
    for (name, url) in &o.external {
        servers.push(Server::external(name, url)?);
    }
    anyhow::ensure!(!servers.is_empty(), "no server to measure");
    Ok(servers
        .into_iter()
        .map(|server| Target {
            rss_start_mb: server.rss_mb(),
            server,
            collection: String::new(),
            ingest: None,
            rss_after_ingest_mb: None,
            settle: None,
            lines: Vec::new(),
            concurrent: Vec::new(),
            sweep: Vec::new(),
            many: None,
        })
        .collect())
}

/// The filtered requests: each shipped or computed metadata filter as KNN (with recall) and as
/// get, and a `$contains` on a word in ~1% of the documents as KNN and as get.
fn cases(ds: &Dataset) -> Vec<Case> {
    let mut cases = Vec::new();
    for f in &ds.filters {
        cases.push(Case {
            name: format!("query where {}", f.name),
            kind: CaseKind::Knn,
            filter: ("where", f.r#where.clone()),
            selectivity: Some(f.selectivity),
            truth: Some(f.truth.clone()),
        });
    }
    if let Some(word) = workload::contains_word(&ds.docs, 0.01) {
        let selectivity =
            ds.docs.iter().filter(|d| d.contains(&word)).count() as f64 / ds.docs.len() as f64;
        cases.push(Case {
            name: "query where_document $contains".into(),
            kind: CaseKind::Knn,
            filter: ("where_document", json!({"$contains": word})),
            selectivity: Some(selectivity),
            truth: None,
        });
        cases.push(Case {
            name: "get where_document $contains".into(),
            kind: CaseKind::Get,
            filter: ("where_document", json!({"$contains": word})),
            selectivity: Some(selectivity),
            truth: None,
        });
    }
    for f in &ds.filters {
        cases.push(Case {
            name: format!("get where {}", f.name),
            kind: CaseKind::Get,
            filter: ("where", f.r#where.clone()),
            selectivity: Some(f.selectivity),
            truth: None,
        });
    }
    cases
}

/// Server order for block `b`: rotated, so no server always goes first.
fn rotation(n: usize, b: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |j| (j + b) % n)
}

async fn measure(
    o: &CompareOptions,
    ds: &Dataset,
    space: &str,
    requests: &Requests,
    cases: &[Case],
    targets: &mut [Target],
) -> anyhow::Result<CompareReport> {
    let name = format!(
        "bench-{}",
        ds.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    for t in targets.iter_mut() {
        eprintln!("{}: ingest", t.server.name);
        t.collection = t.server.api.fresh_collection(&name, space).await?;
        t.ingest =
            Some(workload::ingest(&t.server.api, &t.collection, requests, o.index_timeout).await?);
        t.rss_after_ingest_mb = t.server.rss_mb();
    }
    // Warm-up, not measured: every server loads what it keeps in memory.
    warm_up(targets, requests, 20).await?;
    // Everything is indexed (`ingest` waited for it); background work after that (Silt's
    // compactor, Chroma's flushes) must not be billed to the queries.
    for t in targets.iter_mut() {
        t.settle = t.server.settle(SETTLE_LIMIT).await;
        if let Some((s, false)) = t.settle {
            eprintln!(
                "{}: still busy after {s:.0} s; measuring anyway",
                t.server.name
            );
        }
    }

    eprintln!("sequential queries");
    let all: Vec<usize> = (0..requests.queries.len()).collect();
    let measured = unfiltered_knn(o, ds, requests, targets, &all).await?;
    for (t, (s, recall, cpu)) in targets.iter_mut().zip(measured) {
        t.lines
            .push(line("query", Value::Null, None, Some(recall), &s, cpu));
    }

    for case in cases {
        eprintln!("{}", case.name);
        let cpu = CpuMeter::start(targets);
        let samples = alternate(o, targets, &all, |i| {
            let body = match case.kind {
                CaseKind::Knn => query_body(ds.queries.row(i), o.k, Some((case.filter.0, &case.filter.1))),
                CaseKind::Get => {
                    // Pages through the matches, so repeats are not one cached answer.
                    json!({case.filter.0: case.filter.1, "limit": o.k, "offset": (i * o.k) % 1000, "include": ["metadatas", "documents"]})
                }
            };
            (case.kind, body)
        })
        .await?;
        let cpu = cpu.stop(targets);
        for ((t, s), cpu) in targets.iter_mut().zip(samples).zip(cpu) {
            let recall = case.truth.as_ref().map(|truth| {
                mean(
                    s.iter()
                        .enumerate()
                        .map(|(i, x)| requests.recall(&x.ids, &truth[i], o.k)),
                )
            });
            let request = json!({case.filter.0: case.filter.1});
            t.lines
                .push(line(&case.name, request, case.selectivity, recall, &s, cpu));
        }
    }

    eprintln!("{} concurrent clients", o.clients);
    let queries = Arc::new(requests.queries.clone());
    for round in 0..2 {
        for i in rotation(targets.len(), round) {
            let t = &mut targets[i];
            let before = t.server.cpu_s();
            let mut run = workload::concurrent(
                &t.server.api,
                &t.collection,
                queries.clone(),
                o.clients,
                o.concurrent_requests / 2,
            )
            .await?;
            run.server_cpu_s = before.zip(t.server.cpu_s()).map(|(a, b)| b - a);
            run.server_cpu_ms_per_request = per_request_ms(run.server_cpu_s, run.requests);
            t.concurrent.push(run);
        }
    }

    // Last of the big collection's phases: it changes the collection's configuration.
    let points = sweep::run(o, ds, requests, targets).await?;
    for (t, p) in targets.iter_mut().zip(points) {
        t.sweep = p;
    }

    if o.collections > 0 {
        for t in targets.iter_mut() {
            eprintln!("{}: {} collections", t.server.name, o.collections);
            // A fresh process: memory before is the server's own, not the big collection's.
            t.server.restart(None).await?;
            t.many = Some(
                many::run(
                    &t.server,
                    &ManyOptions {
                        collections: o.collections,
                        records_each: o.collection_records,
                        dimension: o.collection_dimension,
                        queries: o.collection_queries,
                        seed: 7,
                    },
                )
                .await?,
            );
        }
    }

    Ok(CompareReport {
        dataset: ds.name.clone(),
        records: ds.base.rows,
        dimension: ds.base.cols,
        metric: space.to_string(),
        k: o.k,
        queries: requests.queries.len(),
        clients: o.clients,
        targets: targets
            .iter_mut()
            .map(into_report)
            .collect::<anyhow::Result<_>>()?,
        silt_store_costs: None,
    })
}

/// Runs request `make(i)` for every `i` on every server, alternating servers every
/// `o.block` requests. Returns each server's samples in `indices` order.
async fn alternate(
    o: &CompareOptions,
    targets: &[Target],
    indices: &[usize],
    make: impl Fn(usize) -> (CaseKind, Value),
) -> anyhow::Result<Vec<Vec<Sample>>> {
    let mut out: Vec<Vec<Sample>> = targets.iter().map(|_| Vec::new()).collect();
    for (b, chunk) in indices.chunks(o.block.max(1)).enumerate() {
        let bodies: Vec<(CaseKind, Value)> = chunk.iter().map(|&i| make(i)).collect();
        for t in rotation(targets.len(), b) {
            let target = &targets[t];
            for (kind, body) in &bodies {
                let sample = match kind {
                    CaseKind::Knn => {
                        workload::timed_query(&target.server.api, &target.collection, body).await
                    }
                    CaseKind::Get => {
                        workload::timed_get(&target.server.api, &target.collection, body).await
                    }
                }
                .with_context(|| format!("{}: {body}", target.server.name))?;
                out[t].push(sample);
            }
        }
    }
    Ok(out)
}

/// How long to wait for a server to go idle before the queries.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// Every managed server's CPU seconds at the start of a phase.
struct CpuMeter(Vec<Option<f64>>);

impl CpuMeter {
    fn start(targets: &[Target]) -> CpuMeter {
        CpuMeter(targets.iter().map(|t| t.server.cpu_s()).collect())
    }

    /// CPU seconds each server used since the start.
    fn stop(self, targets: &[Target]) -> Vec<Option<f64>> {
        self.0
            .into_iter()
            .zip(targets)
            .map(|(before, t)| before.zip(t.server.cpu_s()).map(|(a, b)| b - a))
            .collect()
    }
}

/// `n` unmeasured queries on every server, so each loads what it keeps in memory.
async fn warm_up(targets: &[Target], requests: &Requests, n: usize) -> anyhow::Result<()> {
    for t in targets {
        for body in requests.queries.iter().take(n) {
            workload::timed_query(&t.server.api, &t.collection, body).await?;
        }
    }
    Ok(())
}

/// The unfiltered queries `indices`, alternating between servers: per server, its samples,
/// their mean recall@k and the CPU seconds its process tree spent meanwhile.
async fn unfiltered_knn(
    o: &CompareOptions,
    ds: &Dataset,
    requests: &Requests,
    targets: &[Target],
    indices: &[usize],
) -> anyhow::Result<Vec<(Vec<Sample>, f64, Option<f64>)>> {
    let cpu = CpuMeter::start(targets);
    let samples = alternate(o, targets, indices, |i| {
        (CaseKind::Knn, requests.queries[i].clone())
    })
    .await?;
    let cpu = cpu.stop(targets);
    Ok(samples
        .into_iter()
        .zip(cpu)
        .map(|(s, cpu)| {
            let recall = mean(
                s.iter()
                    .zip(indices)
                    .map(|(x, &i)| requests.recall(&x.ids, &ds.truth[i], o.k)),
            );
            (s, recall, cpu)
        })
        .collect())
}

fn per_request_ms(cpu_s: Option<f64>, requests: usize) -> Option<f64> {
    cpu_s.map(|s| s * 1000.0 / requests.max(1) as f64)
}

fn line(
    name: &str,
    request: Value,
    selectivity: Option<f64>,
    recall: Option<f64>,
    samples: &[Sample],
    server_cpu_s: Option<f64>,
) -> QueryLine {
    let times: Vec<f64> = samples.iter().map(|s| s.ms).collect();
    QueryLine {
        name: name.to_string(),
        request,
        selectivity,
        recall,
        latency: Latency::of(&times),
        mean_results: mean(samples.iter().map(|s| s.ids.len() as f64)),
        samples_ms: times,
        server_cpu_s,
        server_cpu_ms_per_request: per_request_ms(server_cpu_s, samples.len()),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

fn into_report(t: &mut Target) -> anyhow::Result<TargetReport> {
    let mut lines = std::mem::take(&mut t.lines).into_iter();
    let sequential = lines.next().context("no sequential run")?;
    let runs = std::mem::take(&mut t.concurrent);
    let samples_ms: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.samples_ms.iter().copied())
        .collect();
    let seconds: f64 = runs.iter().map(|r| r.seconds).sum();
    let requests: usize = runs.iter().map(|r| r.requests).sum();
    let server_cpu_s: Option<f64> = runs.iter().map(|r| r.server_cpu_s).sum();
    Ok(TargetReport {
        name: t.server.name.clone(),
        rss_start_mb: t.rss_start_mb,
        ingest: t.ingest.clone().context("no ingest")?,
        rss_after_ingest_mb: t.rss_after_ingest_mb,
        settle_s: t.settle.map(|s| s.0),
        settled: t.settle.map(|s| s.1),
        sequential,
        concurrent: Concurrent {
            clients: runs.first().map_or(0, |r| r.clients),
            requests,
            seconds,
            qps: requests as f64 / seconds.max(1e-9),
            latency: Latency::of(&samples_ms),
            samples_ms,
            server_cpu_s,
            server_cpu_ms_per_request: per_request_ms(server_cpu_s, requests),
        },
        filtered: lines.collect(),
        sweep: std::mem::take(&mut t.sweep),
        many_collections: t.many.take(),
    })
}
