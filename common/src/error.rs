//! The error kinds that cross crate boundaries. Each crate keeps its own specific `thiserror`
//! enum and converts into `SiltError` at its public surface; the gateway maps each kind once to
//! an HTTP status and Chroma's `{error, message}` body.

use std::fmt;
use std::sync::Arc;

/// The few kinds a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or violates a rule (400).
    InvalidArgument,
    /// The request is well-formed but semantically unusable, e.g. wrong JSON types (422).
    Unprocessable,
    /// The named resource does not exist (404).
    NotFound,
    /// The resource already exists (409).
    AlreadyExists,
    /// The request body or batch is larger than allowed (413).
    TooLarge,
    /// The request body is not JSON as its Content-Type says (415). Refusing anything but
    /// `application/json` is what keeps a web page from writing through a user's browser: such
    /// a page can only send "simple" content types without a CORS preflight.
    UnsupportedMediaType,
    /// The client stopped sending its request before it was complete (408).
    RequestTimeout,
    /// The caller must slow down, e.g. the unindexed log tail is full (429).
    Backpressure,
    /// No credentials, or credentials that are not valid (401).
    Unauthenticated,
    /// Valid credentials that do not allow this request (403).
    Forbidden,
    /// The request is valid but over one of the tenant's quotas (400).
    QuotaExceeded,
    /// A dependency (object store, sysdb, another node) failed or timed out; retry later (503).
    Unavailable,
    /// A bug or a corrupted persisted object (500).
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unprocessable,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::TooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::RequestTimeout,
        ErrorKind::Backpressure,
        ErrorKind::Unauthenticated,
        ErrorKind::Forbidden,
        ErrorKind::QuotaExceeded,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// A stable name, used where kinds cross process boundaries.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Unprocessable => "unprocessable",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::Backpressure => "backpressure",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// An error as it crosses a crate boundary: a kind the caller can act on, a message for the
/// client, and the cause it came from, kept so that a 503 in the logs names the object-store or
/// catalog call that failed.
#[derive(Debug, Clone)]
pub struct SiltError {
    pub kind: ErrorKind,
    pub message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

pub type SiltResult<T> = Result<T, SiltError>;

impl SiltError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SiltError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` caused by `cause`; the message is the cause's own.
    pub fn caused_by(
        kind: ErrorKind,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        SiltError {
            kind,
            message: cause.to_string(),
            source: Some(Arc::new(cause)),
        }
    }

    /// Keeps `cause` as this error's source.
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// The causes below the message, outermost first. A cause whose text the message (or an
    /// outer cause) already quotes is skipped: many error types print their source inline.
    pub fn causes(&self) -> Vec<String> {
        let mut said = self.message.clone();
        let mut causes = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !said.contains(&text) {
                said.push_str(&text);
                causes.push(text);
            }
            next = cause.source();
        }
        causes
    }

    /// The message and every cause, for logs: `message: cause: cause`.
    pub fn chain(&self) -> String {
        std::iter::once(self.message.clone())
            .chain(self.causes())
            .collect::<Vec<_>>()
            .join(": ")
    }
}

impl fmt::Display for SiltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for SiltError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A cause that arrived from another process as text: the chain survives an internal call.
#[derive(Debug)]
pub struct RemoteCause {
    text: String,
    source: Option<Box<RemoteCause>>,
}

impl RemoteCause {
    /// The chain `causes` (outermost first) as linked errors; `None` when there are none.
    pub fn chain(causes: &[String]) -> Option<RemoteCause> {
        causes.iter().rev().fold(None, |inner, text| {
            Some(RemoteCause {
                text: text.clone(),
                source: inner.map(Box::new),
            })
        })
    }
}

impl fmt::Display for RemoteCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for RemoteCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Io;

    #[derive(Debug, thiserror::Error)]
    #[error("GET bucket/key failed")]
    struct Store(#[source] Io);

    #[test]
    fn the_chain_names_every_cause_once() {
        let e =
            SiltError::new(ErrorKind::Unavailable, "reading index version").with_source(Store(Io));
        assert_eq!(
            e.chain(),
            "reading index version: GET bucket/key failed: connection refused"
        );
        let inline = SiltError::caused_by(ErrorKind::Unavailable, Store(Io));
        assert_eq!(inline.chain(), "GET bucket/key failed: connection refused");
    }

    #[test]
    fn a_remote_chain_links_in_order() {
        let causes = vec!["a".to_string(), "b".to_string()];
        let e =
            SiltError::unavailable("top").with_source(RemoteCause::chain(&causes).expect("chain"));
        assert_eq!(e.causes(), causes);
    }
}
