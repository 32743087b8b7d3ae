//! For template authors: render one template with sample data, check a template set against
//! sample events, and list the variables a template reads.
//!
//! These use the same engine, envelopes and routing as [`Mailroom::start_batch`], so a preview
//! shows exactly what a record would produce.

use serde::Serialize;

use crate::config::Config;
use crate::email::{subject_line, text_from_html};
use crate::envelope;
use crate::error::{MessageFault, ServiceFault, TemplateFault};
use crate::idempotency;
use crate::mailroom::{Decision, METADATA_NAME, Mailroom, metadata, template_context};
use crate::record::{SqsRecord, Timestamp};

/// One rendering of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct Preview {
    /// The subject, header-safe.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The text body (the `.txt` sibling, or derived from the HTML).
    pub text: String,
    /// Variables the template (and what it includes or extends) reads, as dotted paths
    /// (`customer.first_name`), sorted.
    pub variables: Vec<String>,
    /// Those of `variables` the data does not have.
    pub missing: Vec<String>,
}

/// Why a preview could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// The sample data is unusable (what the message would have done wrong).
    #[error("sample data: {0}")]
    Data(MessageFault),
    /// The template failed (what the author must fix).
    #[error("{0}")]
    Template(TemplateFault),
}

/// One problem found by [`Mailroom::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The sample event it came from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<String>,
    /// The route involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// What is wrong and where.
    #[serde(flatten)]
    pub fault: TemplateFault,
}

impl Config {
    /// A configuration for previews and checks, where no sender is configured: one default
    /// route for `template` with recipient field `mailto`.
    #[must_use]
    pub fn preview(template: &str) -> Self {
        Self {
            sender: crate::address::Mailbox::trusted("preview@mailroom.invalid"),
            reply_to: None,
            routes: vec![crate::config::Route {
                name: "preview".to_owned(),
                events: vec!["*".to_owned()],
                template: template.to_owned(),
                text_template: None,
                subject: String::new(),
                recipient: vec!["mailto".to_owned()],
                reply_to: None,
                tags: std::collections::BTreeMap::new(),
            }],
            retry: crate::decision::RetryPolicy::default(),
            limits: crate::config::RenderLimits::default(),
            sandbox_recipient: None,
        }
    }
}

impl Mailroom {
    /// Renders `template` with `body` (an event, or any envelope around one) and an optional
    /// subject template. Without a subject, the subject of the first route using the template
    /// is used.
    pub fn preview(
        &self,
        template: &str,
        subject: Option<&str>,
        body: &str,
        now: Timestamp,
    ) -> Result<Preview, PreviewError> {
        let record = SqsRecord {
            message_id: "preview".to_owned(),
            body: body.to_owned(),
            ..SqsRecord::default()
        };
        let unwrapped = envelope::unwrap(&record).map_err(PreviewError::Data)?;
        // The same metadata a record gets, so shared partials that read `mailroom.*` render.
        let route = self
            .config()
            .routes
            .iter()
            .find(|route| route.template == template);
        let route_name = route.map_or("preview", |route| route.name.as_str());
        let (idempotency_key, _) = idempotency::key_for(route_name, &unwrapped);
        let metadata = metadata(&record, &unwrapped, now, route_name, &idempotency_key);
        let context = template_context(&unwrapped.event, metadata);
        let engine = self.engine();
        let html = engine
            .render(template, &context)
            .map_err(PreviewError::Template)?;
        let text = match engine.sibling_text_template(template) {
            Some(sibling) => engine
                .render(&sibling, &context)
                .map_err(PreviewError::Template)?,
            None => text_from_html(&html),
        };
        let subject_source = subject
            .map(str::to_owned)
            .or_else(|| route.map(|route| route.subject.clone()));
        let subject = match subject_source {
            Some(source) => subject_line(
                &engine
                    .render_source("subject", &source, &context)
                    .map_err(PreviewError::Template)?,
            ),
            None => String::new(),
        };
        let variables = engine.variables(template).map_err(PreviewError::Template)?;
        let missing = variables
            .iter()
            .filter(|path| {
                let root = path.split('.').next().unwrap_or_default();
                root != METADATA_NAME && unwrapped.event.at_path(path).is_none()
            })
            .cloned()
            .collect();
        Ok(Preview {
            subject,
            html,
            text,
            variables,
            missing,
        })
    }

    /// The variables `template` reads, as sorted dotted paths, following includes and layouts.
    pub fn variables(&self, template: &str) -> Result<Vec<String>, TemplateFault> {
        self.engine().variables(template)
    }

    /// Every problem in the template set: templates that do not compile, routes whose template
    /// is not loaded, and each sample record that would not be sent, with the reason.
    #[must_use]
    pub fn check(&self, samples: &[(String, SqsRecord)], now: Timestamp) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self
            .engine()
            .broken()
            .values()
            .map(|fault| Diagnostic {
                sample: None,
                route: None,
                fault: fault.clone(),
            })
            .collect();
        for route in &self.config().routes {
            if !self.engine().has(&route.template) {
                diagnostics.push(Diagnostic {
                    sample: None,
                    route: Some(route.name.clone()),
                    fault: simple_fault(
                        "not_found",
                        format!("template {:?} is not loaded", route.template),
                    ),
                });
            }
        }
        for (label, record) in samples {
            let (decision, facts) = self.decide(record, now);
            let fault = match decision {
                Decision::Send(_) => continue,
                // Compile errors are already listed once above.
                Decision::Retry(ServiceFault::Template(fault)) if fault.kind == "syntax" => {
                    continue;
                }
                Decision::Retry(ServiceFault::Template(fault)) => fault,
                Decision::Retry(ServiceFault::TemplateMissing { .. }) => continue,
                Decision::Retry(other) => simple_fault("render", other.to_string()),
                Decision::Reject(fault @ MessageFault::NoRoute { .. }) => {
                    simple_fault("no_route", fault.to_string())
                }
                Decision::Reject(fault) => simple_fault("sample", fault.to_string()),
            };
            diagnostics.push(Diagnostic {
                sample: Some(label.clone()),
                route: facts.route,
                fault,
            });
        }
        diagnostics
    }
}

fn simple_fault(kind: &'static str, message: String) -> TemplateFault {
    TemplateFault {
        kind,
        message,
        template: None,
        line: None,
        column: None,
        source_line: None,
    }
}
