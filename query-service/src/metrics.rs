//! The query service's series: its cache (hits, misses and bytes each way, so a dashboard can
//! plot the hit ratio by count or by bytes) and the memory held by cached log tails.

use metrics::{counter, describe_counter, describe_gauge, gauge, Unit};

pub const CACHE_HITS: &str = "silt_query_cache_hits_total";
pub const CACHE_MISSES: &str = "silt_query_cache_misses_total";
pub const CACHE_ROUND_TRIPS: &str = "silt_query_cache_round_trips_total";
pub const CACHE_HIT_BYTES: &str = "silt_query_cache_hit_bytes_total";
pub const CACHE_MISS_BYTES: &str = "silt_query_cache_miss_bytes_total";
pub const TAIL_CACHE_BYTES: &str = "silt_query_tail_cache_bytes";

pub fn describe() {
    describe_counter!(
        CACHE_HITS,
        "Index byte ranges a query found in the cache (memory or disk)"
    );
    describe_counter!(
        CACHE_MISSES,
        "Index byte ranges a query had to read from the object store"
    );
    describe_counter!(
        CACHE_ROUND_TRIPS,
        "Sequential object-store round trips made to fill cache misses"
    );
    describe_counter!(CACHE_HIT_BYTES, Unit::Bytes, "Bytes served from the cache");
    describe_counter!(
        CACHE_MISS_BYTES,
        Unit::Bytes,
        "Bytes read from the object store on cache misses"
    );
    describe_gauge!(
        TAIL_CACHE_BYTES,
        Unit::Bytes,
        "Memory held by cached unindexed log tails"
    );
}

/// One cache lookup of several ranges.
pub(crate) fn cache_lookup(hits: usize, hit_bytes: usize) {
    counter!(CACHE_HITS).increment(hits as u64);
    counter!(CACHE_HIT_BYTES).increment(hit_bytes as u64);
}

/// The misses of one lookup, to be filled in one round trip.
pub(crate) fn cache_misses(misses: usize) {
    counter!(CACHE_MISSES).increment(misses as u64);
    counter!(CACHE_ROUND_TRIPS).increment(1);
}

pub(crate) fn cache_miss_bytes(bytes: usize) {
    counter!(CACHE_MISS_BYTES).increment(bytes as u64);
}

pub(crate) fn tail_cache_bytes(bytes: usize) {
    gauge!(TAIL_CACHE_BYTES).set(bytes as f64);
}
