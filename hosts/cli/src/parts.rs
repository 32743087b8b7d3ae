//! Large batches are decided in parts, one per core.
//!
//! The core decides a batch on one thread. Records of a standard (non-FIFO) queue are
//! independent of each other: a record's decision, its back-off (the jitter mixes the seed with
//! the message id) and its email depend on that record alone. So a large event splits into
//! contiguous parts, each part runs the whole batch protocol on its own thread (decide, answer
//! the lookups, write the emails, finish), and the parts' reports, concatenated in order, are
//! exactly the report of the whole batch: a record's lookups depend on its own event alone, and
//! every part answers them from the same fixtures. FIFO batches keep one part: a failure in a message group must hold back
//! the group's later records, which may sit in another part.

use std::collections::BTreeMap;
use std::thread;

use mailroom_core::{
    BatchReport, Mailroom, Message, SendOutcome, SendRequest, SqsEvent, SqsRecord, Timestamp,
};

use crate::lookups::Fixtures;
use crate::outbox::Outbox;

/// Fewer records than this per part, and a thread costs more than it saves.
const MIN_PART: usize = 256;

/// Answers given in advance (`--outcomes`): the send a key names
/// ([`mailroom_core::channel::answer_key`]: the message id for the email, `<id>/sms` for the
/// text) gets this outcome instead of going to the outbox.
pub type Outcomes = BTreeMap<String, SendOutcome>;

/// What answers the batch: the fixtures its lookups, the outbox or `--outcomes` its sends.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    /// The lookup fixtures (or none).
    pub lookups: &'a Fixtures,
    /// The outbox, for every send not answered in advance.
    pub outbox: &'a Outbox,
    /// Answers given in advance, by message id.
    pub outcomes: &'a Outcomes,
}

/// The report of a whole batch, and whether any of its records asked for a lookup (whatever the
/// split: each part asks for the lookups of its own records).
pub struct Processed {
    /// The batch report.
    pub report: BatchReport,
    /// Whether a lookup was read.
    pub asked_lookups: bool,
}

impl Sender<'_> {
    fn send(&self, send: &SendRequest, now: Timestamp) -> SendOutcome {
        let key = mailroom_core::channel::answer_key(&send.message_id, send.id.channel());
        match self.outcomes.get(&key) {
            Some(outcome) => outcome.clone(),
            None => match &send.message {
                Message::Email(email) => self.outbox.deliver(email, now),
                Message::Sms(sms) => self.outbox.deliver_sms(sms),
            },
        }
    }
}

/// Splits `records` into at most `jobs` contiguous parts, in order (one part for FIFO queues
/// and small batches).
#[must_use]
pub fn split(mut records: Vec<SqsRecord>, jobs: usize) -> Vec<Vec<SqsRecord>> {
    let fifo = records
        .iter()
        .any(|record| record.message_group_id().is_some());
    let parts = if fifo {
        1
    } else {
        jobs.min(records.len() / MIN_PART).max(1)
    };
    let total = records.len();
    let mut split = Vec::with_capacity(parts);
    for index in 0..parts {
        let take = total / parts + usize::from(index < total % parts);
        let rest = records.split_off(take.min(records.len()));
        split.push(std::mem::replace(&mut records, rest));
    }
    split
}

/// Runs every part on its own thread and returns the report of the whole batch: the parts'
/// reports joined by [`BatchReport::concat`].
///
/// The caller has checked the event ([`SqsEvent::validate`]), the one thing that fails a
/// batch as a whole, before splitting it.
pub fn run_all(
    mailroom: &Mailroom,
    parts: Vec<Vec<SqsRecord>>,
    now: Timestamp,
    seed: u64,
    sender: Sender<'_>,
) -> Processed {
    let parts: Vec<(BatchReport, bool)> = if parts.len() == 1 {
        parts
            .into_iter()
            .map(|records| run_part(mailroom, records, now, seed, sender))
            .collect()
    } else {
        run_threads(mailroom, parts, now, seed, sender)
    };
    let asked_lookups = parts.iter().any(|(_, asked)| *asked);
    Processed {
        report: BatchReport::concat(parts.into_iter().map(|(report, _)| report)),
        asked_lookups,
    }
}

fn run_threads(
    mailroom: &Mailroom,
    parts: Vec<Vec<SqsRecord>>,
    now: Timestamp,
    seed: u64,
    sender: Sender<'_>,
) -> Vec<(BatchReport, bool)> {
    thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|records| scope.spawn(move || run_part(mailroom, records, now, seed, sender)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The Lambda's loop with fixtures in place of DynamoDB and the outbox in place of SES: answer
/// every lookup the batch asks for, round by round (an answer can bring the next lookup of a
/// chain), before any send; then take every send the batch allows now, deliver it, report the
/// outcome, repeat until nothing is left (a FIFO group releases its next email only once the
/// previous one is done); then finish. Also says whether any lookup was asked.
fn run_part(
    mailroom: &Mailroom,
    records: Vec<SqsRecord>,
    now: Timestamp,
    seed: u64,
    sender: Sender<'_>,
) -> (BatchReport, bool) {
    let mut batch = match mailroom.start_batch(SqsEvent { records }, now, seed) {
        Ok(batch) => batch,
        // Unreachable: the event was validated before splitting. A panic here is a bug,
        // reported as one line by main's panic hook, never a silent loss.
        Err(error) => panic!("a part failed as a whole: {error}"),
    };
    let mut answers = sender.lookups;
    let asked_lookups = batch.answer_lookups_from(&mut answers) > 0;
    let mut sends: Vec<SendRequest> = Vec::new();
    loop {
        while let Some(send) = batch.next_send() {
            sends.push(send);
        }
        if sends.is_empty() {
            break;
        }
        for send in sends.drain(..) {
            let outcome = sender.send(&send, now);
            if let Err(error) = batch.complete_send(send.id, outcome) {
                // Each send handed out is answered once, here: an error is a bug.
                panic!("the batch refused an answer: {error}");
            }
        }
    }
    (batch.finish(), asked_lookups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::{Config, TemplateSet};

    fn record(n: usize, fifo: bool) -> SqsRecord {
        let mut record = SqsRecord {
            message_id: format!("m-{n}"),
            body: if n % 7 == 3 {
                "{not json".to_owned()
            } else {
                format!("{{\"mailto\":\"u{n}@example.com\",\"name\":\"N{n}\"}}")
            },
            ..SqsRecord::default()
        };
        if fifo {
            record.event_source_arn = "arn:aws:sqs:us-east-1:1:q.fifo".into();
            record
                .attributes
                .insert("MessageGroupId".into(), format!("g{}", n % 3));
        }
        record
    }

    #[test]
    fn parts_keep_every_record_in_order() {
        for (count, jobs, expected_parts) in [
            (0, 2, 1),
            (10, 2, 1),
            (600, 2, 2),
            (1000, 3, 3),
            (1001, 8, 3),
        ] {
            let records: Vec<_> = (0..count).map(|n| record(n, false)).collect();
            let parts = split(records.clone(), jobs);
            assert_eq!(parts.len(), expected_parts, "{count} records, {jobs} jobs");
            assert_eq!(parts.concat(), records);
        }
        let fifo: Vec<_> = (0..1000).map(|n| record(n, true)).collect();
        assert_eq!(split(fifo, 4).len(), 1);
    }

    /// The report of `records` decided as one batch, every lookup and send answered as
    /// `sender` answers them.
    fn whole_batch(
        mailroom: &Mailroom,
        records: Vec<SqsRecord>,
        now: Timestamp,
        sender: Sender<'_>,
    ) -> String {
        let mut whole = mailroom.start_batch(SqsEvent { records }, now, 9).unwrap();
        loop {
            let round = whole.lookups();
            if round.is_empty() {
                break;
            }
            for request in round {
                whole
                    .answer_lookup(request.id, sender.lookups.answer(&request))
                    .unwrap();
            }
        }
        while let Some(send) = whole.next_send() {
            let outcome = sender.send(&send, now);
            whole.complete_send(send.id, outcome).unwrap();
        }
        serde_json::to_string(&whole.finish()).unwrap()
    }

    #[test]
    fn split_output_is_the_report_of_the_whole_batch() {
        let config = Config::resolve(None, |name| match name {
            "SENDER" => Some("a@example.com".into()),
            "SUBJECT" => Some("Hi {{ name }}".into()),
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL" => Some("t.html".into()),
            _ => None,
        })
        .unwrap();
        let templates: TemplateSet = [("t.html", "<p>{{ name }}</p>")].into_iter().collect();
        let mailroom = Mailroom::new(config, &templates).unwrap();
        let records: Vec<_> = (0..700).map(|n| record(n, false)).collect();
        let now = Timestamp::from_millis(1_795_428_000_000);
        // One record is answered in advance, in whichever part it lands.
        let outcomes: Outcomes = [(
            "m-600".to_owned(),
            SendOutcome::Failed(mailroom_core::SendFailure::new(
                "TooManyRequestsException",
                "Maximum sending rate exceeded.",
                Some(429),
            )),
        )]
        .into_iter()
        .collect();
        let lookups = Fixtures::None {
            expected: "lookups.json".into(),
        };
        let sender = Sender {
            lookups: &lookups,
            outbox: &Outbox::Discard,
            outcomes: &outcomes,
        };
        let expected = whole_batch(&mailroom, records.clone(), now, sender);

        let parts = split(records, 3);
        assert_eq!(parts.len(), 2);
        let processed = run_all(&mailroom, parts, now, 9, sender);
        assert_eq!(serde_json::to_string(&processed.report).unwrap(), expected);
        assert_eq!(processed.report.counts().throttled, 1);
        assert!(!processed.asked_lookups);
    }

    #[test]
    fn split_lookups_give_the_report_of_the_whole_batch() {
        let routes = r#"{"sender": "a@example.com", "routes": [{
            "name": "r", "events": ["*"], "template": "t.html", "subject": "Hi {{ lookup.u.name }}",
            "recipient": "lookup.u.email",
            "lookups": {
                "u": {"table": "t", "key": {"PK": "U#{{ u }}"}},
                "team": {"table": "t", "key": {"PK": "T#{{ lookup.u.team }}"}, "onMissing": "skip"}
            }}]}"#;
        let config = Config::resolve(Some(routes), |_| None).unwrap();
        let templates: TemplateSet = [(
            "t.html",
            "<p>{{ lookup.u.name }}{% if lookup.team is defined %} of {{ lookup.team.name }}{% endif %}</p>",
        )]
        .into_iter()
        .collect();
        let mailroom = Mailroom::new(config, &templates).unwrap();
        // Ten users, half in a team that has an entry; every eleventh record names nobody.
        let mut entries = Vec::new();
        for user in 0..10 {
            entries.push(format!(
                r#"{{"key": {{"PK": "U#{user}"}}, "item": {{"name": "N{user}", "email": "u{user}@example.com", "team": "{}"}}}}"#,
                user % 2
            ));
        }
        entries.push(r#"{"key": {"PK": "T#0"}, "item": {"name": "Zero"}}"#.to_owned());
        let fixtures = crate::lookups::Fixtures::File {
            path: "lookups.json".into(),
            fixtures: mailroom_core::LookupFixtures::parse(&format!(
                r#"{{"t": [{}]}}"#,
                entries.join(",")
            ))
            .unwrap(),
        };
        let records: Vec<SqsRecord> = (0..700)
            .map(|n| SqsRecord {
                message_id: format!("m-{n}"),
                body: format!(r#"{{"u": "{}"}}"#, if n % 11 == 0 { 99 } else { n % 10 }),
                ..SqsRecord::default()
            })
            .collect();
        let now = Timestamp::from_millis(1_795_428_000_000);
        let outcomes = Outcomes::new();
        let sender = Sender {
            lookups: &fixtures,
            outbox: &Outbox::Discard,
            outcomes: &outcomes,
        };
        let expected = whole_batch(&mailroom, records.clone(), now, sender);
        let processed = run_all(&mailroom, split(records, 3), now, 9, sender);
        assert_eq!(serde_json::to_string(&processed.report).unwrap(), expected);
        assert!(processed.asked_lookups);
        let counts = processed.report.counts();
        assert_eq!((counts.sent, counts.rejected), (636, 64));
        assert!(expected.contains("N3 of Zero") || expected.contains("<p>N2 of Zero</p>"));
    }
}
