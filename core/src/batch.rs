//! The batch: every record's decision, the sends the host must make, and the response.
//!
//! A [`Batch`] is a small state machine in the style of a sans-IO protocol: the host asks for
//! the next send ([`Batch::next_send`]), performs it however it likes (SES, an outbox, a test
//! double), reports the outcome ([`Batch::complete_send`]), moves rejected records to its
//! dead-letter queue if it has one ([`Batch::to_park`], [`Batch::mark_parked`]), and finally
//! turns the batch into a [`BatchReport`] with the Lambda partial batch response, which the host
//! returns as it is.
//!
//! What the batch hands out carries what the host needs for its IO (the message id, the
//! receipt handle, the queue), so a host never goes back to the event by position. Record ids
//! are opaque: a host cannot make one up, and an id that is not from this batch, or an answer
//! given twice, is a [`BatchError`] rather than silently ignored.
//!
//! A record sends one message per channel ([`crate::channel`]): its email, and its text when
//! its route texts too. Each is handed out as a send of its own ([`SendId`] names the record
//! and the channel) and answered on its own; the record is decided once every channel is:
//! sent when all were sent (now or by an earlier delivery), retried when any must be retried
//! (so a redelivery sends what is missing, the host's idempotency store answering
//! `AlreadySent` for the rest), else rejected.
//!
//! FIFO queues keep order within a message group: a group's next email is only handed out once
//! the previous one succeeded, and once a record of a group fails, every later record of that
//! group is retried (`group_blocked`) without being sent, as SQS requires.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::channel::{Channel, Message, SmsDelivery};
use crate::decision::{Disposition, Reason, RetryPolicy, jitter_seed, splitmix64};
use crate::email::Email;
use crate::error::{MessageFault, ServiceFault};
use crate::lookup::{LookupAnswer, LookupId, LookupRequest, LookupSource, Requests};
use crate::mailroom::{Mailroom, Outgoing, Pending, Verdict};
use crate::outcome::SendOutcome;
use crate::record::{SqsEvent, SqsRecord, Timestamp};
use crate::report::{BatchReport, RecordReport};
use crate::sms::Sms;

/// A record of a batch, as the batch names it to the host. Only the batch makes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    /// Tells this batch's ids from another's.
    batch: u32,
    index: u32,
}

impl RecordId {
    /// The record's position in its batch (0-based), for logs and tests. Reading it is all a
    /// host can do: only the batch makes ids.
    #[must_use]
    pub fn position(self) -> usize {
        usize::try_from(self.index).unwrap_or(usize::MAX)
    }
}

/// One send of a record: which record, by which channel. Only the batch makes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendId {
    record: RecordId,
    channel: Channel,
}

impl SendId {
    /// The record the send is for.
    #[must_use]
    pub fn record(self) -> RecordId {
        self.record
    }

    /// The channel it goes by.
    #[must_use]
    pub fn channel(self) -> Channel {
        self.channel
    }

    /// The record's position in its batch (0-based), for logs and tests.
    #[must_use]
    pub fn position(self) -> usize {
        self.record.position()
    }
}

/// A message the host must send now: an email, or a text.
#[derive(Debug, Clone)]
#[must_use]
pub struct SendRequest {
    /// Report the outcome with this id.
    pub id: SendId,
    /// The SQS message id of the record, for logs.
    pub message_id: String,
    /// The email or the text.
    pub message: Message,
}

impl SendRequest {
    /// The email, when this send is the record's email.
    #[must_use]
    pub fn email(&self) -> Option<&Arc<Email>> {
        self.message.as_email()
    }

    /// The text, when this send is the record's SMS.
    #[must_use]
    pub fn sms(&self) -> Option<&Arc<Sms>> {
        self.message.as_sms()
    }
}

/// A rejected record the host may move to its dead-letter queue: the original message, why it
/// was rejected and where it came from. Once moved, [`Batch::mark_parked`] acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ParkRequest {
    /// Report the move with this id.
    pub id: RecordId,
    /// The SQS message id.
    pub message_id: String,
    /// The original body, unchanged.
    pub body: String,
    /// The queue it came from (`eventSourceARN`).
    pub queue_arn: String,
    /// Its FIFO message group, if any.
    pub group: Option<String>,
    /// The reason code.
    pub reason: Reason,
    /// What went wrong.
    pub detail: String,
}

/// The host answered something the batch did not ask for: a bug in the host, reported instead
/// of ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The id is not one this batch handed out.
    #[error("record id {0:?} is not from this batch")]
    UnknownRecord(RecordId),
    /// The record has no send waiting for its outcome: never handed out, or answered already.
    #[error("record {message_id} has no send waiting for an outcome")]
    NotInFlight {
        /// The record's SQS message id.
        message_id: String,
    },
    /// The record is not a rejected one waiting for the dead-letter queue.
    #[error("record {message_id} is not a rejected record waiting to be parked")]
    NotRejected {
        /// The record's SQS message id.
        message_id: String,
    },
    /// The lookup id is not one this batch handed out.
    #[error("lookup id {0:?} is not from this batch")]
    UnknownLookup(LookupId),
    /// The lookup was not handed out yet, or was answered already.
    #[error("lookup {position} of table {table} has no read waiting for an answer")]
    LookupNotAsked {
        /// The request's position.
        position: usize,
        /// Its table.
        table: String,
    },
}

/// A batch being processed. See the module docs for the protocol.
#[derive(Debug)]
#[must_use = "a batch must be finished to get the batch response"]
pub struct Batch {
    mailroom: Mailroom,
    entries: Vec<Entry>,
    /// Every lookup the batch's records need, deduplicated.
    requests: Requests,
    retry: RetryPolicy,
    seed: u64,
    tag: u32,
    /// Every entry before this index has been handed out or decided. Only used when no record
    /// has a FIFO group: then sends go out strictly in order and the scan never looks back,
    /// which keeps a 10,000-record batch linear. FIFO batches hold at most 10 records.
    unsent_from: usize,
    has_groups: bool,
    /// The time the batch was decided at, for records composed once their lookups answer.
    now: Timestamp,
}

#[derive(Debug)]
struct Entry {
    record: SqsRecord,
    /// The record's FIFO message group, looked up once.
    group: Option<String>,
    event_type: Option<String>,
    route: Option<String>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Waiting for lookup answers.
    Waiting(Box<Pending>),
    /// Composed: its channels' sends, each ready, in flight or answered.
    Sending(Box<Sends>),
    Done(Disposition),
}

/// A composed record's sends: its email's and, for a route that texts, its text's.
#[derive(Debug)]
struct Sends {
    email: (Arc<Email>, Step),
    sms: Option<(Arc<Sms>, Step)>,
}

/// Where one channel's send is.
#[derive(Debug)]
enum Step {
    Ready,
    InFlight,
    Sent {
        provider_message_id: Option<String>,
        duplicate: bool,
    },
    /// To retry or reject; the record's disposition says which, with the other channels'.
    Failed(Disposition),
}

impl Sends {
    fn new(outgoing: Outgoing) -> Self {
        Self {
            email: (Arc::new(outgoing.email), Step::Ready),
            sms: outgoing.sms.map(|sms| (Arc::new(sms), Step::Ready)),
        }
    }

    /// Every channel's step, email first.
    fn steps(&self) -> impl Iterator<Item = (Channel, &Step)> {
        std::iter::once((Channel::Email, &self.email.1))
            .chain(self.sms.as_ref().map(|(_, step)| (Channel::Sms, step)))
    }

    fn step_mut(&mut self, channel: Channel) -> Option<&mut Step> {
        match channel {
            Channel::Email => Some(&mut self.email.1),
            Channel::Sms => self.sms.as_mut().map(|(_, step)| step),
        }
    }

    fn has_ready(&self) -> bool {
        self.steps().any(|(_, step)| matches!(step, Step::Ready))
    }

    fn nothing_handed_out(&self) -> bool {
        self.steps().all(|(_, step)| matches!(step, Step::Ready))
    }

    /// Every channel answered (or given up on).
    fn settled(&self) -> bool {
        self.steps()
            .all(|(_, step)| matches!(step, Step::Sent { .. } | Step::Failed(_)))
    }

    /// The first ready send, now in flight.
    fn hand_out(&mut self) -> Option<Message> {
        if matches!(self.email.1, Step::Ready) {
            self.email.1 = Step::InFlight;
            return Some(Message::Email(Arc::clone(&self.email.0)));
        }
        match &mut self.sms {
            Some((sms, step)) if matches!(step, Step::Ready) => {
                *step = Step::InFlight;
                Some(Message::Sms(Arc::clone(sms)))
            }
            _ => None,
        }
    }

    /// Gives every step still in `which` state up as `disposition`.
    fn fail_where(&mut self, which: fn(&Step) -> bool, disposition: &Disposition) {
        for step in
            std::iter::once(&mut self.email.1).chain(self.sms.as_mut().map(|(_, step)| step))
        {
            if which(step) {
                *step = Step::Failed(disposition.clone());
            }
        }
    }

    /// The record's disposition once every channel is settled: a retry if any channel must
    /// be retried (what was sent is not sent again: its key is completed), else a reject if
    /// any was rejected, else sent.
    fn disposition(self) -> Disposition {
        let failures = || {
            self.steps().filter_map(|(_, step)| match step {
                Step::Failed(disposition) => Some(disposition),
                _ => None,
            })
        };
        if let Some(retry) = failures().find(|d| matches!(d, Disposition::Retry { .. })) {
            return retry.clone();
        }
        if let Some(reject) = failures().next() {
            return reject.clone();
        }
        let sent = |step: Step| match step {
            Step::Sent {
                provider_message_id,
                duplicate,
            } => (provider_message_id, duplicate),
            // Unreachable once settled without failures.
            Step::Ready | Step::InFlight | Step::Failed(_) => (None, false),
        };
        let (email, email_step) = self.email;
        let (provider_message_id, duplicate) = sent(email_step);
        Disposition::Sent {
            email,
            provider_message_id,
            duplicate,
            sms: self.sms.map(|(sms, step)| {
                let (provider_message_id, duplicate) = sent(step);
                SmsDelivery {
                    sms,
                    provider_message_id,
                    duplicate,
                }
            }),
        }
    }
}

impl Batch {
    pub(crate) fn decide(mailroom: &Mailroom, event: SqsEvent, now: Timestamp, seed: u64) -> Self {
        let records = event.records;
        let mut batch = Self {
            mailroom: mailroom.clone(),
            entries: Vec::with_capacity(records.len()),
            requests: Requests::default(),
            retry: mailroom.config().retry(),
            seed,
            // Distinct for batches of different inputs; a host mixing up two batches' ids is
            // what this catches, not an adversary.
            tag: batch_tag(seed, now, records.len()),
            unsent_from: 0,
            has_groups: false,
            now,
        };
        // A FIFO batch (at most 10 records) is composed at once, so that a record rejected at
        // compose time blocks the rest of its group before anything is decided after it. Any
        // other batch (up to 10,000 records) is composed as the host asks for sends, so the
        // host's deadline bounds the rendering too.
        batch.has_groups = records.iter().any(|r| r.message_group_id().is_some());
        let mut failed_groups: BTreeSet<String> = BTreeSet::new();
        for record in records {
            let group = record.message_group_id().map(str::to_owned);
            let blocked = group.as_ref().filter(|g| failed_groups.contains(*g));
            let (state, event_type, route) = match blocked {
                Some(group) => {
                    let fault = ServiceFault::GroupBlocked {
                        group: group.clone(),
                    };
                    (batch.retry_state(&record, fault), None, None)
                }
                None => {
                    let (verdict, facts) = mailroom.verdict(&record);
                    let verdict = if batch.has_groups {
                        mailroom.compose_now(verdict, &record, now)
                    } else {
                        verdict
                    };
                    let index = batch.entries.len();
                    let state = batch.state_of(verdict, &record, index);
                    (state, facts.event_type, facts.route)
                }
            };
            // A FIFO group stops at its first failure, whatever kind: a record after a rejected
            // one must not overtake it.
            if matches!(state, State::Done(_))
                && let Some(group) = &group
            {
                failed_groups.insert(group.clone());
            }
            batch.entries.push(Entry {
                record,
                group,
                event_type,
                route,
                state,
            });
        }
        batch
    }

    /// The state a verdict puts record `index` in; a record that waits for lookups has its
    /// requests added to the batch's.
    fn state_of(&mut self, verdict: Verdict, record: &SqsRecord, index: usize) -> State {
        match verdict {
            Verdict::Send(outgoing) => State::Sending(Box::new(Sends::new(*outgoing))),
            Verdict::Suppressed(recipients) => State::Done(Disposition::Suppressed { recipients }),
            Verdict::Retry(fault) => self.retry_state(record, fault),
            Verdict::Reject(fault) => reject_state(&fault),
            Verdict::Pending(mut pending) => {
                for (lookup, key) in std::mem::take(&mut pending.asked) {
                    if let Some(declared) =
                        self.mailroom.lookup_declaration(pending.route(), lookup)
                    {
                        self.requests.add(self.tag, declared, key, (index, lookup));
                    }
                }
                State::Waiting(pending)
            }
        }
    }

    /// Every lookup read the batch needs now and has not handed out yet, deduplicated across
    /// records. Answer each with [`answer_lookup`](Self::answer_lookup); answers can bring more
    /// requests (a lookup whose key reads another's result), so call this again until it is
    /// empty, then send. Calling it once per round is what keeps a batch to one read per table
    /// per round.
    pub fn lookups(&mut self) -> Vec<LookupRequest> {
        self.requests
            .slots
            .iter_mut()
            .filter(|slot| !slot.handed_out)
            .map(|slot| {
                slot.handed_out = true;
                slot.request.clone()
            })
            .collect()
    }

    /// The idempotency keys of the emails that wait only for suppression checks handed out
    /// and not answered yet ([`LookupPurpose::SuppressionCheck`]), each once, in record order.
    ///
    /// When the checks clear, these records compose and their emails are handed out (unless
    /// composing rejects one, or the deadline comes first). A host that answers the checks
    /// with one conditional call can claim these keys in the same call, so the ledger's
    /// checks cost a batch no round trip of their own; a claim whose email is then not sent
    /// is the host's to give back.
    ///
    /// [`LookupPurpose::SuppressionCheck`]: crate::LookupPurpose::SuppressionCheck
    #[must_use]
    pub fn emails_held_by_checks(&self) -> Vec<String> {
        let mut held: BTreeSet<usize> = BTreeSet::new();
        for slot in &self.requests.slots {
            if slot.handed_out
                && !slot.answered
                && slot.request.purpose == crate::LookupPurpose::SuppressionCheck
            {
                held.extend(slot.waiters.iter().map(|(entry, _)| *entry));
            }
        }
        let mut keys: Vec<String> = Vec::with_capacity(held.len());
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for index in held {
            if let Some(Entry {
                state: State::Waiting(pending),
                ..
            }) = self.entries.get(index)
                && pending.held_by_checks()
                && let Some(key) = self.mailroom.email_key_of(pending)
                && seen.insert(key.clone())
            {
                keys.push(key);
            }
        }
        keys
    }

    /// Answers every round of lookups on the spot from `source` (fixtures, a previewer's
    /// results), for hosts whose answers need no IO: the same rounds a host with IO drives
    /// with [`lookups`](Self::lookups) and [`answer_lookup`](Self::answer_lookup). Returns how
    /// many rounds there were.
    pub fn answer_lookups_from(&mut self, source: &mut dyn LookupSource) -> usize {
        let mut rounds = 0;
        loop {
            let round = self.lookups();
            if round.is_empty() {
                return rounds;
            }
            rounds += 1;
            for request in round {
                let answer = source.answer(&request);
                // Handed out just now and answered once: the batch cannot refuse it.
                let _ = self.answer_lookup(request.id, answer);
            }
        }
    }

    /// Reports what the host found for a request handed out by [`lookups`](Self::lookups).
    /// Every record waiting for it moves on: to its next lookups, to its email, or to a retry
    /// or reject when the answer decides it.
    pub fn answer_lookup(&mut self, id: LookupId, answer: LookupAnswer) -> Result<(), BatchError> {
        let index = usize::try_from(id.index).unwrap_or(usize::MAX);
        let slot = match self.requests.slots.get_mut(index) {
            Some(slot) if id.batch == self.tag => slot,
            _ => return Err(BatchError::UnknownLookup(id)),
        };
        if !slot.handed_out || slot.answered {
            return Err(BatchError::LookupNotAsked {
                position: index,
                table: slot.request.table.clone(),
            });
        }
        slot.answered = true;
        let waiters = std::mem::take(&mut slot.waiters);
        let request = slot.request.clone();
        for (entry_index, lookup) in waiters {
            let Some(entry) = self.entries.get_mut(entry_index) else {
                continue;
            };
            let State::Waiting(pending) = &mut entry.state else {
                // Decided already, by an earlier answer.
                continue;
            };
            self.mailroom
                .answer(pending, lookup, &request, answer.clone());
            if pending.waiting() {
                continue;
            }
            let State::Waiting(pending) =
                std::mem::replace(&mut entry.state, State::Done(placeholder()))
            else {
                continue;
            };
            let verdict = self.mailroom.advance(*pending);
            let record = self.entries[entry_index].record.clone();
            let state = self.state_of(verdict, &record, entry_index);
            self.settle(entry_index, state);
        }
        Ok(())
    }

    /// Puts record `index` in `state`; a FIFO failure blocks the rest of its group.
    fn settle(&mut self, index: usize, state: State) {
        let failed = matches!(&state, State::Done(d) if d.is_failure());
        let group = self.entries[index].group.clone();
        self.entries[index].state = state;
        if failed && let Some(group) = group {
            self.block_group_after(index, &group);
        }
    }

    /// The next message to send (an email or a text), or `None` when nothing more can be sent
    /// right now (everything is sent, decided otherwise, or waiting for an earlier record of
    /// its FIFO group).
    ///
    /// Each message is handed out once; every one must be answered with
    /// [`complete_send`](Self::complete_send). Calling this repeatedly before completing any
    /// gives every message that may be sent concurrently (a record's email and text among them).
    pub fn next_send(&mut self) -> Option<SendRequest> {
        loop {
            let index = self.next_candidate()?;
            let record = self.id_of(index);
            let entry = self.entries.get_mut(index)?;
            match &mut entry.state {
                State::Sending(sends) => {
                    let message = sends.hand_out()?;
                    return Some(SendRequest {
                        id: SendId {
                            record,
                            channel: message.channel(),
                        },
                        message_id: entry.record.message_id.clone(),
                        message,
                    });
                }
                // Its turn: render it now. A failure settles it (blocking the rest of a FIFO
                // group) and the search goes on.
                State::Waiting(_) => self.compose_at(index),
                State::Done(_) => return None,
            }
        }
    }

    /// The first record that may go now: ready, or only waiting to be composed, and not behind
    /// an unfinished record of its FIFO group.
    fn next_candidate(&mut self) -> Option<usize> {
        if !self.has_groups {
            while self
                .entries
                .get(self.unsent_from)
                .is_some_and(|entry| match &entry.state {
                    State::Sending(sends) => !sends.has_ready(),
                    State::Done(_) => true,
                    State::Waiting(_) => false,
                })
            {
                self.unsent_from += 1;
            }
        }
        let mut busy_groups: BTreeSet<&str> = BTreeSet::new();
        for (index, entry) in self.entries.iter().enumerate().skip(self.unsent_from) {
            let group_busy = entry
                .group
                .as_deref()
                .is_some_and(|g| busy_groups.contains(g));
            let may_go = match &entry.state {
                State::Sending(sends) => sends.has_ready(),
                State::Waiting(pending) => pending.composable(),
                State::Done(_) => false,
            };
            if may_go && !group_busy {
                return Some(index);
            }
            if !matches!(entry.state, State::Done(_))
                && let Some(group) = entry.group.as_deref()
            {
                busy_groups.insert(group);
            }
        }
        None
    }

    /// Reports what happened to a send handed out by [`next_send`](Self::next_send). The
    /// outcome is classified by its channel's provider ([`crate::SendFailure::classify_for`]);
    /// the record is decided once all its channels are answered.
    pub fn complete_send(&mut self, id: SendId, outcome: SendOutcome) -> Result<(), BatchError> {
        let index = self.index_of(id.record)?;
        let step = match outcome {
            SendOutcome::Accepted { message_id } => Step::Sent {
                provider_message_id: Some(message_id),
                duplicate: false,
            },
            SendOutcome::AlreadySent { message_id } => Step::Sent {
                provider_message_id: message_id,
                duplicate: true,
            },
            SendOutcome::InProgressElsewhere {
                retry_after_seconds,
            } => Step::Failed(not_before(
                self.retry_disposition(index, ServiceFault::InProgressElsewhere),
                retry_after_seconds.unwrap_or(0),
            )),
            SendOutcome::Failed(failure) => Step::Failed(match failure.classify_for(id.channel) {
                Ok(fault) => self.retry_disposition(index, fault),
                Err(fault) => reject_disposition(&fault),
            }),
        };
        let entry = &mut self.entries[index];
        let slot = match &mut entry.state {
            State::Sending(sends) => sends.step_mut(id.channel),
            State::Waiting(_) | State::Done(_) => None,
        };
        match slot {
            Some(slot) if matches!(slot, Step::InFlight) => *slot = step,
            _ => {
                return Err(BatchError::NotInFlight {
                    message_id: entry.record.message_id.clone(),
                });
            }
        }
        self.settle_if_answered(index);
        Ok(())
    }

    /// Decides record `index` once every channel of it is answered.
    fn settle_if_answered(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        if !matches!(&entry.state, State::Sending(sends) if sends.settled()) {
            return;
        }
        let State::Sending(sends) = std::mem::replace(&mut entry.state, State::Done(placeholder()))
        else {
            return;
        };
        self.settle(index, State::Done(sends.disposition()));
    }

    fn retry_disposition(&self, index: usize, fault: ServiceFault) -> Disposition {
        retry_disposition(self.retry, &self.entries[index].record, fault, self.seed)
    }

    /// The deadline is near: nothing not yet handed out will be sent. Those records are retried
    /// (`deadline`) at once.
    ///
    /// Records still waiting for lookup answers are retried too (`lookup_failed`: the reads
    /// did not finish in time), with the usual back-off.
    pub fn expire(&mut self) {
        for index in 0..self.entries.len() {
            if let State::Sending(sends) = &self.entries[index].state {
                if sends.has_ready() {
                    let deadline = self.retry_disposition(index, ServiceFault::Deadline);
                    if let State::Sending(sends) = &mut self.entries[index].state {
                        sends.fail_where(|step| matches!(step, Step::Ready), &deadline);
                    }
                    self.settle_if_answered(index);
                }
                continue;
            }
            let fault = match &self.entries[index].state {
                State::Waiting(pending) if pending.composable() => ServiceFault::Deadline,
                State::Waiting(pending) => ServiceFault::LookupFailed {
                    lookup: pending
                        .unanswered(self.mailroom.config().routes()[pending.route()].lookups())
                        .to_owned(),
                    detail: "no answer before the batch ended".into(),
                    throttled: false,
                },
                State::Sending(_) | State::Done(_) => continue,
            };
            let state = self.retry_state(&self.entries[index].record, fault);
            self.settle(index, state);
        }
    }

    /// Rejected records not yet parked, for a host that moves them to its dead-letter queue.
    ///
    /// FIFO order holds here too: a reject that an earlier failure of its group now holds back
    /// is not listed, because acknowledging it would let it overtake the records before it; it
    /// stays on the queue and the redrive policy parks it in order.
    ///
    /// A host normally asks once its sends are done, when every record is composed; asked
    /// earlier, the records not composed yet are composed first (without handing out their
    /// sends), so the list holds every reject known by then, whenever it is asked.
    #[must_use]
    pub fn to_park(&mut self) -> Vec<ParkRequest> {
        self.compose_waiting();
        self.rejects_to_park()
    }

    /// Composes every record that only waits for its turn, in order.
    fn compose_waiting(&mut self) {
        for index in 0..self.entries.len() {
            if matches!(&self.entries[index].state, State::Waiting(pending) if pending.composable())
            {
                self.compose_at(index);
            }
        }
    }

    /// Composes record `index`, which only waits for its turn, and settles it.
    fn compose_at(&mut self, index: usize) {
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        let State::Waiting(pending) =
            std::mem::replace(&mut entry.state, State::Done(placeholder()))
        else {
            return;
        };
        let verdict = self
            .mailroom
            .compose_pending(*pending, &entry.record, self.now);
        let record = entry.record.clone();
        let state = self.state_of(verdict, &record, index);
        self.settle(index, state);
    }

    fn rejects_to_park(&self) -> Vec<ParkRequest> {
        let mut failed_groups: BTreeSet<&str> = BTreeSet::new();
        let mut requests = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let State::Done(disposition) = &entry.state else {
                // A record still waiting for lookups may yet fail: nothing after it in its
                // group may be acknowledged before it.
                if let (State::Waiting(_), Some(group)) = (&entry.state, entry.group.as_deref()) {
                    failed_groups.insert(group);
                }
                continue;
            };
            let held_back = entry
                .group
                .as_deref()
                .is_some_and(|group| failed_groups.contains(group));
            if let Disposition::Reject {
                reason,
                detail,
                parked: false,
            } = disposition
                && !held_back
                // SQS refuses empty bodies; such a record is left to the redrive policy.
                && !entry.record.body.is_empty()
            {
                requests.push(ParkRequest {
                    id: self.id_of(index),
                    message_id: entry.record.message_id.clone(),
                    body: entry.record.body.clone(),
                    queue_arn: entry.record.event_source_arn.clone(),
                    group: entry.group.clone(),
                    reason: *reason,
                    detail: detail.clone(),
                });
            }
            if let Some(group) = entry.group.as_deref()
                && matches!(disposition, Disposition::Retry { .. })
            {
                failed_groups.insert(group);
            }
        }
        requests
    }

    /// The host moved a rejected record to the dead-letter queue: acknowledge it instead of
    /// reporting it failed.
    pub fn mark_parked(&mut self, id: RecordId) -> Result<(), BatchError> {
        let index = self.index_of(id)?;
        let entry = &mut self.entries[index];
        match &mut entry.state {
            State::Done(Disposition::Reject { parked, .. }) if !*parked => {
                *parked = true;
                Ok(())
            }
            _ => Err(BatchError::NotRejected {
                message_id: entry.record.message_id.clone(),
            }),
        }
    }

    /// Ends the batch. A send still in flight has an unknown outcome and is retried
    /// (`transient`): with idempotency keys a duplicate is caught, and a loss never happens.
    pub fn finish(mut self) -> BatchReport {
        self.expire();
        for index in 0..self.entries.len() {
            if matches!(self.entries[index].state, State::Sending(_)) {
                let fault = ServiceFault::Transient("the send outcome was never reported".into());
                let unknown = self.retry_disposition(index, fault);
                if let State::Sending(sends) = &mut self.entries[index].state {
                    sends.fail_where(|step| matches!(step, Step::InFlight), &unknown);
                }
                // Settled directly: a FIFO group's later records are settled by `expire`.
                let entry = &mut self.entries[index];
                if let State::Sending(sends) =
                    std::mem::replace(&mut entry.state, State::Done(placeholder()))
                {
                    entry.state = State::Done(sends.disposition());
                }
            }
        }
        let records = self
            .entries
            .into_iter()
            .map(|entry| {
                let disposition = match entry.state {
                    State::Done(disposition) => disposition,
                    // Unreachable after the loop above; retrying is the safe answer anyway.
                    State::Sending(_) | State::Waiting(_) => Disposition::Retry {
                        reason: Reason::Transient,
                        detail: String::new(),
                        retry_after_seconds: 0,
                    },
                };
                RecordReport::new(entry.record, entry.event_type, entry.route, disposition)
            })
            .collect();
        BatchReport::new(records)
    }

    fn id_of(&self, index: usize) -> RecordId {
        RecordId {
            batch: self.tag,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    fn index_of(&self, id: RecordId) -> Result<usize, BatchError> {
        let index = usize::try_from(id.index).unwrap_or(usize::MAX);
        if id.batch != self.tag || index >= self.entries.len() {
            return Err(BatchError::UnknownRecord(id));
        }
        Ok(index)
    }

    fn block_group_after(&mut self, index: usize, group: &str) {
        for later in index + 1..self.entries.len() {
            let entry = &self.entries[later];
            if entry.group.as_deref() == Some(group)
                && match &entry.state {
                    State::Sending(sends) => sends.nothing_handed_out(),
                    State::Waiting(_) => true,
                    State::Done(_) => false,
                }
            {
                let fault = ServiceFault::GroupBlocked {
                    group: group.to_owned(),
                };
                let state = self.retry_state(&entry.record, fault);
                self.entries[later].state = state;
            }
        }
    }

    fn retry_state(&self, record: &SqsRecord, fault: ServiceFault) -> State {
        State::Done(retry_disposition(self.retry, record, fault, self.seed))
    }
}

/// The retry of `record` for `fault`: the one place a back-off is computed, for batches, single
/// decisions and whole-batch retries alike.
pub(crate) fn retry_disposition(
    policy: RetryPolicy,
    record: &SqsRecord,
    fault: ServiceFault,
    seed: u64,
) -> Disposition {
    let reason = fault.reason();
    Disposition::Retry {
        reason,
        detail: fault.to_string(),
        retry_after_seconds: policy.backoff(
            reason,
            record.receive_count(),
            splitmix64(jitter_seed(seed, &record.message_id)),
        ),
    }
}

pub(crate) fn reject_disposition(fault: &MessageFault) -> Disposition {
    Disposition::Reject {
        reason: fault.reason(),
        detail: fault.to_string(),
        parked: false,
    }
}

fn reject_state(fault: &MessageFault) -> State {
    State::Done(reject_disposition(fault))
}

/// Held for the moment a waiting record's state is taken out to be resumed; always replaced.
fn placeholder() -> Disposition {
    Disposition::Retry {
        reason: Reason::Transient,
        detail: String::new(),
        retry_after_seconds: 0,
    }
}

/// A retry no sooner than `seconds` from now (within what a visibility timeout can express).
fn not_before(mut disposition: Disposition, seconds: u32) -> Disposition {
    if let Disposition::Retry {
        retry_after_seconds,
        ..
    } = &mut disposition
    {
        *retry_after_seconds =
            (*retry_after_seconds).max(seconds.min(crate::decision::MAX_VISIBILITY_SECONDS));
    }
    disposition
}

fn batch_tag(seed: u64, now: Timestamp, records: usize) -> u32 {
    let mixed =
        splitmix64(seed ^ now.as_millis().cast_unsigned() ^ (records as u64).rotate_left(32));
    u32::try_from(mixed >> 32).unwrap_or(0)
}
