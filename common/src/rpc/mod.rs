//! Internal traffic between Silt's roles: one binary codec (`Wire`, over the same
//! reader/writer as the persisted formats), one HTTP client that routes by rendezvous hash with
//! timeouts and bounded failover, and one mapping of error kinds to statuses.

mod client;
mod errors;
mod server;
mod wire;

pub use client::{Delivery, RpcClient, RpcConfig};
pub use errors::{decode_error, encode_error, CONTENT_TYPE};
pub use server::{
    answer, parse_message, within_caller_deadline, within_caller_request, TIMEOUT_HEADER,
};
pub use wire::{from_bytes, to_bytes, Wire};
