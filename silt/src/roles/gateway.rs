//! `silt gateway`: the public, Chroma-compatible API. Stateless apart from short-lived catalog
//! caches; writes go to log nodes and reads to query nodes through their network clients.

use std::time::Duration;

use silt_gateway::{spawn_usage_flusher, GatewayConfig, GatewayState, Limits};

use super::Cluster;
use crate::cli::ClusterArgs;

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(args).await?;
    let tuning = &cluster.args.tuning;
    let auth = !cluster.args.insecure_no_auth;
    let state = GatewayState::new(
        cluster.sysdb.clone(),
        cluster.log_client()?,
        cluster.query_client()?,
        GatewayConfig {
            limits: Limits {
                max_batch_size: tuning.max_batch_size,
                ..Limits::default()
            },
            auth,
            allow_reset: tuning.allow_reset,
            catalog_cache_ttl: Duration::from_millis(tuning.catalog_cache_ms),
        },
    );
    let (listener, advertised) = cluster.bind(8000).await?;
    let registration = cluster.join("gateway", &advertised).await?;
    if !auth {
        tracing::warn!("API keys are NOT required (--insecure-no-auth)");
    }
    tracing::info!(address = %advertised, auth, "gateway is running; Chroma clients can connect to it");
    let usage = state.usage.clone();
    let flusher = spawn_usage_flusher(
        usage.clone(),
        cluster.sysdb.clone(),
        tuning.usage_schedule(),
    );
    // `/metrics` outside the route table, as in `silt run`.
    let (metrics, _tenant_metrics) =
        crate::usage::tenant_metrics(&usage, auth, tuning.tenant_metrics_addr.as_deref()).await?;
    let app = metrics.serve_on(silt_gateway::router(state));
    let served = cluster.serve(listener, app, registration).await;
    // The requests have drained: the last counts go to the catalog now, not never.
    if let Err(e) = flusher.finish().await {
        tracing::warn!(error = %e, "could not record the last usage counts at shutdown");
    }
    served
}
