//! The operations every front end offers (the API, the pages, the command
//! line, the worker): validation, authorization, transactions and the SLA
//! clocks, between the front ends and storage. Nothing here knows HTTP.

pub mod accounts;
pub mod calendars;
pub mod filing;
pub mod inspections;
pub mod mail;
pub mod ops;
pub mod outbox;
pub mod reports;
pub mod sessions;
pub mod tickets;
pub mod withdrawals;

use sea_orm::DbErr;

use crate::domain::Invalid;
use crate::domain::ticket::NotAllowed;
pub use crate::store::Outage;

/// Why an operation was refused or failed; each front end says it its own way.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such record, or not in the caller's scope (existence does not leak).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A field (or the request) breaks a rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A malformed query (a cursor not given out by the service, a bad range).
    #[error("{0}")]
    BadRequest(String),
    /// The ticket's state does not allow the action.
    #[error(transparent)]
    Transition(#[from] NotAllowed),
    /// Too late for this: a closed ticket past its reopening period.
    #[error("{en}")]
    TooLate {
        /// What to tell people.
        zh: String,
        /// What to tell clients.
        en: String,
    },
    /// The record exists, or is already in the state asked for.
    #[error("{0}")]
    Conflict(String),
    /// The record changed since the caller read it.
    #[error("{0}")]
    Stale(String),
    /// An Idempotency-Key used again with another request.
    #[error("this Idempotency-Key was already used with a different request body")]
    IdempotencyKeyReused,
    /// Too many attempts; try again after `retry_after` seconds.
    #[error("{detail}")]
    Throttled {
        /// What to tell the caller.
        detail: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Wrong username or password (one answer for both: no enumeration).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The record is busy with other writers; try again.
    #[error("{0}")]
    Busy(String),
    /// The database is away or cannot store anything: worth trying again.
    #[error("the database is unavailable: {error}")]
    Unavailable {
        /// Which kind of outage.
        outage: Outage,
        /// The database's own words, for the log.
        error: DbErr,
    },
    /// The database failed in a way that is a bug.
    #[error(transparent)]
    Db(DbErr),
    /// A bug or a broken invariant; the detail is for the log only.
    #[error("{0}")]
    Internal(String),
}

/// What every service operation returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        match crate::store::outage(&error) {
            Some(outage) => Self::Unavailable { outage, error },
            None => Self::Db(error),
        }
    }
}

impl Error {
    /// A refusal for the caller's role.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(detail.into())
    }

    /// A bug: the detail goes to the log, never to a client.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}
