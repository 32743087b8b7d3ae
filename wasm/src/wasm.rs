//! The `wasm-bindgen` surface: three classes whose methods take and return JSON text.
//!
//! The large JSON arguments (templates, events, records, render data) arrive as UTF-8 bytes
//! that `js/api.js` encodes with `TextEncoder`: wasm-bindgen copies a `&[u8]` with one
//! `Uint8Array.set`, where a `&str` goes through a JavaScript loop per character up to its first
//! non-ASCII one, which was most of the boundary's cost per record (BENCHMARKS.md). Results stay
//! `String`s: wasm-bindgen decodes those with one `TextDecoder` call on the module's memory.
//!
//! Errors are thrown as the error JSON string (see [`AdapterError::to_json`]); the JavaScript
//! wrapper turns them into `MailroomError`s. Nothing here can panic, so a bad input never
//! leaves the module trapped.

use wasm_bindgen::prelude::*;

use mailroom_core::{LookupFixtures, SqsEvent};

use crate::aside::{event_with_bodies, report_with_bodies_aside};
use crate::{AdapterError, Handle, HostBatch};

fn thrown(error: AdapterError) -> JsValue {
    JsValue::from_str(&error.to_json())
}

/// Whether the file at `path` of a template folder is a template: the core's one rule, which
/// every host applies when it loads a folder.
#[wasm_bindgen(js_name = isTemplatePath)]
#[must_use]
pub fn is_template_path(path: &str) -> bool {
    mailroom_core::render::is_template_path(path)
}

/// The routes file's name beside the templates.
#[wasm_bindgen(js_name = routesFile)]
#[must_use]
pub fn routes_file() -> String {
    mailroom_core::config::ROUTES_FILE.to_owned()
}

/// The text of a JSON argument passed as bytes. `TextEncoder` only writes valid UTF-8; other
/// bytes are an input error, not a trap.
fn utf8<'a>(argument: &'static str, bytes: &'a [u8]) -> Result<&'a str, JsValue> {
    std::str::from_utf8(bytes).map_err(|error| {
        thrown(AdapterError::Input {
            argument,
            message: format!("not UTF-8: {error}"),
        })
    })
}

/// The event of [`crate::aside::event_with_bodies`] from its byte arguments.
fn parts(skeleton: &[u8], bodies: &[u8], lengths: &[u32]) -> Result<SqsEvent, JsValue> {
    event_with_bodies(utf8("event", skeleton)?, utf8("event", bodies)?, lengths).map_err(thrown)
}

/// Lookup answers from the core's fixtures format (`lookups.json`), parsed once; or none
/// ([`none`](Self::none)), where every read fails. wasm-bindgen cannot pass an optional
/// reference to a class, so "no fixtures" is an instance too (`js/api.js` keeps one).
#[wasm_bindgen]
pub struct RawLookupFixtures {
    fixtures: Option<LookupFixtures>,
}

#[wasm_bindgen]
impl RawLookupFixtures {
    /// See [`crate::lookups::fixtures`].
    #[wasm_bindgen(constructor)]
    pub fn new(fixtures: &[u8]) -> Result<RawLookupFixtures, JsValue> {
        crate::lookups::fixtures(utf8("lookups", fixtures)?)
            .map(|fixtures| Self {
                fixtures: Some(fixtures),
            })
            .map_err(thrown)
    }

    /// No fixtures: the calls that take this answer every lookup as failed.
    #[must_use]
    pub fn none() -> RawLookupFixtures {
        Self { fixtures: None }
    }
}

fn fixtures_of(lookups: &RawLookupFixtures) -> Option<&LookupFixtures> {
    lookups.fixtures.as_ref()
}

/// A configured, compiled mailroom.
#[wasm_bindgen]
pub struct RawMailroom {
    handle: Handle,
}

#[wasm_bindgen]
impl RawMailroom {
    /// See [`Handle::new`].
    #[wasm_bindgen(constructor)]
    pub fn new(
        templates: &[u8],
        routes: Option<String>,
        env: &str,
    ) -> Result<RawMailroom, JsValue> {
        Handle::new(utf8("templates", templates)?, routes.as_deref(), env)
            .map(|handle| Self { handle })
            .map_err(thrown)
    }

    /// See [`Handle::for_templates`].
    #[wasm_bindgen(js_name = forTemplates)]
    pub fn for_templates(templates: &[u8]) -> Result<RawMailroom, JsValue> {
        Handle::for_templates(utf8("templates", templates)?)
            .map(|handle| Self { handle })
            .map_err(thrown)
    }

    /// See [`Handle::render`].
    pub fn render(
        &self,
        template: &str,
        data: &[u8],
        subject: Option<String>,
        now: f64,
        lookups: &RawLookupFixtures,
    ) -> Result<String, JsValue> {
        self.handle
            .render(
                template,
                utf8("data", data)?,
                subject.as_deref(),
                now,
                fixtures_of(lookups),
            )
            .map_err(thrown)
    }

    /// See [`Handle::decide`].
    pub fn decide(
        &self,
        record: &[u8],
        now: f64,
        seed: u64,
        lookups: &RawLookupFixtures,
    ) -> Result<String, JsValue> {
        self.handle
            .decide(utf8("record", record)?, now, seed, fixtures_of(lookups))
            .map_err(thrown)
    }

    /// See [`Handle::process_event`]; the report with its bodies aside ([`crate::aside`]).
    #[wasm_bindgen(js_name = processEvent)]
    pub fn process_event(
        &self,
        event: &[u8],
        now: f64,
        seed: u64,
        outcomes: Option<String>,
        lookups: &RawLookupFixtures,
    ) -> Result<String, JsValue> {
        self.handle
            .process_event_report(
                utf8("event", event)?,
                now,
                seed,
                outcomes.as_deref(),
                fixtures_of(lookups),
            )
            .and_then(report_with_bodies_aside)
            .map_err(thrown)
    }

    /// [`process_event`](Self::process_event) of an event whose bodies come beside its JSON
    /// ([`crate::aside`]).
    #[wasm_bindgen(js_name = processEventParts)]
    // processEvent's arguments with the event in its three parts: a struct would have to be built
    // in JavaScript field by field, which is what the parts avoid.
    #[allow(clippy::too_many_arguments)]
    pub fn process_event_parts(
        &self,
        skeleton: &[u8],
        bodies: &[u8],
        lengths: &[u32],
        now: f64,
        seed: u64,
        outcomes: Option<String>,
        lookups: &RawLookupFixtures,
    ) -> Result<String, JsValue> {
        let event = parts(skeleton, bodies, lengths)?;
        self.handle
            .process_parsed_event(event, now, seed, outcomes.as_deref(), fixtures_of(lookups))
            .and_then(report_with_bodies_aside)
            .map_err(thrown)
    }

    /// [`start_batch`](Self::start_batch) of an event whose bodies come beside its JSON.
    #[wasm_bindgen(js_name = startBatchParts)]
    pub fn start_batch_parts(
        &self,
        skeleton: &[u8],
        bodies: &[u8],
        lengths: &[u32],
        now: f64,
        seed: u64,
    ) -> Result<RawBatch, JsValue> {
        let event = parts(skeleton, bodies, lengths)?;
        self.handle
            .start_parsed_batch(event, now, seed)
            .map(|batch| RawBatch { batch })
            .map_err(thrown)
    }

    /// See [`Handle::start_batch`].
    #[wasm_bindgen(js_name = startBatch)]
    pub fn start_batch(&self, event: &[u8], now: f64, seed: u64) -> Result<RawBatch, JsValue> {
        self.handle
            .start_batch(utf8("event", event)?, now, seed)
            .map(|batch| RawBatch { batch })
            .map_err(thrown)
    }

    /// See [`Handle::check`].
    pub fn check(
        &self,
        samples: &str,
        now: f64,
        lookups: &RawLookupFixtures,
    ) -> Result<String, JsValue> {
        self.handle
            .check(samples, now, fixtures_of(lookups))
            .map_err(thrown)
    }

    /// See [`Handle::variables`].
    pub fn variables(&self, template: &str) -> Result<String, JsValue> {
        self.handle.variables(template).map_err(thrown)
    }
}

/// A batch in progress; see [`HostBatch`].
#[wasm_bindgen]
pub struct RawBatch {
    batch: HostBatch,
}

#[wasm_bindgen]
impl RawBatch {
    /// See [`HostBatch::lookups`].
    pub fn lookups(&mut self) -> Result<String, JsValue> {
        self.batch.lookups().map_err(thrown)
    }

    /// See [`HostBatch::answer_lookup`].
    #[wasm_bindgen(js_name = answerLookup)]
    pub fn answer_lookup(&mut self, id: usize, answer: &[u8]) -> Result<(), JsValue> {
        self.batch
            .answer_lookup(id, utf8("answer", answer)?)
            .map_err(thrown)
    }

    /// See [`HostBatch::answer_lookup_from`].
    #[wasm_bindgen(js_name = answerLookupFrom)]
    pub fn answer_lookup_from(
        &mut self,
        id: usize,
        fixtures: &RawLookupFixtures,
    ) -> Result<(), JsValue> {
        let Some(fixtures) = fixtures_of(fixtures) else {
            return Err(thrown(AdapterError::Input {
                argument: "fixtures",
                message: "give the fixtures that answer the lookup".to_owned(),
            }));
        };
        self.batch.answer_lookup_from(id, fixtures).map_err(thrown)
    }

    /// See [`HostBatch::next_send_with_bodies_aside`].
    #[wasm_bindgen(js_name = nextSend)]
    pub fn next_send(&mut self) -> Result<Option<String>, JsValue> {
        self.batch.next_send_with_bodies_aside().map_err(thrown)
    }

    /// See [`HostBatch::complete_send`].
    #[wasm_bindgen(js_name = completeSend)]
    pub fn complete_send(&mut self, id: usize, outcome: &str) -> Result<(), JsValue> {
        self.batch.complete_send(id, outcome).map_err(thrown)
    }

    /// See [`HostBatch::raw_message`].
    #[cfg(feature = "mime")]
    #[wasm_bindgen(js_name = rawMessage)]
    pub fn raw_message(&self, id: usize, now: f64) -> Result<Vec<u8>, JsValue> {
        self.batch.raw_message(id, now).map_err(thrown)
    }

    /// See [`HostBatch::expire`].
    pub fn expire(&mut self) -> Result<(), JsValue> {
        self.batch.expire().map_err(thrown)
    }

    /// See [`HostBatch::rejected`].
    pub fn rejected(&mut self) -> Result<String, JsValue> {
        self.batch.rejected().map_err(thrown)
    }

    /// See [`HostBatch::mark_parked`].
    #[wasm_bindgen(js_name = markParked)]
    pub fn mark_parked(&mut self, id: usize) -> Result<(), JsValue> {
        self.batch.mark_parked(id).map_err(thrown)
    }

    /// See [`HostBatch::finish_with_bodies_aside`].
    pub fn finish(&mut self) -> Result<String, JsValue> {
        self.batch.finish_with_bodies_aside().map_err(thrown)
    }
}
