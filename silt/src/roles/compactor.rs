//! `silt compactor`: builds index versions and collects garbage. Several compactors split the
//! collections between them by rendezvous hash over the live ones.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use silt_compactor::{Compactor, CompactorConfig, Peers};

use super::{with_healthz, Cluster};
use crate::cli::ClusterArgs;
use crate::metrics::Metrics;

pub const ROLE: &str = "compactor";

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(args).await?;
    let (listener, advertised) = cluster.bind(7300).await?;
    let registration = cluster.join(ROLE, &advertised).await?;
    let (store, stats) = cluster.store()?;
    let compactor = Compactor::new(
        store,
        cluster.sysdb.clone(),
        cluster.log_client()?,
        CompactorConfig {
            interval: Duration::from_millis(cluster.args.tuning.compaction_interval_ms),
            min_tail_records: cluster.args.tuning.compaction_min_records,
            max_tail_age: Duration::from_millis(cluster.args.tuning.compaction_max_age_ms),
            gc_grace: Duration::from_millis(cluster.args.tuning.gc_grace_ms),
            ..CompactorConfig::default()
        },
    )
    .with_peers(Peers {
        nodes: cluster.compactor_nodes(),
        self_id: registration.id().to_string(),
    });
    let _rounds = Arc::new(compactor).spawn();
    tracing::info!(address = %advertised, "compactor is running");
    Cluster::serve(
        listener,
        with_healthz(Router::new(), Metrics::default().store("compactor", stats)),
        registration,
    )
    .await
}
