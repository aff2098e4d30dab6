//! Moving data in and out of Silt over the public HTTP API: `silt migrate` (server to server,
//! resumable), `silt export` and `silt import` (Parquet files, locally or on an object store).
//! See docs/migration.md.

pub mod args;
mod client;
mod destination;
mod error;
mod export;
mod import;
mod layout;
mod manifest;
mod migrate;
mod objects;
mod parquet_io;
mod progress;
mod records;
mod select;
mod state;
mod verify;

pub use export::run as export;
pub use import::run as import;
pub use migrate::run as migrate;
