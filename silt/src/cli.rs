//! Command-line flags. Every flag can also be set by a `SILT_` environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "silt",
    version,
    about = "Silt: an object-storage-native search engine that speaks Chroma's API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text for people, or as JSON objects (one per line) for log pipelines.
    /// Which lines: SILT_LOG (a tracing filter, e.g. "info,silt=debug" to see every request
    /// with its id).
    #[arg(
        long,
        global = true,
        env = "SILT_LOG_FORMAT",
        value_enum,
        default_value_t = crate::logging::LogFormat::Text
    )]
    pub log_format: crate::logging::LogFormat,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every component in one process: data in a local directory, catalog in SQLite.
    Run(RunArgs),
    /// Measure Silt: object-store requests, bytes, latency.
    Bench(BenchArgs),
    /// Operator commands on the catalog: tenants, API keys, quotas, nodes.
    Admin(AdminArgs),
    /// Distributed role: the public API; routes writes to log nodes and reads to query nodes.
    Gateway(ClusterArgs),
    /// Distributed role: the write-ahead log on object storage.
    Log(ClusterArgs),
    /// Distributed role: executes reads over index versions and the log tail.
    Query(ClusterArgs),
    /// Distributed role: builds index versions and collects garbage.
    Compactor(ClusterArgs),
    /// Copy tenants, databases and collections from a Chroma (or Silt) server into Silt over
    /// the HTTP API; resumable with --state, verified at the end.
    Migrate(crate::transfer::args::MigrateArgs),
    /// Write collections (one, a database's, a tenant's) to Parquet files, locally or on s3://.
    Export(crate::transfer::args::ExportArgs),
    /// Load Parquet files written by `silt export` into a server.
    Import(crate::transfer::args::ImportArgs),
}

#[derive(Args, Debug, Clone)]
pub struct AdminArgs {
    /// Catalog URL (sqlite://... or postgres://...). Default: the embedded catalog in --path.
    #[arg(long, env = "SILT_CATALOG")]
    pub catalog: Option<String>,
    /// Data directory of an embedded server (its catalog is DIR/catalog.db).
    #[arg(long, env = "SILT_PATH", default_value = "./silt-data")]
    pub path: PathBuf,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum AdminCommand {
    /// Create a tenant (with its default_database).
    CreateTenant { name: String },
    /// Create an API key for a tenant; prints the key once.
    CreateKey {
        #[arg(long)]
        tenant: String,
        /// Read-only key (default: read-write).
        #[arg(long)]
        read_only: bool,
        /// Limit the key to these databases (comma-separated; default: all).
        #[arg(long, value_delimiter = ',')]
        databases: Option<Vec<String>>,
        /// A label to recognise the key by in list-keys.
        #[arg(long)]
        label: Option<String>,
    },
    /// List keys (never the keys themselves), optionally of one tenant.
    ListKeys {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by its id.
    RevokeKey { id: String },
    /// Override a tenant's limits, e.g. '{"max_batch_size": 100, "tenant_requests_per_second": 50}'.
    SetQuotas { tenant: String, quotas: String },
    /// Show the limits that apply to a tenant.
    ShowQuotas { tenant: String },
    /// List the cluster's registered nodes with their role, address and heartbeat age.
    Nodes,
    /// The cluster at a glance: nodes by role with heartbeat age, collections lagging behind
    /// their log, recent and failing compactions, each live query node's cache figures.
    Status {
        /// JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Most rows per section.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// A node that has not heartbeated for this long is shown as silent, in ms.
        #[arg(long, default_value_t = 5000)]
        membership_timeout_ms: i64,
    },
    /// Metering per tenant: collections, records, stored bytes (log, versions), writes,
    /// queries, records written and bytes returned (activity as of the gateways' last flush).
    Usage {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// A table for people instead of JSON.
        #[arg(long)]
        table: bool,
    },
    /// Which live node of a role each collection is routed to (rendezvous hash, as the
    /// gateway computes it).
    Placement {
        /// log or query.
        #[arg(long, default_value = "query")]
        role: String,
        /// A node that has not heartbeated for this long is not live, in ms.
        #[arg(long, default_value_t = 5000)]
        membership_timeout_ms: i64,
    },
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// PUTs per acknowledged write under concurrency, PUTs for many collections, bytes per record.
    Log(LogBenchArgs),
    /// Builds an index version from a dataset; compaction throughput, size, recall, and the
    /// object-store cost of cold and warm queries.
    Index(IndexBenchArgs),
    /// Many small collections queried once each: process RSS before and after.
    Collections(CollectionsBenchArgs),
    /// Silt and Chroma side by side over Chroma's HTTP API: ingest, indexing delay, latency,
    /// QPS, recall, filters, many collections, and Silt's object-store requests.
    Compare(Box<CompareBenchArgs>),
    /// Exact object-store request counts of a `silt run` for issue 16's targets: a 20-record
    /// collection, a trickle of one write per second (all in: log, compaction, GC), a cold
    /// query after a restart, and idleness.
    Costs(CostsBenchArgs),
    /// Benchmark data: generate a synthetic set, or compute a directory's exact ground truth.
    Data(crate::bench::DataArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CostsBenchArgs {
    /// Seconds of one single-record write per second.
    #[arg(long, default_value_t = 60)]
    pub trickle_s: u64,
    /// Seconds of idleness counted.
    #[arg(long, default_value_t = 30)]
    pub idle_s: u64,
    /// GC grace of the trickle's server (decides when its GC runs, not what it costs).
    #[arg(long, default_value_t = 5000)]
    pub gc_grace_ms: u64,
    /// Extra flags for the `silt run` servers, e.g. "--compaction-max-age-ms 5000".
    #[arg(long, allow_hyphen_values = true, value_delimiter = ' ')]
    pub silt_args: Vec<String>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct CompareBenchArgs {
    /// Dataset directory: base.npy (vectors), queries.npy, gt.npy (exact neighbours of each
    /// query), and optionally docs.jsonl (id, text, metadata per record).
    #[arg(long)]
    pub data: PathBuf,
    /// The `chroma` executable to start as the reference (`pip install chromadb`).
    #[arg(long)]
    pub chroma: Option<PathBuf>,
    /// Do not start Silt embedded (measure only --chroma and --target servers).
    #[arg(long)]
    pub no_silt: bool,
    /// A server started elsewhere, as NAME=URL (e.g. a Silt cluster's gateway); repeatable.
    #[arg(long = "target", value_parser = parse_target)]
    pub targets: Vec<(String, String)>,
    /// Extra flags for the Silt servers this run starts, e.g. "--cache-mb 1024".
    #[arg(long, allow_hyphen_values = true, value_delimiter = ' ')]
    pub silt_args: Vec<String>,
    /// Where the started servers keep their data (default: a temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Queries for recall and latency, and for each filtered case.
    #[arg(long, default_value_t = 500)]
    pub queries: usize,
    /// Servers take turns every this many requests.
    #[arg(long, default_value_t = 25)]
    pub block: usize,
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Requests per server in the concurrent phase.
    #[arg(long, default_value_t = 1000)]
    pub concurrent_requests: usize,
    /// Small collections to create for the many-collections test (0: skip it).
    #[arg(long, default_value_t = 1000)]
    pub collections: usize,
    #[arg(long, default_value_t = 20)]
    pub collection_records: usize,
    #[arg(long, default_value_t = 384)]
    pub collection_dimension: usize,
    #[arg(long, default_value_t = 500)]
    pub collection_queries: usize,
    /// Cold queries per kind for Silt's object-store costs (each after a restart; 0: skip).
    #[arg(long, default_value_t = 5)]
    pub cold_samples: usize,
    #[arg(long, default_value_t = 60)]
    pub get_latency_ms: u64,
    #[arg(long, default_value_t = 100)]
    pub put_latency_ms: u64,
    /// Search-effort sweep: each server's collection is set to each of these `hnsw.ef_search`
    /// values in turn (Chroma: the HNSW candidate list, applied by restarting `chroma run`;
    /// Silt: clusters probed, scaled from its default at 100) and measured for recall,
    /// sequential latency and server CPU per query.
    #[arg(long, value_delimiter = ',', default_value = "10,25,50,100,200,400")]
    pub sweep: Vec<u64>,
    /// Queries per point of the sweep (0: no sweep).
    #[arg(long, default_value_t = 200)]
    pub sweep_queries: usize,
    /// Give up waiting for the index to catch up after this long, in s.
    #[arg(long, default_value_t = 900)]
    pub index_timeout_s: u64,
    /// Write the full result (with every latency sample) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Put the table into this Markdown file, in this dataset's section (e.g. docs/benchmarks.md).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

fn parse_target(s: &str) -> Result<(String, String), String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=URL, got {s:?}"))?;
    if !url.starts_with("http://127.0.0.1") && !url.starts_with("http://localhost") {
        return Err(format!("{url}: benchmarks only talk to 127.0.0.1"));
    }
    Ok((name.to_string(), url.to_string()))
}

#[derive(Args, Debug, Clone)]
pub struct CollectionsBenchArgs {
    #[arg(long, default_value_t = 10_000)]
    pub collections: usize,
    #[arg(long, default_value_t = 20)]
    pub records: usize,
    #[arg(long, default_value_t = 384)]
    pub dimension: usize,
    /// Memory part of the query cache, in MiB.
    #[arg(long, default_value_t = 64)]
    pub cache_mb: usize,
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct IndexBenchArgs {
    /// Dataset directory: base.npy (vectors), queries.npy, gt.npy (exact neighbours of each
    /// query), and optionally docs.jsonl (id, text, metadata per record).
    #[arg(long)]
    pub data: std::path::PathBuf,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Queries used for recall.
    #[arg(long, default_value_t = 500)]
    pub queries: usize,
    /// Queries measured cold (each on a fresh query node), then warm.
    #[arg(long, default_value_t = 10)]
    pub cold_samples: usize,
    /// Latency added to every GET for the cold/warm measurement, in ms.
    #[arg(long, default_value_t = 60)]
    pub get_latency_ms: u64,
    /// Clusters probed per query (default: each version's own setting).
    #[arg(long)]
    pub nprobe: Option<usize>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct LogBenchArgs {
    /// Object store: memory://, a directory, or s3://bucket/prefix.
    #[arg(long, default_value = "memory://")]
    pub store: String,
    /// S3 endpoint for S3-compatible servers (credentials from AWS_ACCESS_KEY_ID etc.).
    #[arg(long, env = "SILT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Latency added to every PUT, in ms (S3 is typically 50-150 ms).
    #[arg(long, default_value_t = 0)]
    pub put_latency_ms: u64,
    /// Group commit window, in ms.
    #[arg(long, default_value_t = 10)]
    pub group_window_ms: u64,
    /// Collections that each get one write at the same time.
    #[arg(long, default_value_t = 1000)]
    pub collections: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Directory for all data (objects, catalog).
    #[arg(long, env = "SILT_PATH", default_value = "./silt-data")]
    pub path: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SILT_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "SILT_PORT", default_value_t = 8000)]
    pub port: u16,
    /// Require an API key (created with `silt admin create-key`) on every request.
    #[arg(long, env = "SILT_AUTH", default_value_t = false)]
    pub auth: bool,
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Settings every mode shares; each role uses the ones that concern it.
#[derive(Args, Debug, Clone)]
pub struct Tuning {
    /// Enable POST /api/v2/reset, which deletes everything (for test suites).
    #[arg(long, env = "SILT_ALLOW_RESET", default_value_t = false)]
    pub allow_reset: bool,
    /// How long a write waits for others to share its log PUT (group commit), in ms.
    #[arg(long, env = "SILT_GROUP_COMMIT_MS", default_value_t = 2)]
    pub group_commit_ms: u64,
    /// How often the compactor looks for unindexed writes, in ms.
    #[arg(long, env = "SILT_COMPACTION_INTERVAL_MS", default_value_t = 500)]
    pub compaction_interval_ms: u64,
    /// Superseded versions, abandoned compaction attempts and compacted log fragments are
    /// deleted after this long, in ms (readers that started before may still need them).
    #[arg(long, env = "SILT_GC_GRACE_MS", default_value_t = 600_000)]
    pub gc_grace_ms: u64,
    /// An unindexed tail of this many records is compacted at the next round…
    #[arg(long, env = "SILT_COMPACTION_MIN_RECORDS", default_value_t = 1000)]
    pub compaction_min_records: u64,
    /// …and a shorter one once it has waited this long, in ms (strong reads merge the tail
    /// meanwhile; a trickle of writes then costs one version per interval, not per write).
    #[arg(long, env = "SILT_COMPACTION_MAX_AGE_MS", default_value_t = 30_000)]
    pub compaction_max_age_ms: u64,
    /// Memory part of the query cache, in MiB.
    #[arg(long, env = "SILT_CACHE_MB", default_value_t = 512)]
    pub cache_mb: usize,
    /// Disk part of the query cache, in MiB (0: memory only).
    #[arg(long, env = "SILT_CACHE_DISK_MB", default_value_t = 4096)]
    pub cache_disk_mb: usize,
    /// Directory of the disk cache; it survives restarts. Default: `<data>/cache` for
    /// `silt run`, a per-process temporary directory for `silt query`.
    #[arg(long, env = "SILT_CACHE_DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Largest number of records in one write.
    #[arg(long, env = "SILT_MAX_BATCH_SIZE", default_value_t = 10_000)]
    pub max_batch_size: usize,
    /// Writes are refused with 429 while this many records await compaction.
    #[arg(long, env = "SILT_MAX_TAIL_RECORDS", default_value_t = 200_000)]
    pub max_tail_records: usize,
    /// How often a gateway adds its per-tenant activity counts (metering) to the catalog, in
    /// ms; a gateway that crashes loses at most this much of its counts.
    #[arg(long, env = "SILT_USAGE_FLUSH_MS", default_value_t = 5000)]
    pub usage_flush_ms: u64,
    /// How often a gateway re-reads every tenant's stored bytes, records and collections from
    /// the catalog for `/metrics`, in ms (one aggregate over all collections; 0: never).
    #[arg(long, env = "SILT_USAGE_STORAGE_REFRESH_MS", default_value_t = 60_000)]
    pub usage_storage_refresh_ms: u64,
    /// Also serve the per-tenant metering series on this address (e.g. 127.0.0.1:9100), for
    /// operators. With API keys required they are left out of the public `/metrics`, which
    /// would tell any caller every tenant's name and usage.
    #[arg(long, env = "SILT_TENANT_METRICS_ADDR")]
    pub tenant_metrics_addr: Option<String>,
    /// Record metrics for `/metrics` (request, store and RPC latency, cache, log, compaction
    /// and membership series). `false` turns recording off; `/metrics` then carries only the
    /// per-tenant metering series, which metering keeps anyway.
    #[arg(long, env = "SILT_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics: bool,
    /// How long API keys and quotas read from the catalog are cached, in ms (revocations and
    /// quota changes take effect within it).
    #[arg(long, env = "SILT_CATALOG_CACHE_MS", default_value_t = 5000)]
    pub catalog_cache_ms: u64,
    /// Most client connections open at once; past it, new connections are closed at once.
    /// Lowered to fit the open-files limit (`ulimit -n`) when that is smaller.
    #[arg(long, env = "SILT_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Time a client gets to send a request's headers, in ms; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, env = "SILT_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Longest pause while a client sends a request body, in ms.
    #[arg(long, env = "SILT_BODY_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_timeout_ms: u64,
    /// Longest time one request may take, in ms (answered 408 after it).
    #[arg(long, env = "SILT_REQUEST_TIMEOUT_MS", default_value_t = 120_000)]
    pub request_timeout_ms: u64,
    /// Benchmarks and tests: latency added to every object-store GET/LIST, in ms.
    #[arg(
        long,
        env = "SILT_INJECT_GET_LATENCY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub inject_get_latency_ms: u64,
    /// Benchmarks and tests: latency added to every object-store PUT, in ms.
    #[arg(
        long,
        env = "SILT_INJECT_PUT_LATENCY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub inject_put_latency_ms: u64,
}

/// Flags of every distributed role (`silt gateway | log | query | compactor`): the same set for
/// all, so one environment file configures a whole cluster.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// The catalog: postgres://user@host:port/db (migrations are applied at start-up).
    #[arg(long, env = "SILT_CATALOG")]
    pub catalog: String,
    /// The object store: s3://bucket/prefix (or a shared directory, for trying things out).
    #[arg(long, env = "SILT_STORE")]
    pub store: String,
    /// S3 endpoint of an S3-compatible store (SeaweedFS, MinIO, moto); default: AWS.
    /// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "SILT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "SILT_S3_REGION")]
    pub s3_region: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "SILT_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (default: gateway 8000, log 7100, query 7200, compactor 7300).
    #[arg(long, env = "SILT_PORT")]
    pub port: Option<u16>,
    /// URL other nodes reach this one at (default: http://HOST:PORT).
    #[arg(long, env = "SILT_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Gateway: serve without API keys. Off by default: a cluster is a shared service.
    #[arg(long, env = "SILT_INSECURE_NO_AUTH", default_value_t = false)]
    pub insecure_no_auth: bool,
    /// How often a node heartbeats its membership row, in ms.
    #[arg(long, env = "SILT_HEARTBEAT_MS", default_value_t = 1000)]
    pub heartbeat_ms: u64,
    /// A node silent for this long is no longer routed to, in ms.
    #[arg(long, env = "SILT_MEMBERSHIP_TIMEOUT_MS", default_value_t = 5000)]
    pub membership_timeout_ms: u64,
    /// Time one node gets to answer one internal call, in ms.
    #[arg(long, env = "SILT_RPC_TIMEOUT_MS", default_value_t = 10_000)]
    pub rpc_timeout_ms: u64,
    #[command(flatten)]
    pub tuning: Tuning,
}

impl Tuning {
    /// `store` with the injected latency of `--inject-get-latency-ms` / `--inject-put-latency-ms`
    /// (benchmarks and tests), or unchanged.
    pub fn with_injected_latency(
        &self,
        store: silt_common::storage::DynStore,
    ) -> silt_common::storage::DynStore {
        let (get_ms, put_ms) = (self.inject_get_latency_ms, self.inject_put_latency_ms);
        if get_ms == 0 && put_ms == 0 {
            return store;
        }
        tracing::warn!(
            get_ms,
            put_ms,
            "injecting object-store latency (benchmarks and tests only)"
        );
        std::sync::Arc::new(silt_common::storage::FaultyStore::new(
            store,
            silt_common::storage::FaultPlan {
                get_latency: std::time::Duration::from_millis(get_ms),
                put_latency: std::time::Duration::from_millis(put_ms),
                ..Default::default()
            },
        ))
    }

    /// When a gateway flushes its usage counts and re-reads stored usage for `/metrics`.
    pub fn usage_schedule(&self) -> silt_gateway::UsageSchedule {
        silt_gateway::UsageSchedule {
            flush: std::time::Duration::from_millis(self.usage_flush_ms.max(1)),
            storage_refresh: (self.usage_storage_refresh_ms > 0)
                .then(|| std::time::Duration::from_millis(self.usage_storage_refresh_ms)),
        }
    }

    pub fn serve_limits(&self) -> crate::serve::ServeLimits {
        crate::serve::ServeLimits {
            max_connections: self.max_connections.max(1),
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms.max(1)),
            body_timeout: std::time::Duration::from_millis(self.body_timeout_ms.max(1)),
            request_timeout: std::time::Duration::from_millis(self.request_timeout_ms.max(1)),
        }
    }

    /// The compactor's settings, the same for `silt run` and `silt compactor`.
    pub fn compactor_config(&self) -> silt_compactor::CompactorConfig {
        silt_compactor::CompactorConfig {
            interval: std::time::Duration::from_millis(self.compaction_interval_ms),
            min_tail_records: self.compaction_min_records,
            max_tail_age: std::time::Duration::from_millis(self.compaction_max_age_ms),
            gc_grace: std::time::Duration::from_millis(self.gc_grace_ms),
            ..silt_compactor::CompactorConfig::default()
        }
    }

    /// The log's settings, the same for `silt run` and `silt log`.
    pub fn log_config(&self) -> silt_log_service::LogConfig {
        silt_log_service::LogConfig {
            group_window: std::time::Duration::from_millis(self.group_commit_ms),
            max_tail_records: self.max_tail_records,
            ..silt_log_service::LogConfig::default()
        }
        .with_gc_grace(std::time::Duration::from_millis(self.gc_grace_ms))
    }

    pub fn query_config(
        &self,
        default_cache_dir: std::path::PathBuf,
    ) -> silt_query_service::QueryConfig {
        let disk_dir =
            (self.cache_disk_mb > 0).then(|| self.cache_dir.clone().unwrap_or(default_cache_dir));
        silt_query_service::QueryConfig {
            cache: silt_query_service::CacheConfig {
                memory_bytes: self.cache_mb << 20,
                disk_dir,
                disk_bytes: self.cache_disk_mb << 20,
            },
            // Opened versions and cached log tails take small shares of the memory budget.
            opened_bytes: (self.cache_mb << 20) / 8,
            tail_bytes: (self.cache_mb << 20) / 8,
            nprobe: None,
        }
    }
}
