//! Errors, one enum per operation.
//!
//! Per-record problems are split by whose fault they are, because that decides the outcome:
//! a [`MessageFault`] can never succeed and is rejected to the dead-letter queue, a
//! [`ServiceFault`] is ours and is retried. Errors that concern a whole operation (parsing the
//! Lambda event, building the configuration, previewing a template) have their own enums.

use thiserror::Error;

use crate::decision::Reason;

/// The Lambda event as a whole could not be read. Hosts fail the invocation, so every record of
/// the batch is retried; nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// Not the JSON of a Lambda SQS event.
    #[error("the event is not a Lambda SQS event (line {line}, column {column}): {message}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
    /// A record without a message id cannot be acknowledged or reported as failed.
    #[error("record {index} has an empty messageId; the batch cannot be reported on safely")]
    EmptyMessageId {
        /// 0-based position of the record in the batch.
        index: usize,
    },
}

/// The configuration is unusable. Raised once at start-up, naming the variable or routes-file
/// field to fix; never per record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A required setting is absent.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The environment variable or routes-file field.
        name: String,
        /// What it should hold.
        hint: &'static str,
    },
    /// A setting holds something unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The environment variable or routes-file field.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The routes file is not valid JSON of the documented shape.
    #[error("the routes file is invalid (line {line}, column {column}): {message}")]
    RoutesFile {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
}

/// What the message itself did wrong. It will never succeed: reject it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageFault {
    /// The body (or an SNS `Message`) is not JSON, or the event is not a JSON object.
    #[error("{0}")]
    MalformedBody(String),
    /// No route matches the event type and there is no default (`*`) route.
    #[error("no route for {}", match event_type {
        Some(event_type) => format!("event type {event_type:?}"),
        None => "an event without a type".to_owned(),
    })]
    NoRoute {
        /// The event type found, if any.
        event_type: Option<String>,
    },
    /// The recipient field is missing, null or empty.
    #[error("{fields} is missing, null or empty")]
    MissingRecipient {
        /// The field path(s) that were tried.
        fields: String,
    },
    /// The recipient is not a deliverable address, or there are too many.
    #[error("{0}")]
    InvalidRecipient(String),
    /// A lookup's key reads a field the event (or an earlier lookup's result) lacks.
    #[error("the key of lookup {lookup:?} reads {field}, which is missing, null or empty")]
    MissingField {
        /// The field's dotted path.
        field: String,
        /// The lookup whose key reads it.
        lookup: String,
    },
    /// A lookup's key rendered to something DynamoDB cannot take (empty, or not a number).
    #[error("the key of lookup {lookup:?} is unusable: {attribute} is {value:?}")]
    InvalidLookupKey {
        /// The lookup.
        lookup: String,
        /// The key attribute.
        attribute: String,
        /// What it rendered to.
        value: String,
    },
    /// No item has the key, and the lookup's `onMissing` is `reject`.
    #[error("lookup {lookup:?} found nothing in {table} for {key}")]
    LookupMissing {
        /// The lookup.
        lookup: String,
        /// The table.
        table: String,
        /// The key, as `PK=..., SK=...`.
        key: String,
    },
    /// SES refused the message for good.
    #[error("SES refused the message: {code}: {message}")]
    SesRejected {
        /// The SES error code, e.g. `MessageRejected`.
        code: String,
        /// The SES error message.
        message: String,
    },
    /// The text cannot go as the route allows: empty, or more segments than its maximum.
    #[error("the SMS cannot be sent: {0}")]
    Sms(crate::sms::SmsError),
    /// The phone number opted out of texts from this account (it answered STOP).
    #[error("the phone number opted out of SMS: {0}")]
    OptedOut(String),
    /// SNS refused the text for good (an invalid parameter, a disabled endpoint).
    #[error("SNS refused the SMS: {code}: {message}")]
    SmsRejected {
        /// The SNS error code, e.g. `InvalidParameter`.
        code: String,
        /// The SNS error message.
        message: String,
    },
}

impl MessageFault {
    /// The reason code reported for this fault.
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            Self::MalformedBody(_) => Reason::MalformedBody,
            Self::NoRoute { .. } => Reason::NoRoute,
            Self::MissingRecipient { .. } => Reason::MissingRecipient,
            Self::InvalidRecipient(_) => Reason::InvalidRecipient,
            Self::SesRejected { .. } => Reason::SesRejected,
            Self::MissingField { .. } => Reason::MissingField,
            Self::InvalidLookupKey { .. } => Reason::InvalidLookupKey,
            Self::LookupMissing { .. } => Reason::LookupMissing,
            Self::Sms(crate::sms::SmsError::Empty) => Reason::SmsEmpty,
            Self::Sms(crate::sms::SmsError::TooManySegments { .. }) => Reason::SmsTooLong,
            Self::OptedOut(_) => Reason::OptedOut,
            Self::SmsRejected { .. } => Reason::SmsRejected,
        }
    }
}

/// What our side did wrong, or could not do right now. Retry it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceFault {
    /// The route's template is not among the loaded templates.
    #[error("template {name:?} is not loaded")]
    TemplateMissing {
        /// The template path.
        name: String,
    },
    /// The host could not load its templates or routes at all (the repository unreachable
    /// at a cold start), so nothing could be decided.
    #[error("templates unavailable: {0}")]
    TemplatesUnavailable(String),
    /// The template does not compile or failed to render (undefined variable, limits).
    #[error("{0}")]
    Template(TemplateFault),
    /// SES throttled us (rate or daily quota).
    #[error("SES throttled the send: {0}")]
    Throttled(String),
    /// SNS throttled a text (its account's SMS rate).
    #[error("SNS throttled the SMS: {0}")]
    SmsThrottled(String),
    /// A transient failure: 5xx, timeout, network, or an unknown SES error.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Our SES account or sender identity is not ready (sending paused, MAIL FROM unverified).
    #[error("sender not ready: {0}")]
    SenderNotReady(String),
    /// An earlier record of the same FIFO message group failed in this batch.
    #[error("an earlier message of FIFO group {group:?} failed in this batch")]
    GroupBlocked {
        /// The message group id.
        group: String,
    },
    /// The invocation ran out of time before this record was sent.
    #[error("the invocation deadline came before this record was sent")]
    Deadline,
    /// Another invocation holds this email's idempotency key.
    #[error("another invocation is sending this email")]
    InProgressElsewhere,
    /// No item has the key yet, and the lookup's `onMissing` is `retry`.
    #[error("lookup {lookup:?} found nothing in {table} for {key} yet")]
    LookupNotYetWritten {
        /// The lookup.
        lookup: String,
        /// The table.
        table: String,
        /// The key, as `PK=..., SK=...`.
        key: String,
    },
    /// The read failed (throttled, 5xx, timeout, unanswered).
    #[error("lookup {lookup:?} failed: {detail}")]
    LookupFailed {
        /// The lookup.
        lookup: String,
        /// What went wrong.
        detail: String,
        /// DynamoDB throttled it.
        throttled: bool,
    },
}

impl ServiceFault {
    /// The reason code reported for this fault.
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            Self::TemplateMissing { .. } | Self::TemplatesUnavailable(_) => Reason::TemplateMissing,
            Self::Template(_) => Reason::TemplateError,
            Self::Throttled(_) | Self::SmsThrottled(_) => Reason::Throttled,
            Self::Transient(_) => Reason::Transient,
            Self::SenderNotReady(_) => Reason::SenderNotReady,
            Self::GroupBlocked { .. } => Reason::GroupBlocked,
            Self::Deadline => Reason::Deadline,
            Self::InProgressElsewhere => Reason::InProgress,
            Self::LookupNotYetWritten { .. } => Reason::LookupMissing,
            Self::LookupFailed {
                throttled: true, ..
            } => Reason::Throttled,
            Self::LookupFailed { .. } => Reason::LookupFailed,
        }
    }
}

/// What kind of problem a [`TemplateFault`] is. Stable, snake_case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The template does not compile.
    Syntax,
    /// The template reads a variable the data does not have.
    Undefined,
    /// A render limit (fuel, output size, recursion) was hit.
    Limit,
    /// The template, or one it includes, is not loaded.
    NotFound,
    /// Any other rendering failure (a filter's error, a type error).
    Render,
    /// Found by [`crate::Mailroom::check`]: a sample event that no route takes.
    NoRoute,
    /// Found by [`crate::Mailroom::check`]: a sample event that would not be sent for a reason
    /// of its own (no recipient, not JSON).
    Sample,
    /// Found by [`crate::Mailroom::check`]: a sample's lookup that nothing answers (no
    /// fixture), or whose key the sample cannot fill.
    Lookup,
}

impl FaultKind {
    /// The wire name, e.g. `not_found`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Undefined => "undefined",
            Self::Limit => "limit",
            Self::NotFound => "not_found",
            Self::Render => "render",
            Self::NoRoute => "no_route",
            Self::Sample => "sample",
            Self::Lookup => "lookup",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A template failed to compile or render, with its location when known.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[error("{}", self.describe())]
pub struct TemplateFault {
    /// What kind of problem it is.
    pub kind: FaultKind,
    /// What went wrong, without the location.
    pub message: String,
    /// The template the problem is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The offending source line, for display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
}

impl TemplateFault {
    /// A fault without a location.
    #[must_use]
    pub fn new(kind: FaultKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            template: None,
            line: None,
            column: None,
            source_line: None,
        }
    }

    fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(template) = &self.template {
            text.push_str(template);
            if let Some(line) = self.line {
                text.push(':');
                text.push_str(&line.to_string());
                if let Some(column) = self.column {
                    text.push(':');
                    text.push_str(&column.to_string());
                }
            }
            text.push_str(": ");
        }
        text.push_str(&self.message);
        text
    }
}
