//! Fuzzing support for mailroom-core: the invariants every target checks (shared with the
//! stable replay test) and the structured input of `batch_invariants`.
//!
//! `batch_invariants` takes either a [`BatchCase`] as JSON (the form regressions are kept in)
//! or arbitrary bytes, which [`FuzzBatch`] turns into a case: records built from the example
//! events or from fuzzed fields, wrapped in any envelope, on standard or FIFO queues, with a
//! plan of SES answers.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Result as ArbitraryResult, Unstructured};
use mailroom_core::record::MessageAttribute;
use mailroom_core::{SendFailure, SendOutcome, SqsEvent, SqsRecord};
use serde_json::{Map, Value, json};

#[path = "invariants.rs"]
pub mod invariants;
pub mod mime_check;
// The SES feedback checks of `feedback_body`, shared with `core/tests/feedback.rs` and
// `core/tests/fuzz_regressions.rs`.
pub mod feedback_invariants;

pub use invariants::{BatchCase, PlannedLookup, PlannedOutcome};

/// Decodes a `batch_invariants` input: a JSON [`BatchCase`] if it is one, else structured bytes.
pub fn batch_case_from_bytes(data: &[u8]) -> ArbitraryResult<BatchCase> {
    if data.first() == Some(&b'{')
        && let Ok(case) = serde_json::from_slice::<BatchCase>(data)
    {
        return Ok(case);
    }
    FuzzBatch::arbitrary_take_rest(Unstructured::new(data)).map(|batch| batch.to_case())
}

/// At most this many records per batch (Lambda allows 10 for FIFO, more for standard queues).
const MAX_RECORDS: usize = 12;
const MAX_OUTCOMES: usize = 16;
const MAX_JSON_DEPTH: u8 = 4;

/// A whole batch, as the fuzzer builds it.
#[derive(Debug, Arbitrary)]
pub struct FuzzBatch {
    records: Vec<FuzzRecord>,
    outcomes: Vec<FuzzOutcome>,
    concurrent: bool,
    expire_after: Option<u8>,
    park_rejected: bool,
    sandbox: bool,
    odd_clock: Option<i64>,
    seed: u64,
    lookups: Vec<FuzzLookup>,
}

#[derive(Debug, Arbitrary)]
enum FuzzLookup {
    Fixture,
    Found(FuzzJson),
    NotFound,
    Throttled,
    Unavailable,
    Unanswered,
}

#[derive(Debug, Arbitrary)]
struct FuzzRecord {
    id: FuzzId,
    body: FuzzBody,
    queue: FuzzQueue,
    receive_count: Option<FuzzText>,
    sent_timestamp: Option<FuzzText>,
    event_type_attribute: Option<FuzzEventType>,
}

#[derive(Debug, Arbitrary)]
enum FuzzId {
    /// `m-0` .. `m-7`: small, so duplicates within a batch are common.
    Small(u8),
    /// Any text, empty only when the fuzzer makes it so.
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum FuzzQueue {
    Standard,
    /// Groups `g-0` .. `g-3`, so groups share records.
    Fifo(u8),
    /// A FIFO record without a `MessageGroupId`.
    FifoWithoutGroup,
}

#[derive(Debug, Arbitrary)]
enum FuzzText {
    Number(i64),
    Text(String),
}

impl FuzzText {
    fn render(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum FuzzEventType {
    Known(u8),
    Text(String),
}

const KNOWN_EVENT_TYPES: &[&str] = &[
    "orders/paid",
    "EnrollmentCompleted",
    "EnrollmentNotification",
    invariants::ECHO_EVENT_TYPE,
    "orders/create",
    "",
];

impl FuzzEventType {
    fn render(&self) -> String {
        match self {
            Self::Known(i) => pick(KNOWN_EVENT_TYPES, *i).to_owned(),
            Self::Text(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum FuzzBody {
    /// One of the example events, some of its fields replaced, in an envelope.
    Example {
        which: u8,
        edits: Vec<(FuzzKey, FuzzJson)>,
        envelope: FuzzEnvelope,
    },
    /// An event for the echo route, whose fields are printed into HTML and the subject.
    Echo {
        note: FuzzJson,
        title: FuzzJson,
        name: FuzzJson,
        subject: FuzzJson,
        recipients: FuzzRecipients,
        envelope: FuzzEnvelope,
    },
    /// Any JSON value as the body.
    Json(FuzzJson),
    /// Any text as the body.
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum FuzzKey {
    /// A key the example templates and routes read.
    Known(u8),
    Text(String),
}

const KNOWN_KEYS: &[&str] = &[
    "email",
    "contact_email",
    "customer",
    "line_items",
    "name",
    "created_at",
    "currency",
    "presentment_currency",
    "total_price",
    "shipping_address",
    "mailto",
    "studentName",
    "courseName",
    "enrolledAt",
    "student",
    "courseTitle",
    "courseId",
    "eventType",
    "eventId",
    "id",
    "type",
    "Type",
    "Message",
    "detail-type",
    "detail",
];

impl FuzzKey {
    fn render(&self) -> String {
        match self {
            Self::Known(i) => pick(KNOWN_KEYS, *i).to_owned(),
            Self::Text(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum FuzzEnvelope {
    Raw,
    Sns {
        message_id: Option<String>,
        event_type: Option<FuzzEventType>,
    },
    EventBridge {
        detail_type: FuzzEventType,
        id: Option<String>,
    },
    SnsEventBridge {
        detail_type: FuzzEventType,
    },
    Shopify {
        topic: FuzzEventType,
        event_id: Option<String>,
        lower_case_headers: bool,
    },
}

#[derive(Debug, Arbitrary)]
enum FuzzRecipients {
    One(FuzzAddress),
    Many(Vec<FuzzAddress>),
    Object {
        address: FuzzAddress,
        name: FuzzString,
    },
    Missing,
    Other(FuzzJson),
}

#[derive(Debug, Arbitrary)]
enum FuzzAddress {
    Plain(u8),
    Named(FuzzString, u8),
    Idn(u8),
    Text(FuzzString),
}

impl FuzzAddress {
    fn render(&self) -> String {
        match self {
            Self::Plain(n) => format!("user{}@example.com", n % 60),
            Self::Named(name, n) => format!("{} <user{}@example.com>", name.render(), n % 60),
            Self::Idn(n) => format!("Ünï Cødé <info{n}@Bücher.example>"),
            Self::Text(text) => text.render(),
        }
    }
}

/// Text that is often one of the strings that break mail systems.
#[derive(Debug, Arbitrary)]
enum FuzzString {
    Nasty(u8),
    Text(String),
    Both(u8, String),
}

const NASTY: &[&str] = &[
    "a@example.com\r\nBcc: victim@example.net",
    "Order\r\nBcc: victim@example.net",
    "line\nbreak",
    "\u{2028}separator\u{2029}",
    "\u{85}next line",
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    "&amp;&lt;&#x27;",
    "{{ 7 * 7 }}{% for x in range(10) %}x{% endfor %}",
    "=?utf-8?b?QmNjOiB2aWN0aW0=?=",
    "\u{202e}evil\u{202c}",
    "\0nul",
    "\t tab \u{7f}",
    "Ünïcødé Ñame",
    "\"Doe, Jane\" <jane@example.com>",
    "",
    "   ",
];

impl FuzzString {
    fn render(&self) -> String {
        match self {
            Self::Nasty(i) => pick(NASTY, *i).to_owned(),
            Self::Text(text) => text.clone(),
            Self::Both(i, text) => format!("{text}{}", pick(NASTY, *i)),
        }
    }
}

/// Any JSON value, nested at most [`MAX_JSON_DEPTH`] deep.
#[derive(Debug)]
struct FuzzJson(Value);

impl<'a> Arbitrary<'a> for FuzzJson {
    fn arbitrary(u: &mut Unstructured<'a>) -> ArbitraryResult<Self> {
        arbitrary_json(u, 0).map(Self)
    }
}

fn arbitrary_json(u: &mut Unstructured<'_>, depth: u8) -> ArbitraryResult<Value> {
    let choices = if depth >= MAX_JSON_DEPTH { 6 } else { 8 };
    Ok(match u.choose_index(choices)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        4 => Value::String(FuzzString::arbitrary(u)?.render()),
        5 => Value::String(format!(
            "{}.{:02}",
            u.int_in_range(0..=99_999)?,
            u.int_in_range(0..=99)?
        )),
        6 => {
            let len = u.int_in_range(0..=4)?;
            Value::Array(
                (0..len)
                    .map(|_| arbitrary_json(u, depth + 1))
                    .collect::<ArbitraryResult<_>>()?,
            )
        }
        _ => {
            let len = u.int_in_range(0..=4)?;
            let mut map = Map::new();
            for _ in 0..len {
                map.insert(
                    FuzzKey::arbitrary(u)?.render(),
                    arbitrary_json(u, depth + 1)?,
                );
            }
            Value::Object(map)
        }
    })
}

#[derive(Debug, Arbitrary)]
enum FuzzOutcome {
    Accepted,
    AlreadySent(Option<String>),
    InProgressElsewhere(Option<u32>),
    Failed {
        code: u8,
        message: String,
        http_status: Option<u16>,
    },
    Lose,
}

const SES_CODES: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "SendingPausedException",
    "MailFromDomainNotVerifiedException",
    "MessageRejected",
    "BadRequestException",
    "AccountSuspendedException",
    "NotFoundException",
    "InternalFailure",
    "timeout",
    "network",
    "",
];

fn pick<'a>(choices: &[&'a str], index: u8) -> &'a str {
    choices[usize::from(index) % choices.len()]
}

/// The bodies of the raw example events, parsed once.
fn example_events() -> &'static [Value] {
    static EVENTS: OnceLock<Vec<Value>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        [
            include_str!("../../examples/events/enrollment-raw.json"),
            include_str!("../../examples/events/order-raw.json"),
            include_str!("../../examples/events/welcome-raw.json"),
        ]
        .iter()
        .flat_map(|text| {
            SqsEvent::from_json(text)
                .expect("example events parse")
                .records
        })
        .map(|record| serde_json::from_str(&record.body).expect("example bodies are JSON"))
        .collect()
    })
}

impl FuzzBatch {
    /// The case this input describes.
    pub fn to_case(&self) -> BatchCase {
        BatchCase {
            records: self
                .records
                .iter()
                .take(MAX_RECORDS)
                .enumerate()
                .map(|(index, record)| record.to_record(index))
                .collect(),
            outcomes: self
                .outcomes
                .iter()
                .take(MAX_OUTCOMES)
                .enumerate()
                .map(|(index, outcome)| outcome.to_planned(index))
                .collect(),
            concurrent: self.concurrent,
            expire_after: self.expire_after.map(u32::from),
            park_rejected: self.park_rejected,
            sandbox: self.sandbox,
            now: self.odd_clock,
            seed: self.seed,
            lookups: self
                .lookups
                .iter()
                .take(MAX_OUTCOMES)
                .map(|lookup| match lookup {
                    FuzzLookup::Fixture => PlannedLookup::Fixture,
                    FuzzLookup::Found(json) => PlannedLookup::Found(json.0.clone()),
                    FuzzLookup::NotFound => PlannedLookup::NotFound,
                    FuzzLookup::Throttled => PlannedLookup::Throttled,
                    FuzzLookup::Unavailable => PlannedLookup::Unavailable,
                    FuzzLookup::Unanswered => PlannedLookup::Unanswered,
                })
                .collect(),
        }
    }
}

impl FuzzOutcome {
    fn to_planned(&self, index: usize) -> PlannedOutcome {
        PlannedOutcome::Report(match self {
            Self::Accepted => SendOutcome::Accepted {
                message_id: format!("ses-{index}"),
            },
            Self::AlreadySent(message_id) => SendOutcome::AlreadySent {
                message_id: message_id.clone(),
            },
            Self::InProgressElsewhere(retry_after_seconds) => SendOutcome::InProgressElsewhere {
                retry_after_seconds: *retry_after_seconds,
            },
            Self::Failed {
                code,
                message,
                http_status,
            } => SendOutcome::Failed(SendFailure::new(
                pick(SES_CODES, *code),
                message.clone(),
                *http_status,
            )),
            Self::Lose => return PlannedOutcome::Lose,
        })
    }
}

impl FuzzRecord {
    fn to_record(&self, index: usize) -> SqsRecord {
        let message_id = match &self.id {
            FuzzId::Small(n) => format!("m-{}", n % 8),
            FuzzId::Text(text) => text.clone(),
        };
        let mut attributes = BTreeMap::new();
        if let Some(count) = &self.receive_count {
            attributes.insert("ApproximateReceiveCount".to_owned(), count.render());
        }
        if let Some(sent) = &self.sent_timestamp {
            attributes.insert("SentTimestamp".to_owned(), sent.render());
        }
        let queue = match self.queue {
            FuzzQueue::Standard => "arn:aws:sqs:us-east-1:123456789012:notifications",
            FuzzQueue::Fifo(group) => {
                attributes.insert("MessageGroupId".to_owned(), format!("g-{}", group % 4));
                "arn:aws:sqs:us-east-1:123456789012:notifications.fifo"
            }
            FuzzQueue::FifoWithoutGroup => "arn:aws:sqs:us-east-1:123456789012:notifications.fifo",
        };
        let message_attributes = self
            .event_type_attribute
            .iter()
            .map(|event_type| {
                let attribute = MessageAttribute {
                    data_type: "String".to_owned(),
                    string_value: Some(event_type.render()),
                    binary_value: None,
                };
                ("eventType".to_owned(), attribute)
            })
            .collect();
        SqsRecord {
            message_id,
            receipt_handle: format!("handle-{index}"),
            body: self.body.render(),
            attributes,
            message_attributes,
            event_source_arn: queue.to_owned(),
            ..SqsRecord::default()
        }
    }
}

impl FuzzBody {
    fn render(&self) -> String {
        match self {
            Self::Example {
                which,
                edits,
                envelope,
            } => {
                let events = example_events();
                let mut event = events[usize::from(*which) % events.len()].clone();
                for (key, value) in edits {
                    set_path(&mut event, &key.render(), value.0.clone());
                }
                envelope.wrap(event)
            }
            Self::Echo {
                note,
                title,
                name,
                subject,
                recipients,
                envelope,
            } => {
                let mut event = json!({
                    "eventType": invariants::ECHO_EVENT_TYPE,
                    "note": note.0, "title": title.0, "name": name.0, "subject": subject.0,
                });
                match recipients {
                    FuzzRecipients::One(address) => event["to"] = Value::String(address.render()),
                    FuzzRecipients::Many(addresses) => {
                        event["recipients"] = addresses
                            .iter()
                            .map(|a| Value::String(a.render()))
                            .collect();
                    }
                    FuzzRecipients::Object { address, name } => {
                        event["customer"] =
                            json!({ "email": address.render(), "name": name.render() });
                    }
                    FuzzRecipients::Missing => {}
                    FuzzRecipients::Other(value) => event["to"] = value.0.clone(),
                }
                envelope.wrap(event)
            }
            Self::Json(value) => value.0.to_string(),
            Self::Text(text) => text.clone(),
        }
    }
}

/// Sets `value` at a key of the event, or of its first nested object when the key is dotted.
fn set_path(event: &mut Value, key: &str, value: Value) {
    let mut target = event;
    let mut segments = key.split('.').peekable();
    while let Some(segment) = segments.next() {
        let Value::Object(map) = target else { return };
        if segments.peek().is_none() {
            map.insert(segment.to_owned(), value);
            return;
        }
        target = map
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

impl FuzzEnvelope {
    fn wrap(&self, event: Value) -> String {
        match self {
            Self::Raw => event.to_string(),
            Self::Sns {
                message_id,
                event_type,
            } => sns(
                event.to_string(),
                message_id.as_deref(),
                event_type.as_ref(),
            ),
            Self::EventBridge { detail_type, id } => {
                eventbridge(event, &detail_type.render(), id.as_deref()).to_string()
            }
            Self::SnsEventBridge { detail_type } => sns(
                eventbridge(event, &detail_type.render(), Some("eb-1")).to_string(),
                Some("sns-1"),
                None,
            ),
            Self::Shopify {
                topic,
                event_id,
                lower_case_headers,
            } => {
                let (topic_header, id_header) = if *lower_case_headers {
                    ("x-shopify-topic", "x-shopify-event-id")
                } else {
                    ("X-Shopify-Topic", "X-Shopify-Event-Id")
                };
                let mut metadata = Map::new();
                metadata.insert(topic_header.to_owned(), Value::String(topic.render()));
                if let Some(id) = event_id {
                    metadata.insert(id_header.to_owned(), Value::String(id.clone()));
                }
                let detail = json!({ "payload": event, "metadata": metadata });
                json!({ "version": "0", "id": "eb-shop", "detail-type": "shopifyWebhook", "detail": detail })
                    .to_string()
            }
        }
    }
}

fn sns(message: String, message_id: Option<&str>, event_type: Option<&FuzzEventType>) -> String {
    let mut notification = json!({ "Type": "Notification", "Message": message });
    if let Some(id) = message_id {
        notification["MessageId"] = Value::String(id.to_owned());
    }
    if let Some(event_type) = event_type {
        notification["MessageAttributes"] =
            json!({ "eventType": { "Type": "String", "Value": event_type.render() } });
    }
    notification.to_string()
}

fn eventbridge(event: Value, detail_type: &str, id: Option<&str>) -> Value {
    let mut envelope =
        json!({ "version": "0", "detail-type": detail_type, "source": "fuzz", "detail": event });
    if let Some(id) = id {
        envelope["id"] = Value::String(id.to_owned());
    }
    envelope
}
