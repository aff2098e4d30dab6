use silt_common::{ErrorKind, SiltError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SysDbError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("catalog database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("catalog migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("catalog row is corrupt: {0}")]
    Corrupt(String),
}

impl SysDbError {
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }

    /// A unique-constraint violation becomes `AlreadyExists(message)`; anything else stays a
    /// database error.
    pub(crate) fn exists_or(
        message: impl FnOnce() -> String,
    ) -> impl FnOnce(sqlx::Error) -> SysDbError {
        move |e| {
            if Self::is_unique_violation(&e) {
                SysDbError::AlreadyExists(message())
            } else {
                e.into()
            }
        }
    }
}

impl From<SysDbError> for SiltError {
    fn from(e: SysDbError) -> Self {
        let kind = match &e {
            SysDbError::NotFound(_) => ErrorKind::NotFound,
            SysDbError::AlreadyExists(_) => ErrorKind::AlreadyExists,
            SysDbError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                ErrorKind::Unavailable
            }
            SysDbError::Database(_) | SysDbError::Migrate(_) | SysDbError::Corrupt(_) => {
                ErrorKind::Internal
            }
        };
        SiltError::new(kind, e.to_string())
    }
}
