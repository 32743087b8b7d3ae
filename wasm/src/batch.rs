//! [`HostBatch`]: the core's batch state machine for a host that reads and sends
//! asynchronously, as a Node Lambda does: answer the batch's lookups round by round (DynamoDB),
//! then take every send that may go now, await SES, report each outcome, repeat, then finish for
//! the partial batch response.

use std::collections::BTreeMap;
use std::sync::Arc;

use mailroom_core::{
    Batch, Email, LookupAnswer, LookupFixtures, LookupRequest, Message, RecordId, SendId,
    SendOutcome, Sms,
};
use serde::Serialize;

use crate::error::{AdapterError, to_json};

/// A batch in progress. Finishing consumes the core batch; later calls get a `batch` error
/// instead of a trap.
pub struct HostBatch {
    batch: Option<Batch>,
    /// Every send and record id handed to JavaScript, which holds its position here:
    /// JavaScript numbers can be made up, so the batch's own ids stay on this side.
    handed_out: Vec<Token>,
    /// The emails handed out and not yet completed, by the id JavaScript holds: the host asks
    /// for their MIME bytes ([`raw_message`](Self::raw_message)) while it sends them.
    in_flight: BTreeMap<usize, Arc<Email>>,
    /// Every lookup request handed to JavaScript, at the id it holds, and whether it was
    /// answered: the core's ids stay on this side, as record ids do.
    lookups_out: Vec<(LookupRequest, bool)>,
}

const FINISHED: &str = "the batch is already finished";

/// What a number JavaScript holds stands for.
#[derive(Clone, Copy)]
enum Token {
    /// A send (`nextSend`): a record's email or text.
    Send(SendId),
    /// A rejected record (`rejected`).
    Record(RecordId),
}

/// One text to send now: `{id, messageId, channel: "sms", sms}`, the text as the core made
/// it (number in E.164, text, encoding, segments, SMS type, sender id, idempotency key).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SmsSendJson<'a> {
    id: usize,
    message_id: &'a str,
    channel: &'static str,
    sms: &'a Sms,
}

/// One email to send now, with its addresses ready for SES headers.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct SendJson<'a> {
    id: usize,
    message_id: &'a str,
    email: &'a Email,
    headers: Headers,
}

/// Mailboxes as header values: non-ASCII display names RFC 2047-encoded, domains in punycode.
/// SES takes these as `FromEmailAddress`, `ToAddresses` and `ReplyToAddresses`.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Headers {
    from: String,
    to: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
}

/// A rejected record the host may move to its dead-letter queue.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RejectedJson<'a> {
    id: usize,
    message_id: &'a str,
    decision: &'static str,
    reason: mailroom_core::Reason,
    detail: &'a str,
    body: &'a str,
    queue_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
}

impl HostBatch {
    pub(crate) fn new(batch: Batch) -> Self {
        Self {
            batch: Some(batch),
            handed_out: Vec::new(),
            in_flight: BTreeMap::new(),
            lookups_out: Vec::new(),
        }
    }

    fn batch(&mut self) -> Result<&mut Batch, AdapterError> {
        self.batch
            .as_mut()
            .ok_or_else(|| AdapterError::Batch(FINISHED.to_owned()))
    }

    /// The number JavaScript holds for an id the batch handed out.
    fn token(&mut self, id: Token) -> usize {
        self.handed_out.push(id);
        self.handed_out.len() - 1
    }

    fn token_at(&self, token: usize) -> Result<Token, AdapterError> {
        self.handed_out.get(token).copied().ok_or_else(|| {
            AdapterError::Batch(format!("id {token} was never handed out by this batch"))
        })
    }

    /// The record id behind a number JavaScript passed back; one never handed out is an error.
    fn id(&self, token: usize) -> Result<RecordId, AdapterError> {
        Ok(match self.token_at(token)? {
            Token::Send(send) => send.record(),
            Token::Record(record) => record,
        })
    }

    /// The send behind a number JavaScript passed back.
    fn send_id(&self, token: usize) -> Result<SendId, AdapterError> {
        match self.token_at(token)? {
            Token::Send(send) => Ok(send),
            Token::Record(_) => Err(AdapterError::Batch(format!(
                "id {token} is a rejected record, not a send"
            ))),
        }
    }

    /// The lookups the batch needs read now, deduplicated across its records: JSON
    /// `[{id, table, key, consistentRead, cacheSeconds, lookup}]`, each key attribute in DynamoDB
    /// JSON (`{"S": "..."}`, `{"N": "..."}`). Answer each with
    /// [`answer_lookup`](Self::answer_lookup); answers can bring more (a key that reads another
    /// lookup's result), so call again until the list is empty, then send.
    pub fn lookups(&mut self) -> Result<String, AdapterError> {
        let round = self.batch()?.lookups();
        let first = self.lookups_out.len();
        self.lookups_out
            .extend(round.into_iter().map(|request| (request, false)));
        let requests = self.lookups_out[first..]
            .iter()
            .enumerate()
            .map(|(offset, (request, _))| crate::lookups::RequestJson::new(first + offset, request))
            .collect::<Result<Vec<_>, _>>()?;
        to_json(&requests)
    }

    /// Reports what the host read for lookup `id` (answer JSON, see [`crate::lookups`]).
    pub fn answer_lookup(&mut self, id: usize, answer: &str) -> Result<(), AdapterError> {
        let answer = crate::lookups::answer(answer)?;
        self.answer_with(id, |_| answer)
    }

    /// Answers lookup `id` from `fixtures`, as the core's fixtures answer it (its item, its
    /// failure, else not found).
    pub fn answer_lookup_from(
        &mut self,
        id: usize,
        fixtures: &LookupFixtures,
    ) -> Result<(), AdapterError> {
        self.answer_with(id, |request| fixtures.answer_to(request))
    }

    fn answer_with(
        &mut self,
        id: usize,
        answer: impl FnOnce(&LookupRequest) -> LookupAnswer,
    ) -> Result<(), AdapterError> {
        let batch = self
            .batch
            .as_mut()
            .ok_or_else(|| AdapterError::Batch(FINISHED.to_owned()))?;
        let (request, answered) = self.lookups_out.get_mut(id).ok_or_else(|| {
            AdapterError::Batch(format!(
                "lookup id {id} was never handed out by this batch's lookups()"
            ))
        })?;
        if *answered {
            return Err(AdapterError::Batch(format!(
                "lookup {id} (table {}, {}) is answered already",
                request.table,
                request.key_text()
            )));
        }
        batch.answer_lookup(request.id, answer(request))?;
        *answered = true;
        Ok(())
    }

    /// The next message that may be sent now, or `None`: an email (JSON `{id, messageId,
    /// email, headers}`) or a text (`{id, messageId, channel: "sms", sms}`). Call repeatedly to
    /// collect everything that may go concurrently.
    pub fn next_send(&mut self) -> Result<Option<String>, AdapterError> {
        self.next_send_encoded(|send| to_json(send), |send| to_json(send))
    }

    /// [`next_send`](Self::next_send) with the email's bodies aside, for JavaScript
    /// ([`crate::aside`]).
    pub fn next_send_with_bodies_aside(&mut self) -> Result<Option<String>, AdapterError> {
        self.next_send_encoded(
            |send| {
                // Copying the bodies out is cheaper than escaping them into the JSON.
                let mut bare = send.email.clone();
                let (html, text) = bare.take_bodies();
                let bodies = [html, text];
                let send = SendJson {
                    email: &bare,
                    ..send.clone()
                };
                crate::aside::json_with_bodies(&send, &bodies)
            },
            |send| crate::aside::json_with_bodies(send, &[]),
        )
    }

    fn next_send_encoded(
        &mut self,
        encode: impl FnOnce(&SendJson<'_>) -> Result<String, AdapterError>,
        encode_sms: impl FnOnce(&SmsSendJson<'_>) -> Result<String, AdapterError>,
    ) -> Result<Option<String>, AdapterError> {
        let Some(send) = self.batch()?.next_send() else {
            return Ok(None);
        };
        let id = self.token(Token::Send(send.id));
        let email = match &send.message {
            Message::Email(email) => email,
            Message::Sms(sms) => {
                return encode_sms(&SmsSendJson {
                    id,
                    message_id: &send.message_id,
                    channel: "sms",
                    sms,
                })
                .map(Some);
            }
        };
        let json = encode(&SendJson {
            id,
            message_id: &send.message_id,
            email,
            headers: Headers {
                from: email.from().to_header_value(),
                to: email
                    .to()
                    .iter()
                    .map(mailroom_core::Mailbox::to_header_value)
                    .collect(),
                reply_to: email
                    .reply_to()
                    .map(mailroom_core::Mailbox::to_header_value),
            },
        })?;
        self.in_flight.insert(id, Arc::clone(email));
        Ok(Some(json))
    }

    /// The RFC 5322 message of in-flight send `id`, dated `now` (milliseconds): the bytes the
    /// Rust Lambda hands SES as raw content, built by the same `mailroom_mime::message`.
    #[cfg(feature = "mime")]
    pub fn raw_message(&self, id: usize, now: f64) -> Result<Vec<u8>, AdapterError> {
        if self.batch.is_none() {
            return Err(AdapterError::Batch(FINISHED.to_owned()));
        }
        let email = self.in_flight.get(&id).ok_or_else(|| AdapterError::Input {
            argument: "id",
            message: format!("{id} is not a send handed out by nextSend() and not yet completed"),
        })?;
        Ok(mailroom_mime::message(
            email,
            crate::handle::timestamp(now)?,
        ))
    }

    /// Reports the outcome of send `id` (`SendOutcome` JSON, tagged by `outcome`).
    pub fn complete_send(&mut self, id: usize, outcome: &str) -> Result<(), AdapterError> {
        let outcome: SendOutcome = serde_json::from_str(outcome)
            .map_err(|error| AdapterError::input("outcome", &error))?;
        let send = self.send_id(id)?;
        self.batch()?.complete_send(send, outcome)?;
        self.in_flight.remove(&id);
        Ok(())
    }

    /// The deadline is near: whatever was not handed out yet is retried (`deadline`).
    pub fn expire(&mut self) -> Result<(), AdapterError> {
        self.batch()?.expire();
        Ok(())
    }

    /// Rejected records the host may park: JSON `[{id, messageId, reason, detail, body,
    /// queueArn, group?}]`.
    pub fn rejected(&mut self) -> Result<String, AdapterError> {
        let requests = self.batch()?.to_park();
        let rejected: Vec<RejectedJson<'_>> = requests
            .iter()
            .map(|request| RejectedJson {
                id: self.token(Token::Record(request.id)),
                message_id: &request.message_id,
                decision: "reject",
                reason: request.reason,
                detail: &request.detail,
                body: &request.body,
                queue_arn: &request.queue_arn,
                group: request.group.as_deref(),
            })
            .collect();
        to_json(&rejected)
    }

    /// The host moved rejected record `id` to its dead-letter queue: acknowledge it.
    pub fn mark_parked(&mut self, id: usize) -> Result<(), AdapterError> {
        let id = self.id(id)?;
        Ok(self.batch()?.mark_parked(id)?)
    }

    /// Ends the batch: the `BatchReport` JSON, whose `batchResponse` the Lambda returns.
    pub fn finish(&mut self) -> Result<String, AdapterError> {
        let batch = self
            .batch
            .take()
            .ok_or_else(|| AdapterError::Batch(FINISHED.to_owned()))?;
        self.in_flight.clear();
        to_json(&batch.finish())
    }

    /// [`finish`](Self::finish) with the sent emails' bodies aside, for JavaScript
    /// ([`crate::aside`]).
    pub fn finish_with_bodies_aside(&mut self) -> Result<String, AdapterError> {
        let batch = self
            .batch
            .take()
            .ok_or_else(|| AdapterError::Batch(FINISHED.to_owned()))?;
        self.in_flight.clear();
        crate::aside::report_with_bodies_aside(batch.finish())
    }

    /// Whether [`finish`](Self::finish) was called.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.batch.is_none()
    }
}
