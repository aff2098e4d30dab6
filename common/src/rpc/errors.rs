//! Errors on the wire: the HTTP status says the kind at a glance; the body carries the exact
//! kind and message so the caller re-raises the same `SiltError`.

use serde_json::{json, Value};

use crate::{ErrorKind, RemoteCause, SiltError};

pub const CONTENT_TYPE: &str = "application/x-silt-wire";

fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::InvalidArgument | ErrorKind::QuotaExceeded => 400,
        ErrorKind::Unauthenticated => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::AlreadyExists => 409,
        ErrorKind::TooLarge => 413,
        ErrorKind::UnsupportedMediaType => 415,
        ErrorKind::RequestTimeout => 408,
        ErrorKind::Unprocessable => 422,
        ErrorKind::Backpressure => 429,
        ErrorKind::Internal => 500,
        ErrorKind::Unavailable => 503,
    }
}

/// Status and JSON body for an error answered by an internal endpoint.
pub fn encode_error(e: &SiltError) -> (u16, Vec<u8>) {
    let body = json!({"kind": e.kind.name(), "message": e.message, "causes": e.causes()});
    (status_of(e.kind), body.to_string().into_bytes())
}

/// The error an internal endpoint answered with. A body that is not ours (a proxy's page, a
/// truncated answer) still maps to a kind by its status.
pub fn decode_error(status: u16, body: &[u8]) -> SiltError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let kind = parsed
        .as_ref()
        .and_then(|v| v.get("kind")?.as_str())
        .and_then(ErrorKind::from_name)
        .unwrap_or(match status {
            400 => ErrorKind::InvalidArgument,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::AlreadyExists,
            413 => ErrorKind::TooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            429 => ErrorKind::Backpressure,
            500 => ErrorKind::Internal,
            _ => ErrorKind::Unavailable,
        });
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("internal call failed with status {status}"));
    let causes: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v.get("causes")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    let error = SiltError::new(kind, message);
    match RemoteCause::chain(&causes) {
        Some(chain) => error.with_source(chain),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        for kind in ErrorKind::ALL {
            let (status, body) = encode_error(&SiltError::new(kind, "boom"));
            let back = decode_error(status, &body);
            assert_eq!(back.kind, kind);
            assert_eq!(back.message, "boom");
        }
        assert_eq!(decode_error(502, b"<html>").kind, ErrorKind::Unavailable);
    }

    #[test]
    fn causes_cross_the_wire() {
        let cause = RemoteCause::chain(&["GET v/1/head.bin".into(), "timed out".into()]);
        let e = SiltError::unavailable("reading index version").with_source(cause.expect("chain"));
        let (status, body) = encode_error(&e);
        let back = decode_error(status, &body);
        assert_eq!(
            back.chain(),
            "reading index version: GET v/1/head.bin: timed out"
        );
    }
}
