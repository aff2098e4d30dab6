//! `silt bench index`: builds a real index version from a dataset, in process, and measures it:
//! compaction throughput (full build and a 1% incremental one, with the bytes each writes),
//! version size relative to the raw data, recall@k against exact ground truth (unfiltered, ~10% and ~1% filters), and what a
//! cold and a warm query cost in object-store round trips, GETs and bytes with an injected GET
//! latency. The versions live in a local-directory store in a temporary directory (not in
//! memory), so a large set is measured as it would be stored.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use object_store::local::LocalFileSystem;
use object_store::ObjectStoreExt;
use serde::Serialize;
use silt_common::filter::Where;
use silt_common::record::{Operation, OperationRecord};
use silt_common::storage::{CountingStore, DynStore, FaultPlan, FaultyStore, StoreStats};
use silt_common::CollectionId;
use silt_compactor::{Compactor, CompactorConfig, Outcome};
use silt_index::format::Manifest;
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_query_service::{
    CacheConfig, Consistency, Filters, Include, KnnRequest, QueryConfig, QueryNode, QueryService,
};
use silt_sysdb::{NewCollection, SysDb};

use crate::dataset::Dataset;
use crate::stats::Latency;

pub struct IndexBenchOptions {
    pub data: PathBuf,
    pub k: usize,
    /// Queries used for recall (all of the dataset's if larger).
    pub queries: usize,
    /// Queries measured cold (each on a fresh query node) and then warm.
    pub cold_samples: usize,
    pub get_latency: Duration,
    pub nprobe: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct RecallLine {
    pub filter: String,
    pub selectivity: f64,
    pub recall: f64,
    pub warm: Latency,
}

#[derive(Debug, Serialize)]
pub struct AccessLine {
    pub query: String,
    pub round_trips: f64,
    pub gets: f64,
    pub bytes: f64,
    pub latency: Latency,
}

#[derive(Debug, Serialize)]
pub struct IndexReport {
    pub dataset: String,
    pub records: usize,
    pub dimension: usize,
    pub distance: String,
    pub clusters: u32,
    /// Records per cluster: min, median, p99, max.
    pub cluster_sizes: [u32; 4],
    pub nprobe: u32,
    pub full_build_records: usize,
    pub full_build_s: f64,
    pub full_build_records_per_s: f64,
    pub incremental_records: usize,
    pub incremental_s: f64,
    pub incremental_vs_full: f64,
    /// Bytes the compactor wrote for the full build and for the 1% increment.
    pub full_build_written: u64,
    pub incremental_written: u64,
    pub incremental_clustering: String,
    pub raw_bytes: u64,
    pub version_bytes: u64,
    /// The version's files and their sizes: where the bytes go.
    pub version_files: Vec<(String, u64)>,
    pub version_vs_raw: f64,
    pub recall: Vec<RecallLine>,
    pub get_latency_ms: u64,
    pub cold: Vec<AccessLine>,
    pub warm: Vec<AccessLine>,
}

/// A recall case: name, selectivity, filter, exact top-k per query.
type Case<'a> = (String, f64, Option<Where>, &'a Vec<Vec<usize>>);

struct Stack {
    _dir: tempfile::TempDir,
    raw: DynStore,
    /// What the compactor reads and writes.
    compactor_io: Arc<StoreStats>,
    sysdb: SysDb,
    log: Arc<ObjectLog>,
    compactor: Compactor,
}

async fn stack() -> anyhow::Result<Stack> {
    let dir = tempfile::tempdir()?;
    let sysdb = SysDb::connect(&format!("sqlite://{}/catalog.db", dir.path().display())).await?;
    let objects = dir.path().join("objects");
    std::fs::create_dir_all(&objects)?;
    let raw: DynStore = Arc::new(LocalFileSystem::new_with_prefix(&objects)?);
    let log = Arc::new(ObjectLog::new(
        raw.clone(),
        sysdb.clone(),
        LogConfig {
            max_tail_records: 4_000_000,
            ..LogConfig::default()
        },
    ));
    let counted = Arc::new(CountingStore::new(raw.clone()));
    let compactor_io = counted.stats();
    let compactor = Compactor::new(
        counted,
        sysdb.clone(),
        log.clone(),
        CompactorConfig::default(),
    );
    Ok(Stack {
        _dir: dir,
        raw,
        compactor_io,
        sysdb,
        log,
        compactor,
    })
}

fn record(ds: &Dataset, i: usize) -> OperationRecord {
    OperationRecord {
        id: ds.ids[i].clone(),
        operation: Operation::Add,
        embedding: Some(ds.base.row(i).to_vec()),
        document: Some(ds.docs[i].clone()),
        metadata: Some(
            ds.metadata[i]
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
        ),
        uri: None,
    }
}

async fn append_rows(
    stack: &Stack,
    c: CollectionId,
    ds: &Dataset,
    rows: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + 5000).min(rows.end);
        stack
            .log
            .append(c, (start..end).map(|i| record(ds, i)).collect())
            .await?;
        start = end;
    }
    Ok(())
}

/// Compacts the collection's tail: seconds taken and bytes written.
async fn compact(stack: &Stack, c: CollectionId) -> anyhow::Result<(f64, u64)> {
    let before = stack.compactor_io.snapshot();
    let t = Instant::now();
    match stack.compactor.compact(c).await? {
        Outcome::Registered { .. } => Ok((
            t.elapsed().as_secs_f64(),
            stack.compactor_io.snapshot().since(&before).put_bytes,
        )),
        other => anyhow::bail!("compaction did not register a version: {other:?}"),
    }
}

fn knn(c: CollectionId, q: &[f32], k: usize, filters: Filters) -> KnnRequest {
    KnnRequest {
        collection: c.into(),
        filters,
        query_embeddings: vec![q.to_vec()],
        n_results: k,
        include: Include {
            documents: true,
            metadatas: true,
            ..Include::default()
        },
        consistency: Consistency::Strong,
    }
}

pub async fn run(o: &IndexBenchOptions) -> anyhow::Result<IndexReport> {
    let ds = Dataset::load(&o.data, o.k)?;
    let n = ds.base.rows;
    let stack = stack().await?;
    let (collection, _) = stack
        .sysdb
        .create_collection(NewCollection::in_default_database(
            "bench",
            serde_json::json!({"hnsw": {"space": ds.distance.as_str()}}),
        ))
        .await?;
    let c = collection.id;

    // Full build of 99%, then a 1% incremental compaction.
    let first = n - n / 100;
    append_rows(&stack, c, &ds, 0..first).await?;
    let (full_s, full_written) = compact(&stack, c).await?;
    append_rows(&stack, c, &ds, first..n).await?;
    let (incremental_s, incremental_written) = compact(&stack, c).await?;

    let manifest_key = stack
        .sysdb
        .get_collection(c)
        .await?
        .manifest
        .context("no version registered")?;
    let manifest_bytes = stack
        .raw
        .get(&object_store::path::Path::from(manifest_key.as_str()))
        .await?
        .bytes()
        .await?;
    let manifest = Manifest::decode(&manifest_bytes)?;
    let head = silt_index::format::read_head(stack.raw.as_ref(), &manifest_key).await?;
    let mut sizes: Vec<u32> = head.clusters.iter().map(|c| c.count).collect();
    sizes.sort_unstable();
    let cluster_sizes = [
        sizes.first().copied().unwrap_or(0),
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        sizes.get(sizes.len() * 99 / 100).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0),
    ];
    let version_bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
    let incremental_clustering = if manifest.index.trained_on as usize == n {
        "re-trained"
    } else {
        "carried over"
    };

    // Recall and warm latency, on a node without injected latency.
    let node = QueryNode::new(
        stack.raw.clone(),
        stack.sysdb.clone(),
        stack.log.clone(),
        QueryConfig {
            nprobe: o.nprobe,
            ..QueryConfig::default()
        },
    )
    .await?;
    let row_of: HashMap<&str, usize> = ds
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let nq = ds.queries.rows.min(o.queries);
    let mut recall = Vec::new();
    let mut cases: Vec<Case<'_>> = vec![("none".into(), 1.0, None, &ds.truth)];
    for f in &ds.filters {
        cases.push((
            format!("{} {}", f.name, f.r#where),
            f.selectivity,
            Where::parse(&f.r#where).map_err(anyhow::Error::msg)?,
            &f.truth,
        ));
    }
    for (name, selectivity, w, truth) in &cases {
        let mut hits = 0usize;
        let mut wanted = 0usize;
        let mut times = Vec::new();
        for q in 0..nq {
            let filters = Filters {
                r#where: w.clone(),
                ..Filters::default()
            };
            // First pass warms the cache; the second is timed.
            node.knn(knn(c, ds.queries.row(q), o.k, filters.clone()))
                .await?;
            let t = Instant::now();
            let found = node.knn(knn(c, ds.queries.row(q), o.k, filters)).await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            let truth: Vec<usize> = truth[q].iter().take(o.k).copied().collect();
            wanted += truth.len();
            for s in found.first().into_iter().flatten() {
                if row_of
                    .get(s.record.id.as_str())
                    .is_some_and(|r| truth.contains(r))
                {
                    hits += 1;
                }
            }
        }
        recall.push(RecallLine {
            filter: name.clone(),
            selectivity: *selectivity,
            recall: hits as f64 / wanted.max(1) as f64,
            warm: Latency::of(&times),
        });
    }

    // Cold and warm access costs with injected GET latency; each cold query on a fresh node.
    let counting = Arc::new(CountingStore::new(Arc::new(FaultyStore::new(
        stack.raw.clone(),
        FaultPlan {
            get_latency: o.get_latency,
            ..FaultPlan::default()
        },
    ))));
    let stats = counting.stats();
    let slow: DynStore = counting;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    // `--cold-samples 0`: no access table at all, rather than rows of zeros.
    let sampled = if o.cold_samples == 0 {
        &[][..]
    } else {
        &cases[..]
    };
    for (name, _, w, _) in sampled {
        let (mut cold_lines, mut warm_lines) = (Vec::new(), Vec::new());
        for q in 0..o.cold_samples.min(nq) {
            let fresh = QueryNode::new(
                slow.clone(),
                stack.sysdb.clone(),
                stack.log.clone(),
                QueryConfig {
                    cache: CacheConfig {
                        disk_dir: None,
                        ..CacheConfig::default()
                    },
                    nprobe: o.nprobe,
                    ..QueryConfig::default()
                },
            )
            .await?;
            let filters = Filters {
                r#where: w.clone(),
                ..Filters::default()
            };
            for lines in [&mut cold_lines, &mut warm_lines] {
                let before = stats.snapshot();
                let trips = fresh
                    .cache()
                    .stats()
                    .round_trips
                    .load(std::sync::atomic::Ordering::Relaxed);
                let t = Instant::now();
                fresh
                    .knn(knn(c, ds.queries.row(q), o.k, filters.clone()))
                    .await?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let d = stats.snapshot().since(&before);
                let trips = fresh
                    .cache()
                    .stats()
                    .round_trips
                    .load(std::sync::atomic::Ordering::Relaxed)
                    - trips;
                lines.push((trips as f64, d.gets as f64, d.get_bytes as f64, ms));
            }
        }
        for (lines, out) in [(cold_lines, &mut cold), (warm_lines, &mut warm)] {
            let m = lines.len().max(1) as f64;
            out.push(AccessLine {
                query: format!("knn k={} filter {name}", o.k),
                round_trips: lines.iter().map(|l| l.0).sum::<f64>() / m,
                gets: lines.iter().map(|l| l.1).sum::<f64>() / m,
                bytes: lines.iter().map(|l| l.2).sum::<f64>() / m,
                latency: Latency::of(&lines.iter().map(|l| l.3).collect::<Vec<_>>()),
            });
        }
    }

    Ok(IndexReport {
        dataset: ds.name.clone(),
        records: n,
        dimension: ds.base.cols,
        distance: ds.distance.as_str().to_string(),
        clusters: manifest.index.clusters,
        cluster_sizes,
        nprobe: o.nprobe.map_or(manifest.index.nprobe, |n| n as u32),
        full_build_records: first,
        full_build_s: full_s,
        full_build_records_per_s: first as f64 / full_s,
        incremental_records: n - first,
        incremental_s,
        incremental_vs_full: incremental_s / full_s,
        full_build_written: full_written,
        incremental_written,
        incremental_clustering: incremental_clustering.into(),
        raw_bytes: ds.raw_bytes(),
        version_bytes,
        version_files: manifest
            .files
            .iter()
            .map(|f| (f.name.clone(), f.size))
            .collect(),
        version_vs_raw: version_bytes as f64 / ds.raw_bytes() as f64,
        recall,
        get_latency_ms: o.get_latency.as_millis() as u64,
        cold,
        warm,
    })
}

pub fn to_markdown(r: &IndexReport) -> String {
    let mut s = format!(
        "### Index: {} ({} × {}, {})\n\n\
         | measure | value |\n|---|---|\n\
         | clusters / nprobe | {} / {} |\n\
         | records per cluster: min / median / p99 / max | {:?} |\n\
         | full build ({} records) | {:.1} s, {:.0} records/s |\n\
         | 1% incremental ({} records, centroids {}) | {:.1} s = {:.2} × full build |\n\
         | bytes written: full build / 1% incremental | {:.1} MB / {:.1} MB = {:.2} of the version |\n\
         | version size / raw data | {:.1} MB / {:.1} MB = {:.2} |\n\
         | version files, MB | {} |\n\n\
         | filter | selectivity | recall@10 | warm p50 | warm p99 |\n|---|---|---|---|---|\n",
        r.dataset,
        r.records,
        r.dimension,
        r.distance,
        r.clusters,
        r.nprobe,
        r.cluster_sizes,
        r.full_build_records,
        r.full_build_s,
        r.full_build_records_per_s,
        r.incremental_records,
        r.incremental_clustering,
        r.incremental_s,
        r.incremental_vs_full,
        r.full_build_written as f64 / 1e6,
        r.incremental_written as f64 / 1e6,
        r.incremental_written as f64 / r.version_bytes.max(1) as f64,
        r.version_bytes as f64 / 1e6,
        r.raw_bytes as f64 / 1e6,
        r.version_vs_raw,
        r.version_files
            .iter()
            .map(|(name, size)| format!("{name} {:.2}", *size as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for l in &r.recall {
        s += &format!(
            "| {} | {:.3} | {:.3} | {:.2} ms | {:.2} ms |\n",
            l.filter, l.selectivity, l.recall, l.warm.p50, l.warm.p99
        );
    }
    if r.cold.is_empty() {
        return s;
    }
    s += &format!(
        "\nWith {} ms injected per GET (means per query; latency p50/p99):\n\n\
         | query | cache | round trips | GETs | bytes | p50 | p99 |\n|---|---|---|---|---|---|---|\n",
        r.get_latency_ms
    );
    for (which, lines) in [("cold", &r.cold), ("warm", &r.warm)] {
        for l in lines {
            s += &format!(
                "| {} | {} | {:.1} | {:.1} | {:.0} | {:.1} ms | {:.1} ms |\n",
                l.query, which, l.round_trips, l.gets, l.bytes, l.latency.p50, l.latency.p99
            );
        }
    }
    s
}
