//! What can go wrong with the ledger table. None of it is the caller's input: the table did
//! not answer, kept changing, or holds an entry this version cannot read.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thiserror::Error;

/// How often a writer reads and writes an entry again after a conflicting write before it
/// gives up (the intake leaves the record for the queue to redeliver; the CLI says so).
pub const MAX_CONFLICTS: usize = 5;

/// Why an entry could not be read or written.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The table did not answer, or refused for a reason of ours (throttling, permissions, a
    /// table or index that does not exist).
    #[error("the ledger's {operation} failed: {detail}")]
    Unavailable {
        /// The DynamoDB operation.
        operation: &'static str,
        /// What it said.
        detail: String,
    },
    /// Another writer changed the entry every time: left for a later attempt.
    #[error("the ledger entry {key} changed under {MAX_CONFLICTS} writes in a row")]
    Contended {
        /// The entry's key.
        key: String,
    },
    /// A stored entry the core cannot read: written by something else, or corrupted.
    #[error("the ledger entry {key} cannot be read: {detail}")]
    Unreadable {
        /// The entry's key.
        key: String,
        /// What was wrong.
        detail: String,
    },
}

impl LedgerError {
    /// A failed call, as [`LedgerError::Unavailable`].
    pub(crate) fn unavailable<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        Self::Unavailable {
            operation,
            detail: error_detail(error),
        }
    }
}

/// What a failed DynamoDB call said, for errors and logs: the service's code and message, or
/// the SDK's account of a call that got no answer.
pub fn error_detail<E, R>(error: &SdkError<E, R>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("UnknownError"),
            service.err().message().unwrap_or_default()
        ),
        other => DisplayErrorContext(other).to_string(),
    }
}
