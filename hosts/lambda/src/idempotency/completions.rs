//! Marking the keys of accepted emails completed: together, but never long after SES answered.
//!
//! A batch's sends run concurrently and SES answers them within milliseconds of each other, so
//! their completions can share one store call ([`IdempotencyStore::complete_all`]). But until
//! its key is completed, an email that SES accepted can be sent again by a redelivery that
//! takes the key over (after a crash of this instance): the longer a completion waits, the
//! wider that window. So a completion waits at most [`COMPLETION_LINGER`] for others to join
//! it (the first one kept starts the clock), or until the batch settles, whichever comes
//! first; then the ones kept so far are written in one call. Outside a batch (nothing is
//! buffering), a completion is written at once by its own send.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::{Completion, IdempotencyStore, Lease};
use crate::unix_millis;

/// How long a kept completion waits for others before they are written. Concurrent sends'
/// answers arrive within a few milliseconds of each other; a crash in this time is the price
/// of writing ten completions in one call.
pub const COMPLETION_LINGER: Duration = Duration::from_millis(10);

/// An accepted email's key, to be marked completed.
#[derive(Debug, Clone)]
pub(super) struct PendingCompletion {
    pub(super) key: String,
    pub(super) owner: String,
    pub(super) expires_ms: u64,
    pub(super) message_id: String,
}

#[derive(Debug, Default)]
struct Kept {
    /// A batch is running: completions are kept, not written one by one.
    buffering: bool,
    pending: Vec<PendingCompletion>,
    /// A lingering write is on its way for what `pending` holds.
    write_scheduled: bool,
}

/// The completions of a batch's sends, kept for a shared write.
#[derive(Debug, Default)]
pub(super) struct Completions {
    kept: Mutex<Kept>,
    /// Writes started by the linger, not yet awaited by [`Completions::settle`].
    writes: Mutex<Vec<JoinHandle<()>>>,
}

impl Completions {
    /// A batch begins: completions are kept from now until [`Completions::settle`].
    pub(super) fn start(&self) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.buffering = true;
        }
    }

    /// Keeps `completion` for a shared write, to be called before the send's caller hears
    /// SES's answer (so that a batch settling on that answer writes it); gives it back when
    /// no batch is running: its send writes it itself, with [`write`].
    pub(super) fn keep<S>(
        self: &Arc<Self>,
        store: &Arc<S>,
        completion: PendingCompletion,
    ) -> Option<PendingCompletion>
    where
        S: IdempotencyStore + Send + Sync + 'static,
    {
        let Ok(mut kept) = self.kept.lock() else {
            return Some(completion);
        };
        if !kept.buffering {
            return Some(completion);
        }
        kept.pending.push(completion);
        if !kept.write_scheduled {
            kept.write_scheduled = true;
            let (completions, store) = (Arc::clone(self), Arc::clone(store));
            let write_soon = tokio::spawn(async move {
                tokio::time::sleep(COMPLETION_LINGER).await;
                let pending = completions.take();
                if !pending.is_empty() {
                    write(store.as_ref(), pending).await;
                }
            });
            if let Ok(mut writes) = self.writes.lock() {
                writes.retain(|write| !write.is_finished());
                writes.push(write_soon);
            }
        }
        None
    }

    /// What is kept, to be written now.
    fn take(&self) -> Vec<PendingCompletion> {
        match self.kept.lock() {
            Ok(mut kept) => {
                kept.write_scheduled = false;
                std::mem::take(&mut kept.pending)
            }
            Err(_) => Vec::new(),
        }
    }

    /// The batch's sends have answered (or been given up): writes what is kept, ends keeping
    /// (a later answer writes its own), and awaits every write until `by`. The writes are
    /// tasks, so one the deadline interrupts still lands.
    pub(super) async fn settle<S>(&self, store: &Arc<S>, by: Instant)
    where
        S: IdempotencyStore + Send + Sync + 'static,
    {
        let pending = match self.kept.lock() {
            Ok(mut kept) => {
                kept.buffering = false;
                kept.write_scheduled = false;
                std::mem::take(&mut kept.pending)
            }
            Err(_) => Vec::new(),
        };
        let mut writes = match self.writes.lock() {
            Ok(mut writes) => std::mem::take(&mut *writes),
            Err(_) => Vec::new(),
        };
        if !pending.is_empty() {
            let store = Arc::clone(store);
            writes.push(tokio::spawn(async move {
                write(store.as_ref(), pending).await;
            }));
        }
        let budget = by.saturating_duration_since(Instant::now());
        let all = futures_util::future::join_all(writes);
        if tokio::time::timeout(budget, all).await.is_err() {
            tracing::warn!("completion writes still running at the deadline");
        }
    }
}

/// Marks the keys of accepted emails completed, in as few store calls as the store allows.
pub(super) async fn write<S: IdempotencyStore + Sync>(store: &S, pending: Vec<PendingCompletion>) {
    let now_ms = unix_millis();
    let completions: Vec<Completion<'_>> = pending
        .iter()
        .map(|done| Completion {
            lease: Lease {
                key: &done.key,
                owner: &done.owner,
                now_ms,
                expires_ms: done.expires_ms,
            },
            message_id: &done.message_id,
        })
        .collect();
    let written = store.complete_all(&completions).await;
    for (done, result) in completions.iter().zip(written) {
        if let Err(error) = result {
            // The email went; the claim holds until its lease expires.
            tracing::warn!(idempotency_key = done.lease.key, %error, "sent, but the key could not be marked completed");
        }
    }
}
