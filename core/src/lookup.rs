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
//!   record with `missing_field`, naming it.
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
//! The protocol is sans-IO: [`crate::Batch::lookups`] hands out the batch's requests (deduplicated
//! across records: one [`LookupRequest`] per table, key and read consistency), the host reads
//! them however it likes and answers each with [`crate::Batch::answer_lookup`]; a record renders
//! only when all of its lookups are answered. Lookups never change a record's idempotency key:
//! they do not change which event it is.

pub mod attribute;
pub mod fixtures;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{ConfigError, MessageFault, ServiceFault};
use crate::json::{JsonDocument, JsonKind, JsonRef};
pub use attribute::{AttributeValue, Item};

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

/// A lookup as the routes file writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LookupEntry {
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    table_variable: Option<String>,
    key: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    on_missing: OnMissing,
    #[serde(default = "yes")]
    consistent_read: bool,
    #[serde(default)]
    cache_seconds: u32,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyEntry {
    String(String),
    Typed(TypedKey),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
enum TypedKey {
    S(String),
    N(String),
}

/// Validates a route's lookups and orders them so that every lookup comes after the ones its
/// key reads. `at` names a field in errors (`routes[0].lookups.student.key.PK`).
pub(crate) fn validate(
    entries: BTreeMap<String, LookupEntry>,
    env: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> String,
) -> Result<Vec<Lookup>, ConfigError> {
    if entries.len() > MAX_LOOKUPS_PER_ROUTE {
        return Err(invalid(
            &at("lookups"),
            format!("at most {MAX_LOOKUPS_PER_ROUTE} lookups per route"),
        ));
    }
    let names: Vec<String> = entries.keys().cloned().collect();
    let mut lookups = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let field = |rest: &str| at(&format!("lookups.{name}{rest}"));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(
                &field(""),
                "a lookup's name is letters, digits and _, so templates can read lookup.<name>",
            ));
        }
        let from_variable = entry
            .table_variable
            .as_deref()
            .and_then(|variable| env(variable).filter(|value| !value.trim().is_empty()));
        let table = match (from_variable, entry.table, entry.table_variable) {
            (Some(table), _, _) => table.trim().to_owned(),
            (None, Some(table), _) if !table.trim().is_empty() => table.trim().to_owned(),
            (None, _, Some(variable)) => {
                return Err(ConfigError::Missing {
                    name: variable,
                    hint: "the DynamoDB table a lookup reads (or give the lookup a table)",
                });
            }
            (None, _, None) => {
                return Err(invalid(
                    &field(".table"),
                    "name the DynamoDB table, or a tableVariable that holds it",
                ));
            }
        };
        if entry.key.is_empty() {
            return Err(invalid(
                &field(".key"),
                "give the key's attributes (the partition key, and the sort key if any)",
            ));
        }
        if entry.cache_seconds > MAX_CACHE_SECONDS {
            return Err(invalid(
                &field(".cacheSeconds"),
                format!("at most {MAX_CACHE_SECONDS} (a day)"),
            ));
        }
        let mut key = Vec::with_capacity(entry.key.len());
        let mut depends_on = Vec::new();
        for (attribute, part) in entry.key {
            let at_part = field(&format!(".key.{attribute}"));
            let (kind, template) = match part {
                KeyEntry::String(template) | KeyEntry::Typed(TypedKey::S(template)) => {
                    (KeyKind::String, template)
                }
                KeyEntry::Typed(TypedKey::N(template)) => (KeyKind::Number, template),
            };
            let reads = template_reads(&template)
                .map_err(|reason| invalid(&at_part, format!("does not compile: {reason}")))?;
            for path in &reads {
                if let Some(rest) = path.strip_prefix(LOOKUP_NAME) {
                    let Some(other) = rest.strip_prefix('.').map(|r| r.split('.').next()) else {
                        return Err(invalid(
                            &at_part,
                            "read another lookup's result as lookup.<name>.<field>",
                        ));
                    };
                    let other = other.unwrap_or_default();
                    match names.iter().position(|n| n == other) {
                        Some(index) => depends_on.push(index),
                        None => {
                            return Err(invalid(
                                &at_part,
                                format!(
                                    "reads lookup {other:?}, which this route does not declare"
                                ),
                            ));
                        }
                    }
                }
            }
            key.push(KeyPart {
                attribute,
                kind,
                template,
                reads,
            });
        }
        depends_on.sort_unstable();
        depends_on.dedup();
        lookups.push(Lookup {
            name,
            table,
            key,
            on_missing: entry.on_missing,
            consistent_read: entry.consistent_read,
            cache_seconds: entry.cache_seconds,
            depends_on,
        });
    }
    order(lookups, at)
}

/// Orders lookups so each comes after those it depends on (their positions are rewritten to
/// the new order); a cycle is a configuration error naming the lookups in it.
fn order(lookups: Vec<Lookup>, at: &dyn Fn(&str) -> String) -> Result<Vec<Lookup>, ConfigError> {
    let count = lookups.len();
    let mut placed: Vec<Option<usize>> = vec![None; count];
    let mut sequence = Vec::with_capacity(count);
    while sequence.len() < count {
        let ready = (0..count).find(|&i| {
            placed[i].is_none() && lookups[i].depends_on.iter().all(|&d| placed[d].is_some())
        });
        let Some(next) = ready else {
            let stuck: Vec<&str> = (0..count)
                .filter(|&i| placed[i].is_none())
                .map(|i| lookups[i].name.as_str())
                .collect();
            return Err(invalid(
                &at("lookups"),
                format!(
                    "the keys of {} read each other's results in a cycle",
                    stuck.join(", ")
                ),
            ));
        };
        placed[next] = Some(sequence.len());
        sequence.push(next);
    }
    let mut slots: Vec<Option<Lookup>> = lookups.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(count);
    for index in sequence {
        if let Some(mut lookup) = slots.get_mut(index).and_then(Option::take) {
            for dependency in &mut lookup.depends_on {
                *dependency = placed[*dependency].unwrap_or(*dependency);
            }
            ordered.push(lookup);
        }
    }
    Ok(ordered)
}

/// The variables a key template reads, as dotted paths.
fn template_reads(template: &str) -> Result<Vec<String>, String> {
    let env = minijinja::Environment::new();
    let compiled = env
        .template_from_str(template)
        .map_err(|error| error.to_string())?;
    Ok(compiled.undeclared_variables(true).into_iter().collect())
}

/// Checks that a recipient path into lookup results names a declared lookup.
pub(crate) fn check_recipient_path(
    path: &str,
    lookups: &[Lookup],
    at: &str,
) -> Result<(), ConfigError> {
    let Some(rest) = path
        .strip_prefix(LOOKUP_NAME)
        .and_then(|r| r.strip_prefix('.'))
    else {
        return Ok(());
    };
    let name = rest.split('.').next().unwrap_or_default();
    if lookups.iter().any(|lookup| lookup.name == name) {
        Ok(())
    } else {
        Err(invalid(
            at,
            format!("{path:?} reads lookup {name:?}, which this route does not declare"),
        ))
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        reason: reason.into(),
    }
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
}

impl LookupRequest {
    /// The key as `PK=STUDENT#42, SK=PROFILE`, for logs and reasons.
    #[must_use]
    pub fn key_text(&self) -> String {
        key_text(&self.key)
    }
}

pub(crate) fn key_text(key: &Item) -> String {
    key.iter()
        .map(|(name, value)| format!("{name}={}", key_value_text(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A key attribute's value as text (keys are strings or numbers).
pub(crate) fn key_value_text(value: &AttributeValue) -> String {
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

/// The state of one record's lookups while its batch waits for answers.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// Not asked yet: waits for the lookups its key reads.
    Unasked,
    /// Asked; the answer is pending.
    Asked,
    /// Answered with an item.
    Found(JsonRef),
    /// Not found, and `onMissing` is `skip`.
    Skipped,
    /// The answer decides the record (not found, failed); which of several such answers
    /// decides it does not depend on the order they came in (see [`Progress::decision`]).
    Failed(Fault),
}

impl Progress {
    pub fn new(count: usize) -> Self {
        Self {
            slots: vec![Slot::Unasked; count],
        }
    }

    /// Leaves lookup `index` out (a preview going on without it).
    pub fn skip(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Slot::Skipped;
        }
    }

    /// The name of an asked lookup still unanswered.
    pub fn unanswered<'a>(&self, lookups: &'a [Lookup]) -> Option<&'a str> {
        lookups
            .iter()
            .zip(&self.slots)
            .find(|(_, slot)| matches!(slot, Slot::Asked))
            .map(|(lookup, _)| lookup.name.as_str())
    }

    /// Whether any asked lookup is unanswered.
    pub fn waiting(&self) -> bool {
        self.slots.iter().any(|slot| matches!(slot, Slot::Asked))
    }

    /// The results so far, as templates see them under [`LOOKUP_NAME`].
    pub fn results(&self, lookups: &[Lookup]) -> minijinja::Value {
        let map: BTreeMap<String, minijinja::Value> = lookups
            .iter()
            .zip(&self.slots)
            .filter_map(|(lookup, slot)| match slot {
                Slot::Found(item) => Some((lookup.name.clone(), item.to_value())),
                _ => None,
            })
            .collect();
        minijinja::Value::from_object(map)
    }

    /// What the answers decide once none is pending: a reject if any lookup's answer rejects
    /// (the data will not appear, whatever the other reads say), else a retry if any failed,
    /// the first in declaration order in each case, so hosts that answer in different orders
    /// decide alike.
    pub fn decision(&self) -> Option<Fault> {
        let failed = || {
            self.slots.iter().filter_map(|slot| match slot {
                Slot::Failed(fault) => Some(fault),
                _ => None,
            })
        };
        failed()
            .find(|fault| matches!(fault, Fault::Message(_)))
            .or_else(|| failed().next())
            .cloned()
    }

    /// What lookup `index`'s answer decides for the record, if anything (for previews).
    pub fn failure(&self, index: usize) -> Option<&Fault> {
        match self.slots.get(index) {
            Some(Slot::Failed(fault)) => Some(fault),
            _ => None,
        }
    }

    /// Records the answer to lookup `index`.
    pub fn answer(
        &mut self,
        lookups: &[Lookup],
        index: usize,
        request: &LookupRequest,
        answer: LookupAnswer,
    ) {
        let Some(lookup) = lookups.get(index) else {
            return;
        };
        let slot = match Self::slot_for(lookup, request, answer) {
            Ok(slot) => slot,
            Err(fault) => Slot::Failed(fault),
        };
        if let Some(place) = self.slots.get_mut(index) {
            *place = slot;
        }
    }

    fn slot_for(
        lookup: &Lookup,
        request: &LookupRequest,
        answer: LookupAnswer,
    ) -> Result<Slot, Fault> {
        let slot = match answer {
            LookupAnswer::Found(item) => Slot::Found(item.0),
            LookupAnswer::NotFound => match lookup.on_missing {
                OnMissing::Skip => Slot::Skipped,
                OnMissing::Reject => {
                    return Err(Fault::Message(MessageFault::LookupMissing {
                        lookup: lookup.name.clone(),
                        table: request.table.clone(),
                        key: request.key_text(),
                    }));
                }
                OnMissing::Retry => {
                    return Err(Fault::Service(ServiceFault::LookupNotYetWritten {
                        lookup: lookup.name.clone(),
                        table: request.table.clone(),
                        key: request.key_text(),
                    }));
                }
            },
            LookupAnswer::Failed(failure) => {
                let (throttled, detail) = match failure {
                    LookupFailure::Throttled(detail) => (true, detail),
                    LookupFailure::Unavailable(detail) => (false, detail),
                };
                return Err(Fault::Service(ServiceFault::LookupFailed {
                    lookup: lookup.name.clone(),
                    detail,
                    throttled,
                }));
            }
        };
        Ok(slot)
    }
}

/// Whose fault a lookup's outcome is.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    Message(MessageFault),
    Service(ServiceFault),
}

/// Renders the keys of every lookup of `lookups` that is unasked and whose dependencies are
/// answered, marking them asked. `render(lookup, part, context)` renders one key template.
pub(crate) fn next_keys(
    lookups: &[Lookup],
    progress: &mut Progress,
    event: &JsonRef,
    mut render: impl FnMut(usize, usize, &minijinja::Value) -> Result<String, crate::TemplateFault>,
) -> Result<Vec<(usize, Item)>, Fault> {
    let mut keys = Vec::new();
    for (index, lookup) in lookups.iter().enumerate() {
        let unasked = matches!(progress.slots.get(index), Some(Slot::Unasked));
        let ready = lookup
            .depends_on
            .iter()
            .all(|&d| matches!(progress.slots.get(d), Some(Slot::Found(_) | Slot::Skipped)));
        if !unasked || !ready {
            continue;
        }
        let mut key = Item::new();
        for (part_index, part) in lookup.key.iter().enumerate() {
            for path in &part.reads {
                if !present(event, progress, lookups, path) {
                    return Err(Fault::Message(MessageFault::MissingField {
                        field: path.clone(),
                        lookup: lookup.name.clone(),
                    }));
                }
            }
            let context = key_context(event, progress, lookups);
            let rendered = render(index, part_index, &context)
                .map_err(|fault| Fault::Service(ServiceFault::Template(fault)))?;
            let value = match part.kind {
                KeyKind::String if rendered.is_empty() => None,
                KeyKind::String => Some(AttributeValue::S(rendered.clone())),
                KeyKind::Number => serde_json::from_str::<serde_json::Number>(rendered.trim())
                    .ok()
                    .map(|_| AttributeValue::N(rendered.trim().to_owned())),
            };
            let Some(value) = value else {
                return Err(Fault::Message(MessageFault::InvalidLookupKey {
                    lookup: lookup.name.clone(),
                    attribute: part.attribute.clone(),
                    value: rendered,
                }));
            };
            key.insert(part.attribute.clone(), value);
        }
        if let Some(slot) = progress.slots.get_mut(index) {
            *slot = Slot::Asked;
        }
        keys.push((index, key));
    }
    Ok(keys)
}

/// What a key template sees: the event's fields, and earlier results under [`LOOKUP_NAME`].
fn key_context(event: &JsonRef, progress: &Progress, lookups: &[Lookup]) -> minijinja::Value {
    crate::mailroom::template_context(
        event,
        minijinja::Value::UNDEFINED,
        Some(progress.results(lookups)),
    )
}

/// Whether `path` (an event field, or `lookup.<name>.<field>`) holds something a key can use:
/// not missing, null or an empty string.
fn present(event: &JsonRef, progress: &Progress, lookups: &[Lookup], path: &str) -> bool {
    let value = match path
        .strip_prefix(LOOKUP_NAME)
        .and_then(|r| r.strip_prefix('.'))
    {
        Some(rest) => {
            let (name, field) = rest.split_once('.').unwrap_or((rest, ""));
            lookups
                .iter()
                .position(|lookup| lookup.name == name)
                .and_then(|index| match progress.slots.get(index) {
                    Some(Slot::Found(item)) if field.is_empty() => Some(item.clone()),
                    Some(Slot::Found(item)) => item.at_path(field),
                    _ => None,
                })
        }
        None => event.at_path(path),
    };
    value.is_some_and(|value| match value.kind() {
        JsonKind::Null => false,
        JsonKind::String => value.as_str().is_some_and(|s| !s.is_empty()),
        _ => true,
    })
}

/// Resolves a recipient path that may point into lookup results.
pub(crate) fn at_path(
    event: &JsonRef,
    lookups: &[Lookup],
    progress: Option<&Progress>,
    path: &str,
) -> Option<JsonRef> {
    if !lookups.is_empty()
        && let Some(rest) = path
            .strip_prefix(LOOKUP_NAME)
            .and_then(|r| r.strip_prefix('.'))
    {
        let (name, field) = rest.split_once('.').unwrap_or((rest, ""));
        let index = lookups.iter().position(|lookup| lookup.name == name)?;
        return match progress?.slots.get(index)? {
            Slot::Found(item) if field.is_empty() => Some(item.clone()),
            Slot::Found(item) => item.at_path(field),
            _ => None,
        };
    }
    event.at_path(path)
}

/// The batch-wide table of lookup requests, deduplicated by table, key and consistency.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pub slots: Vec<RequestSlot>,
    by_key: BTreeMap<(String, String, bool), usize>,
}

#[derive(Debug)]
pub(crate) struct RequestSlot {
    pub request: LookupRequest,
    pub handed_out: bool,
    pub answered: bool,
    /// The records (entry positions) and their lookup positions waiting for this answer.
    pub waiters: Vec<(usize, usize)>,
}

impl Requests {
    /// The request for `key` of `lookup`, shared with any identical one; `waiter` waits for it.
    pub fn add(&mut self, tag: u32, lookup: &Lookup, key: Item, waiter: (usize, usize)) {
        let dedupe = (
            lookup.table.clone(),
            canonical(&key),
            lookup.consistent_read,
        );
        if let Some(&slot) = self.by_key.get(&dedupe)
            && let Some(existing) = self.slots.get_mut(slot)
        {
            existing.request.cache_seconds =
                existing.request.cache_seconds.min(lookup.cache_seconds);
            existing.waiters.push(waiter);
            return;
        }
        let index = self.slots.len();
        self.by_key.insert(dedupe, index);
        self.slots.push(RequestSlot {
            request: LookupRequest {
                id: LookupId {
                    batch: tag,
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                },
                table: lookup.table.clone(),
                key,
                consistent_read: lookup.consistent_read,
                cache_seconds: lookup.cache_seconds,
                lookup: lookup.name.clone(),
            },
            handed_out: false,
            answered: false,
            waiters: vec![waiter],
        });
    }
}

/// A key's identity for deduplication: every attribute with its type.
fn canonical(key: &Item) -> String {
    key.iter()
        .map(|(name, value)| match value {
            AttributeValue::S(text) => format!("{name}\u{0}S\u{0}{text}"),
            AttributeValue::N(text) => format!("{name}\u{0}N\u{0}{text}"),
            other => format!("{name}\u{0}?\u{0}{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}
