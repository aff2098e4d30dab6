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
            tracing::error!(kind = ?self.0.kind, message = %self.0.message, "request failed");
        }
        let body = Json(serde_json::json!({"error": name, "message": self.0.message}));
        let mut response = (status, body).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
