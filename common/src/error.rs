//! The error kinds that cross crate boundaries. Each crate keeps its own specific `thiserror`
//! enum and converts into `SiltError` at its public surface; the gateway maps each kind once to
//! an HTTP status and Chroma's `{error, message}` body.

use std::fmt;

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
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unprocessable,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::TooLarge,
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

#[derive(Debug, Clone)]
pub struct SiltError {
    pub kind: ErrorKind,
    pub message: String,
}

pub type SiltResult<T> = Result<T, SiltError>;

impl SiltError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SiltError {
            kind,
            message: message.into(),
        }
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
}

impl fmt::Display for SiltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for SiltError {}
