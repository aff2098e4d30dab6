//! The public HTTP API, compatible with Chroma's v2 API so that Chroma's own clients work
//! unchanged. Every route runs behind the tenancy guard (keys, access, quotas, rate limits);
//! handlers are thin: they parse the request, call the frontend service (`frontend/`: one
//! catalog read of the collection, validation, quotas, then the log or query service through
//! their traits) and shape the answer.

mod body;
mod console;
mod error;
mod frontend;
mod limits;
pub mod metrics;
mod request_id;
mod routes;
pub mod schema;
mod tenancy;
mod ttl_cache;
mod usage;
mod validate;
mod wire;

pub use error::ApiError;
pub use limits::Limits;
pub use routes::{route_specs, router, RouteSpec};
pub use tenancy::{authorize, RouteAccess};
pub use usage::{spawn_usage_flusher, UsageFlusher, UsageMeter, UsageSchedule};

/// The rule the API applies to tenant names, for tools that create tenants directly.
pub fn validate_tenant_name(name: &str) -> Result<(), ApiError> {
    validate::plain_name("tenant", name)
}

use std::sync::Arc;
use std::time::Duration;

use silt_log_service::LogService;
use silt_query_service::QueryService;
use silt_sysdb::SysDb;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Default limits; operators override them per tenant in the catalog.
    pub limits: Limits,
    /// Require an API key on every route but heartbeat, version and healthcheck.
    pub auth: bool,
    /// Enables `POST /api/v2/reset` (test suites only; never for API keys).
    pub allow_reset: bool,
    /// How long keys and quotas read from the catalog are remembered.
    pub catalog_cache_ttl: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            limits: Limits::default(),
            auth: false,
            allow_reset: false,
            catalog_cache_ttl: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct GatewayState {
    pub sysdb: SysDb,
    pub log: Arc<dyn LogService>,
    pub query: Arc<dyn QueryService>,
    pub allow_reset: bool,
    pub(crate) tenancy: Arc<tenancy::Tenancy>,
    /// Per-tenant activity counts (metering); the server flushes them to the catalog.
    pub usage: Arc<UsageMeter>,
}

impl GatewayState {
    pub fn new(
        sysdb: SysDb,
        log: Arc<dyn LogService>,
        query: Arc<dyn QueryService>,
        config: GatewayConfig,
    ) -> Self {
        let tenancy = tenancy::Tenancy::new(
            sysdb.clone(),
            config.auth,
            config.limits,
            config.catalog_cache_ttl,
        );
        GatewayState {
            sysdb,
            log,
            query,
            allow_reset: config.allow_reset,
            tenancy: Arc::new(tenancy),
            usage: Arc::new(UsageMeter::default()),
        }
    }
}
