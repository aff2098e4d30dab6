//! A JSON body extractor whose every rejection is a Chroma error: too large → 413, not JSON →
//! 400, JSON of the wrong shape → 422.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use silt_common::ErrorKind;

use crate::error::ApiError;

pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorKind::TooLarge, format!("Request body too large: {e}"))
                } else {
                    ApiError::invalid(format!("Could not read request body: {e}"))
                }
            })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
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
