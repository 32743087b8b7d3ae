//! Configuration: the sender, the routes from event type to template, limits and back-off.
//!
//! [`Config::resolve`] is the one way to build it, and every host calls it: the Lambda, the
//! CLI, the wasm package and the previewer. The host reads the environment and, if there is
//! one, the routes file (IO); the core decides what they mean, with one precedence:
//!
//! 1. **Routes.** A routes file, when there is one, describes every route. Without one, the
//!    variables of existing deployments describe a single default route that takes every event:
//!    template `SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL`, subject `SUBJECT`, recipient field(s)
//!    `RECIPIENT_FIELD` (default `mailto`). With a routes file those three variables are not
//!    used ([`Config::ignored_variables`] names them, so hosts can warn).
//! 2. **Sender, reply-to, sandbox recipient.** The routes file's `sender`, `replyTo` and
//!    `sandboxRecipient` win; what it leaves out comes from `SENDER`, `REPLY_TO` and
//!    `SANDBOX_RECIPIENT`. So `SENDER` can stay in a deployment's environment while the routes
//!    live with the templates.
//! 3. **Configuration set.** The routes file's `configurationSet`, else `CONFIGURATION_SET`
//!    (`SES_CONFIGURATION_SET`, its earlier name, is read when it is unset). Every email names
//!    it, so SES publishes the email's events to the set's destinations (feedback).
//! 4. **Ledger table.** The routes file's `ledgerTable`, else `LEDGER_TABLE`: with one, every
//!    recipient is checked against the ledger's suppressions before sending
//!    ([`crate::suppress`]).
//! 5. **SMS sender id and type.** A route's `sms.senderId` and `sms.smsType` win; then the
//!    routes file's `smsSenderId` and `smsType`; then `SMS_SENDER_ID` and `SMS_TYPE`; the type
//!    defaults to `Transactional`, the sender id to none (SNS's default).
//! 6. **Retry and limits** come from the routes file, else the defaults.
//!
//! The routes file:
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
//!
//! **Channels.** Every route sends an email. A route that also texts adds an `sms` block, so
//! one event (an order confirmation) notifies by both; existing routes files, without it, keep
//! their meaning, first match included:
//!
//! ```json
//! { "name": "order-created", "events": ["ORDER_CREATED"],
//!   "template": "orders/created.html", "subject": "Order {{ data.orderId }} received",
//!   "recipient": "data.customer.email",
//!   "sms": { "template": "orders/created.sms.txt", "phone": ["data.customer.phone", "lookup.user.phone"],
//!            "maxSegments": 2, "senderId": "Mailroom", "smsType": "Transactional" } }
//! ```
//!
//! `template` is a `.txt` template (never HTML-escaped); `phone` a path or paths, as
//! `recipient` is, into the event or a lookup's result; `maxSegments` (default
//! [`DEFAULT_MAX_SEGMENTS`], at most [`MAX_SEGMENTS`]) bounds what one text may cost. A
//! recipient needs both channels? One route does it. Different routes for the same event are
//! not combined (the first match wins), so a fan-out to both channels is one route with an
//! `sms` block, not two routes.
//!
//! A route may declare `lookups`: DynamoDB items its templates and recipient read, keyed by
//! templates over the event (`"recipient": "lookup.student.email"`); [`crate::lookup`] documents
//! them.
//!
//! Hosts look for the routes file under [`ROUTES_FILE`] beside the templates (the Lambda's
//! `ROUTES_FILE` variable may name another path in the repository).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::address::Mailbox;
use crate::decision::RetryPolicy;
use crate::error::ConfigError;
use crate::lookup::{Lookup, LookupEntry};
use crate::sms::{SenderId, SmsType};

/// Segments a route's text may take when its `sms` block does not say.
pub const DEFAULT_MAX_SEGMENTS: u32 = 3;
/// The most segments a route may allow: ten GSM-7 segments (1,530 characters) stay within
/// the 1,600 characters SNS takes in one `Publish`.
pub const MAX_SEGMENTS: u32 = 10;

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
    /// Optional: the SES configuration set every email is sent with.
    pub const CONFIGURATION_SET: &str = "CONFIGURATION_SET";
    /// The earlier name of [`CONFIGURATION_SET`], read when that is unset.
    pub const SES_CONFIGURATION_SET: &str = "SES_CONFIGURATION_SET";
    /// Optional: the DynamoDB table of the delivery ledger. When set, every recipient is
    /// checked against its suppressions before sending ([`crate::suppress`]).
    pub const LEDGER_TABLE: &str = "LEDGER_TABLE";
    /// Optional: the SMS sender id (`AWS.SNS.SMS.SenderID`) of routes that text.
    pub const SMS_SENDER_ID: &str = "SMS_SENDER_ID";
    /// Optional: `Transactional` (the default) or `Promotional`, for routes that text.
    pub const SMS_TYPE: &str = "SMS_TYPE";

    /// Every variable the configuration reads, for hosts that pass a snapshot of them on
    /// (the CLI's previewer) or list them in help texts.
    pub const ALL: [&str; 11] = [
        SENDER,
        SUBJECT,
        TEMPLATE,
        REPLY_TO,
        RECIPIENT_FIELD,
        SANDBOX_RECIPIENT,
        CONFIGURATION_SET,
        SES_CONFIGURATION_SET,
        LEDGER_TABLE,
        SMS_SENDER_ID,
        SMS_TYPE,
    ];
}

/// The routes file's name beside the templates.
pub const ROUTES_FILE: &str = "routes.json";

/// Everything the core needs to decide and render, validated: only [`Config::resolve`] builds
/// one, so a `Config` that exists is usable.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) sender: Mailbox,
    pub(crate) reply_to: Option<Mailbox>,
    pub(crate) routes: Vec<Route>,
    pub(crate) retry: RetryPolicy,
    pub(crate) limits: RenderLimits,
    pub(crate) sandbox_recipient: Option<Mailbox>,
    pub(crate) configuration_set: Option<String>,
    pub(crate) ledger_table: Option<String>,
    pub(crate) ignored_variables: Vec<&'static str>,
}

impl Config {
    /// The sender of every email.
    #[must_use]
    pub fn sender(&self) -> &Mailbox {
        &self.sender
    }

    /// Reply-to for every email unless its route says otherwise.
    #[must_use]
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// Routes, in matching order; never empty.
    #[must_use]
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Retry back-off.
    #[must_use]
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// Rendering limits.
    #[must_use]
    pub fn limits(&self) -> RenderLimits {
        self.limits
    }

    /// While set, every email goes to this address only; the real recipients go into the
    /// `original_to` tag.
    #[must_use]
    pub fn sandbox_recipient(&self) -> Option<&Mailbox> {
        self.sandbox_recipient.as_ref()
    }

    /// The SES configuration set every email is sent with, if any.
    #[must_use]
    pub fn configuration_set(&self) -> Option<&str> {
        self.configuration_set.as_deref()
    }

    /// The delivery ledger's table, whose suppressions every recipient is checked against
    /// before sending; `None`: no check.
    #[must_use]
    pub fn ledger_table(&self) -> Option<&str> {
        self.ledger_table.as_deref()
    }

    /// Variables that are set but that this configuration does not use, because the routes
    /// file says otherwise (see the precedence in the module docs). Hosts warn about them.
    #[must_use]
    pub fn ignored_variables(&self) -> &[&'static str] {
        &self.ignored_variables
    }

    /// The first route that takes `event_type`.
    #[must_use]
    pub fn route_for(&self, event_type: Option<&str>) -> Option<&Route> {
        self.routes.iter().find(|route| route.matches(event_type))
    }
}

/// One route from event type to email, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub(crate) name: String,
    pub(crate) events: Vec<String>,
    pub(crate) template: String,
    pub(crate) text_template: Option<String>,
    pub(crate) subject: String,
    pub(crate) recipient: Vec<String>,
    pub(crate) reply_to: Option<Mailbox>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) lookups: Vec<Lookup>,
    pub(crate) sms: Option<SmsRoute>,
}

/// A route's text message, validated: its template, where the number is, and how it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRoute {
    pub(crate) template: String,
    pub(crate) phone: Vec<String>,
    pub(crate) max_segments: u32,
    pub(crate) sender_id: Option<SenderId>,
    pub(crate) sms_type: SmsType,
}

impl SmsRoute {
    /// The text template (`.txt`).
    #[must_use]
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Dotted path(s) to the phone number, in the event or a lookup's result; the first
    /// non-empty wins.
    #[must_use]
    pub fn phone(&self) -> &[String] {
        &self.phone
    }

    /// The most segments one text may take.
    #[must_use]
    pub fn max_segments(&self) -> u32 {
        self.max_segments
    }

    /// The sender id, by the precedence of the module docs.
    #[must_use]
    pub fn sender_id(&self) -> Option<&SenderId> {
        self.sender_id.as_ref()
    }

    /// Transactional or promotional, by the precedence of the module docs.
    #[must_use]
    pub fn sms_type(&self) -> SmsType {
        self.sms_type
    }
}

impl Route {
    /// Whether this route takes `event_type`.
    #[must_use]
    pub fn matches(&self, event_type: Option<&str>) -> bool {
        self.events
            .iter()
            .any(|taken| taken == "*" || Some(taken.as_str()) == event_type)
    }

    /// A short name: used in tags, logs and the idempotency key.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Event types this route takes; `*` takes any.
    #[must_use]
    pub fn events(&self) -> &[String] {
        &self.events
    }

    /// The HTML template path.
    #[must_use]
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The text template path, when the route names one (else the `.txt` sibling is used).
    #[must_use]
    pub fn text_template(&self) -> Option<&str> {
        self.text_template.as_deref()
    }

    /// The subject template.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Dotted path(s) to the recipient field; the first non-empty wins.
    #[must_use]
    pub fn recipient(&self) -> &[String] {
        &self.recipient
    }

    /// Reply-to for this route.
    #[must_use]
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// Extra SES tags.
    #[must_use]
    pub fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }

    /// The route's text message, when it sends one beside its email.
    #[must_use]
    pub fn sms(&self) -> Option<&SmsRoute> {
        self.sms.as_ref()
    }

    /// The route's lookups, each after the ones its key reads (see [`crate::lookup`]).
    #[must_use]
    pub fn lookups(&self) -> &[Lookup] {
        &self.lookups
    }

    /// The lookups `variables` (a template's, as [`crate::Mailroom::variables`] lists them)
    /// read that this route does not declare, by name, sorted. With lookups declared,
    /// `lookup.<name>` holds only those, so any other name is always undefined. A route
    /// without lookups has none: its templates see the event's own `lookup` field.
    #[must_use]
    pub fn undeclared_lookups(&self, variables: &[String]) -> Vec<String> {
        if self.lookups.is_empty() {
            return Vec::new();
        }
        let mut names: Vec<String> = variables
            .iter()
            .filter_map(|path| {
                path.strip_prefix(crate::lookup::LOOKUP_NAME)?
                    .strip_prefix('.')
            })
            .map(|rest| rest.split('.').next().unwrap_or_default().to_owned())
            .filter(|name| !self.lookups.iter().any(|lookup| lookup.name() == name))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A route as the routes file writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RouteEntry {
    name: String,
    events: Vec<String>,
    template: String,
    #[serde(default)]
    text_template: Option<String>,
    subject: String,
    #[serde(deserialize_with = "one_or_many")]
    recipient: Vec<String>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    lookups: BTreeMap<String, LookupEntry>,
    #[serde(default)]
    sms: Option<SmsEntry>,
}

/// A route's `sms` block as the routes file writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SmsEntry {
    template: String,
    #[serde(deserialize_with = "one_or_many")]
    phone: Vec<String>,
    #[serde(default)]
    max_segments: Option<u32>,
    #[serde(default)]
    sender_id: Option<String>,
    #[serde(default)]
    sms_type: Option<String>,
}

/// The SMS settings routes inherit (the file's, else the variables').
#[derive(Debug, Default)]
struct SmsDefaults {
    sender_id: Option<SenderId>,
    sms_type: SmsType,
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
    #[serde(default)]
    configuration_set: Option<String>,
    #[serde(default)]
    ledger_table: Option<String>,
    #[serde(default)]
    sms_sender_id: Option<String>,
    #[serde(default)]
    sms_type: Option<String>,
    routes: Vec<RouteEntry>,
    #[serde(default)]
    retry: Option<RetryPolicy>,
    #[serde(default)]
    limits: Option<RenderLimits>,
}

impl Config {
    /// The configuration of a deployment: `routes_file` is the routes file's text when there is
    /// one, and `lookup` reads a variable of the environment (the host decides where variables
    /// come from). The precedence between them is the module docs'.
    ///
    /// Every mistake names the variable or routes-file field to fix.
    pub fn resolve(
        routes_file: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        match routes_file {
            Some(json) => Self::from_routes_json(json, &lookup),
            None => Self::from_vars(&lookup),
        }
    }

    /// Checks the variables on their own, before the routes file can be read (the Lambda reads
    /// it from CodeCommit later): every variable that is set must be valid, and without a routes
    /// file the required ones must be set. A host that calls this at start-up reports a bad
    /// variable at once instead of on the first batch.
    pub fn check_variables(
        lookup: impl Fn(&str) -> Option<String>,
        routes_file_expected: bool,
    ) -> Result<(), ConfigError> {
        match Self::from_vars(&lookup) {
            Ok(_) => Ok(()),
            Err(ConfigError::Missing { .. }) if routes_file_expected => {
                for name in [vars::SENDER, vars::REPLY_TO, vars::SANDBOX_RECIPIENT] {
                    if let Some(value) = non_empty(&lookup, name) {
                        mailbox(name, &value)?;
                    }
                }
                if let Some(subject) = non_empty(&lookup, vars::SUBJECT) {
                    check_subject(vars::SUBJECT, &subject)?;
                }
                configuration_set(None, &lookup)?;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let template = required(
            lookup,
            vars::TEMPLATE,
            "the template path, e.g. emails/enrollment.html",
        )?;
        let subject = required(
            lookup,
            vars::SUBJECT,
            "the email subject (may use {{ fields }})",
        )?;
        let recipient = match non_empty(lookup, vars::RECIPIENT_FIELD) {
            Some(fields) => fields.split(',').map(|f| f.trim().to_owned()).collect(),
            None => vec!["mailto".to_owned()],
        };
        let route = RouteEntry {
            name: "default".to_owned(),
            events: vec!["*".to_owned()],
            template,
            text_template: None,
            subject,
            recipient,
            reply_to: None,
            tags: BTreeMap::new(),
            lookups: BTreeMap::new(),
            sms: None,
        };
        let file = RoutesFile {
            sender: None,
            reply_to: None,
            sandbox_recipient: None,
            configuration_set: None,
            ledger_table: None,
            sms_sender_id: None,
            sms_type: None,
            routes: vec![route],
            retry: None,
            limits: None,
        };
        // The route's fields are variables here: errors name those.
        Self::assemble(lookup, file, Vec::new(), &|_, field| {
            match field {
                "subject" => vars::SUBJECT,
                "recipient" => vars::RECIPIENT_FIELD,
                _ => vars::TEMPLATE,
            }
            .to_owned()
        })
    }

    fn from_routes_json(
        json: &str,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file: RoutesFile =
            serde_json::from_str(json).map_err(|error| ConfigError::RoutesFile {
                line: error.line(),
                column: error.column(),
                message: error.to_string(),
            })?;
        let mut ignored: Vec<&'static str> = [vars::TEMPLATE, vars::SUBJECT, vars::RECIPIENT_FIELD]
            .into_iter()
            .filter(|name| non_empty(lookup, name).is_some())
            .collect();
        for (in_file, name) in [
            (file.sender.is_some(), vars::SENDER),
            (file.reply_to.is_some(), vars::REPLY_TO),
            (file.sandbox_recipient.is_some(), vars::SANDBOX_RECIPIENT),
            (file.configuration_set.is_some(), vars::CONFIGURATION_SET),
            (
                file.configuration_set.is_some(),
                vars::SES_CONFIGURATION_SET,
            ),
            (file.ledger_table.is_some(), vars::LEDGER_TABLE),
            (file.sms_sender_id.is_some(), vars::SMS_SENDER_ID),
            (file.sms_type.is_some(), vars::SMS_TYPE),
        ] {
            if in_file && non_empty(lookup, name).is_some() {
                ignored.push(name);
            }
        }
        ignored.sort_unstable();
        Self::assemble(lookup, file, ignored, &|index, field| {
            format!("routes[{index}].{field}")
        })
    }

    /// `field_name` names a route's field in errors: `routes[0].subject` in a routes file, the
    /// variable when the route comes from the environment.
    fn assemble(
        lookup: &impl Fn(&str) -> Option<String>,
        file: RoutesFile,
        ignored_variables: Vec<&'static str>,
        field_name: &dyn Fn(usize, &str) -> String,
    ) -> Result<Self, ConfigError> {
        let (sender_name, sender) = match file.sender {
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
        let reply_to = optional_mailbox(file.reply_to, lookup, "replyTo", vars::REPLY_TO)?;
        let sandbox_recipient = optional_mailbox(
            file.sandbox_recipient,
            lookup,
            "sandboxRecipient",
            vars::SANDBOX_RECIPIENT,
        )?;
        let configuration_set = configuration_set(file.configuration_set, lookup)?;
        let ledger_table = file
            .ledger_table
            .or_else(|| non_empty(lookup, vars::LEDGER_TABLE))
            .map(|table| table.trim().to_owned())
            .filter(|table| !table.is_empty());
        let sms = sms_defaults(file.sms_sender_id, file.sms_type, lookup)?;
        let routes = validate_routes(file.routes, lookup, field_name, &sms)?;
        let retry = file.retry.unwrap_or_default();
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
            limits: file.limits.unwrap_or_default(),
            sandbox_recipient,
            configuration_set,
            ledger_table,
            ignored_variables,
        })
    }
}

fn validate_routes(
    entries: Vec<RouteEntry>,
    env: &impl Fn(&str) -> Option<String>,
    field_name: &dyn Fn(usize, &str) -> String,
    sms_defaults: &SmsDefaults,
) -> Result<Vec<Route>, ConfigError> {
    if entries.is_empty() {
        return Err(invalid("routes", "at least one route is needed"));
    }
    let mut names = std::collections::BTreeSet::new();
    let mut routes = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let at = |field: &str| field_name(index, field);
        if entry.name.trim().is_empty() {
            return Err(invalid(&at("name"), "must not be empty"));
        }
        if !names.insert(entry.name.clone()) {
            return Err(invalid(
                &at("name"),
                &format!("{:?} is used twice", entry.name),
            ));
        }
        if entry.events.is_empty() || entry.events.iter().any(|e| e.trim().is_empty()) {
            return Err(invalid(
                &at("events"),
                "list at least one event type, or \"*\"",
            ));
        }
        if entry.template.trim().is_empty() {
            return Err(invalid(&at("template"), "must name a template"));
        }
        if entry
            .text_template
            .as_deref()
            .is_some_and(|text| !crate::render::is_text_template(text))
        {
            return Err(invalid(&at("textTemplate"), "text templates end in .txt"));
        }
        check_subject(&at("subject"), &entry.subject)?;
        if entry.recipient.is_empty() || entry.recipient.iter().any(|p| p.trim().is_empty()) {
            return Err(invalid(
                &at("recipient"),
                "name the field that holds the address",
            ));
        }
        let reply_to = entry
            .reply_to
            .map(|reply_to| mailbox(&at("replyTo"), &reply_to))
            .transpose()?;
        if let Some(name) = entry.tags.keys().find(|name| is_reserved_tag(name)) {
            return Err(invalid(
                &at("tags"),
                &format!("{name:?} is a tag mailroom sets itself (feedback finds its email by it)"),
            ));
        }
        let lookups = crate::lookup::validate(entry.lookups, env, &at)?;
        for path in &entry.recipient {
            crate::lookup::check_recipient_path(path, &lookups, &at("recipient"))?;
        }
        let sms = entry
            .sms
            .map(|sms| sms_route(sms, &lookups, sms_defaults, &at))
            .transpose()?;
        routes.push(Route {
            name: entry.name,
            events: entry.events,
            template: entry.template,
            text_template: entry.text_template,
            subject: entry.subject,
            recipient: entry.recipient,
            reply_to,
            tags: entry.tags,
            lookups,
            sms,
        });
    }
    Ok(routes)
}

/// A route's `sms` block, checked, with what it leaves out taken from `defaults`.
fn sms_route(
    entry: SmsEntry,
    lookups: &[Lookup],
    defaults: &SmsDefaults,
    at: &dyn Fn(&str) -> String,
) -> Result<SmsRoute, ConfigError> {
    if !crate::render::is_text_template(&entry.template) {
        return Err(invalid(
            &at("sms.template"),
            "SMS templates are plain text and end in .txt",
        ));
    }
    if entry.phone.is_empty() || entry.phone.iter().any(|p| p.trim().is_empty()) {
        return Err(invalid(
            &at("sms.phone"),
            "name the field that holds the phone number",
        ));
    }
    for path in &entry.phone {
        crate::lookup::check_recipient_path(path, lookups, &at("sms.phone"))?;
    }
    let max_segments = entry.max_segments.unwrap_or(DEFAULT_MAX_SEGMENTS);
    if !(1..=MAX_SEGMENTS).contains(&max_segments) {
        return Err(invalid(
            &at("sms.maxSegments"),
            &format!("from 1 to {MAX_SEGMENTS}"),
        ));
    }
    let sender_id = match entry.sender_id {
        Some(id) => {
            Some(SenderId::parse(&id).map_err(|reason| invalid(&at("sms.senderId"), &reason))?)
        }
        None => defaults.sender_id.clone(),
    };
    let sms_type = match entry.sms_type {
        Some(text) => parse_sms_type(&at("sms.smsType"), &text)?,
        None => defaults.sms_type,
    };
    Ok(SmsRoute {
        template: entry.template,
        phone: entry.phone,
        max_segments,
        sender_id,
        sms_type,
    })
}

/// The sender id and type routes inherit, by the precedence of the module docs.
fn sms_defaults(
    sender_id: Option<String>,
    sms_type: Option<String>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<SmsDefaults, ConfigError> {
    let sender_id = match sender_id {
        Some(id) => Some(("smsSenderId", id)),
        None => non_empty(lookup, vars::SMS_SENDER_ID).map(|id| (vars::SMS_SENDER_ID, id)),
    }
    .map(|(name, id)| SenderId::parse(&id).map_err(|reason| invalid(name, &reason)))
    .transpose()?;
    let sms_type = match sms_type {
        Some(text) => parse_sms_type("smsType", &text)?,
        None => match non_empty(lookup, vars::SMS_TYPE) {
            Some(text) => parse_sms_type(vars::SMS_TYPE, &text)?,
            None => SmsType::default(),
        },
    };
    Ok(SmsDefaults {
        sender_id,
        sms_type,
    })
}

fn parse_sms_type(name: &str, text: &str) -> Result<SmsType, ConfigError> {
    SmsType::parse(text).ok_or_else(|| invalid(name, "Transactional or Promotional"))
}

/// The configuration set by the precedence of the module docs, checked as SES names them:
/// 1 to 64 letters, digits, `_` or `-`.
fn configuration_set(
    in_file: Option<String>,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    let (name, value) = match in_file {
        Some(value) => ("configurationSet", value),
        None => match non_empty(lookup, vars::CONFIGURATION_SET) {
            Some(value) => (vars::CONFIGURATION_SET, value),
            None => match non_empty(lookup, vars::SES_CONFIGURATION_SET) {
                Some(value) => (vars::SES_CONFIGURATION_SET, value),
                None => return Ok(None),
            },
        },
    };
    let value = value.trim().to_owned();
    let valid = (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(invalid(
            name,
            "an SES configuration set name: 1 to 64 letters, digits, _ or -",
        ));
    }
    Ok(Some(value))
}

/// The tags mailroom puts on every email, and SES's own (`ses:`): a route's tags cannot
/// take their names, or feedback would find the wrong email.
fn is_reserved_tag(name: &str) -> bool {
    use crate::feedback::{EVENT_TYPE_TAG, IDEMPOTENCY_KEY_TAG, ROUTE_TAG};
    [
        ROUTE_TAG,
        EVENT_TYPE_TAG,
        IDEMPOTENCY_KEY_TAG,
        crate::email::SANDBOX_ORIGINAL_TO_TAG,
    ]
    .contains(&name)
        || name.starts_with("ses:")
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

    const LEGACY: [(&str, &str); 4] = [
        ("SENDER", "Courses <courses@example.com>"),
        ("SUBJECT", "New enrollment"),
        (
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
            "emails/enrollment.html",
        ),
        ("REPLY_TO", "env-help@example.com"),
    ];

    const ROUTES: &str = r#"{"routes":[{"name":"orders","events":["orders/paid"],
        "template":"o.html","subject":"Order {{ name }}","recipient":["email","customer.email"]}]}"#;

    #[test]
    fn environment_variables_give_the_default_route_of_existing_deployments() {
        let config = Config::resolve(None, env(&LEGACY)).unwrap();
        assert_eq!(config.sender().to_string(), "Courses <courses@example.com>");
        let route = &config.routes()[0];
        assert_eq!(route.template(), "emails/enrollment.html");
        assert_eq!(route.subject(), "New enrollment");
        assert_eq!(route.recipient(), ["mailto"]);
        assert!(route.matches(Some("anything")) && route.matches(None));
        assert!(config.ignored_variables().is_empty());
    }

    #[test]
    fn a_routes_file_holds_the_routes_and_the_environment_fills_what_it_leaves_out() {
        // The precedence of the module docs, in one place: the file's routes replace the
        // variables' default route; settings the file leaves out come from the variables.
        let config = Config::resolve(Some(ROUTES), env(&LEGACY)).unwrap();
        assert_eq!(config.routes().len(), 1);
        assert_eq!(config.routes()[0].name(), "orders");
        assert!(!config.routes()[0].matches(Some("orders/create")));
        assert_eq!(config.sender().address(), "courses@example.com");
        assert_eq!(
            config.reply_to().map(Mailbox::address),
            Some("env-help@example.com")
        );
        assert_eq!(
            config.ignored_variables(),
            ["SUBJECT", "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL"]
        );
    }

    #[test]
    fn settings_in_the_routes_file_win_over_the_variables() {
        let json = r#"{"sender":"Shop <shop@example.com>","replyTo":"file-help@example.com",
            "sandboxRecipient":"qa@example.com","routes":[{"name":"r","events":["*"],
            "template":"t.html","subject":"s","recipient":"to"}]}"#;
        let config = Config::resolve(
            Some(json),
            env(&[
                ("SENDER", "env@example.com"),
                ("REPLY_TO", "env-help@example.com"),
                ("SANDBOX_RECIPIENT", "env-qa@example.com"),
            ]),
        )
        .unwrap();
        assert_eq!(config.sender().address(), "shop@example.com");
        assert_eq!(
            config.reply_to().map(Mailbox::address),
            Some("file-help@example.com")
        );
        assert_eq!(
            config.sandbox_recipient().map(Mailbox::address),
            Some("qa@example.com")
        );
        assert_eq!(
            config.ignored_variables(),
            ["REPLY_TO", "SANDBOX_RECIPIENT", "SENDER"]
        );
    }

    #[test]
    fn the_configuration_set_comes_from_the_file_else_the_variable_else_its_earlier_name() {
        let with_set =
            |set: &str| ROUTES.replacen('{', &format!(r#"{{"configurationSet":"{set}","#), 1);
        let vars = [
            ("SENDER", "a@example.com"),
            ("CONFIGURATION_SET", "from-variable"),
            ("SES_CONFIGURATION_SET", "earlier-name"),
        ];
        let config = Config::resolve(Some(&with_set("from-file")), env(&vars)).unwrap();
        assert_eq!(config.configuration_set(), Some("from-file"));
        assert_eq!(
            config.ignored_variables(),
            ["CONFIGURATION_SET", "SES_CONFIGURATION_SET"]
        );
        let config = Config::resolve(Some(ROUTES), env(&vars)).unwrap();
        assert_eq!(config.configuration_set(), Some("from-variable"));
        let config = Config::resolve(Some(ROUTES), env(&[vars[0], vars[2]])).unwrap();
        assert_eq!(config.configuration_set(), Some("earlier-name"));
        assert_eq!(
            Config::resolve(Some(ROUTES), env(&vars[..1]))
                .unwrap()
                .configuration_set(),
            None
        );
        for bad in ["has space", "dots.are.not.allowed", &"x".repeat(65)] {
            let error = Config::resolve(Some(&with_set(bad)), env(&vars)).unwrap_err();
            assert!(
                error.to_string().starts_with("configurationSet is invalid"),
                "{error}"
            );
        }
        let error = Config::check_variables(env(&[("CONFIGURATION_SET", "a b")]), true);
        assert!(error.is_err());
    }

    #[test]
    fn the_ledger_table_comes_from_the_file_else_the_variable() {
        let in_file = ROUTES.replacen('{', r#"{"ledgerTable":"file-ledger","#, 1);
        let vars = [("SENDER", "a@example.com"), ("LEDGER_TABLE", "env-ledger")];
        let config = Config::resolve(Some(&in_file), env(&vars)).unwrap();
        assert_eq!(config.ledger_table(), Some("file-ledger"));
        assert_eq!(config.ignored_variables(), ["LEDGER_TABLE"]);
        let config = Config::resolve(Some(ROUTES), env(&vars)).unwrap();
        assert_eq!(config.ledger_table(), Some("env-ledger"));
        let config = Config::resolve(Some(ROUTES), env(&vars[..1])).unwrap();
        assert_eq!(config.ledger_table(), None);
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let missing = Config::resolve(None, env(&[("SENDER", "a@example.com")])).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL is not set"),
            "{missing}"
        );
        let invalid = Config::resolve(
            None,
            env(&[
                ("SENDER", "not an address"),
                ("SUBJECT", "s"),
                ("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "t.html"),
            ]),
        )
        .unwrap_err();
        assert!(
            invalid.to_string().starts_with("SENDER is invalid"),
            "{invalid}"
        );
        let subject = Config::resolve(
            None,
            env(&[
                ("SENDER", "a@example.com"),
                ("SUBJECT", "{{ oops"),
                ("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "t.html"),
            ]),
        )
        .unwrap_err();
        assert!(
            subject.to_string().starts_with("SUBJECT is invalid"),
            "{subject}"
        );
    }

    #[test]
    fn variables_are_checked_on_their_own_before_the_routes_file_is_read() {
        // With a routes file to come, the route variables may be absent...
        Config::check_variables(env(&[]), true).unwrap();
        // ...but whatever is set must be valid, and without one they are required.
        let bad = Config::check_variables(env(&[("REPLY_TO", "nope")]), true).unwrap_err();
        assert!(bad.to_string().starts_with("REPLY_TO is invalid"), "{bad}");
        let missing = Config::check_variables(env(&[]), false).unwrap_err();
        assert!(matches!(missing, ConfigError::Missing { .. }), "{missing}");
    }

    #[test]
    fn routes_file_errors_are_located_and_named() {
        let error = Config::resolve(Some(r#"{"routes":[{"name":"x"}]}"#), env(&[])).unwrap_err();
        assert!(
            matches!(error, ConfigError::RoutesFile { line: 1, .. }),
            "{error}"
        );

        let twice = r#"{"sender":"a@example.com","routes":[
            {"name":"x","events":["*"],"template":"t.html","subject":"s","recipient":"to"},
            {"name":"x","events":["*"],"template":"t.html","subject":"s","recipient":"to"}]}"#;
        let error = Config::resolve(Some(twice), env(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "routes[1].name is invalid: \"x\" is used twice"
        );
        let reply_to = r#"{"sender":"a@example.com","routes":[
            {"name":"x","events":["*"],"template":"t.html","subject":"s","recipient":"to",
             "replyTo":"not an address"}]}"#;
        let error = Config::resolve(Some(reply_to), env(&[])).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("routes[0].replyTo is invalid"),
            "{error}"
        );
    }
}
