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
use crate::lookup::{LookupAnswer, LookupFailure, LookupRequest, LookupSource};
use crate::mailroom::{
    METADATA_NAME, Mailroom, Parts, Subject, Verdict, metadata, template_context,
};
use crate::record::{SqsRecord, Timestamp};
use crate::render::SUBJECT_PREFIX;

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
    /// Those of `variables` the data (and the lookups' results) does not have.
    pub missing: Vec<String>,
    /// The lookups the route reads for this sample, in the order they were asked, with what
    /// the lookup source answered: what an author needs to see and edit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lookups: Vec<PreviewLookup>,
}

/// One lookup of a preview, as asked and answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewLookup {
    /// The lookup's name (`lookup.<name>` in templates).
    pub name: String,
    /// The table.
    pub table: String,
    /// The key, attribute to value text.
    pub key: std::collections::BTreeMap<String, String>,
    /// `found`, `not_found` or `failed`; `unasked` when its key could not be rendered.
    pub status: &'static str,
    /// The item as templates see it (JSON), when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Why it was not asked or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl PreviewLookup {
    /// `request` as asked and `answer` as answered: `found` with the item, `not_found`, or
    /// `failed` with the failure's detail. A host that lists the lookups of a preview the core
    /// did not finish (so returned no list) shows them this way, as the core does.
    #[must_use]
    pub fn asked(request: &LookupRequest, answer: &LookupAnswer) -> Self {
        let (status, item, detail) = match answer {
            LookupAnswer::Found(item) => ("found", Some(item.to_json()), None),
            LookupAnswer::NotFound => ("not_found", None, None),
            LookupAnswer::Failed(
                LookupFailure::Throttled(detail) | LookupFailure::Unavailable(detail),
            ) => ("failed", None, Some(detail.clone())),
        };
        Self {
            name: request.lookup.clone(),
            table: request.table.clone(),
            key: request.key_as_text(),
            status,
            item,
            detail,
        }
    }
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
                lookups: Vec::new(),
                sms: None,
            }],
            retry: crate::decision::RetryPolicy::default(),
            limits: crate::config::RenderLimits::default(),
            sandbox_recipient: None,
            configuration_set: None,
            ledger_table: None,
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
    ///
    /// When the route reads lookups, `lookups` answers them (a previewer's edited results,
    /// fixtures); a lookup that is not found or fails is left out, so the preview still renders
    /// and lists what is missing.
    pub fn preview(
        &self,
        template: &str,
        subject: Option<&str>,
        body: &str,
        now: Timestamp,
        lookups: &mut dyn LookupSource,
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
        let (results, asked) = match index {
            Some(index) if !routes[index].lookups().is_empty() => {
                let (progress, asked) = self.preview_lookups(index, &unwrapped, lookups);
                (Some(progress.results(routes[index].lookups())), asked)
            }
            _ => (None, Vec::new()),
        };
        let context = template_context(&unwrapped.event, metadata, results.clone());
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
                match (&results, path.strip_prefix("lookup.")) {
                    (Some(results), Some(rest)) => !has_path(results, rest),
                    _ => root != METADATA_NAME && unwrapped.event.at_path(path).is_none(),
                }
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
            lookups: asked,
        })
    }

    /// Every template of a route with lookups (HTML, text, subject) that reads
    /// `lookup.<name>` for a lookup the route does not declare: always undefined, whatever the
    /// event, so a configuration mistake rather than a sample's.
    fn undeclared_lookups(&self) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        for (index, route) in self.config().routes().iter().enumerate() {
            let Some(parts) = self.parts_of(index) else {
                continue;
            };
            let subject = match parts.subject {
                Subject::Compiled(name) => Some(name),
                Subject::Source(_) => None,
            };
            for template in [Some(parts.html), parts.text, subject]
                .into_iter()
                .flatten()
            {
                // A template that does not compile or is missing is reported already.
                let Ok(variables) = self.engine().variables(template) else {
                    continue;
                };
                for name in route.undeclared_lookups(&variables) {
                    let declared: Vec<&str> =
                        route.lookups().iter().map(|lookup| lookup.name()).collect();
                    let mut fault = TemplateFault::new(
                        FaultKind::Lookup,
                        format!(
                            "reads lookup.{name}, but route {} declares no lookup {name:?} (it \
                             declares {}), so it is always undefined",
                            route.name(),
                            declared.join(", ")
                        ),
                    );
                    fault.template = Some(if template.starts_with(SUBJECT_PREFIX) {
                        format!("the subject of route {}", route.name())
                    } else {
                        template.to_owned()
                    });
                    found.push(Diagnostic {
                        sample: None,
                        route: Some(route.name().to_owned()),
                        fault,
                    });
                }
            }
        }
        found
    }

    /// The variables `template` reads, as sorted dotted paths, following includes and layouts.
    pub fn variables(&self, template: &str) -> Result<Vec<String>, TemplateFault> {
        self.engine().variables(template)
    }

    /// Every problem in the template set: templates that do not compile, routes whose template
    /// is not loaded, and each sample record that would not be sent, with the reason.
    #[must_use]
    ///
    /// `lookups` answers the lookups samples need (the CLI's fixtures); a lookup it cannot
    /// answer is reported (`lookup`), so an author learns which fixture is missing.
    pub fn check(
        &self,
        samples: &[(String, SqsRecord)],
        now: Timestamp,
        lookups: &mut dyn LookupSource,
    ) -> Vec<Diagnostic> {
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
        diagnostics.extend(self.undeclared_lookups());
        for (label, record) in samples {
            let (verdict, facts) = self.verdict_with(record, now, lookups);
            let fault = match verdict {
                Verdict::Send(_) | Verdict::Suppressed(_) => continue,
                // `verdict_with` answers every lookup: nothing is left waiting.
                Verdict::Pending(_) => continue,
                Verdict::Retry(
                    fault @ (ServiceFault::LookupFailed { .. }
                    | ServiceFault::LookupNotYetWritten { .. }),
                ) => TemplateFault::new(FaultKind::Lookup, fault.to_string()),
                Verdict::Reject(
                    fault @ (MessageFault::LookupMissing { .. }
                    | MessageFault::MissingField { .. }
                    | MessageFault::InvalidLookupKey { .. }),
                ) => TemplateFault::new(FaultKind::Lookup, fault.to_string()),
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

/// Whether the lookup results hold `path` (`student.firstName`).
fn has_path(results: &minijinja::Value, path: &str) -> bool {
    let mut value = results.clone();
    for segment in path.split('.') {
        match value.get_attr(segment) {
            Ok(next) if !next.is_undefined() => value = next,
            _ => return false,
        }
    }
    true
}
