//! `silt compactor`: builds index versions and collects garbage. Several compactors split the
//! collections between them by rendezvous hash over the live ones.

use std::sync::Arc;

use axum::Router;
use silt_compactor::{Compactor, Peers};

use super::{with_healthz, Cluster};
use crate::cli::ClusterArgs;
use crate::metrics::Metrics;

pub const ROLE: &str = "compactor";

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(args).await?;
    let (listener, advertised) = cluster.bind(7300).await?;
    let registration = cluster.join(ROLE, &advertised).await?;
    let (store, _) = cluster.store(ROLE)?;
    let compactor = Compactor::new(
        store,
        cluster.sysdb.clone(),
        cluster.log_client()?,
        cluster.args.tuning.compactor_config(),
    )
    .with_peers(Peers {
        nodes: cluster.compactor_nodes(),
        self_id: registration.id().to_string(),
    });
    let _rounds = Arc::new(compactor).spawn();
    tracing::info!(address = %advertised, "compactor is running");
    cluster
        .serve(
            listener,
            with_healthz(Router::new(), Metrics::default()),
            registration,
        )
        .await
}
