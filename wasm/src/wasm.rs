//! The `wasm-bindgen` surface: two classes whose methods take and return JSON text.
//!
//! Errors are thrown as the error JSON string (see [`AdapterError::to_json`]); the JavaScript
//! wrapper turns them into `MailroomError`s. Nothing here can panic, so a bad input never
//! leaves the module trapped.

use wasm_bindgen::prelude::*;

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

/// A configured, compiled mailroom.
#[wasm_bindgen]
pub struct RawMailroom {
    handle: Handle,
}

#[wasm_bindgen]
impl RawMailroom {
    /// See [`Handle::new`].
    #[wasm_bindgen(constructor)]
    pub fn new(templates: &str, routes: Option<String>, env: &str) -> Result<RawMailroom, JsValue> {
        Handle::new(templates, routes.as_deref(), env)
            .map(|handle| Self { handle })
            .map_err(thrown)
    }

    /// See [`Handle::for_templates`].
    #[wasm_bindgen(js_name = forTemplates)]
    pub fn for_templates(templates: &str) -> Result<RawMailroom, JsValue> {
        Handle::for_templates(templates)
            .map(|handle| Self { handle })
            .map_err(thrown)
    }

    /// See [`Handle::render`].
    pub fn render(
        &self,
        template: &str,
        data: &str,
        subject: Option<String>,
        now: f64,
    ) -> Result<String, JsValue> {
        self.handle
            .render(template, data, subject.as_deref(), now)
            .map_err(thrown)
    }

    /// See [`Handle::decide`].
    pub fn decide(&self, record: &str, now: f64, seed: u64) -> Result<String, JsValue> {
        self.handle.decide(record, now, seed).map_err(thrown)
    }

    /// See [`Handle::process_event`].
    #[wasm_bindgen(js_name = processEvent)]
    pub fn process_event(
        &self,
        event: &str,
        now: f64,
        seed: u64,
        outcomes: Option<String>,
    ) -> Result<String, JsValue> {
        self.handle
            .process_event(event, now, seed, outcomes.as_deref())
            .map_err(thrown)
    }

    /// See [`Handle::start_batch`].
    #[wasm_bindgen(js_name = startBatch)]
    pub fn start_batch(&self, event: &str, now: f64, seed: u64) -> Result<RawBatch, JsValue> {
        self.handle
            .start_batch(event, now, seed)
            .map(|batch| RawBatch { batch })
            .map_err(thrown)
    }

    /// See [`Handle::check`].
    pub fn check(&self, samples: &str, now: f64) -> Result<String, JsValue> {
        self.handle.check(samples, now).map_err(thrown)
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
    /// See [`HostBatch::next_send`].
    #[wasm_bindgen(js_name = nextSend)]
    pub fn next_send(&mut self) -> Result<Option<String>, JsValue> {
        self.batch.next_send().map_err(thrown)
    }

    /// See [`HostBatch::complete_send`].
    #[wasm_bindgen(js_name = completeSend)]
    pub fn complete_send(&mut self, id: usize, outcome: &str) -> Result<(), JsValue> {
        self.batch.complete_send(id, outcome).map_err(thrown)
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

    /// See [`HostBatch::finish`].
    pub fn finish(&mut self) -> Result<String, JsValue> {
        self.batch.finish().map_err(thrown)
    }
}
