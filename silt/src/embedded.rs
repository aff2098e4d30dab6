//! The embedded default: every component in one process, wired through the same service traits
//! the distributed roles use over the network.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use silt_common::storage::{open_store, CountingStore, DynStore, S3Settings};
use silt_compactor::Compactor;
use silt_gateway::{spawn_usage_flusher, GatewayConfig, GatewayState, Limits};
use silt_log_service::{LogService, ObjectLog};
use silt_query_service::{QueryNode, QueryService};
use silt_sysdb::SysDb;

use crate::cli::RunArgs;
use crate::readiness::Readiness;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.path)
        .with_context(|| format!("creating {}", args.path.display()))?;
    let data = args.path.canonicalize()?;
    let objects = data.join("objects");
    let base = args.tuning.with_injected_latency(open_store(
        &objects.to_string_lossy(),
        &S3Settings::default(),
    )?);
    crate::metrics::install(args.tuning.metrics).context("installing the metrics recorder")?;
    // One store per component, so `/metrics` tells a write's requests from a query's.
    let counted = |component: &'static str| {
        Arc::new(CountingStore::for_component(base.clone(), component)) as DynStore
    };
    let log_store = counted("log");
    let query_store = counted("query");
    let compactor_store = counted("compactor");
    let sysdb = SysDb::connect(&format!("sqlite://{}", data.join("catalog.db").display()))
        .await
        .context("opening the catalog")?;

    let log_config = args.tuning.log_config();
    let maintenance = log_config.maintenance_interval();
    let object_log = ObjectLog::new(log_store, sysdb.clone(), log_config);
    let _log_maintenance = object_log.spawn_maintenance(maintenance);
    let log: Arc<dyn LogService> = Arc::new(object_log);
    let query_node = Arc::new(
        QueryNode::new(
            query_store,
            sysdb.clone(),
            log.clone(),
            args.tuning.query_config(data.join("cache")),
        )
        .await?,
    );
    let query: Arc<dyn QueryService> = query_node.clone();
    let compactor = Arc::new(Compactor::new(
        compactor_store,
        sysdb.clone(),
        log.clone(),
        args.tuning.compactor_config(),
    ));
    let _compaction = compactor.spawn();

    let state = GatewayState::new(
        sysdb.clone(),
        log,
        query,
        GatewayConfig {
            limits: Limits {
                max_batch_size: args.tuning.max_batch_size,
                ..Limits::embedded()
            },
            auth: args.auth,
            allow_reset: args.tuning.allow_reset,
            catalog_cache_ttl: Duration::from_millis(args.tuning.catalog_cache_ms),
        },
    );
    let usage = state.usage.clone();
    let readiness = Readiness::new(sysdb.clone(), base.clone());
    let usage_flusher = spawn_usage_flusher(usage.clone(), sysdb, args.tuning.usage_schedule());
    let app = silt_gateway::router(state);
    let (metrics, _tenant_metrics) = crate::usage::tenant_metrics(
        &usage,
        args.auth,
        args.tuning.tenant_metrics_addr.as_deref(),
    )
    .await?;
    let app = readiness.serve_on(metrics.serve_on(app));
    let addr = format!("{}:{}", args.host, args.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    tracing::info!(%addr, data = %data.display(), auth = args.auth, "Silt is running (embedded); Chroma clients can connect to http://{addr}");
    crate::serve::serve(
        listener,
        app,
        &args.tuning.serve_limits(),
        crate::roles::shutdown_signal(),
    )
    .await?;
    // The requests have drained: the last counts go to the catalog now, not never.
    if let Err(e) = usage_flusher.finish().await {
        tracing::warn!(error = %e, "could not record the last usage counts at shutdown");
    }
    // The disk cache is flushed so the next start finds it warm.
    query_node.close().await?;
    Ok(())
}
