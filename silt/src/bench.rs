//! `silt bench ...`: runs a benchmark from silt-bench and prints its table.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use silt_bench::compare::{self, markdown, CompareOptions};
use silt_bench::costs::{self, CostsOptions};
use silt_bench::data::synthetic::{self, SyntheticOptions};
use silt_bench::index_quality::{self, IndexBenchOptions};
use silt_bench::log_counts::{self, LogBenchOptions};
use silt_bench::many_collections::{self, CollectionsBenchOptions};
use silt_common::storage::S3Settings;

use crate::cli::{BenchArgs, BenchCommand, CompareBenchArgs};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.which {
        BenchCommand::Log(a) => {
            let options = LogBenchOptions {
                store: a.store,
                s3: S3Settings {
                    endpoint: a.s3_endpoint,
                    ..S3Settings::default()
                },
                put_latency: Duration::from_millis(a.put_latency_ms),
                group_window: Duration::from_millis(a.group_window_ms),
                collections: a.collections,
                ..LogBenchOptions::default()
            };
            let report = log_counts::run(&options).await?;
            println!("{}", log_counts::to_markdown(&report));
            if let Some(path) = a.json {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
            }
            Ok(())
        }
        BenchCommand::Collections(a) => {
            let report = many_collections::run(&CollectionsBenchOptions {
                collections: a.collections,
                records: a.records,
                dimension: a.dimension,
                cache_memory_bytes: a.cache_mb << 20,
            })
            .await?;
            println!("{}", many_collections::to_markdown(&report));
            if let Some(path) = a.json {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
            }
            Ok(())
        }
        BenchCommand::Compare(a) => compare(*a).await,
        BenchCommand::Data(a) => data(a).await,
        BenchCommand::Costs(a) => {
            let temp = tempfile::tempdir()?;
            let report = costs::run(
                &CostsOptions {
                    trickle_s: a.trickle_s,
                    idle_s: a.idle_s,
                    gc_grace_ms: a.gc_grace_ms,
                    silt_args: a.silt_args.into_iter().filter(|s| !s.is_empty()).collect(),
                },
                temp.path(),
            )
            .await?;
            println!("{}", costs::to_markdown(&report));
            if let Some(path) = a.json {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
            }
            Ok(())
        }
        BenchCommand::Index(a) => {
            let report = index_quality::run(&IndexBenchOptions {
                data: a.data,
                k: a.k,
                queries: a.queries,
                cold_samples: a.cold_samples,
                get_latency: Duration::from_millis(a.get_latency_ms),
                nprobe: a.nprobe,
            })
            .await?;
            println!("{}", index_quality::to_markdown(&report));
            if let Some(path) = a.json {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
            }
            Ok(())
        }
    }
}

async fn compare(a: CompareBenchArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let options = CompareOptions {
        data: a.data,
        silt: !a.no_silt,
        silt_args: a.silt_args.into_iter().filter(|s| !s.is_empty()).collect(),
        chroma: a.chroma,
        external: a.targets,
        work_dir: a.work_dir.unwrap_or_else(|| temp.path().to_path_buf()),
        k: a.k,
        batch_size: a.batch_size,
        queries: a.queries,
        block: a.block,
        clients: a.clients,
        concurrent_requests: a.concurrent_requests,
        collections: a.collections,
        collection_records: a.collection_records,
        collection_dimension: a.collection_dimension,
        collection_queries: a.collection_queries,
        cold_samples: a.cold_samples,
        get_latency_ms: a.get_latency_ms,
        put_latency_ms: a.put_latency_ms,
        index_timeout: Duration::from_secs(a.index_timeout_s),
        sweep: a.sweep,
        sweep_queries: a.sweep_queries,
    };
    let report = compare::run(&options).await?;
    let table = markdown::to_markdown(&report);
    println!("{table}");
    if let Some(path) = a.json {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    }
    if let Some(path) = a.markdown {
        markdown::update_section(&path, &report.dataset, &table)?;
    }
    Ok(())
}

#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    #[command(subcommand)]
    pub which: DataCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum DataCommand {
    /// A seeded clustered-Gaussian dataset (metric l2) with metadata `cluster`, `bucket` (0-9),
    /// `centile` (0-99), short documents, queries and exact ground truth, unfiltered and for
    /// its ~10%, ~1% and ~1% in-region filters. Same options, same bytes.
    Synthetic(SyntheticArgs),
    /// Exact ground truth of a dataset directory (base.npy, queries.npy, docs.jsonl and a
    /// meta.json with the metric and filters): writes gt.npy and each filter's file.
    Truth(TruthArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SyntheticArgs {
    /// Base records.
    #[arg(long, default_value_t = 200_000)]
    pub n: usize,
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// Gaussian centres the records are drawn around.
    #[arg(long, default_value_t = 1000)]
    pub clusters: usize,
    /// Noise standard deviation relative to the centres' (0.5: clusters barely overlap and
    /// recall is trivial; 1.0: a real test).
    #[arg(long, default_value_t = 1.0)]
    pub spread: f32,
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Neighbours per query in the ground-truth files.
    #[arg(short, long, default_value_t = 100)]
    pub k: usize,
    /// Output directory (created).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct TruthArgs {
    /// The dataset directory.
    pub dir: PathBuf,
    #[arg(short, long, default_value_t = 100)]
    pub k: usize,
}

async fn data(a: DataArgs) -> anyhow::Result<()> {
    // CPU-bound on every core: off the async runtime's workers.
    let report = tokio::task::spawn_blocking(move || match a.which {
        DataCommand::Synthetic(s) => synthetic::generate(&SyntheticOptions {
            n: s.n,
            dim: s.dim,
            queries: s.queries,
            clusters: s.clusters,
            spread: s.spread,
            seed: s.seed,
            k: s.k,
            out: s.out,
        })
        .and_then(|r| Ok(serde_json::to_string_pretty(&r)?)),
        DataCommand::Truth(t) => silt_bench::data::write_truth(&t.dir, t.k)
            .and_then(|r| Ok(serde_json::to_string_pretty(&r)?)),
    })
    .await??;
    println!("{report}");
    Ok(())
}
