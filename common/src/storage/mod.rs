//! Object storage: one `ObjectStore` built from a URI at start-up, with stacked wrappers for
//! request counting and fault injection, and the create-only write every writer fences with.

mod aws_credentials;
mod counting;
mod faults;
mod fencing;
mod open;

pub use aws_credentials::AwsChainCredentials;
pub use counting::{CountingStore, StoreStats, StoreStatsSnapshot};
pub use faults::{Crash, DiskSpace, FaultPlan, FaultyStore, Hold};
pub use fencing::{put_if_absent, FenceError};
pub use open::{open_store, S3Settings, StoreError};

use std::sync::Arc;

pub type DynStore = Arc<dyn object_store::ObjectStore>;
