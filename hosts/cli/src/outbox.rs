//! The outbox: the CLI's stand-in for SES. Each email becomes `<idempotencyKey>.eml` in a
//! folder, so a redelivery of the same event overwrites its file instead of adding a second
//! email, just as the Lambda's idempotency store prevents a second send.

use std::path::{Path, PathBuf};
use std::thread;

use mailroom_core::{SendFailure, SendOutcome, SendRequest, Timestamp};

use crate::eml;
use crate::error::InputError;

/// Below this many emails, writing on one thread is faster than starting more.
const PARALLEL_FROM: usize = 64;

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

    /// Delivers every request, on all cores when there are many, and says what happened to
    /// each, in the order of `sends`.
    #[must_use]
    pub fn deliver(&self, sends: &[SendRequest], now: Timestamp) -> Vec<SendOutcome> {
        let workers = thread::available_parallelism().map_or(1, usize::from);
        if workers < 2 || sends.len() < PARALLEL_FROM {
            return sends
                .iter()
                .map(|send| self.deliver_one(send, now))
                .collect();
        }
        let chunk = sends.len().div_ceil(workers);
        thread::scope(|scope| {
            let handles: Vec<_> = sends
                .chunks(chunk)
                .map(|part| {
                    let handle = scope.spawn(move || {
                        part.iter()
                            .map(|send| self.deliver_one(send, now))
                            .collect::<Vec<_>>()
                    });
                    (part.len(), handle)
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|(count, handle)| {
                    handle.join().unwrap_or_else(|_| {
                        // A panicking writer must not lose records: report them failed, so
                        // they are retried.
                        vec![failed("OutboxPanic", "the outbox writer stopped unexpectedly"); count]
                    })
                })
                .collect()
        })
    }

    fn deliver_one(&self, send: &SendRequest, now: Timestamp) -> SendOutcome {
        let file_name = format!("{}.eml", send.email.idempotency_key);
        let Self::Folder(dir) = self else {
            return SendOutcome::Accepted {
                message_id: file_name,
            };
        };
        let bytes = match eml::to_eml(&send.email, now) {
            Ok(bytes) => bytes,
            Err(error) => return failed("OutboxMime", &error.to_string()),
        };
        match std::fs::write(dir.join(&file_name), bytes) {
            Ok(()) => SendOutcome::Accepted {
                message_id: file_name,
            },
            Err(error) => failed("OutboxWrite", &format!("writing {file_name}: {error}")),
        }
    }
}

/// A failure the core classifies as transient: the record is retried, never lost.
fn failed(code: &str, message: &str) -> SendOutcome {
    SendOutcome::Failed(SendFailure::new(code, message, None))
}
