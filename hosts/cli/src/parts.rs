//! Large batches are decided in parts, one per core.
//!
//! The core decides a batch on one thread. Records of a standard (non-FIFO) queue are
//! independent of each other: a record's decision, its back-off (the jitter mixes the seed with
//! the message id) and its email depend on that record alone. So a large event splits into
//! contiguous parts, each part runs the whole batch protocol on its own thread (decide, write
//! the emails, finish), and the parts' reports, concatenated in order, are exactly the report
//! of the whole batch. FIFO batches keep one part: a failure in a message group must hold back
//! the group's later records, which may sit in another part.

use std::io::Write;
use std::thread;

use mailroom_core::{BatchReport, Mailroom, SendRequest, SqsEvent, SqsRecord, Timestamp};

use crate::outbox::Outbox;
use crate::report::{self, Counts};

/// Fewer records than this per part, and a thread costs more than it saves.
const MIN_PART: usize = 256;

/// How a part writes its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Each record's JSON, comma-separated, ready to go inside `"records":[...]`.
    Json,
    /// One line per record; `files` names each email's outbox file.
    Lines {
        /// Whether the outbox writes files.
        files: bool,
    },
}

/// A part's results, in record order.
pub struct PartOutput {
    /// The part's batch report.
    pub report: BatchReport,
    /// Its records, formatted.
    pub rendered: Vec<u8>,
    /// Its decisions, counted.
    pub counts: Counts,
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

/// Runs every part on its own thread and returns their outputs in order.
///
/// The caller has checked that every record has a message id, the one thing that fails a batch
/// as a whole.
#[must_use]
pub fn run_all(
    mailroom: &Mailroom,
    parts: Vec<Vec<SqsRecord>>,
    now: Timestamp,
    seed: u64,
    outbox: &Outbox,
    format: Format,
) -> Vec<PartOutput> {
    if parts.len() == 1 {
        return parts
            .into_iter()
            .map(|records| run_part(mailroom, records, now, seed, outbox, format))
            .collect();
    }
    thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|records| {
                scope.spawn(move || run_part(mailroom, records, now, seed, outbox, format))
            })
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

/// The Lambda's loop with the outbox in place of SES: take every send the batch allows now,
/// deliver it, report the outcome, repeat until nothing is left (a FIFO group releases its
/// next email only once the previous one is done); then finish and format.
fn run_part(
    mailroom: &Mailroom,
    records: Vec<SqsRecord>,
    now: Timestamp,
    seed: u64,
    outbox: &Outbox,
    format: Format,
) -> PartOutput {
    let event = SqsEvent { records };
    let mut batch = match mailroom.start_batch(&event, now, seed) {
        Ok(batch) => batch,
        // Unreachable: message ids were checked before splitting. A panic here is a bug,
        // reported as one line by main's panic hook, never a silent loss.
        Err(error) => panic!("a part failed as a whole: {error}"),
    };
    drop(event);
    let mut sends: Vec<SendRequest> = Vec::new();
    loop {
        while let Some(send) = batch.next_send() {
            sends.push(send);
        }
        if sends.is_empty() {
            break;
        }
        for send in sends.drain(..) {
            let outcome = outbox.deliver(&send.email, now);
            batch.complete_send(send.id, outcome);
        }
    }
    let report = batch.finish();
    let mut rendered = Vec::with_capacity(report.records.len() * 256);
    let mut counts = Counts::default();
    for (index, record) in report.records.iter().enumerate() {
        counts.add(&record.disposition);
        // Writing to a Vec cannot fail; serde_json only fails on non-string map keys, which
        // the report does not have.
        let _ = match format {
            Format::Json => {
                if index > 0 {
                    rendered.push(b',');
                }
                serde_json::to_writer(&mut rendered, record).map_err(std::io::Error::from)
            }
            Format::Lines { files } => report::write_line(&mut rendered, record, files),
        };
    }
    PartOutput {
        report,
        rendered,
        counts,
    }
}

/// Writes the whole batch report as one JSON document: byte for byte what `serde_json` writes
/// for the [`BatchReport`] of the unsplit batch.
pub fn write_json(out: &mut impl Write, parts: &[PartOutput]) -> std::io::Result<()> {
    out.write_all(b"{\"records\":[")?;
    let mut first = true;
    for part in parts.iter().filter(|part| !part.rendered.is_empty()) {
        if !first {
            out.write_all(b",")?;
        }
        out.write_all(&part.rendered)?;
        first = false;
    }
    out.write_all(b"],\"batchResponse\":")?;
    serde_json::to_writer(&mut *out, &batch_response(parts))?;
    out.write_all(b"}\n")
}

/// The partial batch response of the whole batch.
#[must_use]
pub fn batch_response(parts: &[PartOutput]) -> mailroom_core::BatchResponse {
    mailroom_core::BatchResponse::from_failures(
        parts
            .iter()
            .flat_map(|part| &part.report.records)
            .filter(|record| record.disposition.is_failure())
            .map(|record| record.message_id.as_str()),
    )
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

    #[test]
    fn split_output_is_the_report_of_the_whole_batch() {
        let config = Config::from_vars(|name| match name {
            "SENDER" => Some("a@example.com".into()),
            "SUBJECT" => Some("Hi {{ name }}".into()),
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL" => Some("t.html".into()),
            _ => None,
        })
        .unwrap();
        let templates: TemplateSet = [("t.html", "<p>{{ name }}</p>")].into_iter().collect();
        let mailroom = Mailroom::new(config, &templates);
        let records: Vec<_> = (0..700).map(|n| record(n, false)).collect();
        let now = Timestamp::from_millis(1_795_428_000_000);

        let mut whole = mailroom
            .start_batch(
                &SqsEvent {
                    records: records.clone(),
                },
                now,
                9,
            )
            .unwrap();
        while let Some(send) = whole.next_send() {
            let outcome = Outbox::Discard.deliver(&send.email, now);
            whole.complete_send(send.id, outcome);
        }
        let expected = serde_json::to_vec(&whole.finish()).unwrap();

        let parts = run_all(
            &mailroom,
            split(records, 3),
            now,
            9,
            &Outbox::Discard,
            Format::Json,
        );
        assert_eq!(parts.len(), 2);
        let mut written = Vec::new();
        write_json(&mut written, &parts).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            format!("{}\n", String::from_utf8(expected).unwrap())
        );
    }
}
