//! The distributed roles: one process each, sharing only the object store and the Postgres
//! catalog. Every role registers in the catalog's membership table and heartbeats; gateways,
//! query nodes and compactors find log and query nodes there and route by rendezvous hash.

mod compactor;
mod gateway;
mod log;
mod query;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use silt_common::routing::NodeSource;
use silt_common::rpc::{RpcClient, RpcConfig};
use silt_common::storage::{open_store, CountingStore, DynStore, S3Settings, StoreStats};
use silt_log_service::{LogClient, LogService};
use silt_query_service::{QueryClient, QueryService};
use silt_sysdb::{LiveNodes, MembershipConfig, Registration, SysDb};
use tokio::net::TcpListener;

use crate::cli::ClusterArgs;
use crate::metrics::Metrics;
use crate::readiness::Readiness;

pub use compactor::run as run_compactor;
pub use gateway::run as run_gateway;
pub use log::run as run_log;
pub use query::run as run_query;

pub const LOG_ROLE: &str = "log";
pub const QUERY_ROLE: &str = "query";

/// What every role starts from: its flags, the catalog and the cluster's timing settings.
pub(crate) struct Cluster {
    pub args: ClusterArgs,
    pub sysdb: SysDb,
    pub membership: MembershipConfig,
    pub rpc: RpcConfig,
}

impl Cluster {
    pub async fn connect(args: ClusterArgs) -> anyhow::Result<Cluster> {
        if !args.catalog.starts_with("postgres") {
            tracing::warn!(catalog = %args.catalog, "distributed roles expect a Postgres catalog shared by every node");
        }
        crate::metrics::install(args.tuning.metrics).context("installing the metrics recorder")?;
        let sysdb = SysDb::connect(&args.catalog)
            .await
            .context("opening the catalog")?;
        let heartbeat = Duration::from_millis(args.heartbeat_ms.max(50));
        let membership = MembershipConfig {
            heartbeat,
            timeout: Duration::from_millis(args.membership_timeout_ms).max(heartbeat * 2),
            refresh: heartbeat,
        };
        let rpc = RpcConfig {
            attempt_timeout: Duration::from_millis(args.rpc_timeout_ms),
            deadline: Duration::from_millis(args.rpc_timeout_ms) * 3,
            ..RpcConfig::default()
        };
        Ok(Cluster {
            args,
            sysdb,
            membership,
            rpc,
        })
    }

    /// The object store, and the counts of the requests this role makes through it (labelled
    /// `component` on `/metrics`).
    pub fn store(&self, component: &'static str) -> anyhow::Result<(DynStore, Arc<StoreStats>)> {
        let store = open_store(&self.args.store, &self.s3_settings())
            .with_context(|| format!("opening the object store {}", self.args.store))?;
        let counting =
            CountingStore::for_component(self.args.tuning.with_injected_latency(store), component);
        let stats = counting.stats();
        Ok((Arc::new(counting), stats))
    }

    fn s3_settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.args.s3_endpoint.clone(),
            region: self.args.s3_region.clone(),
            ..S3Settings::default()
        }
    }

    fn nodes(&self, role: &str) -> Arc<dyn NodeSource> {
        Arc::new(LiveNodes::new(
            self.sysdb.clone(),
            role,
            self.membership.clone(),
        ))
    }

    pub fn log_client(&self) -> anyhow::Result<Arc<dyn LogService>> {
        let rpc = RpcClient::new(self.nodes(LOG_ROLE), self.rpc.clone())?;
        Ok(Arc::new(LogClient::new(rpc)))
    }

    pub fn query_client(&self) -> anyhow::Result<Arc<dyn QueryService>> {
        let rpc = RpcClient::new(self.nodes(QUERY_ROLE), self.rpc.clone())?;
        Ok(Arc::new(QueryClient::new(rpc)))
    }

    pub fn compactor_nodes(&self) -> Arc<dyn NodeSource> {
        self.nodes(compactor::ROLE)
    }

    /// Binds the role's port; the address is known (and reachable) before the node joins.
    pub async fn bind(&self, default_port: u16) -> anyhow::Result<(TcpListener, String)> {
        let port = self.args.port.unwrap_or(default_port);
        let addr = format!("{}:{}", self.args.host, port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let bound = listener.local_addr()?;
        if bound.ip().is_unspecified() && self.args.advertise_url.is_none() {
            anyhow::bail!(
                "listening on {bound}: other nodes cannot reach that address; pass --advertise-url"
            );
        }
        let advertised = self
            .args
            .advertise_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        Ok((listener, advertised))
    }

    /// `/readyz` for this node: catalog, store (opened again without request counting, so
    /// probes do not show as traffic) and its membership heartbeat.
    fn readiness(&self, registration: &Registration) -> anyhow::Result<Readiness> {
        let store = open_store(&self.args.store, &self.s3_settings())
            .with_context(|| format!("opening the object store {}", self.args.store))?;
        Ok(Readiness::new(self.sysdb.clone(), store).member(registration.heartbeat()))
    }

    pub async fn join(&self, role: &str, advertised: &str) -> anyhow::Result<Registration> {
        Registration::join(self.sysdb.clone(), role, advertised, &self.membership)
            .await
            .context("registering in the membership table")
    }

    /// Serves `app` until SIGTERM or Ctrl-C, then leaves the membership so routing stops at
    /// once.
    pub async fn serve(
        &self,
        listener: TcpListener,
        app: Router,
        registration: Registration,
    ) -> anyhow::Result<()> {
        let app = self.readiness(&registration)?.serve_on(app);
        crate::serve::serve(
            listener,
            app,
            &self.args.tuning.serve_limits(),
            shutdown_signal(),
        )
        .await?;
        registration.leave().await;
        Ok(())
    }
}

/// `/healthz` and `/metrics` for the internal roles (the gateway declares its health route in
/// its route table).
pub(crate) fn with_healthz(app: Router, metrics: Metrics) -> Router {
    metrics.serve_on(app.route("/healthz", get(|| async { "ok" })))
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
