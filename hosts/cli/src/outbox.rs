//! The outbox: the CLI's stand-in for SES and SNS. Each email becomes `<idempotencyKey>.eml`
//! in a folder, and each text `<emailKey>.sms.json` beside it (the text's key with `.` for
//! `:`, which some file systems refuse), so a redelivery of the same event overwrites its file
//! instead of adding a second one, just as the Lambda's idempotency store prevents a second
//! send. A text's file is the core's SMS as JSON: number, text, encoding, segments, type,
//! sender id and key.

use std::path::{Path, PathBuf};

use mailroom_core::{Email, SendFailure, SendOutcome, Sms, Timestamp};

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

impl Outbox {
    /// Writes one text as JSON and says what happened, as SNS would.
    #[must_use]
    pub fn deliver_sms(&self, sms: &Sms) -> SendOutcome {
        let file_name = format!("{}.json", sms.idempotency_key().replace(':', "."));
        let Self::Folder(dir) = self else {
            return SendOutcome::Accepted {
                message_id: file_name,
            };
        };
        let json = match serde_json::to_string_pretty(sms) {
            Ok(json) => json + "\n",
            Err(error) => return failed("OutboxWrite", &format!("{file_name}: {error}")),
        };
        match std::fs::write(dir.join(&file_name), json) {
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
