//! The core's hot paths on the shipped, realistic inputs (see BENCHMARKS.md for figures).
//!
//! * `per_record/*`: one record's whole path as a host runs it, from the Lambda event's JSON
//!   text to the finished batch report: `SqsEvent::from_json`, `start_batch` (envelope,
//!   routing, recipients, idempotency key, subject, HTML and text rendering), `next_send`,
//!   `complete_send`, `finish`. The record is `examples/events/order-eventbridge.json`, a
//!   2.6 KB Shopify `orders/paid` webhook through EventBridge, rendered by
//!   `orders/confirmation.html` (extends `layout.html`, loops over four line items, about 5 KB
//!   of HTML) with its `.txt` sibling, or without it (text derived from the HTML).
//! * `compile/*`: `Mailroom::new` over `examples/templates` and its `routes.json`, the
//!   cost of a cold start or a template reload.
//! * `batch/*`: ten records (the nine example events in every envelope plus one more order).
//! * `stages/*`: the public pieces of the per-record path on the same record, to show where
//!   its time goes.
//!
//! `cargo bench -p mailroom-core --bench pipeline` measures; `-- --test` runs each once.

use std::hint::black_box;

use common::{NOW, example_config, example_event_text, example_templates};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailroom_core::{LookupFixtures, Mailroom, SendOutcome, SqsEvent, SqsRecord, TemplateSet};

#[path = "../tests/common/mod.rs"]
mod common;

/// One host invocation: event JSON in, lookups answered from the example fixtures (as a host
/// answers them from its reads), every email sent (accepted), the report out. Returns the total
/// size of the rendered bodies, so nothing is optimised away.
fn run_event(mailroom: &Mailroom, event_json: &str) -> usize {
    static FIXTURES: std::sync::OnceLock<LookupFixtures> = std::sync::OnceLock::new();
    let fixtures = FIXTURES.get_or_init(common::example_lookups);
    let event = SqsEvent::from_json(event_json).expect("the event parses");
    let mut batch = mailroom
        .start_batch(event, NOW, 7)
        .expect("message ids are present");
    batch.answer_lookups_from(&mut &*fixtures);
    let mut rendered = 0;
    while let Some(send) = batch.next_send() {
        rendered += send.email().unwrap().html().len() + send.email().unwrap().text().len();
        let message_id = String::from("ses-0001");
        batch
            .complete_send(send.id, SendOutcome::Accepted { message_id })
            .expect("the send was handed out");
    }
    let report = batch.finish();
    assert!(
        report.batch_response.batch_item_failures.is_empty(),
        "every benchmark record must be sent: {:?}",
        report
            .records
            .iter()
            .map(|r| &r.disposition)
            .collect::<Vec<_>>()
    );
    rendered + report.records.len()
}

/// Ten records: the nine example events (three emails, three envelopes each) and one more order.
fn ten_record_event() -> String {
    let mut records = Vec::new();
    for example in ["enrollment", "order", "welcome"] {
        for envelope in ["raw", "sns", "eventbridge"] {
            let event =
                SqsEvent::from_json(&example_event_text(&format!("{example}-{envelope}.json")))
                    .expect("an example event");
            records.extend(event.records);
        }
    }
    let mut extra = records[4].clone();
    extra.message_id.push_str("-again");
    records.push(extra);
    assert_eq!(records.len(), 10);
    serde_json::to_string(&SqsEvent { records }).expect("an event serialises")
}

fn per_record(c: &mut Criterion) {
    let order = example_event_text("order-eventbridge.json");
    let templates = example_templates();
    let with_text = Mailroom::new(example_config(), &templates).expect("the examples compile");
    let html_only: TemplateSet = templates
        .iter()
        .filter(|(path, _)| *path != "orders/confirmation.txt")
        .collect();
    let derived_text = Mailroom::new(example_config(), &html_only).expect("the examples compile");
    assert!(
        run_event(&with_text, &order) > 4000,
        "the order email is rendered"
    );

    let mut group = c.benchmark_group("per_record");
    group.throughput(Throughput::Elements(1));
    group.bench_function("order_eventbridge", |b| {
        b.iter(|| run_event(&with_text, black_box(&order)));
    });
    group.bench_function("order_eventbridge_text_from_html", |b| {
        b.iter(|| run_event(&derived_text, black_box(&order)));
    });
    group.finish();
}

fn compile(c: &mut Criterion) {
    let templates = example_templates();
    let config = example_config();
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Elements(templates.len() as u64));
    group.bench_function("example_templates", |b| {
        b.iter(|| {
            Mailroom::new(black_box(config.clone()), black_box(&templates))
                .expect("the examples compile")
        });
    });
    group.finish();
}

fn batch(c: &mut Criterion) {
    let mailroom =
        Mailroom::new(example_config(), &example_templates()).expect("the examples compile");
    let event = ten_record_event();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(10));
    group.bench_function("ten_records", |b| {
        b.iter(|| run_event(&mailroom, black_box(&event)));
    });
    group.finish();
}

/// The public pieces of the per-record path, on the order record.
fn stages(c: &mut Criterion) {
    let order = example_event_text("order-eventbridge.json");
    let event = SqsEvent::from_json(&order).expect("the order event parses");
    let record = &event.records[0];
    let unwrapped = mailroom_core::envelope::unwrap(record).expect("the order unwraps");
    let mailroom =
        Mailroom::new(example_config(), &example_templates()).expect("the examples compile");
    let mailroom_core::Decision::Send { email, .. } = mailroom
        .decide(record, NOW, 7, &mut mailroom_core::NoLookups)
        .decision
    else {
        panic!("the order is sent");
    };

    let mut group = c.benchmark_group("stages");
    group.bench_function("event_from_json", |b| {
        b.iter(|| SqsEvent::from_json(black_box(&order)));
    });
    group.bench_function("unwrap_envelope", |b| {
        b.iter(|| mailroom_core::envelope::unwrap(black_box(record)));
    });
    group.bench_function("idempotency_key", |b| {
        b.iter(|| {
            mailroom_core::idempotency::key_for(
                black_box("order-confirmation"),
                black_box(&unwrapped),
            )
        });
    });
    group.bench_function("decide_record", |b| {
        b.iter(|| mailroom.decide(black_box(record), NOW, 7, &mut mailroom_core::NoLookups));
    });
    group.bench_function("text_from_html", |b| {
        b.iter(|| mailroom_core::email::text_from_html(black_box(email.html())));
    });
    group.bench_function("recipient_parse", |b| {
        b.iter(|| mailroom_core::Mailbox::parse(black_box("ana.nunez@example.org")));
    });
    group.finish();
}

/// A body of one object with `keys` members and no identity of its own, so its idempotency key
/// is the hash of its canonical JSON: the whole object is serialised, every key looked up.
fn wide_record(keys: usize) -> SqsRecord {
    let mut body = serde_json::Map::new();
    body.insert("mailto".into(), "reader@example.com".into());
    body.insert("eventType".into(), "EnrollmentNotification".into());
    for key in 0..keys {
        body.insert(format!("field{key:06}"), format!("value {key}").into());
    }
    SqsRecord {
        message_id: "wide".into(),
        body: serde_json::Value::Object(body).to_string(),
        ..SqsRecord::default()
    }
}

/// A body's shape must not make a record's cost grow faster than its size: per-record time
/// over objects of 1,000 to 50,000 keys (a 1 MiB body holds about 50,000 such members).
fn wide_body(c: &mut Criterion) {
    let mailroom =
        Mailroom::new(example_config(), &example_templates()).expect("the examples compile");
    let mut group = c.benchmark_group("wide_body");
    group.sample_size(10);
    for keys in [1_000, 10_000, 50_000] {
        let record = wide_record(keys);
        group.throughput(Throughput::Bytes(record.body.len() as u64));
        group.bench_function(format!("{keys}_keys"), |b| {
            b.iter(|| mailroom.decide(black_box(&record), NOW, 7, &mut mailroom_core::NoLookups));
        });
    }
    group.finish();
}

criterion_group!(benches, per_record, compile, batch, stages, wide_body);
criterion_main!(benches);
