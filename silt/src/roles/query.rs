//! `silt query`: executes reads. Holds a cache of the collections routed to it; reads the
//! unindexed tail from the log node that owns each collection.

use std::sync::Arc;

use silt_query_service::QueryNode;

use super::{with_healthz, Cluster, QUERY_ROLE};
use crate::cli::ClusterArgs;
use crate::metrics::Metrics;

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(args).await?;
    let default_dir = std::env::temp_dir().join(format!("silt-query-cache-{}", std::process::id()));
    let config = cluster.args.tuning.query_config(default_dir);
    let (store, _) = cluster.store(QUERY_ROLE)?;
    let node = Arc::new(
        QueryNode::new(store, cluster.sysdb.clone(), cluster.log_client()?, config).await?,
    );
    let metrics = Metrics::default();
    let (listener, advertised) = cluster.bind(7200).await?;
    let registration = cluster.join(QUERY_ROLE, &advertised).await?;
    tracing::info!(address = %advertised, "query node is running");
    cluster
        .serve(
            listener,
            with_healthz(
                silt_query_service::router(node.clone()).layer(axum::middleware::from_fn(
                    silt_common::rpc::within_caller_request,
                )),
                metrics,
            ),
            registration,
        )
        .await?;
    // The disk cache is flushed before the runtime stops, so a restarted node finds it warm.
    node.close().await?;
    Ok(())
}
