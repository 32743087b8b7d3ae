//! For template authors: render one template with sample data, check a template set against
//! sample events, and list the variables a template reads.
//!
//! These use the same engine, envelopes and routing as [`Mailroom::start_batch`], so a preview
//! shows exactly what a record would produce.

use serde::Serialize;

use crate::config::Config;
use crate::envelope;
use crate::error::{FaultKind, MessageFault, ServiceFault, TemplateFault};
use crate::idempotency;
use crate::mailroom::{
    METADATA_NAME, Mailroom, Parts, Subject, Verdict, metadata, template_context,
};
use crate::record::{SqsRecord, Timestamp};

/// One rendering of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use]
pub struct Preview {
    /// The route whose settings (subject, text template) the preview used: the one the
    /// sample's event type takes when it uses this template, else the first that uses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The subject, header-safe.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The text body, from the route's text template (its `textTemplate`, else the `.txt`
    /// sibling), or derived from the HTML, exactly as a send would have it.
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
            ignored_variables: Vec::new(),
        }
    }
}

impl Mailroom {
    /// Renders `template` with `body` (an event, or any envelope around one) the way a send
    /// renders it: with the route that uses the template (its subject, its text template, the
    /// same metadata), through the same code. `subject` replaces the route's subject; without
    /// a route using the template, the subject is `subject` or empty and the text is the `.txt`
    /// sibling's or derived from the HTML.
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
        let routes = self.config().routes();
        let index = self
            .route_index(unwrapped.event_type.as_deref())
            .filter(|index| routes[*index].template() == template)
            .or_else(|| routes.iter().position(|route| route.template() == template));
        let route_name = index.map(|index| routes[index].name().to_owned());
        let name = route_name.as_deref().unwrap_or("preview");
        // The same metadata a record gets, so shared partials that read `mailroom.*` render.
        let (idempotency_key, _) = idempotency::key_for(name, &unwrapped);
        let metadata = metadata(&record, &unwrapped, now, name, &idempotency_key);
        let context = template_context(&unwrapped.event, metadata);
        let sibling;
        let parts = match index.and_then(|index| self.parts_of(index)) {
            Some(route_parts) => Parts {
                subject: subject.map_or(route_parts.subject, Subject::Source),
                ..route_parts
            },
            None => {
                sibling = self.engine().sibling_text_template(template);
                Parts {
                    subject: Subject::Source(subject.unwrap_or_default()),
                    html: template,
                    text: sibling.as_deref(),
                }
            }
        };
        let rendered = self
            .render_parts(&parts, &context)
            .map_err(PreviewError::Template)?;
        let variables = self
            .engine()
            .variables(template)
            .map_err(PreviewError::Template)?;
        let missing = variables
            .iter()
            .filter(|path| {
                let root = path.split('.').next().unwrap_or_default();
                root != METADATA_NAME && unwrapped.event.at_path(path).is_none()
            })
            .cloned()
            .collect();
        Ok(Preview {
            route: route_name,
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
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
        for route in self.config().routes() {
            if !self.engine().has(route.template()) {
                diagnostics.push(Diagnostic {
                    sample: None,
                    route: Some(route.name().to_owned()),
                    fault: TemplateFault::new(
                        FaultKind::NotFound,
                        format!("template {:?} is not loaded", route.template()),
                    ),
                });
            }
        }
        for (label, record) in samples {
            let (verdict, facts) = self.verdict(record, now);
            let fault = match verdict {
                Verdict::Send(_) => continue,
                // Compile errors are already listed once above.
                Verdict::Retry(ServiceFault::Template(fault))
                    if fault.kind == FaultKind::Syntax =>
                {
                    continue;
                }
                Verdict::Retry(ServiceFault::Template(fault)) => fault,
                Verdict::Retry(ServiceFault::TemplateMissing { .. }) => continue,
                Verdict::Retry(other) => TemplateFault::new(FaultKind::Render, other.to_string()),
                Verdict::Reject(fault @ MessageFault::NoRoute { .. }) => {
                    TemplateFault::new(FaultKind::NoRoute, fault.to_string())
                }
                Verdict::Reject(fault) => TemplateFault::new(FaultKind::Sample, fault.to_string()),
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
