//! Configuration: the sender, the routes from event type to template, limits and back-off.
//!
//! Two sources produce the same [`Config`]:
//!
//! * **Environment variables**, as existing deployments set them. They describe one default route
//!   that catches every event: template `SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL`, subject
//!   `SUBJECT`, sender `SENDER`, recipient field `mailto`. The core never reads the environment:
//!   the host passes a lookup function, so the CLI, the Lambda and tests share this mapping.
//! * **A routes file** (JSON) for several event types. Settings it leaves out fall back to the
//!   same variables, so `SENDER` can stay in the environment while the routes live with the
//!   templates:
//!
//! ```json
//! {
//!   "sender": "Courses <courses@example.com>",
//!   "replyTo": "help@example.com",
//!   "routes": [
//!     { "name": "order-confirmation", "events": ["orders/paid"],
//!       "template": "orders/confirmation.html",
//!       "subject": "Your order {{ name }} is confirmed",
//!       "recipient": ["email", "contact_email", "customer.email"],
//!       "tags": { "category": "orders" } },
//!     { "name": "enrollment", "events": ["*"],
//!       "template": "enrollment/organizer.html",
//!       "subject": "New enrollment", "recipient": "mailto" }
//!   ]
//! }
//! ```
//!
//! A route matches when one of its `events` equals the event type; `*` matches anything and makes
//! the route the default. The first matching route wins. `recipient` is a dotted path into the
//! event (`customer.email`, `attendees.0.email`) or a list of paths where the first non-empty one
//! wins. `textTemplate` names the plain-text template; without it a sibling with the extension
//! `.txt` is used if loaded (`orders/confirmation.txt`), else the text is derived from the HTML.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::address::Mailbox;
use crate::decision::RetryPolicy;
use crate::error::ConfigError;

/// The environment variables the core's configuration reads.
pub mod vars {
    /// The sender mailbox, `Name <address>` or a bare address.
    pub const SENDER: &str = "SENDER";
    /// The subject template of the default route.
    pub const SUBJECT: &str = "SUBJECT";
    /// The template path of the default route.
    pub const TEMPLATE: &str = "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL";
    /// Optional reply-to mailbox.
    pub const REPLY_TO: &str = "REPLY_TO";
    /// Optional: the recipient field path(s) of the default route, comma-separated. Default `mailto`.
    pub const RECIPIENT_FIELD: &str = "RECIPIENT_FIELD";
    /// Optional: send every email to this one address instead, while testing.
    pub const SANDBOX_RECIPIENT: &str = "SANDBOX_RECIPIENT";
}

/// Everything the core needs to decide and render, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The sender of every email.
    pub sender: Mailbox,
    /// Reply-to for every email unless its route says otherwise.
    pub reply_to: Option<Mailbox>,
    /// Routes, in matching order.
    pub routes: Vec<Route>,
    /// Retry back-off.
    pub retry: RetryPolicy,
    /// Rendering limits.
    pub limits: RenderLimits,
    /// While set, every email goes to this address only; the real recipients go into the
    /// `original_to` tag.
    pub sandbox_recipient: Option<Mailbox>,
}

/// One route from event type to email.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// A short name: used in tags, logs and the idempotency key.
    pub name: String,
    /// Event types this route takes; `*` takes any.
    pub events: Vec<String>,
    /// The HTML template path.
    pub template: String,
    /// The text template path, if not the `.txt` sibling.
    #[serde(default)]
    pub text_template: Option<String>,
    /// The subject, itself a template rendered with the event.
    pub subject: String,
    /// Dotted path(s) to the recipient field; the first non-empty wins.
    #[serde(deserialize_with = "one_or_many")]
    pub recipient: Vec<String>,
    /// Reply-to for this route.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Extra SES tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Route {
    /// Whether this route takes `event_type`.
    #[must_use]
    pub fn matches(&self, event_type: Option<&str>) -> bool {
        self.events
            .iter()
            .any(|taken| taken == "*" || Some(taken.as_str()) == event_type)
    }
}

/// Bounds on one rendering, so a template author's loop or a huge event cannot stall a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RenderLimits {
    /// minijinja fuel: roughly the number of instructions one template may execute.
    pub fuel: u64,
    /// Largest HTML or text body, in bytes.
    pub max_output_bytes: usize,
    /// Deepest nesting of includes, macros and blocks.
    pub max_recursion: usize,
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self {
            fuel: 200_000,
            max_output_bytes: 1024 * 1024,
            max_recursion: 64,
        }
    }
}

/// The routes file as written; see the module docs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    sender: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    sandbox_recipient: Option<String>,
    routes: Vec<Route>,
    #[serde(default)]
    retry: Option<RetryPolicy>,
    #[serde(default)]
    limits: Option<RenderLimits>,
}

impl Config {
    /// The configuration of existing deployments: one default route from the environment.
    ///
    /// `lookup` returns a variable's value; the host decides where variables come from.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let template = required(
            &lookup,
            vars::TEMPLATE,
            "the template path, e.g. emails/enrollment.html",
        )?;
        let subject = required(
            &lookup,
            vars::SUBJECT,
            "the email subject (may use {{ fields }})",
        )?;
        check_subject(vars::SUBJECT, &subject)?;
        let recipient = match non_empty(&lookup, vars::RECIPIENT_FIELD) {
            Some(fields) => fields.split(',').map(|f| f.trim().to_owned()).collect(),
            None => vec!["mailto".to_owned()],
        };
        let route = Route {
            name: "default".to_owned(),
            events: vec!["*".to_owned()],
            template,
            text_template: None,
            subject,
            recipient,
            reply_to: None,
            tags: BTreeMap::new(),
        };
        Self::assemble(&lookup, None, None, None, vec![route], None, None)
    }

    /// The configuration described by a routes file, with the environment as fallback.
    pub fn from_routes_json(
        json: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file: RoutesFile =
            serde_json::from_str(json).map_err(|error| ConfigError::RoutesFile {
                line: error.line(),
                column: error.column(),
                message: error.to_string(),
            })?;
        Self::assemble(
            &lookup,
            file.sender,
            file.reply_to,
            file.sandbox_recipient,
            file.routes,
            file.retry,
            file.limits,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        lookup: &impl Fn(&str) -> Option<String>,
        sender: Option<String>,
        reply_to: Option<String>,
        sandbox_recipient: Option<String>,
        routes: Vec<Route>,
        retry: Option<RetryPolicy>,
        limits: Option<RenderLimits>,
    ) -> Result<Self, ConfigError> {
        let (sender_name, sender) = match sender {
            Some(sender) => ("sender", sender),
            None => (
                vars::SENDER,
                required(
                    lookup,
                    vars::SENDER,
                    "the sender, e.g. Courses <courses@example.com>",
                )?,
            ),
        };
        let sender = mailbox(sender_name, &sender)?;
        let reply_to = optional_mailbox(reply_to, lookup, "replyTo", vars::REPLY_TO)?;
        let sandbox_recipient = optional_mailbox(
            sandbox_recipient,
            lookup,
            "sandboxRecipient",
            vars::SANDBOX_RECIPIENT,
        )?;
        validate_routes(&routes)?;
        let retry = retry.unwrap_or_default();
        if retry.base_seconds == 0 || retry.max_seconds < retry.base_seconds {
            return Err(invalid(
                "retry",
                "baseSeconds must be positive and at most maxSeconds",
            ));
        }
        Ok(Self {
            sender,
            reply_to,
            routes,
            retry,
            limits: limits.unwrap_or_default(),
            sandbox_recipient,
        })
    }
}

fn validate_routes(routes: &[Route]) -> Result<(), ConfigError> {
    if routes.is_empty() {
        return Err(invalid("routes", "at least one route is needed"));
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, route) in routes.iter().enumerate() {
        let at = |field: &str| format!("routes[{index}].{field}");
        if route.name.trim().is_empty() {
            return Err(invalid(&at("name"), "must not be empty"));
        }
        if !names.insert(route.name.as_str()) {
            return Err(invalid(
                &at("name"),
                &format!("{:?} is used twice", route.name),
            ));
        }
        if route.events.is_empty() || route.events.iter().any(|e| e.trim().is_empty()) {
            return Err(invalid(
                &at("events"),
                "list at least one event type, or \"*\"",
            ));
        }
        if route.template.trim().is_empty() {
            return Err(invalid(&at("template"), "must name a template"));
        }
        if route
            .text_template
            .as_deref()
            .is_some_and(|text| !crate::render::is_text_template(text))
        {
            return Err(invalid(&at("textTemplate"), "text templates end in .txt"));
        }
        check_subject(&at("subject"), &route.subject)?;
        if route.recipient.is_empty() || route.recipient.iter().any(|p| p.trim().is_empty()) {
            return Err(invalid(
                &at("recipient"),
                "name the field that holds the address",
            ));
        }
        if let Some(reply_to) = &route.reply_to {
            mailbox(&at("replyTo"), reply_to)?;
        }
    }
    Ok(())
}

/// Subjects come from configuration, so a syntax error in one is a configuration error.
fn check_subject(name: &str, subject: &str) -> Result<(), ConfigError> {
    minijinja::Environment::new()
        .template_from_str(subject)
        .map(|_| ())
        .map_err(|error| {
            invalid(
                name,
                &format!("the subject template does not compile: {error}"),
            )
        })
}

fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    non_empty(lookup, name).ok_or_else(|| ConfigError::Missing {
        name: name.to_owned(),
        hint,
    })
}

fn non_empty(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|value| !value.trim().is_empty())
}

fn mailbox(name: &str, value: &str) -> Result<Mailbox, ConfigError> {
    Mailbox::parse(value).map_err(|error| invalid(name, &error.to_string()))
}

fn optional_mailbox(
    from_file: Option<String>,
    lookup: &impl Fn(&str) -> Option<String>,
    file_field: &str,
    variable: &str,
) -> Result<Option<Mailbox>, ConfigError> {
    match from_file {
        Some(value) => mailbox(file_field, &value).map(Some),
        None => non_empty(lookup, variable)
            .map(|value| mailbox(variable, &value))
            .transpose(),
    }
}

fn invalid(name: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn environment_variables_give_the_default_route_of_existing_deployments() {
        let config = Config::from_vars(env(&[
            ("SENDER", "Courses <courses@example.com>"),
            ("SUBJECT", "New enrollment"),
            (
                "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
                "emails/enrollment.html",
            ),
        ]))
        .unwrap();
        assert_eq!(config.sender.to_string(), "Courses <courses@example.com>");
        let route = &config.routes[0];
        assert_eq!(route.template, "emails/enrollment.html");
        assert_eq!(route.subject, "New enrollment");
        assert_eq!(route.recipient, ["mailto"]);
        assert!(route.matches(Some("anything")) && route.matches(None));
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let missing = Config::from_vars(env(&[("SENDER", "a@example.com")])).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL is not set")
        );
        let invalid = Config::from_vars(env(&[
            ("SENDER", "not an address"),
            ("SUBJECT", "s"),
            ("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "t.html"),
        ]))
        .unwrap_err();
        assert!(
            invalid.to_string().starts_with("SENDER is invalid"),
            "{invalid}"
        );
    }

    #[test]
    fn routes_file_falls_back_to_the_environment_and_reports_its_errors() {
        let json = r#"{"routes":[{"name":"orders","events":["orders/paid"],"template":"o.html",
            "subject":"Order {{ name }}","recipient":["email","customer.email"]}]}"#;
        let config =
            Config::from_routes_json(json, env(&[("SENDER", "shop@example.com")])).unwrap();
        assert_eq!(config.routes[0].recipient, ["email", "customer.email"]);
        assert!(!config.routes[0].matches(Some("orders/create")));

        let error = Config::from_routes_json(r#"{"routes":[{"name":"x"}]}"#, env(&[])).unwrap_err();
        assert!(
            matches!(error, ConfigError::RoutesFile { line: 1, .. }),
            "{error}"
        );

        let twice = r#"{"sender":"a@example.com","routes":[
            {"name":"x","events":["*"],"template":"t.html","subject":"s","recipient":"to"},
            {"name":"x","events":["*"],"template":"t.html","subject":"s","recipient":"to"}]}"#;
        let error = Config::from_routes_json(twice, env(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "routes[1].name is invalid: \"x\" is used twice"
        );
    }
}
