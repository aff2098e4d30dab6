//! `silt log`: the write-ahead log. Holds the tails of the collections routed to it; any log
//! node can take over any collection, because the log itself lives in object storage.

use std::sync::Arc;

use silt_log_service::ObjectLog;

use super::{with_healthz, Cluster, LOG_ROLE};
use crate::cli::ClusterArgs;
use crate::metrics::Metrics;

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(args).await?;
    let (store, _) = cluster.store(LOG_ROLE)?;
    let config = cluster.args.tuning.log_config();
    let maintenance = config.maintenance_interval();
    let log = ObjectLog::new(store, cluster.sysdb.clone(), config);
    let _maintenance = log.spawn_maintenance(maintenance);
    let (listener, advertised) = cluster.bind(7100).await?;
    let registration = cluster.join(LOG_ROLE, &advertised).await?;
    tracing::info!(address = %advertised, "log node is running");
    cluster
        .serve(
            listener,
            with_healthz(
                silt_log_service::router(Arc::new(log)).layer(axum::middleware::from_fn(
                    silt_common::rpc::within_caller_request,
                )),
                Metrics::default(),
            ),
            registration,
        )
        .await
}
