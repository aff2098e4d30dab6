//! The one place where error kinds become HTTP statuses and Chroma's `{error, message}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use silt_common::{ErrorKind, SiltError};

#[derive(Debug)]
pub struct ApiError(pub SiltError);

/// A 429 that says when to come back: the rate limiter knows, so the header is exact.
#[derive(Debug)]
pub struct RetryLater {
    pub message: String,
    pub after_seconds: u64,
}

impl IntoResponse for RetryLater {
    fn into_response(self) -> Response {
        let mut response = ApiError::new(ErrorKind::Backpressure, self.message).into_response();
        response
            .headers_mut()
            .insert("retry-after", self.after_seconds.max(1).into());
        response
    }
}

impl ApiError {
    pub fn quota(message: impl Into<String>) -> Self {
        ApiError(SiltError::new(ErrorKind::QuotaExceeded, message))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError(SiltError::invalid(message))
    }

    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError(SiltError::new(kind, message))
    }
}

impl<E: Into<SiltError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// Status and the error name Chroma's clients map to their exception classes.
fn status_and_name(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, "InvalidArgumentError"),
        ErrorKind::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, "InvalidArgumentError"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NotFoundError"),
        ErrorKind::AlreadyExists => (StatusCode::CONFLICT, "UniqueConstraintError"),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "BatchSizeExceededError"),
        // Chroma's own name for this refusal.
        ErrorKind::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "ChromaError"),
        ErrorKind::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "ChromaError"),
        ErrorKind::Backpressure => (StatusCode::TOO_MANY_REQUESTS, "RateLimitError"),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "AuthorizationError"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "AuthError"),
        ErrorKind::QuotaExceeded => (StatusCode::BAD_REQUEST, "QuotaError"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "InternalError"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, name) = status_and_name(self.0.kind);
        if status.is_server_error() {
            tracing::error!(kind = ?self.0.kind, error = %self.0.chain(), "request failed");
        }
        let body = Json(serde_json::json!({"error": name, "message": self.0.message}));
        let mut response = (status, body).into_response();
        // For the gateway's metrics, which count quota refusals by tenant.
        response.extensions_mut().insert(self.0.kind);
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Chroma's answer for an operation its server does not implement (its `Unimplemented` code):
/// 501, named `ChromaError`, which its clients raise as their base error class.
pub(crate) fn not_implemented(message: &str) -> Response {
    let body = Json(serde_json::json!({"error": "ChromaError", "message": message}));
    (StatusCode::NOT_IMPLEMENTED, body).into_response()
}

/// Chroma's error name for a status produced outside Silt's handlers (axum's rejections of a
/// path, a query string or a method, the server's timeouts).
fn name_of_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "AuthorizationError",
        403 => "AuthError",
        404 => "NotFoundError",
        409 => "UniqueConstraintError",
        413 => "BatchSizeExceededError",
        415 => "ChromaError",
        429 => "RateLimitError",
        501 => "ChromaError",
        500..=599 => "InternalError",
        _ => "InvalidArgumentError",
    }
}

/// Every error the gateway answers carries Chroma's `{error, message}` JSON body, including
/// the plain-text ones axum and the server layers produce; the status is kept.
pub(crate) async fn json_error_body(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string()
    } else {
        text
    };
    let body = serde_json::json!({"error": name_of_status(status), "message": message});
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}
