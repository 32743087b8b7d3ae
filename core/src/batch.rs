//! The batch: every record's decision, the sends the host must make, and the response.
//!
//! A [`Batch`] is a small state machine in the style of a sans-IO protocol: the host asks for
//! the next send ([`Batch::next_send`]), performs it however it likes (SES, an outbox, a test
//! double), reports the outcome ([`Batch::complete_send`]), and finally turns the batch into a
//! [`BatchReport`] with the Lambda partial batch response.
//!
//! FIFO queues keep order within a message group: a group's next email is only handed out once
//! the previous one succeeded, and once a record of a group fails, every later record of that
//! group is retried (`group_blocked`) without being sent, as SQS requires.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::decision::{Disposition, MAX_VISIBILITY_SECONDS, Reason, RetryPolicy, splitmix64};
use crate::email::Email;
use crate::error::{MessageFault, ServiceFault};
use crate::mailroom::{Decision, Mailroom};
use crate::outcome::SendOutcome;
use crate::record::{SqsEvent, Timestamp};

/// A record's position in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub usize);

/// An email the host must send now.
#[derive(Debug, Clone)]
#[must_use]
pub struct SendRequest {
    /// Report the outcome with this id.
    pub id: RecordId,
    /// The email.
    pub email: Arc<Email>,
}

/// A batch being processed. See the module docs for the protocol.
#[derive(Debug)]
#[must_use = "a batch must be finished to get the batch response"]
pub struct Batch {
    entries: Vec<Entry>,
    retry: RetryPolicy,
    seed: u64,
    /// Every entry before this index has been handed out or decided. Only used when no record
    /// has a FIFO group: then sends go out strictly in order and the scan never looks back,
    /// which keeps a 10,000-record batch linear. FIFO batches hold at most 10 records.
    unsent_from: usize,
    has_groups: bool,
}

#[derive(Debug)]
struct Entry {
    message_id: String,
    receipt_handle: String,
    group: Option<String>,
    receive_count: u32,
    event_type: Option<String>,
    route: Option<String>,
    state: State,
}

#[derive(Debug)]
enum State {
    Ready(Arc<Email>),
    InFlight(Arc<Email>),
    Done(Disposition),
}

impl Batch {
    pub(crate) fn decide(mailroom: &Mailroom, event: &SqsEvent, now: Timestamp, seed: u64) -> Self {
        let mut batch = Self {
            entries: Vec::with_capacity(event.records.len()),
            retry: mailroom.config().retry,
            seed,
            unsent_from: 0,
            has_groups: false,
        };
        let mut failed_groups: BTreeSet<String> = BTreeSet::new();
        for record in &event.records {
            let group = record.message_group_id().map(str::to_owned);
            batch.has_groups |= group.is_some();
            let mut entry = Entry {
                message_id: record.message_id.clone(),
                receipt_handle: record.receipt_handle.clone(),
                group,
                receive_count: record.receive_count(),
                event_type: None,
                route: None,
                state: State::Done(Disposition::Retry {
                    reason: Reason::Deadline,
                    detail: String::new(),
                    retry_after_seconds: 0,
                }),
            };
            if let Some(group) = entry.group.as_ref().filter(|g| failed_groups.contains(*g)) {
                entry.state = batch.retry_state(
                    &entry,
                    ServiceFault::GroupBlocked {
                        group: group.clone(),
                    },
                );
                batch.entries.push(entry);
                continue;
            }
            let (decision, facts) = mailroom.decide(record, now);
            entry.event_type = facts.event_type;
            entry.route = facts.route;
            entry.state = match decision {
                Decision::Send(email) => State::Ready(email),
                Decision::Retry(fault) => batch.retry_state(&entry, fault),
                Decision::Reject(fault) => reject_state(&fault),
            };
            if matches!(entry.state, State::Done(_))
                && let Some(group) = &entry.group
            {
                failed_groups.insert(group.clone());
            }
            batch.entries.push(entry);
        }
        batch
    }

    /// The next email to send, or `None` when nothing more can be sent right now (everything is
    /// sent, decided otherwise, or waiting for an earlier email of its FIFO group).
    ///
    /// Each email is handed out once; every one must be answered with
    /// [`complete_send`](Self::complete_send). Calling this repeatedly before completing any
    /// gives every email that may be sent concurrently.
    pub fn next_send(&mut self) -> Option<SendRequest> {
        if !self.has_groups {
            while self
                .entries
                .get(self.unsent_from)
                .is_some_and(|entry| !matches!(entry.state, State::Ready(_)))
            {
                self.unsent_from += 1;
            }
        }
        let mut busy_groups: BTreeSet<&str> = BTreeSet::new();
        let mut chosen = None;
        for (index, entry) in self.entries.iter().enumerate().skip(self.unsent_from) {
            let group_busy = entry
                .group
                .as_deref()
                .is_some_and(|g| busy_groups.contains(g));
            match &entry.state {
                State::Ready(_) if !group_busy => {
                    chosen = Some(index);
                    break;
                }
                State::Ready(_) | State::InFlight(_) => {
                    if let Some(group) = entry.group.as_deref() {
                        busy_groups.insert(group);
                    }
                }
                State::Done(_) => {}
            }
        }
        let index = chosen?;
        let entry = self.entries.get_mut(index)?;
        let State::Ready(email) = &entry.state else {
            return None;
        };
        let email = Arc::clone(email);
        entry.state = State::InFlight(Arc::clone(&email));
        Some(SendRequest {
            id: RecordId(index),
            email,
        })
    }

    /// Reports what happened to a send handed out by [`next_send`](Self::next_send).
    /// Ids that are not in flight are ignored.
    pub fn complete_send(&mut self, id: RecordId, outcome: SendOutcome) {
        let Some(entry) = self.entries.get(id.0) else {
            return;
        };
        let State::InFlight(email) = &entry.state else {
            return;
        };
        let state = match outcome {
            SendOutcome::Accepted { message_id } => State::Done(Disposition::Sent {
                email: Arc::clone(email),
                provider_message_id: Some(message_id),
                duplicate: false,
            }),
            SendOutcome::AlreadySent { message_id } => State::Done(Disposition::Sent {
                email: Arc::clone(email),
                provider_message_id: message_id,
                duplicate: true,
            }),
            SendOutcome::InProgressElsewhere {
                retry_after_seconds,
            } => {
                let state = self.retry_state(entry, ServiceFault::InProgressElsewhere);
                not_before(state, retry_after_seconds.unwrap_or(0))
            }
            SendOutcome::Failed(failure) => match failure.classify() {
                Ok(fault) => self.retry_state(entry, fault),
                Err(fault) => reject_state(&fault),
            },
        };
        let failed = matches!(&state, State::Done(d) if d.is_failure());
        let group = self.entries[id.0].group.clone();
        self.entries[id.0].state = state;
        if failed && let Some(group) = group {
            self.block_group_after(id.0, &group);
        }
    }

    /// The deadline is near: nothing not yet handed out will be sent. Those records are retried
    /// (`deadline`) at once.
    pub fn expire(&mut self) {
        for index in 0..self.entries.len() {
            if matches!(self.entries[index].state, State::Ready(_)) {
                let state = self.retry_state(&self.entries[index], ServiceFault::Deadline);
                self.entries[index].state = state;
            }
        }
    }

    /// Records that were rejected, for a host that moves them to the dead-letter queue itself.
    pub fn rejected(&self) -> impl Iterator<Item = (RecordId, &Disposition)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| match &entry.state {
                State::Done(d @ Disposition::Reject { parked: false, .. }) => {
                    Some((RecordId(index), d))
                }
                _ => None,
            })
    }

    /// The host moved a rejected record to the dead-letter queue: acknowledge it instead of
    /// reporting it failed.
    pub fn mark_parked(&mut self, id: RecordId) {
        if let Some(State::Done(Disposition::Reject { parked, .. })) =
            self.entries.get_mut(id.0).map(|entry| &mut entry.state)
        {
            *parked = true;
        }
    }

    /// The SQS message id of a record.
    #[must_use]
    pub fn message_id(&self, id: RecordId) -> Option<&str> {
        self.entries
            .get(id.0)
            .map(|entry| entry.message_id.as_str())
    }

    /// Ends the batch. A send still in flight has an unknown outcome and is retried
    /// (`transient`): with idempotency keys a duplicate is caught, and a loss never happens.
    pub fn finish(mut self) -> BatchReport {
        self.expire();
        for index in 0..self.entries.len() {
            if matches!(self.entries[index].state, State::InFlight(_)) {
                let fault = ServiceFault::Transient("the send outcome was never reported".into());
                let state = self.retry_state(&self.entries[index], fault);
                self.entries[index].state = state;
            }
        }
        let records: Vec<RecordReport> = self
            .entries
            .into_iter()
            .map(|entry| RecordReport {
                message_id: entry.message_id,
                receipt_handle: entry.receipt_handle,
                event_type: entry.event_type,
                route: entry.route,
                disposition: match entry.state {
                    State::Done(disposition) => disposition,
                    // Unreachable after the loop above; retrying is the safe answer anyway.
                    State::Ready(_) | State::InFlight(_) => Disposition::Retry {
                        reason: Reason::Transient,
                        detail: String::new(),
                        retry_after_seconds: 0,
                    },
                },
            })
            .collect();
        let batch_response = BatchResponse::from_failures(
            records
                .iter()
                .filter(|r| r.disposition.is_failure())
                .map(|r| r.message_id.as_str()),
        );
        BatchReport {
            records,
            batch_response,
        }
    }

    fn block_group_after(&mut self, index: usize, group: &str) {
        for later in index + 1..self.entries.len() {
            let entry = &self.entries[later];
            if entry.group.as_deref() == Some(group) && matches!(entry.state, State::Ready(_)) {
                let fault = ServiceFault::GroupBlocked {
                    group: group.to_owned(),
                };
                let state = self.retry_state(entry, fault);
                self.entries[later].state = state;
            }
        }
    }

    fn retry_state(&self, entry: &Entry, fault: ServiceFault) -> State {
        let reason = fault.reason();
        let jitter_seed = self.seed ^ fnv1a(entry.message_id.as_bytes());
        State::Done(Disposition::Retry {
            reason,
            detail: fault.to_string(),
            retry_after_seconds: self.retry.backoff(
                reason,
                entry.receive_count,
                splitmix64(jitter_seed),
            ),
        })
    }
}

/// A retry no sooner than `seconds` from now (within what a visibility timeout can express).
fn not_before(mut state: State, seconds: u32) -> State {
    if let State::Done(Disposition::Retry {
        retry_after_seconds,
        ..
    }) = &mut state
    {
        *retry_after_seconds = (*retry_after_seconds).max(seconds.min(MAX_VISIBILITY_SECONDS));
    }
    state
}

fn reject_state(fault: &MessageFault) -> State {
    State::Done(Disposition::Reject {
        reason: fault.reason(),
        detail: fault.to_string(),
        parked: false,
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Everything the batch decided, in record order, and the Lambda response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct BatchReport {
    /// One report per record, in the order of the event.
    pub records: Vec<RecordReport>,
    /// What the Lambda returns.
    pub batch_response: BatchResponse,
}

/// The final disposition of one record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordReport {
    /// The SQS message id.
    pub message_id: String,
    /// For the host's SQS calls; not part of reports.
    #[serde(skip)]
    pub receipt_handle: String,
    /// The event type, when the body could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The route taken, when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Send, retry or reject, with its details.
    #[serde(flatten)]
    pub disposition: Disposition,
}

/// The Lambda partial batch response (`ReportBatchItemFailures`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The records to retry. Empty means the whole batch succeeded.
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One failed record of the partial batch response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// The SQS message id.
    pub item_identifier: String,
}

impl BatchResponse {
    /// A response listing each of `message_ids` once, in first-seen order, skipping empty ids
    /// (Lambda fails the whole batch for an empty identifier).
    #[must_use]
    pub fn from_failures<'a>(message_ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut seen = BTreeSet::new();
        let batch_item_failures = message_ids
            .into_iter()
            .filter(|id| !id.is_empty() && seen.insert(*id))
            .map(|id| BatchItemFailure {
                item_identifier: id.to_owned(),
            })
            .collect();
        Self {
            batch_item_failures,
        }
    }
}
