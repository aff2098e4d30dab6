//! The compactor: folds a collection's log tail into a new immutable index
//! version, registers it with one compare-and-swap in the catalog, and collects what no current
//! version references once a grace period has passed.

mod build;
mod error;
mod gc;
pub mod metrics;
mod scheduler;
mod version;

pub use build::{Compactor, CompactorConfig, Outcome, Peers};
pub use error::CompactError;
pub use version::{Clustering, FLAT_MAX_RECORDS, TARGET_CLUSTER_SIZE};
