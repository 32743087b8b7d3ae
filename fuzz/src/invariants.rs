//! The properties the fuzz targets check, in one place.
//!
//! This file is compiled twice: into the fuzz crate (`fuzz/src/lib.rs`), where libFuzzer feeds
//! it, and into `core/tests/fuzz_regressions.rs` (through `#[path]`), where `cargo test` on
//! stable replays the committed seeds and every crash the fuzzer ever found. So a crash is
//! re-checked with exactly the code that found it, and the file may only use what both crates
//! have: `mailroom-core`, `serde` and `serde_json`. Checks that need more take the form of an
//! [`EmailCheck`] the caller passes in: the fuzz crate passes the MIME check of
//! `mime_check.rs`, which needs mailroom-mime and mail-parser.
//!
//! Every check returns `Err(description)` instead of panicking; the caller decides whether that
//! is a fuzzer crash or a test failure. A panic inside the core is a finding in itself.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use mailroom_core::lookup::MAX_LOOKUPS_PER_ROUTE;
use mailroom_core::{
    Batch, BatchError, BatchReport, Config, Disposition, Email, EventError, FaultKind,
    LookupAnswer, LookupFailure, LookupFixtures, LookupItem, Mailbox, Mailroom, Preview,
    PreviewError, Reason, RenderLimits, SendOutcome, SqsEvent, SqsRecord, TemplateSet, Timestamp,
};
use serde::{Deserialize, Serialize};

/// A check every email a run produces must pass besides this file's own, with the host's clock:
/// the fuzz targets pass `mime_check::check_message`, the core's replay test [`no_email_check`].
pub type EmailCheck<'a> = &'a dyn Fn(&Email, Timestamp) -> Result<(), String>;

/// The [`EmailCheck`] that adds nothing.
pub fn no_email_check(_: &Email, _: Timestamp) -> Result<(), String> {
    Ok(())
}

/// 2026-11-23T10:00:00Z, the moment the examples were sent.
pub const NOW: Timestamp = Timestamp::from_millis(1_795_428_000_000);

use mailroom_core::decision::MAX_VISIBILITY_SECONDS;

/// The shipped example templates, so the targets render what real deployments render.
pub const EXAMPLE_TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../examples/templates/layout.html"),
    ),
    (
        "partials/footer.html",
        include_str!("../../examples/templates/partials/footer.html"),
    ),
    (
        "enrollment/organizer.html",
        include_str!("../../examples/templates/enrollment/organizer.html"),
    ),
    (
        "enrollment/organizer.txt",
        include_str!("../../examples/templates/enrollment/organizer.txt"),
    ),
    (
        "orders/confirmation.html",
        include_str!("../../examples/templates/orders/confirmation.html"),
    ),
    (
        "orders/confirmation.txt",
        include_str!("../../examples/templates/orders/confirmation.txt"),
    ),
    (
        "welcome/enrollment-completed.html",
        include_str!("../../examples/templates/welcome/enrollment-completed.html"),
    ),
];

/// The shipped routes file.
pub const EXAMPLE_ROUTES: &str = include_str!("../../examples/templates/routes.json");

/// The event type of the echo route, which prints event data into a template whose own markup
/// is known, so escaping can be checked by counting.
pub const ECHO_EVENT_TYPE: &str = "fuzz/echo";
/// The echo route's name.
pub const ECHO_ROUTE: &str = "fuzz-echo";
/// Prints three fields of the event in an attribute and in elements.
pub const ECHO_HTML: &str = concat!(
    "<p title=\"{{ title | default('') }}\">{{ note | default('') }}</p>",
    "<b>{{ name | default('') }}</b>"
);
/// The same fields as text (never escaped).
pub const ECHO_TEXT: &str = "{{ note | default('') }} {{ name | default('') }}";

/// The characters HTML escaping must keep data from producing.
const HTML_SPECIALS: [char; 4] = ['<', '>', '"', '\''];

/// The example routes with the echo route in front, and the example templates plus the echo
/// templates. `sandbox` adds a sandbox recipient, which rewrites every `to`.
pub fn fuzz_mailroom(sandbox: bool) -> &'static Mailroom {
    static PLAIN: OnceLock<Mailroom> = OnceLock::new();
    static SANDBOX: OnceLock<Mailroom> = OnceLock::new();
    let cell = if sandbox { &SANDBOX } else { &PLAIN };
    cell.get_or_init(|| build_fuzz_mailroom(sandbox))
}

fn build_fuzz_mailroom(sandbox: bool) -> Mailroom {
    let mut routes: serde_json::Value =
        serde_json::from_str(EXAMPLE_ROUTES).expect("the example routes file is JSON");
    let echo = serde_json::json!({
        "name": ECHO_ROUTE,
        "events": [ECHO_EVENT_TYPE],
        "template": "fuzz/echo.html",
        "subject": "Echo {{ subject | default('') }}",
        "recipient": ["to", "recipients", "customer.email"],
        "replyTo": "Fuzz Replies <replies@example.com>",
        "tags": { "category": "fuzz" }
    });
    routes["routes"]
        .as_array_mut()
        .expect("the example routes file has a routes list")
        .insert(0, echo);
    if sandbox {
        routes["sandboxRecipient"] = "Sandbox <sandbox@example.com>".into();
    }
    let config = Config::resolve(Some(&routes.to_string()), |_| None)
        .expect("the example routes are a valid configuration");
    Mailroom::new(config, &fuzz_templates()).expect("the fuzz routes compile")
}

/// The example templates plus the echo route's.
pub fn fuzz_templates() -> TemplateSet {
    let mut templates: TemplateSet = EXAMPLE_TEMPLATES.iter().copied().collect();
    templates.insert("fuzz/echo.html", ECHO_HTML);
    templates.insert("fuzz/echo.txt", ECHO_TEXT);
    templates
}

// ---------------------------------------------------------------------------------------------
// Target `record_body`: one arbitrary body through the whole decision.

/// Runs `body` as the only record of a batch through the fuzz configuration, accepting every
/// send, and checks the report and, with `email_check`, every email.
pub fn run_record_body(body: &str, email_check: EmailCheck<'_>) -> Result<(), String> {
    let record = SqsRecord {
        message_id: "fuzz-record".to_owned(),
        receipt_handle: "fuzz-handle".to_owned(),
        body: body.to_owned(),
        attributes: BTreeMap::from([
            ("ApproximateReceiveCount".to_owned(), "2".to_owned()),
            ("SentTimestamp".to_owned(), "1795427998500".to_owned()),
        ]),
        event_source_arn: "arn:aws:sqs:us-east-1:123456789012:notifications".to_owned(),
        ..SqsRecord::default()
    };
    let case = BatchCase {
        records: vec![record],
        ..BatchCase::default()
    };
    run_batch_case(&case, email_check)
}

// ---------------------------------------------------------------------------------------------
// Target `render_template`: an arbitrary template with arbitrary data, within the limits.

/// The fuel `render_template` renders with: a tenth of the default. Fuel is a budget that any
/// routes file may set (`limits.fuel`), and running out is one path whatever the budget, so the
/// checks lose nothing; a template that spins takes a tenth of the time (three renderings to
/// the full default budget took 2 s an input under AddressSanitizer, and such inputs were most
/// of what the target ran). Reaching the output limit takes one operation (`'x' * 2000000`),
/// not fuel. The example layout and partials render within it.
pub const RENDER_FUEL: u64 = 20_000;

/// The preview configuration of `render_template`, with [`RENDER_FUEL`]: what
/// `Config::preview("fuzz.html")` gives, through a routes file, the way deployments set limits.
fn render_config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let routes = serde_json::json!({
            "sender": "preview@mailroom.invalid",
            "routes": [{
                "name": "preview",
                "events": ["*"],
                "template": "fuzz.html",
                "subject": "",
                "recipient": "mailto"
            }],
            "limits": { "fuel": RENDER_FUEL }
        });
        Config::resolve(Some(&routes.to_string()), |_| None)
            .expect("the render_template routes are a valid configuration")
    })
}

/// Splits a `render_template` input: the template before the first NUL byte, the JSON data
/// after it (`{}` when there is no NUL).
pub fn split_render_input(input: &[u8]) -> (String, String) {
    let (template, data) = match input.iter().position(|b| *b == 0) {
        Some(nul) => (&input[..nul], &input[nul + 1..]),
        None => (input, &b"{}"[..]),
    };
    (
        String::from_utf8_lossy(template).into_owned(),
        String::from_utf8_lossy(data).into_owned(),
    )
}

/// Renders `template` with `data` as an HTML template (text derived from the HTML), as a text
/// template, and as a subject, with the core's limits but [`RENDER_FUEL`], and checks the
/// outputs, and with `email_check` the email each preview would be. Then prints `data` through
/// the echo template to check that HTML escaping holds for it.
pub fn run_render_template(
    template: &str,
    data: &str,
    email_check: EmailCheck<'_>,
) -> Result<(), String> {
    let config = render_config();
    let limits = config.limits();
    let mut templates: TemplateSet = EXAMPLE_TEMPLATES
        .iter()
        .copied()
        .filter(|(path, _)| *path == "layout.html" || path.starts_with("partials/"))
        .collect();
    templates.insert("fuzz.html", template);
    templates.insert("plain.txt", template);
    let mailroom =
        Mailroom::new(config.clone(), &templates).expect("a preview configuration always compiles");
    // The template as a subject is one rendering whichever body goes with it, so only the HTML
    // preview renders it; without a subject, the text preview's is empty.
    for (name, subject) in [("fuzz.html", Some(template)), ("plain.txt", None)] {
        match mailroom.preview(name, subject, data, NOW, &mut mailroom_core::NoLookups) {
            Ok(preview) => {
                check_size(name, &preview.html, &limits)?;
                check_size(name, &preview.text, &limits)?;
                check_header_text("subject", &preview.subject)?;
                email_check(&preview_email(&preview), NOW).map_err(|e| format!("{name}: {e}"))?;
                if preview
                    .missing
                    .iter()
                    .any(|m| !preview.variables.contains(m))
                {
                    return Err(format!(
                        "{name}: missing {:?} not among variables",
                        preview.missing
                    ));
                }
            }
            Err(PreviewError::Data(_)) => {}
            Err(PreviewError::Template(fault)) => {
                // Found only by checks, never by rendering.
                if matches!(fault.kind, FaultKind::NoRoute | FaultKind::Sample) {
                    return Err(format!("{name}: unexpected fault kind {:?}", fault.kind));
                }
            }
        }
        // Must not panic whatever the template is.
        let _ = mailroom.variables(name);
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(data) {
        check_echo_of(&value)?;
    }
    Ok(())
}

/// The email a preview would be, between fixed mailboxes: its bodies and subject are the
/// template's output, whatever that is.
fn preview_email(preview: &Preview) -> Email {
    let mailbox = |text| Mailbox::parse(text).expect("a fixed mailbox parses");
    Email::new(
        mailbox("Fuzz Sender <sender@example.com>"),
        vec![mailbox("recipient@example.org")],
        &preview.subject,
        preview.html.clone(),
        preview.text.clone(),
        "fuzz-preview",
    )
    .expect("one recipient and a fixed key make an email")
}

/// Renders `value` as `note`, `title` and `name` of the echo template and checks that none of
/// its characters became markup.
fn check_echo_of(value: &serde_json::Value) -> Result<(), String> {
    let body =
        serde_json::json!({ "note": value, "title": value, "name": value, "to": "a@example.com" });
    let mailroom = fuzz_mailroom(false);
    match mailroom.preview(
        "fuzz/echo.html",
        None,
        &body.to_string(),
        NOW,
        &mut mailroom_core::NoLookups,
    ) {
        Ok(preview) => check_echo_html(&preview.html),
        // Values minijinja cannot print (none so far) are a render error, not an escape.
        Err(PreviewError::Template(fault)) if fault.kind != FaultKind::Syntax => Ok(()),
        Err(error) => Err(format!("the echo template failed: {error}")),
    }
}

/// The echo template's HTML output has exactly the special characters of its own markup: any
/// more came unescaped from the data.
pub fn check_echo_html(html: &str) -> Result<(), String> {
    let markup = strip_expressions(ECHO_HTML);
    for special in HTML_SPECIALS {
        let expected = markup.matches(special).count();
        let found = html.matches(special).count();
        if found != expected {
            return Err(format!(
                "HTML escaping: {found} {special:?} in the output, the template has {expected}: {html:?}"
            ));
        }
    }
    Ok(())
}

/// A template's text without its `{{ ... }}` expressions.
fn strip_expressions(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("}}")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Target `batch_invariants`: whole batches with envelopes, FIFO groups and SES outcomes.

/// One structured batch run: the records, what the "SES" answers, and how the host behaves.
/// Stored as JSON in `fuzz/regressions/batch_invariants/` and `fuzz/cases/batch_invariants/`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchCase {
    /// The records of the event, in order.
    pub records: Vec<SqsRecord>,
    /// The answers to the sends, in the order the sends are handed out; cycled, and every send
    /// is accepted when this is empty.
    pub outcomes: Vec<PlannedOutcome>,
    /// Take every send the batch offers before answering any (a concurrent host), rather than
    /// one at a time.
    pub concurrent: bool,
    /// Call `expire` after this many sends were answered.
    pub expire_after: Option<u32>,
    /// Move every rejected record to the dead-letter queue (`mark_parked`).
    pub park_rejected: bool,
    /// Use the configuration with a sandbox recipient.
    pub sandbox: bool,
    /// The host's clock; `None` is [`NOW`].
    pub now: Option<i64>,
    /// The jitter seed.
    pub seed: u64,
    /// The answers to lookup reads, in the order the batch hands them out; cycled. Empty:
    /// every read is answered from the example fixtures (`examples/templates/lookups.json`).
    pub lookups: Vec<PlannedLookup>,
}

/// What the host answers for one lookup read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PlannedLookup {
    /// The example fixtures' answer.
    Fixture,
    /// This item (any JSON: what is not an object is refused by the core and answered as
    /// not found).
    Found(serde_json::Value),
    /// No such item.
    NotFound,
    /// Throttled.
    Throttled,
    /// Failed otherwise.
    Unavailable,
    /// Never answered (the deadline came first).
    Unanswered,
}

/// The example lookup fixtures, parsed once.
fn example_lookups() -> &'static LookupFixtures {
    static FIXTURES: OnceLock<LookupFixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        LookupFixtures::parse(include_str!("../../examples/templates/lookups.json"))
            .expect("the example fixtures are valid")
    })
}

/// Runs every lookup round as planned, checking the protocol: no read is handed out twice in
/// a batch, an answer is taken once, and rounds end (a chain is at most as long as a route's
/// lookups).
fn run_lookup_rounds(batch: &mut Batch, plan: &[PlannedLookup]) -> Result<(), String> {
    let mut plan = plan.iter().cycle();
    let mut seen = BTreeSet::new();
    for _ in 0..=MAX_LOOKUPS_PER_ROUTE {
        let round = batch.lookups();
        if round.is_empty() {
            return Ok(());
        }
        for request in round {
            let identity = (
                request.table.clone(),
                format!("{:?}", request.key),
                request.consistent_read,
            );
            if !seen.insert(identity) {
                return Err(format!("lookup {:?} handed out twice", request.key_text()));
            }
            let answer = match plan.next().unwrap_or(&PlannedLookup::Fixture) {
                PlannedLookup::Fixture => example_lookups().answer_to(&request),
                PlannedLookup::Found(item) => LookupItem::from_json(&item.to_string())
                    .map_or(LookupAnswer::NotFound, LookupAnswer::Found),
                PlannedLookup::NotFound => LookupAnswer::NotFound,
                PlannedLookup::Throttled => {
                    LookupAnswer::Failed(LookupFailure::Throttled("fuzz".into()))
                }
                PlannedLookup::Unavailable => {
                    LookupAnswer::Failed(LookupFailure::Unavailable("fuzz".into()))
                }
                PlannedLookup::Unanswered => continue,
            };
            batch
                .answer_lookup(request.id, answer)
                .map_err(|e| format!("lookup {}: {e}", request.key_text()))?;
            if batch
                .answer_lookup(request.id, LookupAnswer::NotFound)
                .is_ok()
            {
                return Err(format!("lookup {} was answered twice", request.key_text()));
            }
        }
    }
    Err("lookup rounds did not end".to_owned())
}

/// What the host reports for one send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PlannedOutcome {
    /// Report this outcome.
    Report(SendOutcome),
    /// Never report anything (the host crashed mid-send).
    Lose,
}

/// What the host did with one record.
#[derive(Debug, Clone, PartialEq)]
enum Handled {
    NotHandedOut,
    Reported(SendOutcome),
    Lost,
}

/// Runs a batch case through the fuzz configuration, answering sends as planned, and checks
/// every invariant of the batch protocol and of the emails.
pub fn run_batch_case(case: &BatchCase, email_check: EmailCheck<'_>) -> Result<(), String> {
    let event = SqsEvent {
        records: case.records.clone(),
    };
    check_event_round_trip(&event)?;
    let mailroom = fuzz_mailroom(case.sandbox);
    let limits = mailroom.config().limits();
    let now = case.now.map_or(NOW, Timestamp::from_millis);
    let mut batch = match mailroom.start_batch(event.clone(), now, case.seed) {
        Ok(batch) => batch,
        Err(EventError::EmptyMessageId { index }) => {
            let first_empty = event.records.iter().position(|r| r.message_id.is_empty());
            return if first_empty == Some(index) {
                Ok(())
            } else {
                Err(format!(
                    "EmptyMessageId {{ index: {index} }} but the first empty id is at {first_empty:?}"
                ))
            };
        }
        Err(error) => return Err(format!("start_batch failed on a parsed event: {error}")),
    };
    if event.records.iter().any(|r| r.message_id.is_empty()) {
        return Err("start_batch accepted a record without a message id".to_owned());
    }
    run_lookup_rounds(&mut batch, &case.lookups)?;

    let count = event.records.len();
    let groups: Vec<Option<&str>> = event
        .records
        .iter()
        .map(SqsRecord::message_group_id)
        .collect();
    let mut handled = vec![Handled::NotHandedOut; count];
    let mut in_flight: BTreeSet<usize> = BTreeSet::new();
    let mut plan = case.outcomes.iter().cycle();
    let mut answered: u32 = 0;
    loop {
        let mut wave = Vec::new();
        while let Some(send) = batch.next_send() {
            let index = send.id.position();
            if index >= count {
                return Err(format!("next_send handed out record {index} of {count}"));
            }
            if handled[index] != Handled::NotHandedOut || in_flight.contains(&index) {
                return Err(format!("record {index} was handed out twice"));
            }
            check_fifo_hand_out(index, &groups, &handled, &in_flight)?;
            // The fuzzed routes send email only: one send per record.
            let Some(email) = send.email() else {
                return Err(format!("record {index}: a text from a route without one"));
            };
            check_email(email, &limits)
                .and_then(|()| email_check(email, now))
                .map_err(|e| format!("record {index}: {e}"))?;
            in_flight.insert(index);
            wave.push(send);
            if !case.concurrent {
                break;
            }
        }
        if wave.is_empty() {
            break;
        }
        for send in wave {
            let index = send.id.position();
            in_flight.remove(&index);
            let planned = plan.next().cloned().unwrap_or_else(|| {
                PlannedOutcome::Report(SendOutcome::Accepted {
                    message_id: format!("ses-{index}"),
                })
            });
            match planned {
                PlannedOutcome::Report(outcome) => {
                    batch
                        .complete_send(send.id, outcome.clone())
                        .map_err(|e| format!("record {index}: {e}"))?;
                    // A second report of the same send is refused and changes nothing.
                    let again = batch.complete_send(
                        send.id,
                        SendOutcome::InProgressElsewhere {
                            retry_after_seconds: None,
                        },
                    );
                    if !matches!(again, Err(BatchError::NotInFlight { .. })) {
                        return Err(format!("record {index}: a second report gave {again:?}"));
                    }
                    handled[index] = Handled::Reported(outcome);
                }
                PlannedOutcome::Lose => {
                    handled[index] = Handled::Lost;
                    // Lost sends stay in flight, and keep their FIFO group busy.
                    in_flight.insert(index);
                }
            }
            answered += 1;
            if case.expire_after == Some(answered) {
                batch.expire();
            }
        }
        // Lost sends are never answered: take them out of the wave bookkeeping only.
        in_flight.retain(|index| handled[*index] == Handled::Lost);
    }
    let rejected: Vec<usize> = batch.to_park().iter().map(|p| p.id.position()).collect();
    if case.park_rejected {
        for request in batch.to_park() {
            batch
                .mark_parked(request.id)
                .map_err(|e| format!("parking record {}: {e}", request.id.position()))?;
            if batch.mark_parked(request.id).is_ok() {
                return Err("a record was parked twice".to_owned());
            }
        }
    }
    let report = batch.finish();
    check_report(&event, &report, &limits)?;
    check_dispositions(case, &event, &report, &handled, &rejected)?;
    check_fifo_order(&groups, &report)
}

/// The event survives serialisation (hosts log and forward records).
fn check_event_round_trip(event: &SqsEvent) -> Result<(), String> {
    let json =
        serde_json::to_string(event).map_err(|e| format!("event does not serialise: {e}"))?;
    let back =
        SqsEvent::from_json(&json).map_err(|e| format!("serialised event does not parse: {e}"))?;
    if &back != event {
        return Err("the event changed through a JSON round trip".to_owned());
    }
    Ok(())
}

/// A FIFO record is handed out only when every earlier record of its group was sent, and no
/// other record of its group is in flight.
fn check_fifo_hand_out(
    index: usize,
    groups: &[Option<&str>],
    handled: &[Handled],
    in_flight: &BTreeSet<usize>,
) -> Result<(), String> {
    let Some(group) = groups[index] else {
        return Ok(());
    };
    if let Some(busy) = in_flight.iter().find(|i| groups[**i] == Some(group)) {
        return Err(format!(
            "record {index} of FIFO group {group:?} handed out while {busy} is in flight"
        ));
    }
    for earlier in (0..index).filter(|i| groups[*i] == Some(group)) {
        let sent = matches!(
            handled[earlier],
            Handled::Reported(SendOutcome::Accepted { .. } | SendOutcome::AlreadySent { .. })
        );
        if !sent {
            return Err(format!(
                "record {index} of FIFO group {group:?} handed out before record {earlier} was sent"
            ));
        }
    }
    Ok(())
}

/// Checks a finished batch against its event: one disposition per record, in order; the batch
/// response lists exactly the failed ids; every email is header-safe and within limits.
pub fn check_report(
    event: &SqsEvent,
    report: &BatchReport,
    limits: &RenderLimits,
) -> Result<(), String> {
    if report.records.len() != event.records.len() {
        return Err(format!(
            "{} records in, {} dispositions out",
            event.records.len(),
            report.records.len()
        ));
    }
    for (index, (record, out)) in event.records.iter().zip(&report.records).enumerate() {
        if record.message_id != out.message_id || record.receipt_handle != out.receipt_handle {
            return Err(format!("report {index} belongs to another record"));
        }
        match &out.disposition {
            Disposition::Sent { email, .. } => {
                check_email(email, limits).map_err(|e| format!("record {index}: {e}"))?;
                if out.route.as_deref() == Some(ECHO_ROUTE) {
                    check_echo_html(email.html()).map_err(|e| format!("record {index}: {e}"))?;
                }
            }
            Disposition::Retry {
                reason,
                retry_after_seconds,
                ..
            } => {
                if *retry_after_seconds > MAX_VISIBILITY_SECONDS {
                    return Err(format!(
                        "record {index}: retry after {retry_after_seconds} s"
                    ));
                }
                if matches!(reason, Reason::Deadline | Reason::GroupBlocked)
                    && *retry_after_seconds != 0
                {
                    return Err(format!(
                        "record {index}: {reason} waits {retry_after_seconds} s"
                    ));
                }
            }
            Disposition::Reject { .. } => {}
            // Only a ledger's suppressions stop a record this way, and only with a recipient.
            Disposition::Suppressed { recipients } => {
                if recipients.is_empty() {
                    return Err(format!("record {index}: suppressed with no recipient"));
                }
            }
        }
    }
    let mut expected = Vec::new();
    for out in report.records.iter().filter(|r| r.disposition.is_failure()) {
        if !expected.contains(&out.message_id.as_str()) {
            expected.push(out.message_id.as_str());
        }
    }
    let listed: Vec<&str> = report
        .batch_response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    if listed != expected {
        return Err(format!(
            "batchItemFailures {listed:?}, the failed records are {expected:?}"
        ));
    }
    let json =
        serde_json::to_value(report).map_err(|e| format!("the report does not serialise: {e}"))?;
    let decisions = json["records"].as_array().map_or(0, |records| {
        records.iter().filter(|r| r["decision"].is_string()).count()
    });
    if decisions != report.records.len() {
        return Err("a serialised record has no decision".to_owned());
    }
    Ok(())
}

/// Each record's disposition follows from what the host reported for it.
fn check_dispositions(
    case: &BatchCase,
    event: &SqsEvent,
    report: &BatchReport,
    handled: &[Handled],
    rejected: &[usize],
) -> Result<(), String> {
    let all_handled = handled;
    // A lost send is never answered, and until a send is answered `to_park` goes by the failures
    // known so far (`core/tests/protocol.rs`): a reject of its group may be offered behind it.
    // Then only the failures the host reported must hold a reject back.
    let some_lost = handled.contains(&Handled::Lost);
    for (index, (out, handled)) in report.records.iter().zip(handled).enumerate() {
        let disposition = &out.disposition;
        let wrong = || format!("record {index}: {handled:?} ended as {disposition:?}");
        match (handled, disposition) {
            (Handled::NotHandedOut, Disposition::Sent { .. }) => return Err(wrong()),
            (Handled::NotHandedOut, _) => {}
            (Handled::Lost, Disposition::Retry { reason, .. }) if *reason == Reason::Transient => {}
            (
                Handled::Reported(SendOutcome::Accepted { message_id }),
                Disposition::Sent {
                    provider_message_id,
                    duplicate: false,
                    ..
                },
            ) if provider_message_id.as_ref() == Some(message_id) => {}
            (
                Handled::Reported(SendOutcome::AlreadySent { message_id }),
                Disposition::Sent {
                    provider_message_id,
                    duplicate: true,
                    ..
                },
            ) if provider_message_id == message_id => {}
            (
                Handled::Reported(SendOutcome::InProgressElsewhere {
                    retry_after_seconds,
                }),
                Disposition::Retry {
                    reason,
                    retry_after_seconds: after,
                    ..
                },
            ) if *reason == Reason::InProgress
                && *after >= retry_after_seconds.unwrap_or(0).min(43_200) => {}
            (Handled::Reported(SendOutcome::Failed(failure)), _) => {
                let expected = match failure.classify() {
                    Ok(fault) => ("retry", fault.reason()),
                    Err(fault) => ("reject", fault.reason()),
                };
                if (disposition.kind(), disposition.reason()) != (expected.0, Some(expected.1)) {
                    return Err(wrong());
                }
            }
            _ => return Err(wrong()),
        }
        if let Disposition::Reject { parked, .. } = disposition {
            // A reject is offered for parking unless parking would break FIFO order (an earlier
            // record of its group is left on the queue) or SQS cannot take it (empty body).
            let record = &event.records[index];
            let held_back = |reported_only: bool| {
                record.message_group_id().is_some_and(|group| {
                    report.records[..index]
                        .iter()
                        .zip(&event.records)
                        .zip(all_handled)
                        .any(|((earlier, r), earlier_handled)| {
                            r.message_group_id() == Some(group)
                                && matches!(earlier.disposition, Disposition::Retry { .. })
                                && (!reported_only
                                    || matches!(earlier_handled, Handled::Reported(_)))
                        })
                })
            };
            let offered = rejected.contains(&index);
            let expected = !held_back(some_lost) && !record.body.is_empty();
            if offered != expected && (offered || !some_lost) {
                return Err(format!(
                    "record {index}: offered for parking {offered}, expected {expected}"
                ));
            }
            if *parked != (offered && case.park_rejected) {
                return Err(format!("record {index}: parked is {parked}"));
            }
        }
    }
    Ok(())
}

/// Within a FIFO group, once a record is not sent, no later record of the group is sent.
fn check_fifo_order(groups: &[Option<&str>], report: &BatchReport) -> Result<(), String> {
    let mut stopped: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, (group, out)) in groups.iter().zip(&report.records).enumerate() {
        let Some(group) = group else { continue };
        let sent = matches!(out.disposition, Disposition::Sent { .. });
        if let Some(first) = stopped.get(group) {
            if sent {
                return Err(format!(
                    "FIFO group {group:?}: record {index} was sent after record {first} was not"
                ));
            }
        } else if !sent {
            stopped.insert(group, index);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Emails.

/// Every header field is one line of visible text, every mailbox is deliverable, and the
/// bodies are within the output limit.
pub fn check_email(email: &Email, limits: &RenderLimits) -> Result<(), String> {
    check_header_text("subject", email.subject())?;
    if email.subject().chars().count() > 251 {
        return Err(format!(
            "subject of {} characters",
            email.subject().chars().count()
        ));
    }
    check_mailbox("from", email.from())?;
    if email.to().is_empty() || email.to().len() > 50 {
        return Err(format!("{} recipients", email.to().len()));
    }
    for to in email.to() {
        check_mailbox("to", to)?;
    }
    if let Some(reply_to) = email.reply_to() {
        check_mailbox("reply-to", reply_to)?;
    }
    for tag in email.tags() {
        check_tag(tag.name(), false)?;
        check_tag(tag.value(), true)?;
    }
    let key = email.idempotency_key();
    if key.len() != 32
        || !key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("idempotency key {key:?}"));
    }
    check_size("html", email.html(), limits)?;
    check_size("text", email.text(), limits)
}

/// No CR, LF or other control character, and no Unicode line or paragraph separator.
pub fn check_header_text(what: &str, text: &str) -> Result<(), String> {
    match text
        .chars()
        .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        Some(c) => Err(format!("{what} contains {c:?}: {text:?}")),
        None => Ok(()),
    }
}

fn check_mailbox(what: &str, mailbox: &Mailbox) -> Result<(), String> {
    let address = mailbox.address();
    if !address.is_ascii()
        || address.chars().any(|c| c.is_whitespace() || c.is_control())
        || address.matches('@').count() != 1
        || address.len() > 254
    {
        return Err(format!("{what} address {address:?}"));
    }
    let header = mailbox.to_header_value();
    if !header.is_ascii() {
        return Err(format!("{what} header value is not ASCII: {header:?}"));
    }
    check_header_text(what, &header)?;
    check_header_text(what, &mailbox.to_string())?;
    if let Some(name) = mailbox.name() {
        check_header_text(what, name)?;
    }
    Ok(())
}

fn check_tag(text: &str, is_value: bool) -> Result<(), String> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-' || (is_value && (c == '.' || c == '@'))
    };
    if text.is_empty() || text.len() > 256 || !text.chars().all(allowed) {
        return Err(format!("tag part {text:?}"));
    }
    Ok(())
}

fn check_size(what: &str, body: &str, limits: &RenderLimits) -> Result<(), String> {
    if body.len() > limits.max_output_bytes {
        return Err(format!(
            "{what} is {} bytes, over the {} limit",
            body.len(),
            limits.max_output_bytes
        ));
    }
    Ok(())
}
