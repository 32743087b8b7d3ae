//! The handler with fixture events and in-memory stand-ins for SES, SQS, CodeCommit and the
//! lookup tables (answered from lookup fixtures, the format the CLI reads), and the shared
//! vectors of `tests/vectors/` through it. (The real binary against moto is tested end to end
//! in `tests/lambda-e2e/`; the DynamoDB reader against moto in `lookups::dynamodb`.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mailroom_core::{
    Email, LookupAnswer, LookupFailure, LookupFixtures, LookupRequest, Message, ParkRequest,
    SendFailure, SendOutcome, SqsEvent, Timestamp,
};

use crate::handler::{HandlerError, Invocation, Notifier};
use crate::lookups::{LookupReader, Reads};
use crate::mailer::Mailer;
use crate::queue::{Delay, Queue, QueueError};
use crate::settings::Settings;
use crate::templates::source::tests::FakeSource;
use crate::templates::{LoadOptions, TemplateCache};

/// SES and SNS in memory: accepts every email and text, except emails to `throttle_to` and
/// the sends `answers` lists (by [`mailroom_core::channel::answer_key`]: the message id for
/// the email, `<id>/sms` for the text), after `delay`; records the peak number of sends in
/// flight.
#[derive(Default)]
struct FakeMailer {
    delay: Duration,
    throttle_to: Option<String>,
    answers: BTreeMap<String, SendOutcome>,
    sent: Mutex<Vec<Arc<Email>>>,
    texts: Mutex<Vec<Arc<mailroom_core::Sms>>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// What the function did, in order, shared with a [`FakeReader`].
    events: Events,
}

type Events = Arc<Mutex<Vec<&'static str>>>;

impl Mailer for FakeMailer {
    async fn send(&self, message: &Message, message_id: &str) -> SendOutcome {
        self.events.lock().unwrap().push("send");
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let key = mailroom_core::channel::answer_key(message_id, message.channel());
        let email = match message {
            Message::Email(email) => email,
            Message::Sms(sms) => {
                if let Some(answer) = self.answers.get(&key) {
                    return answer.clone();
                }
                let mut texts = self.texts.lock().unwrap();
                texts.push(Arc::clone(sms));
                return SendOutcome::Accepted {
                    message_id: format!("sns-{}", texts.len()),
                };
            }
        };
        if self
            .throttle_to
            .as_deref()
            .is_some_and(|to| email.to().iter().any(|m| m.address() == to))
        {
            return SendOutcome::Failed(SendFailure::new(
                "TooManyRequestsException",
                "Maximum sending rate exceeded.",
                Some(429),
            ));
        }
        if let Some(answer) = self.answers.get(&key) {
            return answer.clone();
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(Arc::clone(email));
        SendOutcome::Accepted {
            message_id: format!("ses-{}", sent.len()),
        }
    }
}

/// SQS in memory. Like SQS it refuses a whole batch call of more than ten entries, or a
/// `SendMessageBatch` whose bodies alone exceed the 1 MiB batch payload limit (DOMAIN.md).
/// `hang: Some((operation, n))` makes that operation stop answering from its `n+1`-th call on,
/// as behind a black-holed endpoint.
#[derive(Default)]
struct FakeQueue {
    delays: Mutex<Vec<(String, Delay)>>,
    parked: Mutex<Vec<(String, ParkRequest)>>,
    deleted: Mutex<Vec<(String, String)>>,
    /// Entries of each `SendMessageBatch` call that was accepted.
    park_calls: Mutex<Vec<usize>>,
    hang: Option<(&'static str, usize)>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

const SQS_BATCH_ENTRIES: usize = 10;
const SQS_BATCH_BYTES: usize = 1_048_576;

impl FakeQueue {
    fn hanging(operation: &'static str, answered_first: usize) -> Self {
        Self {
            hang: Some((operation, answered_first)),
            ..Self::default()
        }
    }

    /// Counts the call, then never answers if this operation hangs from this call on.
    async fn answer(&self, operation: &'static str) {
        let made = {
            let mut calls = self.calls.lock().unwrap();
            let count = calls.entry(operation).or_default();
            *count += 1;
            *count - 1
        };
        if self
            .hang
            .is_some_and(|(hanging, answered)| hanging == operation && made >= answered)
        {
            std::future::pending::<()>().await;
        }
    }
}

fn refused(operation: &'static str, entries: usize, code: &str) -> Vec<Result<(), QueueError>> {
    let error = QueueError {
        operation,
        detail: code.to_owned(),
    };
    vec![Err(error); entries]
}

impl Queue for FakeQueue {
    async fn change_visibility(
        &self,
        queue_url: &str,
        delays: &[Delay],
    ) -> Vec<Result<(), QueueError>> {
        self.answer("change_visibility").await;
        if delays.len() > SQS_BATCH_ENTRIES {
            return refused(
                "ChangeMessageVisibilityBatch",
                delays.len(),
                "TooManyEntriesInBatchRequest",
            );
        }
        self.delays
            .lock()
            .unwrap()
            .extend(delays.iter().map(|d| (queue_url.to_owned(), d.clone())));
        vec![Ok(()); delays.len()]
    }
    async fn park(&self, dlq_url: &str, parcels: &[ParkRequest]) -> Vec<Result<(), QueueError>> {
        self.answer("park").await;
        if parcels.len() > SQS_BATCH_ENTRIES {
            return refused(
                "SendMessageBatch",
                parcels.len(),
                "TooManyEntriesInBatchRequest",
            );
        }
        if parcels.iter().map(|p| p.body.len()).sum::<usize>() > SQS_BATCH_BYTES {
            return refused("SendMessageBatch", parcels.len(), "BatchRequestTooLong");
        }
        self.park_calls.lock().unwrap().push(parcels.len());
        self.parked
            .lock()
            .unwrap()
            .extend(parcels.iter().map(|p| (dlq_url.to_owned(), p.clone())));
        vec![Ok(()); parcels.len()]
    }
    async fn delete(&self, queue_url: &str, handles: &[String]) -> Vec<Result<(), QueueError>> {
        self.answer("delete").await;
        if handles.len() > SQS_BATCH_ENTRIES {
            return refused(
                "DeleteMessageBatch",
                handles.len(),
                "TooManyEntriesInBatchRequest",
            );
        }
        self.deleted
            .lock()
            .unwrap()
            .extend(handles.iter().map(|h| (queue_url.to_owned(), h.clone())));
        vec![Ok(()); handles.len()]
    }
}

/// The lookup tables in memory: answers from lookup fixtures, or `fail` for every read, or no
/// answer at all (`hang`). Keeps each round's requests.
#[derive(Default)]
struct FakeReader {
    fixtures: LookupFixtures,
    fail: Option<LookupFailure>,
    hang: bool,
    rounds: Mutex<Vec<Vec<LookupRequest>>>,
    events: Events,
}

impl FakeReader {
    fn with_fixtures(json: &str) -> Self {
        Self {
            fixtures: LookupFixtures::parse(json).unwrap(),
            ..Self::default()
        }
    }

    /// `examples/templates/lookups.json`, what the shipped welcome route reads.
    fn examples() -> Self {
        Self::with_fixtures(
            &std::fs::read_to_string(examples().join("templates/lookups.json")).unwrap(),
        )
    }

    /// The keys asked for, round by round, as `PK=..., SK=...`.
    fn keys(&self) -> Vec<Vec<String>> {
        self.rounds
            .lock()
            .unwrap()
            .iter()
            .map(|round| {
                let mut keys: Vec<String> = round.iter().map(LookupRequest::key_text).collect();
                keys.sort();
                keys
            })
            .collect()
    }
}

impl LookupReader for FakeReader {
    async fn read(&self, requests: &[LookupRequest], _until: Instant) -> Reads {
        self.events.lock().unwrap().push("read");
        self.rounds.lock().unwrap().push(requests.to_vec());
        if self.hang {
            std::future::pending::<()>().await;
        }
        let answers = requests
            .iter()
            .map(|request| match &self.fail {
                Some(failure) => LookupAnswer::Failed(failure.clone()),
                None => self.fixtures.answer_to(request),
            })
            .collect();
        Reads { answers, calls: 1 }
    }
}

type TestNotifier = Notifier<FakeMailer, FakeQueue, FakeSource, FakeReader>;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A repository holding `files` at its root, as a template repository does.
fn repository(files: &BTreeMap<String, String>) -> FakeSource {
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, source)| (path.as_str(), source.as_str()))
        .collect();
    FakeSource::with_files(&pairs)
}

/// The shipped template folder as a repository: `routes.json` beside the templates.
fn example_repository() -> FakeSource {
    repository(&mailroom_vectors::read_folder(
        &examples().join("templates"),
    ))
}

fn event(name: &str) -> SqsEvent {
    SqsEvent::from_json(&std::fs::read_to_string(examples().join("events").join(name)).unwrap())
        .unwrap()
}

fn notifier(extra: &[(&str, &str)], mailer: FakeMailer, source: FakeSource) -> TestNotifier {
    notifier_with(extra, mailer, source, FakeQueue::default())
}

fn notifier_with(
    extra: &[(&str, &str)],
    mailer: FakeMailer,
    source: FakeSource,
    queue: FakeQueue,
) -> TestNotifier {
    notifier_reading(extra, mailer, source, queue, FakeReader::examples())
}

fn notifier_reading(
    extra: &[(&str, &str)],
    mailer: FakeMailer,
    source: FakeSource,
    queue: FakeQueue,
    reader: FakeReader,
) -> TestNotifier {
    let vars: BTreeMap<String, String> =
        [("REGION", "us-east-1"), ("CODECOMMIT_REPO", "templates")]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let options = LoadOptions {
        routes_file: settings.routes_file.clone(),
        template_folder: settings.template_folder.clone(),
        vars: Arc::new(vars.clone()),
    };
    let cache = TemplateCache::new(source, options, settings.template_cache);
    Notifier::new(settings, mailer, queue, cache, reader, "notifier".into())
}

fn in_seconds(seconds: u64) -> Invocation {
    Invocation {
        deadline: Instant::now() + Duration::from_secs(seconds),
        request_id: "req-1".into(),
        now: Timestamp::from_millis(1_795_428_000_000),
        seed: 1,
    }
}

fn failures(response: &mailroom_core::BatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

const MALFORMED: &str = "7d9cac3d-5d90-729e-93be-a674ae64952f";
const NO_RECIPIENT: &str = "aa097be8-504c-93c7-a8da-82a61ffaff65";
/// The welcome of a student the table does not have.
const UNKNOWN_STUDENT: &str = "8d2affd6-4f4c-79aa-fcdf-a76f27bbaf93";
/// The three welcomes of quickstart.json, which need lookups.
const WELCOMES: [&str; 3] = [
    "fee4274a-0e76-1a0c-cad0-3747fa85e35c",
    "a4c8208b-1823-6009-66b5-d485cf581847",
    "c3c59317-1047-d4ac-7eb6-b78f4ad20291",
];
const DLQ: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/mailroom-dlq";

/// `count` records rejected for a malformed body of about `body_bytes` each.
fn malformed_records(count: usize, body_bytes: usize) -> SqsEvent {
    let mut event = event("quickstart.json");
    let malformed = event
        .records
        .iter()
        .find(|r| r.message_id == MALFORMED)
        .unwrap()
        .clone();
    event.records = (0..count)
        .map(|index| {
            let mut record = malformed.clone();
            record.message_id = format!("malformed-{index}");
            record.receipt_handle = format!("handle-{index}");
            record.body = format!("{{\"mailto\": \"{}", "x".repeat(body_bytes));
            record
        })
        .collect();
    event
}

/// The handler, failing instead of hanging when the invocation would outlive its deadline. Under
/// tokio's paused clock a wait costs no real time: the clock jumps to the next timer.
async fn handle_in_time(
    notifier: &TestNotifier,
    event: SqsEvent,
    invocation: &Invocation,
) -> Result<mailroom_core::BatchResponse, HandlerError> {
    let deadline = tokio::time::Instant::from_std(invocation.deadline);
    tokio::time::timeout_at(deadline, notifier.handle(event, invocation))
        .await
        .expect("the invocation outlived its deadline")
}

#[tokio::test]
async fn a_mixed_batch_sends_the_good_and_parks_the_bad_in_the_dead_letter_queue() {
    let dlq = "https://sqs.us-east-1.amazonaws.com/123456789012/mailroom-dlq";
    let notifier = notifier(
        &[("DLQ_URL", dlq)],
        FakeMailer::default(),
        example_repository(),
    );
    let response = notifier
        .handle(event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 9);
    let parked = notifier.queue.parked.lock().unwrap();
    let reasons: BTreeMap<&str, &str> = parked
        .iter()
        .map(|(url, p)| {
            assert_eq!(url, dlq);
            (p.message_id.as_str(), p.reason.as_str())
        })
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([
            (MALFORMED, "malformed_body"),
            (NO_RECIPIENT, "missing_recipient"),
            (UNKNOWN_STUDENT, "lookup_missing")
        ])
    );
    assert!(notifier.queue.delays.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_a_dead_letter_queue_rejected_records_are_reported_failed() {
    let notifier = notifier(&[], FakeMailer::default(), example_repository());
    let response = notifier
        .handle(event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert_eq!(
        failures(&response),
        [MALFORMED, NO_RECIPIENT, UNKNOWN_STUDENT]
    );
    // The response is what Lambda's own event types expect.
    let json = serde_json::to_string(&response).unwrap();
    let parsed: aws_lambda_events::sqs::SqsBatchResponse = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.batch_item_failures.len(), 3);
    assert_eq!(parsed.batch_item_failures[0].item_identifier, MALFORMED);
}

#[tokio::test]
async fn throttled_sends_are_retried_with_the_back_off_as_visibility_timeout() {
    let mailer = FakeMailer {
        throttle_to: Some("ana.nunez@example.org".into()),
        ..FakeMailer::default()
    };
    let notifier = notifier(&[], mailer, example_repository());
    let event = event("quickstart.json");
    let response = notifier.handle(event, &in_seconds(30)).await.unwrap();
    let sent = notifier.mailer.sent.lock().unwrap().len();
    let delays = notifier.queue.delays.lock().unwrap();
    assert!(
        !delays.is_empty() && sent + delays.len() == 9,
        "sent {sent}, delayed {}",
        delays.len()
    );
    assert_eq!(failures(&response).len(), delays.len() + 3);
    for (url, delay) in delays.iter() {
        assert_eq!(
            url,
            "https://sqs.us-east-1.amazonaws.com/123456789012/mailroom-notifications"
        );
        assert!(
            (15..=30).contains(&delay.seconds),
            "first-receive throttling backs off 15-30 s: {}",
            delay.seconds
        );
    }
}

#[tokio::test(start_paused = true)]
async fn sends_run_concurrently_within_the_bound() {
    let mailer = FakeMailer {
        delay: Duration::from_millis(50),
        ..FakeMailer::default()
    };
    let notifier = notifier(
        &[("MAX_CONCURRENT_SENDS", "4")],
        mailer,
        example_repository(),
    );
    notifier
        .handle(event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert_eq!(notifier.mailer.peak.load(Ordering::SeqCst), 4);
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 9);
}

#[tokio::test]
async fn near_the_deadline_no_send_starts_and_every_record_is_retried_at_once() {
    let notifier = notifier(
        &[("DEADLINE_MARGIN_MS", "5000")],
        FakeMailer::default(),
        example_repository(),
    );
    let response = notifier
        .handle(event("quickstart.json"), &in_seconds(3))
        .await
        .unwrap();
    assert!(notifier.mailer.sent.lock().unwrap().is_empty());
    assert!(
        notifier.reader.rounds.lock().unwrap().is_empty(),
        "no time for lookups either: the table is not called"
    );
    assert_eq!(failures(&response).len(), 12);
    // Every record but the one that is not JSON (rejected before anything is rendered) gets a
    // visibility change: none was composed, so even the one without a recipient is a deadline
    // retry, not a reject.
    let delays = notifier.queue.delays.lock().unwrap();
    assert_eq!(delays.len(), 11);
    let event = event("quickstart.json");
    let handle_of = |id: &str| {
        let record = event.records.iter().find(|r| r.message_id == id).unwrap();
        record.receipt_handle.clone()
    };
    let needs_lookups: Vec<String> = WELCOMES
        .iter()
        .chain([&UNKNOWN_STUDENT])
        .map(|id| handle_of(id))
        .collect();
    for (_, delay) in delays.iter() {
        if needs_lookups.contains(&delay.receipt_handle) {
            assert!(delay.seconds >= 15, "lookups not read: the usual back-off");
        } else {
            assert_eq!(
                delay.seconds, 0,
                "a deadline retry is not the message's fault"
            );
        }
    }
}

#[tokio::test]
async fn without_templates_every_record_is_retried_and_nothing_is_sent() {
    let source = example_repository();
    source.down.store(true, Ordering::SeqCst);
    let notifier = notifier(
        &[("DLQ_URL", "https://sqs.us-east-1.amazonaws.com/1/dlq")],
        FakeMailer::default(),
        source,
    );
    let response = notifier
        .handle(event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert_eq!(
        failures(&response).len(),
        12,
        "malformed records too: nothing is decided without templates"
    );
    assert!(notifier.mailer.sent.lock().unwrap().is_empty());
    assert!(notifier.queue.parked.lock().unwrap().is_empty());
    assert!(
        notifier
            .queue
            .delays
            .lock()
            .unwrap()
            .iter()
            .all(|(_, d)| d.seconds >= 15)
    );
}

#[tokio::test]
async fn compatibility_mode_deletes_what_was_processed_and_fails_the_invocation_for_the_rest() {
    let url = "http://127.0.0.1:1/123456789012/mailroom-notifications";
    let notifier = notifier(
        &[("SQS_URL", url), ("DELETE_PROCESSED", "true")],
        FakeMailer::default(),
        example_repository(),
    );
    let event = event("quickstart.json");
    let error = notifier
        .handle(event.clone(), &in_seconds(30))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            HandlerError::RecordsToRetry {
                failed: 3,
                total: 12
            }
        ),
        "{error}"
    );
    let deleted = notifier.queue.deleted.lock().unwrap();
    assert_eq!(deleted.len(), 9);
    assert!(
        deleted.iter().all(|(queue, _)| queue == url),
        "the configured SQS_URL is used"
    );
    let kept: Vec<&str> = event
        .records
        .iter()
        .filter(|r| !deleted.iter().any(|(_, h)| *h == r.receipt_handle))
        .map(|r| r.message_id.as_str())
        .collect();
    assert_eq!(kept, [MALFORMED, NO_RECIPIENT, UNKNOWN_STUDENT]);
}

#[tokio::test]
async fn compatibility_mode_succeeds_when_everything_was_processed() {
    let url = "http://127.0.0.1:1/123456789012/mailroom-notifications";
    let notifier = notifier(
        &[("SQS_URL", url), ("DELETE_PROCESSED", "true")],
        FakeMailer::default(),
        example_repository(),
    );
    let response = notifier
        .handle(event("order-raw.json"), &in_seconds(30))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(notifier.queue.deleted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_fifo_group_stops_at_its_first_failure() {
    let mut event = event("quickstart.json");
    // Three enrollment notifications in one group, the first to a throttled address.
    event.records.truncate(3);
    for record in &mut event.records {
        record.event_source_arn = "arn:aws:sqs:us-east-1:123456789012:mailroom.fifo".into();
        record
            .attributes
            .insert("MessageGroupId".into(), "course-42".into());
    }
    let mailer = FakeMailer {
        throttle_to: Some("dana.organizer@academy.example.com".into()),
        ..FakeMailer::default()
    };
    let notifier = notifier(&[], mailer, example_repository());
    let response = notifier.handle(event, &in_seconds(30)).await.unwrap();
    assert_eq!(failures(&response).len(), 3);
    assert!(
        notifier.mailer.sent.lock().unwrap().is_empty(),
        "later group members are never sent after a failure"
    );
    let delays = notifier.queue.delays.lock().unwrap();
    let seconds: Vec<u32> = delays.iter().map(|(_, d)| d.seconds).collect();
    assert!(
        seconds[0] >= 15 && seconds[1] == 0 && seconds[2] == 0,
        "{seconds:?}"
    );
}

/// Every shared vector through the handler, with CodeCommit, SES and SQS faked in-process and
/// the lookups answered from the case's fixtures, round by round, through the reader: the
/// report must equal the one the native core pinned, key for key.
#[tokio::test]
async fn the_shared_vectors_decide_exactly_as_the_core_pinned_them() {
    let cases = mailroom_vectors::cases();
    assert!(cases.len() >= 15, "only {} vector cases", cases.len());
    for case in cases {
        let mut files = case.templates.clone();
        if let Some(routes) = &case.routes {
            files.insert(
                mailroom_core::config::ROUTES_FILE.to_owned(),
                routes.clone(),
            );
        }
        let env: Vec<(&str, &str)> = case
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let mailer = FakeMailer {
            answers: case
                .message_ids()
                .iter()
                .flat_map(|id| {
                    [mailroom_core::Channel::Email, mailroom_core::Channel::Sms]
                        .map(|channel| mailroom_core::channel::answer_key(id, channel))
                })
                .map(|key| {
                    let outcome = serde_json::from_value(case.outcome_for(&key)).unwrap();
                    (key, outcome)
                })
                .collect(),
            ..FakeMailer::default()
        };
        let reader = FakeReader::with_fixtures(case.lookups.as_deref().unwrap_or("{}"));
        let notifier = notifier_reading(
            &env,
            mailer,
            repository(&files),
            FakeQueue::default(),
            reader,
        );
        let event: SqsEvent = serde_json::from_value(case.event.clone()).unwrap();
        let invocation = Invocation {
            now: Timestamp::from_millis(case.now),
            seed: case.seed,
            ..in_seconds(30)
        };
        let report = notifier.process(event, &invocation).await.unwrap();
        assert_eq!(
            mailroom_vectors::pretty(&serde_json::to_value(&report).unwrap()),
            mailroom_vectors::pretty(&case.expected_report()),
            "{}: {}",
            case.name,
            case.description
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_codecommit_falls_back_to_the_cached_templates_after_a_third_of_the_time() {
    let source = example_repository();
    let hang = Arc::clone(&source.hang);
    let notifier = notifier(
        &[("TEMPLATE_CACHE_SECONDS", "0")],
        FakeMailer::default(),
        source,
    );
    let first = handle_in_time(&notifier, event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    hang.store(true, Ordering::SeqCst);
    let invocation = in_seconds(30);
    let second = handle_in_time(&notifier, event("quickstart.json"), &invocation)
        .await
        .unwrap();
    let left = tokio::time::Instant::from_std(invocation.deadline) - tokio::time::Instant::now();
    assert!(
        left >= Duration::from_secs(19),
        "the refresh gave up after a third of the 30 s, leaving the rest: {left:?} left"
    );
    assert_eq!(failures(&second), failures(&first));
    assert_eq!(
        notifier.mailer.sent.lock().unwrap().len(),
        18,
        "the second batch went out with the cached templates"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_codecommit_with_nothing_cached_retries_the_whole_batch_in_time() {
    let source = example_repository();
    source.hang.store(true, Ordering::SeqCst);
    let notifier = notifier(&[("DLQ_URL", DLQ)], FakeMailer::default(), source);
    let response = handle_in_time(&notifier, event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert_eq!(failures(&response).len(), 12);
    assert!(notifier.mailer.sent.lock().unwrap().is_empty());
    let delays = notifier.queue.delays.lock().unwrap();
    assert_eq!(
        delays.len(),
        12,
        "every record gets the templates' back-off"
    );
    assert!(delays.iter().all(|(_, d)| d.seconds >= 15));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_dead_letter_queue_leaves_the_rejects_failed_and_the_invocation_in_time() {
    let notifier = notifier_with(
        &[("DLQ_URL", DLQ)],
        FakeMailer::default(),
        example_repository(),
        FakeQueue::hanging("park", 0),
    );
    let response = handle_in_time(&notifier, event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert_eq!(
        failures(&response),
        [MALFORMED, NO_RECIPIENT, UNKNOWN_STUDENT],
        "not parked, so the redrive policy moves them"
    );
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 9);
}

#[tokio::test(start_paused = true)]
async fn dead_letter_calls_that_answered_keep_their_records_parked_when_a_later_call_hangs() {
    let notifier = notifier_with(
        &[("DLQ_URL", DLQ)],
        FakeMailer::default(),
        example_repository(),
        FakeQueue::hanging("park", 1),
    );
    let response = handle_in_time(&notifier, malformed_records(12, 10), &in_seconds(30))
        .await
        .unwrap();
    assert_eq!(notifier.queue.parked.lock().unwrap().len(), 10);
    assert_eq!(
        failures(&response),
        ["malformed-10", "malformed-11"],
        "only the records of the call without an answer are left to the redrive policy"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_visibility_change_does_not_hold_the_invocation_past_its_deadline() {
    let mailer = FakeMailer {
        throttle_to: Some("ana.nunez@example.org".into()),
        ..FakeMailer::default()
    };
    let notifier = notifier_with(
        &[],
        mailer,
        example_repository(),
        FakeQueue::hanging("change_visibility", 0),
    );
    let response = handle_in_time(&notifier, event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    let sent = notifier.mailer.sent.lock().unwrap().len();
    assert!(sent < 9);
    assert_eq!(
        failures(&response).len(),
        9 - sent + 3,
        "the throttled and the rejected records are still reported failed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_delete_in_compatibility_mode_does_not_hold_the_invocation_past_its_deadline() {
    let url = "http://127.0.0.1:1/123456789012/mailroom-notifications";
    let notifier = notifier_with(
        &[("SQS_URL", url), ("DELETE_PROCESSED", "true")],
        FakeMailer::default(),
        example_repository(),
        FakeQueue::hanging("delete", 0),
    );
    let response = handle_in_time(&notifier, event("order-raw.json"), &in_seconds(30))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn large_rejects_are_parked_in_calls_within_the_batch_payload_limit() {
    let notifier = notifier(
        &[("DLQ_URL", DLQ)],
        FakeMailer::default(),
        example_repository(),
    );
    // Ten rejects of 300 KiB: 3 MB, a single SendMessageBatch would be refused as a whole.
    let response = notifier
        .handle(malformed_records(10, 300 * 1024), &in_seconds(30))
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(notifier.queue.parked.lock().unwrap().len(), 10);
    let calls = notifier.queue.park_calls.lock().unwrap();
    assert_eq!(
        *calls,
        [3, 3, 3, 1],
        "as many 300 KiB messages as fit in 1 MiB per call"
    );
}

fn welcome_emails(notifier: &TestNotifier) -> Vec<Arc<Email>> {
    notifier
        .mailer
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|email| email.subject().starts_with("Welcome"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn lookups_are_read_round_by_round_deduplicated_across_the_batch_before_any_send() {
    let events = Events::default();
    let mailer = FakeMailer {
        events: Arc::clone(&events),
        ..FakeMailer::default()
    };
    let reader = FakeReader {
        events: Arc::clone(&events),
        ..FakeReader::examples()
    };
    let notifier = notifier_reading(
        &[("DLQ_URL", DLQ)],
        mailer,
        example_repository(),
        FakeQueue::default(),
        reader,
    );
    let response = notifier
        .handle(event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    assert!(failures(&response).is_empty(), "{response:?}");
    // Four welcomes: three of one student, one of a student the table does not have, all of one
    // course. Then the instructor the course names, once.
    assert_eq!(
        notifier.reader.keys(),
        [
            vec![
                "PK=COURSE#rust-backend-101, SK=METADATA",
                "PK=STUDENT#stu_00000, SK=PROFILE",
                "PK=STUDENT#stu_81723, SK=PROFILE",
            ],
            vec!["PK=INSTRUCTOR#ins_204, SK=PROFILE"],
        ]
    );
    let events = events.lock().unwrap();
    assert_eq!(
        &events[..2],
        ["read", "read"],
        "every read before the first send"
    );
    assert_eq!(events.iter().filter(|e| **e == "send").count(), 9);
    let welcomes = welcome_emails(&notifier);
    assert_eq!(welcomes.len(), 3);
    for email in &welcomes {
        assert_eq!(
            email.subject(),
            "Welcome to Rust for Backend Engineers, Ana"
        );
        assert_eq!(email.to()[0].address(), "ana.nunez@example.org");
        let html = email.html();
        assert!(html.contains("Grace Okafor, Staff Engineer"), "{html}");
        assert!(
            email
                .text()
                .contains("https://academy.example.com/courses/rust-backend-101"),
            "{}",
            email.text()
        );
    }
    let parked = notifier.queue.parked.lock().unwrap();
    let unknown = parked
        .iter()
        .find(|(_, p)| p.message_id == UNKNOWN_STUDENT)
        .unwrap();
    assert_eq!(unknown.1.reason.as_str(), "lookup_missing");
    assert!(unknown.1.detail.contains("STUDENT#stu_00000"));
}

#[tokio::test]
async fn cached_items_answer_the_next_batch_and_lookups_without_cache_seconds_are_read_again() {
    let notifier = notifier(
        &[("DLQ_URL", DLQ)],
        FakeMailer::default(),
        example_repository(),
    );
    for _ in 0..2 {
        let response = notifier
            .handle(event("quickstart.json"), &in_seconds(30))
            .await
            .unwrap();
        assert!(failures(&response).is_empty(), "{response:?}");
    }
    let keys = notifier.reader.keys();
    assert_eq!(keys.len(), 3, "two rounds, then one: {keys:?}");
    assert_eq!(
        keys[2],
        [
            "PK=STUDENT#stu_00000, SK=PROFILE",
            "PK=STUDENT#stu_81723, SK=PROFILE"
        ],
        "the course and the instructor (cacheSeconds 300) come from the cache; students (0) \
         and the student that was not found are read again"
    );
    assert_eq!(welcome_emails(&notifier).len(), 6);
    assert!(
        welcome_emails(&notifier)
            .iter()
            .all(|email| email.subject() == "Welcome to Rust for Backend Engineers, Ana"),
        "cached items render as read ones"
    );
}

#[tokio::test]
async fn without_a_cache_every_batch_reads_its_lookups() {
    let notifier = notifier(
        &[("DLQ_URL", DLQ), ("LOOKUP_CACHE_BYTES", "0")],
        FakeMailer::default(),
        example_repository(),
    );
    for _ in 0..2 {
        notifier
            .handle(event("quickstart.json"), &in_seconds(30))
            .await
            .unwrap();
    }
    let keys = notifier.reader.keys();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[0], keys[2]);
    assert_eq!(keys[1], keys[3]);
}

#[tokio::test]
async fn a_throttled_table_retries_the_records_that_need_it_and_the_others_go_out() {
    let reader = FakeReader {
        fail: Some(LookupFailure::Throttled(
            "BatchGetItem: ProvisionedThroughputExceededException: slow down".into(),
        )),
        ..FakeReader::examples()
    };
    let notifier = notifier_reading(
        &[("DLQ_URL", DLQ)],
        FakeMailer::default(),
        example_repository(),
        FakeQueue::default(),
        reader,
    );
    let response = handle_in_time(&notifier, event("quickstart.json"), &in_seconds(30))
        .await
        .unwrap();
    let mut failed = failures(&response);
    failed.sort_unstable();
    let mut expected: Vec<&str> = WELCOMES.iter().copied().chain([UNKNOWN_STUDENT]).collect();
    expected.sort_unstable();
    assert_eq!(failed, expected, "nothing is rejected on a failed read");
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 6);
    assert_eq!(
        notifier.reader.rounds.lock().unwrap().len(),
        1,
        "the instructor is never asked for without the course"
    );
    let delays = notifier.queue.delays.lock().unwrap();
    assert_eq!(delays.len(), 4);
    assert!(
        delays.iter().all(|(_, d)| (15..=30).contains(&d.seconds)),
        "throttled on a first receive: 15-30 s"
    );
    assert!(notifier.queue.parked.lock().unwrap().len() == 2);
}

#[tokio::test(start_paused = true)]
async fn a_table_that_does_not_answer_leaves_the_sends_their_time() {
    let reader = FakeReader {
        hang: true,
        ..FakeReader::examples()
    };
    let notifier = notifier_reading(
        &[],
        FakeMailer::default(),
        example_repository(),
        FakeQueue::default(),
        reader,
    );
    let invocation = in_seconds(30);
    let response = handle_in_time(&notifier, event("quickstart.json"), &invocation)
        .await
        .unwrap();
    let left = tokio::time::Instant::from_std(invocation.deadline) - tokio::time::Instant::now();
    assert!(
        left >= Duration::from_secs(13),
        "the lookups gave up after half of the 28 s before sends stop: {left:?} left"
    );
    assert_eq!(notifier.mailer.sent.lock().unwrap().len(), 6);
    assert_eq!(failures(&response).len(), 4 + 2);
}
