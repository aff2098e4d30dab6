//! The serving half of the internal codec, shared by every role's internal endpoints.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors::{encode_error, CONTENT_TYPE};
use super::wire::{from_bytes, to_bytes, Wire};
use crate::{SiltError, SiltResult};

/// A call's result as an HTTP answer: the encoded value, or the error with its kind.
pub fn answer<T: Wire>(result: SiltResult<T>) -> Response {
    match result {
        Ok(v) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], to_bytes(&v)).into_response(),
        Err(e) => {
            let (status, body) = encode_error(&e);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, body).into_response()
        }
    }
}

/// Decodes a request body; a malformed one is the caller's bug, reported as invalid.
pub fn parse_message<T: Wire>(body: &[u8]) -> SiltResult<T> {
    from_bytes(body).map_err(|e| SiltError::invalid(format!("bad internal message: {e}")))
}
