//! [`Mailroom`]: configuration and compiled templates, and the per-record decision.

use std::sync::Arc;

use minijinja::Value;

use crate::address::{MAX_RECIPIENTS, Mailbox};
use crate::batch::{Batch, reject_disposition, retry_disposition};
use crate::channel::Channel;
use crate::config::{Config, SmsRoute};
use crate::decision::{Decision, Disposition, RecordDecision};
use crate::email::{Email, Tag, subject_line, text_from_html};
use crate::envelope::{self, Unwrapped};
use crate::error::{ConfigError, EventError, MessageFault, ServiceFault, TemplateFault};
use crate::feedback;
use crate::idempotency;
use crate::json::{JsonKind, JsonRef};
use crate::lookup::{Item, LOOKUP_NAME, LookupAnswer, LookupRequest, LookupSource, Progress};
use crate::preview::PreviewLookup;
use crate::record::{SqsEvent, SqsRecord, Timestamp};
use crate::render::{Engine, LOOKUP_KEY_PREFIX, SUBJECT_PREFIX, TemplateSet};
use crate::sms::{PhoneNumber, Sms};
use crate::suppress::{SUPPRESSION_LOOKUP, SuppressionCheck, suppression_lookup};

/// The name under which templates see the record's metadata: `{{ mailroom.messageId }}`.
pub const METADATA_NAME: &str = "mailroom";

/// Configuration plus compiled templates: build once, then decide any number of batches.
///
/// Building compiles every template. A template that does not compile is not an error here:
/// templates change at run time, so the records that need it are retried with
/// `template_error` until it is fixed, while every other route keeps working.
///
/// Cloning is cheap (the compiled state is shared), so a [`Batch`] keeps its own handle and can
/// finish records whose lookups are answered later.
#[derive(Clone)]
pub struct Mailroom {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    engine: Engine,
    routes: Vec<CompiledRoute>,
    /// The lookup suppression reads are made as, when the configuration names a ledger table.
    suppression: Option<crate::lookup::Lookup>,
}

impl std::fmt::Debug for Mailroom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailroom")
            .field("routes", &self.shared.config.routes.len())
            .finish_non_exhaustive()
    }
}

/// A route's templates as the engine names them, and its settings ready for an email.
struct CompiledRoute {
    subject: String,
    text: Option<String>,
    tags: Vec<Tag>,
    /// The engine's names of each lookup's key templates, by lookup then key attribute.
    lookup_keys: Vec<Vec<String>>,
}

/// Which templates make an email's subject, HTML and text: a route's, or a preview's.
pub(crate) struct Parts<'a> {
    /// The subject: a compiled template's name, or a source to compile now.
    pub subject: Subject<'a>,
    /// The HTML template.
    pub html: &'a str,
    /// The text template; without one the text is derived from the HTML.
    pub text: Option<&'a str>,
}

/// Where a subject comes from.
pub(crate) enum Subject<'a> {
    /// A template the engine compiled (a route's).
    Compiled(&'a str),
    /// A source given now (a preview's override).
    Source(&'a str),
}

/// Subject, HTML and text, rendered.
pub(crate) struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What one record sends: its email, and its text when the route texts too.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub email: Email,
    pub sms: Option<Sms>,
}

/// The pre-send verdict for one record, with the faults typed.
pub(crate) enum Verdict {
    Send(Box<Outgoing>),
    /// Every recipient is suppressed ([`crate::suppress`]): nothing to send.
    Suppressed(Vec<String>),
    Retry(ServiceFault),
    Reject(MessageFault),
    /// Routed, not composed yet: the record waits for its lookups' answers, or only for its
    /// turn to be rendered ([`Pending::composable`]).
    Pending(Box<Pending>),
}

impl Verdict {
    fn of(fault: Fault) -> Self {
        match fault {
            Fault::Message(fault) => Self::Reject(fault),
            Fault::Service(fault) => Self::Retry(fault),
        }
    }
}

/// What composing a record gives.
pub(crate) enum Composed {
    Send(Box<Outgoing>),
    /// Every recipient is suppressed: their normalized addresses.
    Suppressed(Vec<String>),
}

/// A routed record not composed yet: what it needs to be composed once its lookups (if any)
/// are answered. Batches compose lazily, as the host asks for sends, so a batch too large to
/// render before the deadline retries the rest (`deadline`) instead of timing out.
#[derive(Debug)]
pub(crate) struct Pending {
    route: usize,
    unwrapped: Unwrapped,
    progress: Progress,
    /// Keys rendered and not yet turned into requests, by lookup position
    /// ([`SUPPRESSION_LOOKUP`] for the suppression reads).
    pub asked: Vec<(usize, Item)>,
    suppression: SuppressionCheck,
}

impl Pending {
    /// Whether any of its lookups (or suppression reads) is still unanswered.
    pub fn waiting(&self) -> bool {
        self.progress.waiting() || self.suppression.waiting()
    }

    /// Whether it only waits to be composed: every lookup it needs is answered.
    pub fn composable(&self) -> bool {
        self.asked.is_empty() && !self.waiting()
    }

    /// The route position, to find the lookup declarations.
    pub fn route(&self) -> usize {
        self.route
    }

    /// Whether it waits only for its suppression checks: everything else is answered.
    pub fn held_by_checks(&self) -> bool {
        self.asked.is_empty() && !self.progress.waiting() && self.suppression.waiting()
    }

    /// The name of a lookup it still waits for, for a retry's reason.
    pub fn unanswered<'a>(&self, lookups: &'a [crate::lookup::Lookup]) -> &'a str {
        self.progress.unanswered(lookups).unwrap_or_default()
    }
}

/// What a record decided, beside the decision: for logs and reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub event_type: Option<String>,
    pub route: Option<String>,
}

impl Mailroom {
    /// Compiles the templates for the configuration.
    ///
    /// Fails only when a route's subject does not compile in the engine (the configuration
    /// checks subject syntax already; this catches what only the engine can tell).
    pub fn new(config: Config, templates: &TemplateSet) -> Result<Self, ConfigError> {
        let mut engine = Engine::new(templates, config.limits);
        let mut routes = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let subject = format!("{SUBJECT_PREFIX}{}", route.name);
            engine
                .add(subject.clone(), route.subject.clone())
                .map_err(|fault| ConfigError::Invalid {
                    name: format!("the subject of route {:?}", route.name),
                    reason: fault.to_string(),
                })?;
            let text = route
                .text_template
                .clone()
                .or_else(|| engine.sibling_text_template(&route.template));
            let mut tags = vec![Tag::new(feedback::ROUTE_TAG, &route.name)];
            tags.extend(route.tags.iter().map(|(name, value)| Tag::new(name, value)));
            let mut lookup_keys = Vec::with_capacity(route.lookups.len());
            for lookup in &route.lookups {
                let mut names = Vec::with_capacity(lookup.key.len());
                for part in &lookup.key {
                    let name = format!(
                        "{LOOKUP_KEY_PREFIX}{}/{}/{}",
                        route.name, lookup.name, part.attribute
                    );
                    engine
                        .add(name.clone(), part.template.clone())
                        .map_err(|fault| ConfigError::Invalid {
                            name: format!(
                                "the key {} of lookup {:?} of route {:?}",
                                part.attribute, lookup.name, route.name
                            ),
                            reason: fault.to_string(),
                        })?;
                    names.push(name);
                }
                lookup_keys.push(names);
            }
            routes.push(CompiledRoute {
                subject,
                text,
                tags,
                lookup_keys,
            });
        }
        Ok(Self {
            shared: Arc::new(Shared {
                suppression: config.ledger_table.as_deref().map(suppression_lookup),
                config,
                engine,
                routes,
            }),
        })
    }

    /// The configuration this was built with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Decides every record of a Lambda SQS event. The host then sends what the batch asks for,
    /// reports each outcome, and finishes the batch to get the partial batch response.
    ///
    /// `now` is the host's clock; `seed` feeds the retry jitter (any value; a fixed one in
    /// tests gives fixed back-offs). The batch keeps the records: what it hands out carries the
    /// message ids, receipt handles and bodies the host's SQS calls need.
    pub fn start_batch(
        &self,
        event: SqsEvent,
        now: Timestamp,
        seed: u64,
    ) -> Result<Batch, EventError> {
        event.validate()?;
        Ok(Batch::decide(self, event, now, seed))
    }

    /// Decides one record on its own, as a batch would before sending: the email to send, or
    /// the retry (with the back-off `seed` gives) or the reject. For previews and services that
    /// only want to know; what a batch does after sending (FIFO order, SES's answer) is not in
    /// it.
    ///
    /// A record whose route reads lookups gets them from `lookups` on the spot (fixtures, a
    /// previewer's results; [`NoLookups`](crate::lookup::NoLookups) where there are none), through
    /// the same steps a batch takes.
    pub fn decide(
        &self,
        record: &SqsRecord,
        now: Timestamp,
        seed: u64,
        lookups: &mut dyn LookupSource,
    ) -> RecordDecision {
        let (verdict, facts) = self.verdict_with(record, now, lookups);
        let decision = match verdict {
            Verdict::Send(outgoing) => Decision::Send {
                email: Arc::new(outgoing.email),
                sms: outgoing.sms.map(Arc::new),
            },
            Verdict::Suppressed(recipients) => {
                Decision::settled(Disposition::Suppressed { recipients })
            }
            Verdict::Retry(fault) => Decision::settled(retry_disposition(
                self.shared.config.retry,
                record,
                fault,
                seed,
            )),
            Verdict::Reject(fault) => Decision::settled(reject_disposition(&fault)),
            // `verdict_with` answers every lookup; a record cannot be left waiting.
            Verdict::Pending(_) => Decision::settled(retry_disposition(
                self.shared.config.retry,
                record,
                ServiceFault::LookupFailed {
                    lookup: String::new(),
                    detail: "left unanswered".into(),
                    throttled: false,
                },
                seed,
            )),
        };
        RecordDecision {
            message_id: record.message_id.clone(),
            event_type: facts.event_type,
            route: facts.route,
            decision,
        }
    }

    /// The verdict for one record before composing: routed and its first lookups asked, or
    /// rejected. Faults are typed (batches and checks read them).
    pub(crate) fn verdict(&self, record: &SqsRecord) -> (Verdict, Facts) {
        let mut facts = Facts::default();
        let unwrapped = match envelope::unwrap(record) {
            Ok(unwrapped) => unwrapped,
            Err(fault) => return (Verdict::Reject(fault), facts),
        };
        facts.event_type.clone_from(&unwrapped.event_type);
        let Some(index) = self.route_index(unwrapped.event_type.as_deref()) else {
            let fault = MessageFault::NoRoute {
                event_type: unwrapped.event_type,
            };
            return (Verdict::Reject(fault), facts);
        };
        let route = &self.shared.config.routes[index];
        facts.route = Some(route.name.clone());
        let mut pending = Pending {
            route: index,
            unwrapped,
            progress: Progress::new(route.lookups.len()),
            asked: Vec::new(),
            suppression: SuppressionCheck::new(self.shared.suppression.is_some()),
        };
        let verdict = match self.ask(&mut pending) {
            Ok(()) => Verdict::Pending(Box::new(pending)),
            Err(fault) => Verdict::of(fault),
        };
        (verdict, facts)
    }

    /// The verdict, with every lookup answered on the spot by `source`.
    pub(crate) fn verdict_with(
        &self,
        record: &SqsRecord,
        now: Timestamp,
        source: &mut dyn LookupSource,
    ) -> (Verdict, Facts) {
        let (mut verdict, facts) = self.verdict(record);
        while let Verdict::Pending(mut pending) = verdict {
            if pending.composable() {
                return (self.compose_pending(*pending, record, now), facts);
            }
            let asked = std::mem::take(&mut pending.asked);
            for (position, (lookup, key)) in asked.into_iter().enumerate() {
                let request = self.request_for(&pending, lookup, key, position);
                let answer = source.answer(&request);
                self.answer(&mut pending, lookup, &request, answer);
            }
            verdict = self.advance(*pending);
        }
        (verdict, facts)
    }

    /// The request a rendered key stands for, outside a batch (ids are positions).
    fn request_for(
        &self,
        pending: &Pending,
        lookup: usize,
        key: Item,
        position: usize,
    ) -> LookupRequest {
        let declared = self.lookup_declaration(pending.route, lookup);
        LookupRequest {
            id: crate::lookup::LookupId {
                batch: 0,
                index: u32::try_from(position).unwrap_or(u32::MAX),
            },
            table: declared.map(|l| l.table.clone()).unwrap_or_default(),
            key,
            consistent_read: declared.is_none_or(|l| l.consistent_read),
            cache_seconds: declared.map_or(0, |l| l.cache_seconds),
            lookup: declared.map(|l| l.name.clone()).unwrap_or_default(),
            purpose: crate::lookup::purpose_of(lookup),
        }
    }

    /// Renders the keys of the lookups that can be asked now into `pending.asked`.
    pub(crate) fn ask(&self, pending: &mut Pending) -> Result<(), Fault> {
        let route = &self.shared.config.routes[pending.route];
        let names = &self.shared.routes[pending.route].lookup_keys;
        let engine = &self.shared.engine;
        let keys = crate::lookup::next_keys(
            &route.lookups,
            &mut pending.progress,
            &pending.unwrapped.event,
            |lookup, part, context| {
                let name = names
                    .get(lookup)
                    .and_then(|parts| parts.get(part))
                    .map_or("", String::as_str);
                engine.render(name, context)
            },
        )?;
        pending.asked.extend(keys);
        // Once every lookup is answered the recipients are known: check them. A recipient
        // that cannot be read is left to the composition to reject.
        if pending.asked.is_empty()
            && !pending.progress.waiting()
            && pending.suppression.unasked()
            && let Ok(mailboxes) = recipients(&route.recipient, |path| {
                crate::lookup::at_path(
                    &pending.unwrapped.event,
                    &route.lookups,
                    Some(&pending.progress),
                    path,
                )
            })
        {
            let reads = pending.suppression.ask(&mailboxes);
            pending.asked.extend(reads);
        }
        Ok(())
    }

    /// The declaration a read at `lookup` of route `route` is made by: the route's lookup, or
    /// the suppression read.
    pub(crate) fn lookup_declaration(
        &self,
        route: usize,
        lookup: usize,
    ) -> Option<&crate::lookup::Lookup> {
        if lookup == SUPPRESSION_LOOKUP {
            return self.shared.suppression.as_ref();
        }
        self.shared.config.routes.get(route)?.lookups.get(lookup)
    }

    /// A preview's lookups: each answered by `source`; one not found or failed is left out
    /// instead of deciding anything, so the author still sees the email.
    pub(crate) fn preview_lookups(
        &self,
        route: usize,
        unwrapped: &Unwrapped,
        source: &mut dyn LookupSource,
    ) -> (Progress, Vec<PreviewLookup>) {
        let declared = &self.shared.config.routes[route].lookups;
        let mut pending = Pending {
            route,
            unwrapped: unwrapped.clone(),
            progress: Progress::new(declared.len()),
            asked: Vec::new(),
            // A preview shows the email whoever it is to.
            suppression: SuppressionCheck::Off,
        };
        let mut shown = Vec::new();
        loop {
            if let Err(fault) = self.ask(&mut pending) {
                let (Fault::Message(
                    MessageFault::MissingField { lookup, .. }
                    | MessageFault::InvalidLookupKey { lookup, .. },
                )
                | Fault::Service(ServiceFault::LookupFailed { lookup, .. })) = &fault
                else {
                    break;
                };
                if let Some(found) = declared.iter().find(|l| &l.name == lookup) {
                    shown.push(PreviewLookup {
                        name: found.name.clone(),
                        table: found.table.clone(),
                        key: std::collections::BTreeMap::new(),
                        status: "unasked",
                        item: None,
                        detail: Some(match fault {
                            Fault::Message(fault) => fault.to_string(),
                            Fault::Service(fault) => fault.to_string(),
                        }),
                    });
                }
                break;
            }
            let asked = std::mem::take(&mut pending.asked);
            if asked.is_empty() {
                break;
            }
            for (position, (lookup, key)) in asked.into_iter().enumerate() {
                let request = self.request_for(&pending, lookup, key, position);
                let answer = source.answer(&request);
                let mut asked = PreviewLookup::asked(&request, &answer);
                self.answer(&mut pending, lookup, &request, answer);
                // What the record would have made of the answer, if anything went wrong.
                asked.detail = pending.progress.failure(lookup).map(|fault| match fault {
                    Fault::Message(fault) => fault.to_string(),
                    Fault::Service(fault) => fault.to_string(),
                });
                if asked.detail.is_some() {
                    pending.progress.skip(lookup);
                }
                shown.push(asked);
            }
        }
        // Optional lookups left out because their key could not be made: shown, not asked.
        for (index, field) in &pending.progress.unkeyed {
            if let Some(lookup) = declared.get(*index) {
                shown.push(PreviewLookup {
                    name: lookup.name.clone(),
                    table: lookup.table.clone(),
                    key: std::collections::BTreeMap::new(),
                    status: "unasked",
                    item: None,
                    detail: Some(
                        MessageFault::MissingField {
                            field: field.clone(),
                            lookup: lookup.name.clone(),
                        }
                        .to_string(),
                    ),
                });
            }
        }
        (pending.progress, shown)
    }

    /// Records the answer to lookup `lookup` of a waiting record. What it decides is settled
    /// by [`resume`](Self::resume) once no answer is pending.
    pub(crate) fn answer(
        &self,
        pending: &mut Pending,
        lookup: usize,
        request: &LookupRequest,
        answer: LookupAnswer,
    ) {
        if lookup == SUPPRESSION_LOOKUP {
            pending.suppression.answer(&request.key, &answer);
            return;
        }
        let route = &self.shared.config.routes[pending.route];
        pending
            .progress
            .answer(&route.lookups, lookup, request, answer);
    }

    /// A waiting record whose asked lookups are all answered: what the answers decide, else
    /// the record with its next lookups asked (or, when none is left, ready to compose).
    pub(crate) fn advance(&self, mut pending: Pending) -> Verdict {
        if let Some(fault) = pending.progress.decision() {
            return Verdict::of(fault);
        }
        if let Some(fault) = pending.suppression.failure() {
            return Verdict::Retry(fault.clone());
        }
        match self.ask(&mut pending) {
            Ok(()) => Verdict::Pending(Box::new(pending)),
            Err(fault) => Verdict::of(fault),
        }
    }

    /// Composes the email of a record whose lookups are all answered.
    pub(crate) fn compose_pending(
        &self,
        pending: Pending,
        record: &SqsRecord,
        now: Timestamp,
    ) -> Verdict {
        let has_lookups = !self.shared.config.routes[pending.route].lookups.is_empty();
        let progress = has_lookups.then_some(&pending.progress);
        let check = &pending.suppression;
        match self.compose(
            pending.route,
            record,
            &pending.unwrapped,
            now,
            progress,
            check,
        ) {
            Ok(Composed::Send(outgoing)) => Verdict::Send(outgoing),
            Ok(Composed::Suppressed(addresses)) => Verdict::Suppressed(addresses),
            Err(fault) => Verdict::of(fault),
        }
    }

    /// Composes `verdict` now if it only waits for its turn; anything else as it is.
    pub(crate) fn compose_now(
        &self,
        verdict: Verdict,
        record: &SqsRecord,
        now: Timestamp,
    ) -> Verdict {
        match verdict {
            Verdict::Pending(pending) if pending.composable() => {
                self.compose_pending(*pending, record, now)
            }
            other => other,
        }
    }

    /// The idempotency key the email of a waiting record will be sent under, as composing
    /// derives it.
    pub(crate) fn email_key_of(&self, pending: &Pending) -> Option<String> {
        let route = self.shared.config.routes.get(pending.route)?;
        Some(idempotency::key_for(&route.name, &pending.unwrapped).0)
    }

    /// The position of the first route that takes `event_type`.
    pub(crate) fn route_index(&self, event_type: Option<&str>) -> Option<usize> {
        self.shared
            .config
            .routes
            .iter()
            .position(|route| route.matches(event_type))
    }

    /// The idempotency key the email of `record` is sent under, with the route that sends it
    /// and where the key came from: exactly as a batch derives it ([`idempotency::key_for`]),
    /// without lookups or rendering. The ledger keeps the email's entry under it, so this is how
    /// an operator finds "the email of this event". A record with no route, or a body that
    /// cannot be read, gets the reject a batch would give it.
    pub fn idempotency_key(
        &self,
        record: &SqsRecord,
    ) -> Result<idempotency::EmailKey, MessageFault> {
        let unwrapped = envelope::unwrap(record)?;
        let Some(index) = self.route_index(unwrapped.event_type.as_deref()) else {
            return Err(MessageFault::NoRoute {
                event_type: unwrapped.event_type,
            });
        };
        let route = self.shared.config.routes[index].name.clone();
        let (key, source) = idempotency::key_for(&route, &unwrapped);
        Ok(idempotency::EmailKey {
            route,
            event_type: unwrapped.event_type,
            key,
            source,
        })
    }

    /// The templates of route `index`.
    pub(crate) fn parts_of(&self, index: usize) -> Option<Parts<'_>> {
        let (route, compiled) = (
            self.shared.config.routes.get(index)?,
            self.shared.routes.get(index)?,
        );
        Some(Parts {
            subject: Subject::Compiled(&compiled.subject),
            html: &route.template,
            text: compiled.text.as_deref(),
        })
    }

    /// The one way an email is put together, for sends, decisions and previews alike.
    fn compose(
        &self,
        index: usize,
        record: &SqsRecord,
        unwrapped: &Unwrapped,
        now: Timestamp,
        lookups: Option<&Progress>,
        check: &SuppressionCheck,
    ) -> Result<Composed, Fault> {
        let (route, compiled) = (
            &self.shared.config.routes[index],
            &self.shared.routes[index],
        );
        let recipients = recipients(&route.recipient, |path| {
            crate::lookup::at_path(&unwrapped.event, &route.lookups, lookups, path)
        })?;
        // Suppressed recipients are dropped before anything is rendered for them.
        let (recipients, suppressed): (Vec<Mailbox>, Vec<Mailbox>) = recipients
            .into_iter()
            .partition(|mailbox| check.allows(mailbox, now));
        if recipients.is_empty() {
            return Ok(Composed::Suppressed(
                suppressed.iter().map(Mailbox::dedupe_key).collect(),
            ));
        }
        if !self.shared.engine.has(&route.template) {
            return Err(Fault::Service(ServiceFault::TemplateMissing {
                name: route.template.clone(),
            }));
        }
        let (idempotency_key, _) = idempotency::key_for(&route.name, unwrapped);
        let metadata = metadata(record, unwrapped, now, &route.name, &idempotency_key);
        let results = (!route.lookups.is_empty()).then(|| {
            lookups.map_or_else(
                || Progress::new(0).results(&[]),
                |progress| progress.results(&route.lookups),
            )
        });
        let context = template_context(&unwrapped.event, metadata, results);
        let parts = self.parts_of(index).ok_or_else(|| {
            Fault::Service(ServiceFault::TemplateMissing {
                name: route.template.clone(),
            })
        })?;
        let rendered = self
            .render_parts(&parts, &context)
            .map_err(|fault| Fault::Service(ServiceFault::Template(fault)))?;
        // Feedback finds its email by these tags (`feedback::MailroomTags`): SES returns them
        // in every event it publishes for the email.
        let mut tags = compiled.tags.clone();
        tags.push(Tag::new(
            feedback::EVENT_TYPE_TAG,
            unwrapped.event_type.as_deref().unwrap_or("none"),
        ));
        tags.push(Tag::new(feedback::IDEMPOTENCY_KEY_TAG, &idempotency_key));
        let to = match &self.shared.config.sandbox_recipient {
            Some(sandbox) => {
                let original: Vec<&str> = recipients.iter().map(Mailbox::address).collect();
                tags.push(Tag::new(
                    crate::email::SANDBOX_ORIGINAL_TO_TAG,
                    &original.join("_"),
                ));
                vec![sandbox.clone()]
            }
            None => recipients,
        };
        let email = Email {
            from: self.shared.config.sender.clone(),
            to,
            reply_to: route
                .reply_to
                .clone()
                .or_else(|| self.shared.config.reply_to.clone()),
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            idempotency_key,
            tags,
            configuration_set: self.shared.config.configuration_set.clone(),
        };
        let sms = route
            .sms
            .as_ref()
            .map(|sms| {
                self.compose_sms(
                    sms,
                    &route.lookups,
                    unwrapped,
                    lookups,
                    &context,
                    &email.idempotency_key,
                )
            })
            .transpose()?;
        Ok(Composed::Send(Box::new(Outgoing { email, sms })))
    }

    /// The text of a route that texts: the number from its phone path(s), the text from its
    /// template, both checked by [`crate::sms`]'s rules. Rendered with the email's context, so
    /// the text and the email say the same thing.
    fn compose_sms(
        &self,
        sms: &SmsRoute,
        declared: &[crate::lookup::Lookup],
        unwrapped: &Unwrapped,
        lookups: Option<&Progress>,
        context: &Value,
        email_key: &str,
    ) -> Result<Sms, Fault> {
        let to = phone_number(&sms.phone, |path| {
            crate::lookup::at_path(&unwrapped.event, declared, lookups, path)
        })?;
        if !self.shared.engine.has(&sms.template) {
            return Err(Fault::Service(ServiceFault::TemplateMissing {
                name: sms.template.clone(),
            }));
        }
        let rendered = self
            .shared
            .engine
            .render(&sms.template, context)
            .map_err(|fault| Fault::Service(ServiceFault::Template(fault)))?;
        let text = crate::sms::message_text(&rendered);
        let shape = crate::sms::shape(&text);
        crate::sms::check_segments(&shape, sms.max_segments)
            .map_err(|error| Fault::Message(MessageFault::Sms(error)))?;
        Ok(Sms::new(
            to,
            text,
            shape,
            sms.sms_type,
            sms.sender_id.clone(),
            idempotency::channel_key(email_key, Channel::Sms),
        ))
    }

    /// Renders HTML, text and subject in that order (the first failure is reported, so an
    /// author sees the template's own error before a subject's): the text from its template or
    /// else derived from the HTML, the subject made header-safe.
    pub(crate) fn render_parts(
        &self,
        parts: &Parts<'_>,
        context: &Value,
    ) -> Result<Rendered, TemplateFault> {
        let html = self.shared.engine.render(parts.html, context)?;
        let text = match parts.text {
            Some(text_template) => self.shared.engine.render(text_template, context)?,
            None => text_from_html(&html),
        };
        let subject = match parts.subject {
            Subject::Compiled(name) => self.shared.engine.render(name, context)?,
            Subject::Source(source) => self
                .shared
                .engine
                .render_source("subject", source, context)?,
        };
        Ok(Rendered {
            subject: subject_line(&subject),
            html,
            text,
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.shared.engine
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

/// What templates see: the event's own fields, the metadata under [`METADATA_NAME`]
/// (shadowing an event field of that name, so `mailroom.*` always means the same thing), and,
/// for a route with lookups, their results under [`LOOKUP_NAME`] (shadowing likewise).
pub(crate) fn template_context(event: &JsonRef, metadata: Value, lookups: Option<Value>) -> Value {
    Value::from_object(TemplateContext {
        event: event.clone(),
        metadata,
        lookups,
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
    lookups: Option<Value>,
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
        if key == LOOKUP_NAME
            && let Some(lookups) = &self.lookups
        {
            return Some(lookups.clone());
        }
        self.event.get(key).map(|value| value.to_value())
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        let mut keys: Vec<Value> = self
            .event
            .to_value()
            .try_iter()
            .map(|keys| {
                keys.filter(|key| {
                    key.as_str() != Some(METADATA_NAME)
                        && (self.lookups.is_none() || key.as_str() != Some(LOOKUP_NAME))
                })
                .collect()
            })
            .unwrap_or_default();
        keys.push(Value::from(METADATA_NAME));
        if self.lookups.is_some() {
            keys.push(Value::from(LOOKUP_NAME));
        }
        minijinja::value::Enumerator::Values(keys)
    }
}

pub(crate) use crate::lookup::Fault;

/// Finds the recipients: the first of `paths` that holds something non-empty (`at_path`
/// reads a path in the event or in lookup results).
fn recipients(
    paths: &[String],
    at_path: impl Fn(&str) -> Option<JsonRef>,
) -> Result<Vec<Mailbox>, Fault> {
    let invalid = |reason: String| Fault::Message(MessageFault::InvalidRecipient(reason));
    let Some(found) = paths
        .iter()
        .find_map(|path| at_path(path).filter(is_present))
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

/// Finds the phone number: the first of `paths` that holds something non-empty, in E.164.
fn phone_number(
    paths: &[String],
    at_path: impl Fn(&str) -> Option<JsonRef>,
) -> Result<PhoneNumber, Fault> {
    let Some(found) = paths
        .iter()
        .find_map(|path| at_path(path).filter(is_present))
    else {
        return Err(Fault::Message(MessageFault::MissingRecipient {
            fields: paths.join(" | "),
        }));
    };
    let Some(text) = found.as_str() else {
        // A number as a JSON number has lost its `+` (and any leading zero of `00`).
        let kind = found.to_value().kind();
        return Err(Fault::Message(MessageFault::InvalidRecipient(format!(
            "a phone number must be a string with + and the country code, not {kind}"
        ))));
    };
    PhoneNumber::parse(text)
        .map_err(|error| Fault::Message(MessageFault::InvalidRecipient(error.to_string())))
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
