//! Series of the pieces every role shares: object-store requests (`storage::CountingStore`) and
//! internal RPC calls (`rpc::RpcClient`). Recorded through the `metrics` facade: with no
//! recorder installed (`--metrics false`) each call is a no-op.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

pub const STORE_REQUESTS: &str = "silt_object_store_requests_total";
pub const STORE_BYTES: &str = "silt_object_store_bytes_total";
pub const STORE_DURATION: &str = "silt_object_store_request_duration_seconds";
pub const STORE_ERRORS: &str = "silt_object_store_errors_total";
pub const RPC_DURATION: &str = "silt_rpc_client_duration_seconds";
pub const RPC_CALLS: &str = "silt_rpc_client_calls_total";

/// Whether a recorder is installed. Only work done for metrics alone (sampling loops, clock
/// reads) asks: the facade's calls are already no-ops without a recorder.
static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub fn describe() {
    describe_counter!(
        STORE_REQUESTS,
        "Object-store requests, by component (log, query, compactor) and op (get, put, list, delete, copy)"
    );
    describe_counter!(
        STORE_BYTES,
        Unit::Bytes,
        "Object-store bytes by component and op: get (bytes answered) and put (bytes sent)"
    );
    describe_histogram!(
        STORE_DURATION,
        Unit::Seconds,
        "Object-store request latency by component and op (list and delete: until the listing or batch is consumed)"
    );
    describe_counter!(
        STORE_ERRORS,
        "Object-store requests that failed, by component, op and error (not_found, conflict: expected answers of probes and fenced writes; failed: anything else)"
    );
    describe_histogram!(
        RPC_DURATION,
        Unit::Seconds,
        "Internal RPC call latency, failovers included, by peer role and call path"
    );
    describe_counter!(
        RPC_CALLS,
        "Internal RPC calls by peer role, call path and result: ok, or the error's kind (Unavailable: no peer answered in time)"
    );
}

/// How a failed object-store request is labelled.
pub fn store_error_label(e: &object_store::Error) -> &'static str {
    match e {
        object_store::Error::NotFound { .. } => "not_found",
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            "conflict"
        }
        _ => "failed",
    }
}

pub fn store_request(component: &'static str, op: &'static str) {
    counter!(STORE_REQUESTS, "component" => component, "op" => op).increment(1);
}

pub fn store_bytes(component: &'static str, op: &'static str, bytes: u64) {
    counter!(STORE_BYTES, "component" => component, "op" => op).increment(bytes);
}

pub fn store_latency(component: &'static str, op: &'static str, took: Duration) {
    histogram!(STORE_DURATION, "component" => component, "op" => op).record(took.as_secs_f64());
}

pub fn store_error(component: &'static str, op: &'static str, error: &'static str) {
    counter!(STORE_ERRORS, "component" => component, "op" => op, "error" => error).increment(1);
}

/// One finished internal call: its latency, and its result (`ok` or the error's kind).
pub fn rpc_call<T>(peer: &str, call: &str, took: Duration, result: &crate::SiltResult<T>) {
    let (peer, call) = (peer.to_string(), call.to_string());
    histogram!(RPC_DURATION, "peer" => peer.clone(), "call" => call.clone())
        .record(took.as_secs_f64());
    let result = match result {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{:?}", e.kind),
    };
    counter!(RPC_CALLS, "peer" => peer, "call" => call, "result" => result).increment(1);
}

/// Registers the `failed` error series of a component's store at zero, so that a dashboard
/// plots "no failures" rather than "no data".
pub fn register_store_errors(component: &'static str) {
    for op in ["get", "put", "list", "delete", "copy"] {
        counter!(STORE_ERRORS, "component" => component, "op" => op, "error" => "failed")
            .increment(0);
    }
}
