//! The outbox: the CLI's stand-in for SES. Each email becomes `<idempotencyKey>.eml` in a
//! folder, so a redelivery of the same event overwrites its file instead of adding a second
//! email, just as the Lambda's idempotency store prevents a second send.

use std::path::{Path, PathBuf};

use mailroom_core::{Email, SendFailure, SendOutcome, Timestamp};

use crate::error::InputError;

/// Where sends go.
pub enum Outbox {
    /// `.eml` files in a folder.
    Folder(PathBuf),
    /// Nowhere: every send is accepted without writing (`--no-outbox`).
    Discard,
}

impl Outbox {
    /// An outbox folder, created if needed.
    pub fn folder(dir: &Path) -> Result<Self, InputError> {
        std::fs::create_dir_all(dir).map_err(|source| InputError::Outbox {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self::Folder(dir.to_path_buf()))
    }

    /// The folder, for the summary line.
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Self::Folder(dir) => Some(dir),
            Self::Discard => None,
        }
    }

    /// Writes one email and says what happened, as SES would: accepted with the file name as
    /// the message id, or a failure the core retries (never a loss).
    #[must_use]
    pub fn deliver(&self, email: &Email, now: Timestamp) -> SendOutcome {
        let file_name = format!("{}.eml", email.idempotency_key());
        let Self::Folder(dir) = self else {
            return SendOutcome::Accepted {
                message_id: file_name,
            };
        };
        match std::fs::write(dir.join(&file_name), mailroom_mime::eml(email, now)) {
            Ok(()) => SendOutcome::Accepted {
                message_id: file_name,
            },
            Err(error) => failed("OutboxWrite", &format!("writing {file_name}: {error}")),
        }
    }
}

/// A failure the core classifies as transient: the record is retried.
fn failed(code: &str, message: &str) -> SendOutcome {
    SendOutcome::Failed(SendFailure::new(code, message, None))
}
