//! [`Mailroom`]: configuration and compiled templates, and the per-record decision.

use std::sync::Arc;

use minijinja::Value;

use crate::address::{MAX_RECIPIENTS, Mailbox};
use crate::batch::Batch;
use crate::config::{Config, Route};
use crate::email::{Email, Tag, subject_line, text_from_html};
use crate::envelope::{self, Unwrapped};
use crate::error::{EventError, MessageFault, ServiceFault, TemplateFault};
use crate::idempotency;
use crate::json::{JsonKind, JsonRef};
use crate::record::{SqsEvent, SqsRecord, Timestamp};
use crate::render::{Engine, SUBJECT_PREFIX, TemplateSet};

/// The name under which templates see the record's metadata: `{{ mailroom.messageId }}`.
pub const METADATA_NAME: &str = "mailroom";

/// Configuration plus compiled templates: build once, then decide any number of batches.
///
/// Building compiles every template. A template that does not compile is not an error here:
/// templates change at run time, so the records that need it are retried with
/// `template_error` until it is fixed, while every other route keeps working.
pub struct Mailroom {
    config: Config,
    engine: Engine,
    routes: Vec<CompiledRoute>,
}

struct CompiledRoute {
    subject: String,
    text: Option<String>,
    reply_to: Option<Mailbox>,
    tags: Vec<Tag>,
}

/// The pre-send decision for one record.
pub(crate) enum Decision {
    Send(Arc<Email>),
    Retry(ServiceFault),
    Reject(MessageFault),
}

/// What a record decided, beside the decision: for logs and reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub event_type: Option<String>,
    pub route: Option<String>,
}

impl Mailroom {
    /// Compiles the templates for the configuration.
    #[must_use]
    pub fn new(config: Config, templates: &TemplateSet) -> Self {
        let mut engine = Engine::new(templates, config.limits);
        let routes = config
            .routes
            .iter()
            .map(|route| {
                let subject = format!("{SUBJECT_PREFIX}{}", route.name);
                // Subject syntax was checked when the configuration was built.
                let _ = engine.add(subject.clone(), route.subject.clone());
                let text = route
                    .text_template
                    .clone()
                    .or_else(|| engine.sibling_text_template(&route.template));
                let mut tags = vec![Tag::new("route", &route.name)];
                tags.extend(route.tags.iter().map(|(name, value)| Tag::new(name, value)));
                CompiledRoute {
                    subject,
                    text,
                    reply_to: route
                        .reply_to
                        .as_deref()
                        .and_then(|r| Mailbox::parse(r).ok()),
                    tags,
                }
            })
            .collect();
        Self {
            config,
            engine,
            routes,
        }
    }

    /// The configuration this was built with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Decides every record of a Lambda SQS event. The host then sends what the batch asks for,
    /// reports each outcome, and finishes the batch to get the partial batch response.
    ///
    /// `now` is the host's clock; `seed` feeds the retry jitter (any value; a fixed one in
    /// tests gives fixed back-offs).
    pub fn start_batch(
        &self,
        event: &SqsEvent,
        now: Timestamp,
        seed: u64,
    ) -> Result<Batch, EventError> {
        if let Some(index) = event.records.iter().position(|r| r.message_id.is_empty()) {
            return Err(EventError::EmptyMessageId { index });
        }
        Ok(Batch::decide(self, event, now, seed))
    }

    /// Decides one record (the batch calls this in order).
    pub(crate) fn decide(&self, record: &SqsRecord, now: Timestamp) -> (Decision, Facts) {
        let mut facts = Facts::default();
        let unwrapped = match envelope::unwrap(record) {
            Ok(unwrapped) => unwrapped,
            Err(fault) => return (Decision::Reject(fault), facts),
        };
        facts.event_type.clone_from(&unwrapped.event_type);
        let Some(index) = self
            .config
            .routes
            .iter()
            .position(|route| route.matches(unwrapped.event_type.as_deref()))
        else {
            let fault = MessageFault::NoRoute {
                event_type: unwrapped.event_type,
            };
            return (Decision::Reject(fault), facts);
        };
        let (route, compiled) = (&self.config.routes[index], &self.routes[index]);
        facts.route = Some(route.name.clone());
        let decision = match self.compose(route, compiled, record, &unwrapped, now) {
            Ok(email) => Decision::Send(Arc::new(email)),
            Err(Fault::Message(fault)) => Decision::Reject(fault),
            Err(Fault::Service(fault)) => Decision::Retry(fault),
        };
        (decision, facts)
    }

    fn compose(
        &self,
        route: &Route,
        compiled: &CompiledRoute,
        record: &SqsRecord,
        unwrapped: &Unwrapped,
        now: Timestamp,
    ) -> Result<Email, Fault> {
        let recipients = recipients(&unwrapped.event, &route.recipient)?;
        if !self.engine.has(&route.template) {
            return Err(Fault::Service(ServiceFault::TemplateMissing {
                name: route.template.clone(),
            }));
        }
        let (idempotency_key, _) = idempotency::key_for(&route.name, unwrapped);
        let metadata = metadata(record, unwrapped, now, &route.name, &idempotency_key);
        let context = template_context(&unwrapped.event, metadata);
        let template_fault = |fault: TemplateFault| Fault::Service(ServiceFault::Template(fault));
        let subject = self
            .engine
            .render(&compiled.subject, &context)
            .map_err(template_fault)?;
        let html = self
            .engine
            .render(&route.template, &context)
            .map_err(template_fault)?;
        let text = match &compiled.text {
            Some(text_template) => self
                .engine
                .render(text_template, &context)
                .map_err(template_fault)?,
            None => text_from_html(&html),
        };
        let mut tags = compiled.tags.clone();
        tags.push(Tag::new(
            "event_type",
            unwrapped.event_type.as_deref().unwrap_or("none"),
        ));
        let to = match &self.config.sandbox_recipient {
            Some(sandbox) => {
                let original: Vec<&str> = recipients.iter().map(Mailbox::address).collect();
                tags.push(Tag::new("original_to", &original.join("_")));
                vec![sandbox.clone()]
            }
            None => recipients,
        };
        Ok(Email {
            from: self.config.sender.clone(),
            to,
            reply_to: compiled
                .reply_to
                .clone()
                .or_else(|| self.config.reply_to.clone()),
            subject: subject_line(&subject),
            html,
            text,
            idempotency_key,
            tags,
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// The record's metadata as templates see it under [`METADATA_NAME`].
pub(crate) fn metadata(
    record: &SqsRecord,
    unwrapped: &Unwrapped,
    now: Timestamp,
    route: &str,
    idempotency_key: &str,
) -> Value {
    minijinja::context! {
        messageId => record.message_id.as_str(),
        eventType => unwrapped.event_type.as_deref(),
        envelope => unwrapped.kind.as_str(),
        receiveCount => record.receive_count(),
        sentAt => record.sent_at().map(Timestamp::to_rfc3339),
        now => now.to_rfc3339(),
        route => route,
        idempotencyKey => idempotency_key,
    }
}

/// What templates see: the event's own fields, and the metadata under [`METADATA_NAME`]
/// (shadowing an event field of that name, so `mailroom.*` always means the same thing).
pub(crate) fn template_context(event: &JsonRef, metadata: Value) -> Value {
    Value::from_object(TemplateContext {
        event: event.clone(),
        metadata,
    })
}

/// The root of every rendering. Templates look up a top-level name for nearly every
/// expression; answering `mailroom` with one string comparison and everything else straight
/// from the event map avoids a failed lookup in a second map on each of them (which is what a
/// generic `merge_maps` does).
#[derive(Debug)]
struct TemplateContext {
    event: JsonRef,
    metadata: Value,
}

impl minijinja::value::Object for TemplateContext {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &std::sync::Arc<Self>, key: &str) -> Option<Value> {
        if key == METADATA_NAME {
            return Some(self.metadata.clone());
        }
        self.event.get(key).map(|value| value.to_value())
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        let mut keys: Vec<Value> = self
            .event
            .to_value()
            .try_iter()
            .map(|keys| {
                keys.filter(|key| key.as_str() != Some(METADATA_NAME))
                    .collect()
            })
            .unwrap_or_default();
        keys.push(Value::from(METADATA_NAME));
        minijinja::value::Enumerator::Values(keys)
    }
}

enum Fault {
    Message(MessageFault),
    Service(ServiceFault),
}

/// Finds the recipients: the first of `paths` that holds something non-empty.
fn recipients(event: &JsonRef, paths: &[String]) -> Result<Vec<Mailbox>, Fault> {
    let invalid = |reason: String| Fault::Message(MessageFault::InvalidRecipient(reason));
    let Some(found) = paths
        .iter()
        .find_map(|path| event.at_path(path).filter(is_present))
    else {
        return Err(Fault::Message(MessageFault::MissingRecipient {
            fields: paths.join(" | "),
        }));
    };
    let entries: Vec<JsonRef> = match found.kind() {
        JsonKind::Array => found.elements().collect(),
        _ => vec![found],
    };
    let mut mailboxes: Vec<Mailbox> = Vec::with_capacity(entries.len());
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        let mailbox = match entry.kind() {
            JsonKind::String => Mailbox::parse(entry.as_str().unwrap_or_default()),
            JsonKind::Object => {
                let address = ["email", "address"]
                    .iter()
                    .find_map(|key| envelope::text_at(&entry, key))
                    .unwrap_or_default();
                let name = envelope::text_at(&entry, "name");
                Mailbox::parse(&address).map(|m| match name {
                    Some(name) => m.with_name(&name),
                    None => m,
                })
            }
            JsonKind::Null => continue,
            _ => {
                // Named as templates name value kinds (`number`, `bool`, `sequence`).
                let kind = entry.to_value().kind();
                return Err(invalid(format!(
                    "a recipient must be a string or an object, not {kind}"
                )));
            }
        }
        .map_err(|error| invalid(error.to_string()))?;
        if seen.insert(mailbox.dedupe_key()) {
            mailboxes.push(mailbox);
        }
    }
    if mailboxes.is_empty() {
        return Err(Fault::Message(MessageFault::MissingRecipient {
            fields: paths.join(" | "),
        }));
    }
    if mailboxes.len() > MAX_RECIPIENTS {
        return Err(invalid(format!(
            "{} recipients; SES takes at most {MAX_RECIPIENTS} per message",
            mailboxes.len()
        )));
    }
    Ok(mailboxes)
}

/// Whether a recipient field holds something: not null, a blank string or an empty list.
fn is_present(value: &JsonRef) -> bool {
    match value.kind() {
        JsonKind::Null => false,
        JsonKind::String => value.as_str().is_some_and(|s| !s.trim().is_empty()),
        JsonKind::Array => value.elements().next().is_some(),
        _ => true,
    }
}
