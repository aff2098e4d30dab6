//! The public HTTP API, compatible with Chroma's v2 API so that Chroma's own clients work
//! unchanged. Handlers are thin: they parse and validate, then call the catalog, the log service
//! and the query service through their traits.

mod body;
mod error;
mod limits;
mod routes;
mod validate;
mod wire;

pub use error::ApiError;
pub use limits::Limits;
pub use routes::router;

use std::sync::Arc;

use silt_log_service::LogService;
use silt_query_service::QueryService;
use silt_sysdb::SysDb;

#[derive(Clone)]
pub struct GatewayState {
    pub sysdb: SysDb,
    pub log: Arc<dyn LogService>,
    pub query: Arc<dyn QueryService>,
    pub limits: Limits,
    /// Enables `POST /api/v2/reset` (test suites only).
    pub allow_reset: bool,
}
