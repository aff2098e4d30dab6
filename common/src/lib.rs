//! Shared pieces of Silt: the record model, the filter language, the persisted formats and the
//! object-store wrappers. Every component crate depends on this one; it depends on none of them.

pub mod api_key;
pub mod clock;
pub mod codec;
pub mod distance;
pub mod error;
pub mod filter;
pub mod hashing;
pub mod ids;
pub mod keys;
pub mod materialize;
pub mod metrics;
pub mod record;
pub mod routing;
pub mod rpc;
pub mod sparse_vector;
pub mod storage;
pub mod trace;

pub use error::{ErrorKind, RemoteCause, SiltError, SiltResult};
pub use ids::CollectionId;
