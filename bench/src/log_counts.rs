//! `silt bench log`: what the write-ahead log costs in object-store requests and bytes.
//!
//! - PUTs per acknowledged write with 1, 8 and 64 concurrent writers on one collection;
//! - PUTs when many collections each get one write at the same time;
//! - bytes written per record for 384-d embeddings with a short document.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use silt_common::record::{MetadataValue, Operation, OperationRecord};
use silt_common::storage::{
    open_store, CountingStore, DynStore, FaultPlan, FaultyStore, S3Settings, StoreStats,
};
use silt_common::CollectionId;
use silt_log_service::{LogConfig, LogService, ObjectLog};
use silt_sysdb::{NewCollection, SysDb};

#[derive(Debug, Clone)]
pub struct LogBenchOptions {
    /// Object store URI (`memory://`, a directory, `s3://bucket/prefix`).
    pub store: String,
    pub s3: S3Settings,
    /// Latency added to every PUT, to see group commit under S3-like write times.
    pub put_latency: Duration,
    pub group_window: Duration,
    /// Sequential appends each writer makes in the concurrency scenarios.
    pub appends_per_writer: usize,
    pub collections: usize,
    pub dimension: usize,
}

impl Default for LogBenchOptions {
    fn default() -> Self {
        LogBenchOptions {
            store: "memory://".into(),
            s3: S3Settings::default(),
            put_latency: Duration::ZERO,
            group_window: LogConfig::default().group_window,
            appends_per_writer: 20,
            collections: 1000,
            dimension: 384,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct WriterScenario {
    pub writers: usize,
    pub acknowledged_writes: u64,
    pub puts: u64,
    pub puts_per_write: f64,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct ManyCollections {
    pub collections: usize,
    pub puts: u64,
    pub max_puts_in_flight: u64,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct BytesPerRecord {
    pub records_per_write: usize,
    pub dimension: usize,
    pub document_bytes: usize,
    pub metadata_keys: usize,
    pub bytes_per_record: f64,
    /// The embedding alone, as f32: the floor for any lossless encoding.
    pub raw_embedding_bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct LogBenchReport {
    pub store: String,
    pub put_latency_ms: u128,
    pub group_window_ms: u128,
    pub appends_per_writer: usize,
    pub writers: Vec<WriterScenario>,
    pub many_collections: ManyCollections,
    pub bytes_per_record: Vec<BytesPerRecord>,
}

struct Harness {
    _catalog_dir: tempfile::TempDir,
    sysdb: SysDb,
    log: ObjectLog,
    stats: Arc<StoreStats>,
}

async fn harness(options: &LogBenchOptions) -> anyhow::Result<Harness> {
    let catalog_dir = tempfile::tempdir()?;
    let sysdb = SysDb::connect(&format!(
        "sqlite://{}/catalog.db",
        catalog_dir.path().display()
    ))
    .await?;
    let base = open_store(&options.store, &options.s3)?;
    let slowed: DynStore = if options.put_latency.is_zero() {
        base
    } else {
        Arc::new(FaultyStore::new(
            base,
            FaultPlan {
                put_latency: options.put_latency,
                ..FaultPlan::default()
            },
        ))
    };
    let counting = Arc::new(CountingStore::new(slowed));
    let stats = counting.stats();
    let log = ObjectLog::new(
        counting,
        sysdb.clone(),
        LogConfig {
            group_window: options.group_window,
            max_tail_records: usize::MAX,
            ..LogConfig::default()
        },
    );
    Ok(Harness {
        _catalog_dir: catalog_dir,
        sysdb,
        log,
        stats,
    })
}

async fn new_collection(sysdb: &SysDb) -> anyhow::Result<CollectionId> {
    let (c, _) = sysdb
        .create_collection(NewCollection::in_default_database(
            &format!("bench-{}", CollectionId::new_random()),
            serde_json::json!({}),
        ))
        .await?;
    Ok(c.id)
}

const SHORT_DOCUMENT: &str = "A short document, about the length of a title.";

/// A deterministic record: a 384-d embedding, a short document and two metadata keys.
fn record(id: String, dimension: usize) -> OperationRecord {
    let seed = id.len() as f32;
    OperationRecord {
        embedding: Some(
            (0..dimension)
                .map(|i| (i as f32 * 0.37 + seed).sin())
                .collect(),
        ),
        document: Some(SHORT_DOCUMENT.into()),
        metadata: Some(
            [
                (
                    "source".to_string(),
                    Some(MetadataValue::Str("bench".into())),
                ),
                ("rank".to_string(), Some(MetadataValue::Int(7))),
            ]
            .into_iter()
            .collect(),
        ),
        uri: None,
        operation: Operation::Upsert,
        id,
    }
}

async fn writer_scenario(
    h: &Harness,
    writers: usize,
    options: &LogBenchOptions,
) -> anyhow::Result<WriterScenario> {
    let c = new_collection(&h.sysdb).await?;
    h.log.read_tail(c, 0, 0).await?; // recovery's reads are not part of the write cost
    let before = h.stats.snapshot();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = h.log.clone();
        let (appends, dimension) = (options.appends_per_writer, options.dimension);
        tasks.push(tokio::spawn(async move {
            for n in 0..appends {
                log.append(c, vec![record(format!("w{w}-{n}"), dimension)])
                    .await?;
            }
            Ok::<_, silt_common::SiltError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let spent = h.stats.snapshot().since(&before);
    let writes = (writers * options.appends_per_writer) as u64;
    Ok(WriterScenario {
        writers,
        acknowledged_writes: writes,
        puts: spent.puts,
        puts_per_write: spent.puts as f64 / writes as f64,
        seconds: start.elapsed().as_secs_f64(),
    })
}

async fn many_collections(
    h: &Harness,
    options: &LogBenchOptions,
) -> anyhow::Result<ManyCollections> {
    let mut ids = Vec::with_capacity(options.collections);
    for _ in 0..options.collections {
        ids.push(new_collection(&h.sysdb).await?);
    }
    let before = h.stats.snapshot();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in ids {
        let log = h.log.clone();
        let dimension = options.dimension;
        tasks.push(tokio::spawn(async move {
            log.append(c, vec![record("only".into(), dimension)]).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    let spent = h.stats.snapshot().since(&before);
    Ok(ManyCollections {
        collections: options.collections,
        puts: spent.puts,
        max_puts_in_flight: spent.max_puts_in_flight,
        seconds: start.elapsed().as_secs_f64(),
    })
}

async fn bytes_per_record(
    h: &Harness,
    records_per_write: usize,
    options: &LogBenchOptions,
) -> anyhow::Result<BytesPerRecord> {
    let c = new_collection(&h.sysdb).await?;
    let writes = 20;
    let before = h.stats.snapshot();
    for n in 0..writes {
        let batch = (0..records_per_write)
            .map(|i| record(format!("doc-{n}-{i}"), options.dimension))
            .collect();
        h.log.append(c, batch).await?;
    }
    let spent = h.stats.snapshot().since(&before);
    Ok(BytesPerRecord {
        records_per_write,
        dimension: options.dimension,
        document_bytes: SHORT_DOCUMENT.len(),
        metadata_keys: 2,
        bytes_per_record: spent.put_bytes as f64 / (writes * records_per_write) as f64,
        raw_embedding_bytes: options.dimension * 4,
    })
}

pub async fn run(options: &LogBenchOptions) -> anyhow::Result<LogBenchReport> {
    let h = harness(options).await?;
    let mut writers = Vec::new();
    for n in [1, 8, 64] {
        writers.push(writer_scenario(&h, n, options).await?);
    }
    let many = many_collections(&h, options).await?;
    let mut bytes = Vec::new();
    for n in [1, 100] {
        bytes.push(bytes_per_record(&h, n, options).await?);
    }
    Ok(LogBenchReport {
        store: options.store.clone(),
        put_latency_ms: options.put_latency.as_millis(),
        group_window_ms: options.group_window.as_millis(),
        appends_per_writer: options.appends_per_writer,
        writers,
        many_collections: many,
        bytes_per_record: bytes,
    })
}

/// The report as a Markdown table, for the terminal and for docs/benchmarks.md.
pub fn to_markdown(r: &LogBenchReport) -> String {
    let mut out = format!(
        "Log cost on `{}` (PUT latency {} ms, group window {} ms)\n\n| scenario | value |\n|---|---|\n",
        r.store, r.put_latency_ms, r.group_window_ms
    );
    for w in &r.writers {
        out += &format!(
            "| {} concurrent writer(s), {} acked writes | {} PUTs = {:.3} PUTs/write |\n",
            w.writers, w.acknowledged_writes, w.puts, w.puts_per_write
        );
    }
    let m = &r.many_collections;
    out += &format!(
        "| {} collections × 1 write | {} PUTs, up to {} in flight at once |\n",
        m.collections, m.puts, m.max_puts_in_flight
    );
    for b in &r.bytes_per_record {
        out += &format!(
            "| bytes/record, {}-d + {}-byte doc + {} metadata keys, {} record(s)/write | {:.1} (raw f32 vector: {}) |\n",
            b.dimension, b.document_bytes, b.metadata_keys, b.records_per_write, b.bytes_per_record, b.raw_embedding_bytes
        );
    }
    out
}
