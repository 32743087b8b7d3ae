//! Lookups: data an event names by id, read from DynamoDB before rendering.
//!
//! A route declares its lookups in the routes file; each names a table and a key whose
//! attributes are small templates over the event (and over earlier lookups' results):
//!
//! ```json
//! { "name": "welcome", "events": ["EnrollmentCompleted"],
//!   "template": "enrollment/welcome.html", "subject": "Welcome to {{ lookup.course.title }}",
//!   "recipient": "lookup.student.email",
//!   "lookups": {
//!     "student": { "table": "enrollments", "key": { "PK": "STUDENT#{{ studentId }}", "SK": "PROFILE" } },
//!     "course": { "tableVariable": "COURSES_TABLE", "table": "enrollments",
//!                 "key": { "PK": "COURSE#{{ courseId }}", "SK": "METADATA" }, "onMissing": "retry" },
//!     "instructor": { "table": "enrollments",
//!                     "key": { "PK": "INSTRUCTOR#{{ lookup.course.instructorId }}", "SK": "PROFILE" },
//!                     "onMissing": "skip" }
//!   } }
//! ```
//!
//! - `table` names the table; `tableVariable` names an environment variable holding it, which
//!   wins when set (`table` is then the fallback, e.g. for the CLI).
//! - `key`: attribute name to template. A string is a string attribute (`S`); `{"N": "..."}` a
//!   number. Key templates see the event's fields and `lookup.<name>` of other lookups; a
//!   lookup runs once every lookup its key reads is answered, so `instructor` above waits for
//!   `course`. A key that reads a field the event lacks (or that is null or empty) rejects the
//!   record with `missing_field`, naming it, unless the lookup is `skip`: then it is left out,
//!   as if its item were not found (a course that names no instructor).
//! - `onMissing`: when no item has the key. `reject` (the default) rejects with `lookup_missing`;
//!   `retry` retries with the usual back-off (for producers that publish before they write);
//!   `skip` leaves `lookup.<name>` undefined for the templates.
//! - `consistentRead` (default `true`): strongly consistent reads, so an item written just
//!   before the event was published is found.
//! - `cacheSeconds` (default 0, at most 86,400): hosts may answer this lookup from a cache that
//!   old (the Lambda does, across warm invocations).
//!
//! Templates (HTML, text, subject) and recipient paths see every result under [`LOOKUP_NAME`]:
//! `{{ lookup.student.firstName }}`, `"recipient": "lookup.student.email"`, as plain JSON
//! ([`attribute`] says how DynamoDB's types convert). A route without lookups sees the event's
//! own `lookup` field, if it has one, as before.
//!
//! ```
//! use mailroom_core::{Config, LookupAnswer, LookupItem, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp};
//!
//! let routes = r#"{ "sender": "School <school@example.com>", "routes": [{
//!     "name": "welcome", "events": ["*"], "template": "welcome.html",
//!     "subject": "Welcome, {{ lookup.student.firstName }}", "recipient": "lookup.student.email",
//!     "lookups": { "student": { "table": "school", "key": { "PK": "STUDENT#{{ studentId }}" } } } }] }"#;
//! let mut templates = TemplateSet::new();
//! templates.insert("welcome.html", "<p>Hi {{ lookup.student.firstName }}</p>");
//! let mailroom = Mailroom::new(Config::resolve(Some(routes), |_| None)?, &templates)?;
//!
//! let event = SqsEvent::from_json(r#"{"Records": [{"messageId": "m-1", "receiptHandle": "r-1",
//!     "body": "{\"studentId\": \"42\"}", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}"#)?;
//! let mut batch = mailroom.start_batch(event, Timestamp::from_millis(0), 7)?;
//! loop {
//!     let round = batch.lookups();
//!     if round.is_empty() {
//!         break;
//!     }
//!     for request in round {
//!         // The host reads DynamoDB here (BatchGetItem, one call per table per round).
//!         assert_eq!(request.key_text(), "PK=STUDENT#42");
//!         let item = LookupItem::from_json(r#"{"firstName": "Ada", "email": "ada@example.com"}"#)?;
//!         batch.answer_lookup(request.id, LookupAnswer::Found(item))?;
//!     }
//! }
//! let send = batch.next_send().expect("rendered once its lookup is answered");
//! assert_eq!(send.email().expect("an email").subject(), "Welcome, Ada");
//! batch.complete_send(send.id, SendOutcome::Accepted { message_id: "ses-1".into() })?;
//! assert!(batch.finish().batch_response.batch_item_failures.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The protocol is sans-IO: [`crate::Batch::lookups`] hands out the batch's requests (deduplicated
//! across records: one [`LookupRequest`] per table, key and read consistency), the host reads
//! them however it likes and answers each with [`crate::Batch::answer_lookup`]; a record renders
//! only when all of its lookups are answered. Lookups never change a record's idempotency key:
//! they do not change which event it is.

pub mod attribute;
mod declare;
pub mod fixtures;
mod progress;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::json::{JsonDocument, JsonKind, JsonRef};
pub(crate) use crate::suppress::SUPPRESSION_LOOKUP;
pub use attribute::{AttributeValue, Item};
pub(crate) use declare::{LookupEntry, check_recipient_path, validate};
pub(crate) use progress::{Fault, Progress, Requests, at_path, next_keys, purpose_of};

/// The lookup fixtures file's name beside the templates, for hosts that answer lookups from
/// a file (the CLI, the previewer).
pub const LOOKUPS_FILE: &str = "lookups.json";

/// The name under which templates see lookup results: `{{ lookup.student.firstName }}`.
pub const LOOKUP_NAME: &str = "lookup";

/// The most lookups one route may declare: each is a read per record.
pub const MAX_LOOKUPS_PER_ROUTE: usize = 10;

/// The longest `cacheSeconds` a lookup may ask for: a day.
pub const MAX_CACHE_SECONDS: u32 = 86_400;

/// What to do when a lookup's item does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMissing {
    /// Reject the record (`lookup_missing`): the data will not appear.
    #[default]
    Reject,
    /// Retry with the usual back-off: the producer may publish before it writes.
    Retry,
    /// Render without it: templates see `lookup.<name>` undefined.
    Skip,
}

/// One declared lookup of a route, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub(crate) name: String,
    pub(crate) table: String,
    pub(crate) key: Vec<KeyPart>,
    pub(crate) on_missing: OnMissing,
    pub(crate) consistent_read: bool,
    pub(crate) cache_seconds: u32,
    /// Positions (in the route's list) of the lookups whose results the key reads.
    pub(crate) depends_on: Vec<usize>,
}

impl Lookup {
    /// The lookup's name: templates read its result as `lookup.<name>`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table it reads.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The key's attribute names, in order.
    pub fn key_attributes(&self) -> impl Iterator<Item = &str> {
        self.key.iter().map(|part| part.attribute.as_str())
    }

    /// What happens when the item does not exist.
    #[must_use]
    pub fn on_missing(&self) -> OnMissing {
        self.on_missing
    }

    /// Whether reads are strongly consistent.
    #[must_use]
    pub fn consistent_read(&self) -> bool {
        self.consistent_read
    }

    /// How old a cached answer may be, in seconds (0: never cached).
    #[must_use]
    pub fn cache_seconds(&self) -> u32 {
        self.cache_seconds
    }
}

/// One attribute of a lookup's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPart {
    pub attribute: String,
    pub kind: KeyKind,
    pub template: String,
    /// The event fields (dotted paths) and `lookup.<name>.…` paths the template reads.
    pub reads: Vec<String>,
}

/// The DynamoDB type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    String,
    Number,
}

/// A lookup the batch wants read. Answer it with [`crate::Batch::answer_lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LookupRequest {
    /// Answer with this id.
    pub id: LookupId,
    /// The table.
    pub table: String,
    /// The full primary key.
    pub key: Item,
    /// Read strongly consistent.
    pub consistent_read: bool,
    /// A cached answer at most this old will do (0: read the table).
    pub cache_seconds: u32,
    /// The name of the (first) lookup that asks for it, for logs.
    pub lookup: String,
    /// What the read is for: a route's data, or a recipient's suppression check.
    pub purpose: LookupPurpose,
}

/// What a [`LookupRequest`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LookupPurpose {
    /// A lookup a route declares: its item is data for the templates.
    Declared,
    /// A recipient's suppression check: the address's item in the delivery ledger. A host may
    /// answer it with a conditional check instead of a read ([`crate::suppress`] says how),
    /// which lets it claim the idempotency keys of the emails the checks hold
    /// ([`crate::Batch::emails_held_by_checks`]) in the same call.
    SuppressionCheck,
}

impl LookupRequest {
    /// The key as `PK=STUDENT#42, SK=PROFILE`, for logs and reasons.
    #[must_use]
    pub fn key_text(&self) -> String {
        key_text(&self.key)
    }

    /// The key, attribute name to value as text: a string's text, a number's digits. Fixtures
    /// write keys this way, so it is what a fixtures entry is matched on, what a missing entry
    /// is suggested with, and what previews show.
    #[must_use]
    pub fn key_as_text(&self) -> BTreeMap<String, String> {
        self.key
            .iter()
            .map(|(name, value)| (name.clone(), key_value_text(value)))
            .collect()
    }
}

pub(crate) fn key_text(key: &Item) -> String {
    key.iter()
        .map(|(name, value)| format!("{name}={}", key_value_text(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A key attribute's value as text (keys are strings or numbers).
fn key_value_text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// A lookup request as the batch names it to the host. Only the batch makes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupId {
    pub(crate) batch: u32,
    pub(crate) index: u32,
}

impl LookupId {
    /// The request's position among the batch's lookups (0-based), for logs and tests.
    #[must_use]
    pub fn position(self) -> usize {
        usize::try_from(self.index).unwrap_or(usize::MAX)
    }
}

/// What the host found for a [`LookupRequest`].
#[derive(Debug, Clone)]
pub enum LookupAnswer {
    /// The item.
    Found(LookupItem),
    /// No item has the key.
    NotFound,
    /// The read failed (throttled, 5xx, timed out, unprocessed at the deadline, access
    /// denied): our side, so the records that need it are retried.
    Failed(LookupFailure),
}

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupFailure {
    /// DynamoDB throttled the read (`ProvisionedThroughputExceededException`,
    /// `ThrottlingException`, or keys left unprocessed until the deadline).
    Throttled(String),
    /// Anything else: 5xx, timeouts, network, access denied, a table that does not exist.
    Unavailable(String),
}

/// A found item, as templates will see it: a JSON object.
#[derive(Debug, Clone)]
pub struct LookupItem(pub(crate) JsonRef);

/// A found item the core cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupItemError {
    /// Not JSON.
    #[error("the item is not JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("the item must be a JSON object, not {0}")]
    NotAnObject(&'static str),
}

impl LookupItem {
    /// The item DynamoDB returned, converted as [`attribute`] says.
    #[must_use]
    pub fn from_attributes(item: &Item) -> Self {
        // The conversion always writes a JSON object; an empty one is the safe fallback.
        let json = attribute::item_json(item);
        Self(JsonDocument::parse(&json).unwrap_or_else(|_| JsonRef::empty_object()))
    }

    /// An item given as plain JSON (a fixture, an edited preview).
    pub fn from_json(json: &str) -> Result<Self, LookupItemError> {
        let value =
            JsonDocument::parse(json).map_err(|error| LookupItemError::Json(error.to_string()))?;
        match value.kind() {
            JsonKind::Object => Ok(Self(value)),
            kind => Err(LookupItemError::NotAnObject(kind.name())),
        }
    }

    /// The item as the JSON templates see.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0.to_value()).unwrap_or_default()
    }
}

/// Answers lookups on the spot: fixtures, a previewer's edited results, a test's table. Used
/// where answers need no IO ([`crate::Mailroom::decide`], checks and previews).
pub trait LookupSource {
    /// The answer to `request`.
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer;
}

impl<F: FnMut(&LookupRequest) -> LookupAnswer> LookupSource for F {
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer {
        self(request)
    }
}

/// A source for hosts without lookups: every read fails, so a record that needs one is retried
/// (`lookup_failed`) rather than rendered without its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLookups;

impl LookupSource for NoLookups {
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer {
        LookupAnswer::Failed(LookupFailure::Unavailable(format!(
            "nothing answers lookups here (table {}, {})",
            request.table,
            request.key_text()
        )))
    }
}
