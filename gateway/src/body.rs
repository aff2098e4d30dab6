//! A JSON body extractor whose every rejection is a Chroma error: not declared as JSON → 415,
//! too large → 413, not JSON → 400, JSON of the wrong shape → 422.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use silt_common::ErrorKind;

use crate::error::ApiError;

pub struct Body<T>(pub T);

/// `application/json` or any `+json` type, parameters (charset) allowed.
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

/// Whether reading the body failed because the client stopped sending it (the server's body
/// timeout), rather than because it was malformed.
fn timed_out(e: &BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_declared = declares_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorKind::TooLarge, format!("Request body too large: {e}"))
                } else if timed_out(&e) {
                    ApiError::new(
                        ErrorKind::RequestTimeout,
                        "The request body stopped arriving (--body-timeout-ms)",
                    )
                } else {
                    ApiError::invalid(format!("Could not read request body: {e}"))
                }
            })?;
        // An empty body carries nothing a cross-site page could forge, and some clients send
        // bodiless requests without a Content-Type; anything else must say it is JSON. Browsers
        // send text/plain, form types or no type at all without a CORS preflight, so this check
        // is what stops a web page from writing to a local server.
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if !json_declared {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "Expected request with `Content-Type: application/json`",
            ));
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(Body)
            .map_err(|e| match e.classify() {
                Category::Data => {
                    ApiError::new(ErrorKind::Unprocessable, format!("Invalid request: {e}"))
                }
                _ => ApiError::invalid(format!("Invalid JSON in request body: {e}")),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(t).expect("header"));
        h
    }

    #[test]
    fn only_json_types_are_json() {
        assert!(declares_json(&with_type("application/json")));
        assert!(declares_json(&with_type("application/json; charset=utf-8")));
        assert!(declares_json(&with_type("Application/JSON")));
        assert!(declares_json(&with_type("application/merge-patch+json")));
        assert!(!declares_json(&with_type("text/plain")));
        assert!(!declares_json(&with_type(
            "text/plain; charset=application/json"
        )));
        assert!(!declares_json(&with_type(
            "application/x-www-form-urlencoded"
        )));
        assert!(!declares_json(&with_type(
            "multipart/form-data; boundary=x"
        )));
        assert!(!declares_json(&HeaderMap::new()));
    }
}
