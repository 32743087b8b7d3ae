//! [`Handle`]: a configured, compiled [`Mailroom`] and every operation on it, with JSON text in
//! and out.
//!
//! JSON text is the boundary on purpose. The reports are serialized exactly as the native core
//! serializes them (`serde_json`), so JavaScript receives the same objects, key for key, that the
//! native snapshots hold; and one `JSON.parse` in the engine is faster than building the objects
//! field by field across the boundary. Everything here is plain Rust, so it is tested natively.
//!
//! Calls that decide or render take the lookup fixtures that answer a route's lookups on the spot
//! (`None`: nothing answers them, so every read fails, as [`NoLookups`] says).

use std::collections::BTreeMap;

use mailroom_core::preview::PreviewLookup;
use mailroom_core::{
    BatchReport, Config, LookupFixtures, LookupRequest, LookupSource, Mailroom, NoLookups,
    SendOutcome, SqsEvent, SqsRecord, TemplateSet, Timestamp,
};
use serde::Deserialize;

use crate::batch::HostBatch;
use crate::error::{AdapterError, to_json};

/// Configuration plus compiled templates. Build once (a Node Lambda's cold start), then call
/// any number of times.
pub struct Handle {
    mailroom: Mailroom,
}

impl Handle {
    /// Builds from `templates` (`{"path": "source"}`), an optional routes file (its JSON text)
    /// and `env` (`{"NAME": "value"}`, the variables a deployment sets). Without routes the
    /// variables alone describe the one default route, as `Config::from_vars` reads them.
    pub fn new(templates: &str, routes: Option<&str>, env: &str) -> Result<Self, AdapterError> {
        let templates: TemplateSet = parse::<BTreeMap<String, String>>("templates", templates)?
            .into_iter()
            .collect();
        let env: BTreeMap<String, String> = parse("env", env)?;
        let config = Config::resolve(routes, |name| env.get(name).cloned())?;
        Self::with_config(config, &templates)
    }

    /// For authoring tools, where no sender or routes exist yet: every template is compiled and
    /// can be rendered, checked and inspected; decisions would all lack a real route.
    pub fn for_templates(templates: &str) -> Result<Self, AdapterError> {
        let templates: TemplateSet = parse::<BTreeMap<String, String>>("templates", templates)?
            .into_iter()
            .collect();
        let first = templates
            .iter()
            .next()
            .map_or("", |(path, _)| path)
            .to_owned();
        Self::with_config(Config::preview(&first), &templates)
    }

    fn with_config(config: Config, templates: &TemplateSet) -> Result<Self, AdapterError> {
        Ok(Self {
            mailroom: Mailroom::new(config, templates)?,
        })
    }

    /// Renders `template` with `data` (an event, or any envelope around one): the preview JSON
    /// `{subject, html, text, variables, missing, lookups?}`, the route's lookups answered by
    /// `lookups`. When the rendering fails after lookups were read (a template reads one that
    /// was not found), the error carries what each answered
    /// ([`AdapterError::WithLookups`]).
    pub fn render(
        &self,
        template: &str,
        data: &str,
        subject: Option<&str>,
        now: f64,
        lookups: Option<&LookupFixtures>,
    ) -> Result<String, AdapterError> {
        let now = timestamp(now)?;
        let mut answers = source(lookups);
        let mut asked = Vec::new();
        let mut recording = |request: &LookupRequest| {
            let answer = answers.answer(request);
            asked.push(PreviewLookup::asked(request, &answer));
            answer
        };
        match self
            .mailroom
            .preview(template, subject, data, now, &mut recording)
        {
            Ok(preview) => to_json(&preview),
            Err(error) => {
                let error = name_the_template(error.into(), template);
                Err(if asked.is_empty() {
                    error
                } else {
                    AdapterError::WithLookups {
                        error: Box::new(error),
                        lookups: asked,
                    }
                })
            }
        }
    }

    /// Decides one record without sending: the core's `RecordDecision` (`decision` `send` with
    /// the email, or `retry` / `reject` with the reason), the fields of a `RecordReport` but
    /// the provider id. A route's lookups are answered by `lookups`.
    pub fn decide(
        &self,
        record: &str,
        now: f64,
        seed: u64,
        lookups: Option<&LookupFixtures>,
    ) -> Result<String, AdapterError> {
        let record: SqsRecord = parse_event_part(record)?;
        let decision = self
            .mailroom
            .decide(&record, timestamp(now)?, seed, &mut *source(lookups));
        to_json(&decision)
    }

    /// Runs a whole Lambda SQS event without sending: each email counts as `outcomes[messageId]`
    /// or, when absent, as accepted with provider id `ses-<messageId>`. Lookups are answered by
    /// `lookups`, round by round, before any send; sends are completed one at a time in order.
    /// The `BatchReport` JSON.
    pub fn process_event(
        &self,
        event: &str,
        now: f64,
        seed: u64,
        outcomes: Option<&str>,
        lookups: Option<&LookupFixtures>,
    ) -> Result<String, AdapterError> {
        to_json(&self.process_event_report(event, now, seed, outcomes, lookups)?)
    }

    /// [`process_event`](Self::process_event)'s report, before it becomes JSON.
    pub fn process_event_report(
        &self,
        event: &str,
        now: f64,
        seed: u64,
        outcomes: Option<&str>,
        lookups: Option<&LookupFixtures>,
    ) -> Result<BatchReport, AdapterError> {
        self.process_parsed_event(SqsEvent::from_json(event)?, now, seed, outcomes, lookups)
    }

    /// [`process_event_report`](Self::process_event_report) of an event already read (see
    /// [`crate::aside::event_with_bodies`]).
    pub fn process_parsed_event(
        &self,
        event: SqsEvent,
        now: f64,
        seed: u64,
        outcomes: Option<&str>,
        lookups: Option<&LookupFixtures>,
    ) -> Result<BatchReport, AdapterError> {
        let outcomes: BTreeMap<String, SendOutcome> = match outcomes {
            Some(text) => parse("outcomes", text)?,
            None => BTreeMap::new(),
        };
        let mut batch = self.mailroom.start_batch(event, timestamp(now)?, seed)?;
        let mut answers = source(lookups);
        // Every round of lookups before any send, as the Rust Lambda does.
        batch.answer_lookups_from(&mut *answers);
        while let Some(send) = batch.next_send() {
            // Answers name a send as the CLI's `--outcomes` does: `<messageId>` for the email,
            // `<messageId>/sms` for the text; an unanswered one is accepted.
            let channel = send.id.channel();
            let key = mailroom_core::channel::answer_key(&send.message_id, channel);
            let provider = match channel {
                mailroom_core::Channel::Email => "ses",
                mailroom_core::Channel::Sms => "sns",
            };
            let outcome = outcomes
                .get(&key)
                .cloned()
                .unwrap_or_else(|| SendOutcome::Accepted {
                    message_id: format!("{provider}-{}", send.message_id),
                });
            batch.complete_send(send.id, outcome)?;
        }
        Ok(batch.finish())
    }

    /// Starts a batch for a host that sends itself (see [`HostBatch`]).
    pub fn start_batch(&self, event: &str, now: f64, seed: u64) -> Result<HostBatch, AdapterError> {
        self.start_parsed_batch(SqsEvent::from_json(event)?, now, seed)
    }

    /// [`start_batch`](Self::start_batch) of an event already read.
    pub fn start_parsed_batch(
        &self,
        event: SqsEvent,
        now: f64,
        seed: u64,
    ) -> Result<HostBatch, AdapterError> {
        let batch = self.mailroom.start_batch(event, timestamp(now)?, seed)?;
        Ok(HostBatch::new(batch))
    }

    /// Every problem of the template set, and of each labelled sample record
    /// (`[["label", record], ...]`): the `Diagnostic` list JSON. The samples' lookups are
    /// answered by `lookups`; one it cannot answer is a `lookup` diagnostic.
    pub fn check(
        &self,
        samples: &str,
        now: f64,
        lookups: Option<&LookupFixtures>,
    ) -> Result<String, AdapterError> {
        let samples: Vec<(String, SqsRecord)> = parse("samples", samples)?;
        let diagnostics = self
            .mailroom
            .check(&samples, timestamp(now)?, &mut *source(lookups));
        to_json(&diagnostics)
    }

    /// The top-level variables `template` reads, sorted: a JSON list of names.
    pub fn variables(&self, template: &str) -> Result<String, AdapterError> {
        let variables = self
            .mailroom
            .variables(template)
            .map_err(|fault| name_the_template(AdapterError::Template(fault), template))?;
        to_json(&variables)
    }
}

/// What answers lookups: the fixtures given, else nothing (every read fails, so a record that
/// needs one is retried rather than rendered without its data).
fn source(fixtures: Option<&LookupFixtures>) -> Box<dyn LookupSource + '_> {
    match fixtures {
        Some(fixtures) => Box::new(fixtures),
        None => Box::new(NoLookups),
    }
}

/// A template error without a template name (a template that is not loaded) concerns the one
/// the caller asked for: say so, so every template error names its template.
fn name_the_template(error: AdapterError, template: &str) -> AdapterError {
    match error {
        AdapterError::Template(mut fault) if fault.template.is_none() => {
            fault.template = Some(template.to_owned());
            AdapterError::Template(fault)
        }
        other => other,
    }
}

fn parse<'a, T: Deserialize<'a>>(argument: &'static str, text: &'a str) -> Result<T, AdapterError> {
    serde_json::from_str(text).map_err(|error| AdapterError::input(argument, &error))
}

/// A record is part of an event: its errors are event errors, with the JSON location.
fn parse_event_part<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, AdapterError> {
    serde_json::from_str(text).map_err(|error| {
        AdapterError::Event(mailroom_core::EventError::Json {
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        })
    })
}

/// JavaScript passes milliseconds as a number; only whole, finite values are times.
pub(crate) fn timestamp(millis: f64) -> Result<Timestamp, AdapterError> {
    // ±2^53: every integer JavaScript can hold exactly, far beyond any real date.
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    if !millis.is_finite() || millis.fract() != 0.0 || millis.abs() > LIMIT {
        return Err(AdapterError::Input {
            argument: "now",
            message: format!("{millis} is not a whole number of milliseconds since 1970"),
        });
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(Timestamp::from_millis(millis as i64))
}
