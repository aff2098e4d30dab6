//! Silt's benchmark tool. Deterministic counts first: object-store requests and
//! bytes, measured through the counting store wrapper in the same run as anything timed.
//! `compare` drives running servers (Silt and Chroma) over Chroma's HTTP API, side by side.

// A benchmark measures wall time: the ambient clock is the point here, in every module.
#![allow(clippy::disallowed_methods)]

pub mod compare;
pub mod costs;
pub mod data;
pub mod dataset;
pub mod index_quality;
pub mod log_counts;
pub mod many_collections;
pub mod npy;
pub mod stats;
