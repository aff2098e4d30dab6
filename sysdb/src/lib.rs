//! The catalog: tenants, databases, collections, index versions and log
//! positions, on SQLite (embedded) or Postgres (distributed) through one sqlx code path.

mod collections;
mod connect;
mod error;
mod forks;
mod health;
mod keys;
mod log_fence;
mod log_gc;
mod membership;
pub mod metrics;
mod model;
mod nodes;
mod tenants;
mod usage;
mod versions;

pub use collections::LaggingTail;
pub use connect::SysDb;
pub use error::SysDbError;
pub use forks::ForkStart;
pub use health::{CollectionName, Compaction, CompactionFailure, Lagging, VersionSize};
pub use keys::{Access, ApiKey, KeyScope};
pub use log_fence::LogCommit;
pub use log_gc::LogGarbage;
pub use membership::{Heartbeat, LiveNodes, MembershipConfig, Registration};
pub use model::{Collection, CollectionUpdate, Database, NewCollection, VersionRecord};
pub use nodes::NodeRecord;
pub use usage::{Activity, TenantUsage};

pub const DEFAULT_TENANT: &str = "default_tenant";
pub const DEFAULT_DATABASE: &str = "default_database";
