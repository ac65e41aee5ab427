//! What can go wrong in the domain, in the domain's own words.
//!
//! Every feature has its own error type (`SourceError`, `AccountError`, …). Each says which [`Kind`] of
//! failure it is, and `http::error` turns kinds into status codes, once, for every feature. A websocket, a job
//! or the CLI calling the same domain reads the same kinds.

use std::fmt;

/// What kind of failure an error is, independent of any protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The input is wrong; the error names the field.
    Invalid,
    /// It does not exist, or the actor may not know that it does.
    NotFound,
    /// The actor is known but may not do this.
    Forbidden,
    /// No valid credential.
    Unauthenticated,
    /// It contradicts what is stored (a duplicate name, a connection that exists).
    Conflict,
    /// The change was made on a revision that is no longer the stored one.
    Stale,
    /// Too many attempts; try again later.
    RateLimited,
    /// A dependency (the database) is down or overloaded; try again shortly.
    Unavailable,
    /// A bug or an unexpected failure: logged, never shown.
    Internal,
}

/// An error of the domain: its kind, and what the kind alone does not say.
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> Kind;

    /// The input field that is wrong (`config.apiKey`), for `Invalid` and some `Conflict`s.
    fn field(&self) -> Option<&str> {
        None
    }

    /// For `RateLimited`: when to try again.
    fn retry_after_secs(&self) -> Option<u64> {
        None
    }

    /// For `Stale`: the revision that is stored now.
    fn current_revision(&self) -> Option<&str> {
        None
    }
}

/// Input that is wrong: which field, and why (never repeating the value: it may be a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

impl DomainError for Invalid {
    fn kind(&self) -> Kind {
        Kind::Invalid
    }

    fn field(&self) -> Option<&str> {
        Some(&self.field)
    }
}

/// The database failed. Unavailable when it cannot be reached (retry), internal otherwise.
#[derive(Debug, thiserror::Error)]
#[error("database: {0}")]
pub struct DbError(#[from] pub sqlx::Error);

impl DbError {
    /// Unavailable when the database cannot be reached or is saturated, internal otherwise.
    pub fn kind_of(error: &sqlx::Error) -> Kind {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Kind::Unavailable
            }
            _ => Kind::Internal,
        }
    }
}

impl DomainError for DbError {
    fn kind(&self) -> Kind {
        DbError::kind_of(&self.0)
    }
}

/// Lets `?` turn a query's `sqlx::Error` into a feature error's `Db(DbError)` variant.
macro_rules! db_variant_from_sqlx {
    ($error:ident) => {
        impl From<sqlx::Error> for $error {
            fn from(error: sqlx::Error) -> Self {
                $error::Db(error.into())
            }
        }
    };
}
pub(crate) use db_variant_from_sqlx;
