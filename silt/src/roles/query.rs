//! `silt query`: executes reads. Holds a cache of the collections routed to it; reads the
//! unindexed tail from the log node that owns each collection.

use std::sync::Arc;

use silt_query_service::{QueryConfig, QueryNode};

use super::{with_healthz, Cluster, QUERY_ROLE};
use crate::cli::ClusterArgs;

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(args).await?;
    let node = QueryNode::new(
        cluster.store()?,
        cluster.sysdb.clone(),
        cluster.log_client()?,
        QueryConfig {
            cache_bytes: cluster.args.tuning.cache_mb << 20,
        },
    );
    let (listener, advertised) = cluster.bind(7200).await?;
    let registration = cluster.join(QUERY_ROLE, &advertised).await?;
    tracing::info!(address = %advertised, "query node is running");
    Cluster::serve(
        listener,
        with_healthz(silt_query_service::router(Arc::new(node))),
        registration,
    )
    .await
}
