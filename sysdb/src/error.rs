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
            SysDbError::Database(db) if is_transient(db) => ErrorKind::Unavailable,
            SysDbError::Database(_) | SysDbError::Migrate(_) | SysDbError::Corrupt(_) => {
                ErrorKind::Internal
            }
        };
        SiltError::caused_by(kind, e)
    }
}

/// Errors that say the catalog cannot serve right now rather than that the request or the
/// schema is wrong: retrying later can succeed, so they are 503s, never 500s.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
        _ => false,
    }
}

/// SQLite's primary result codes (the low byte of an extended code) and Postgres's SQLSTATEs
/// for a full disk, a busy or locked database, I/O failures and a server going away.
fn transient_code(code: &str) -> bool {
    // A SQLSTATE is always five characters; SQLite's extended codes have at most four digits.
    if code.len() != 5 {
        let Ok(sqlite) = code.parse::<i64>() else {
            return false;
        };
        // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_NOMEM 7, SQLITE_IOERR 10, SQLITE_FULL 13,
        // SQLITE_CANTOPEN 14.
        return matches!(sqlite & 0xff, 5 | 6 | 7 | 10 | 13 | 14);
    }
    // 08: connection exceptions; 53: insufficient resources (disk full, out of memory, too
    // many connections); 57P0x: the server is shutting down or starting; 40001/40P01: a
    // serialization failure or deadlock the client may retry.
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P0")
        || code == "40001"
        || code == "40P01"
}

#[cfg(test)]
mod tests {
    use super::transient_code;

    #[test]
    fn full_busy_and_gone_are_transient() {
        for code in [
            "13", "5", "6", "10", "266", "53100", "57P01", "08006", "40001",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["19", "2067", "1", "23505", "42P01", "22P02"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
