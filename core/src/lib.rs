//! The sans-IO core of mailroom: an SQS record, templates and configuration go in; a decision
//! to **send** a rendered email, **retry** later, or **reject** to the dead-letter queue comes out.
//!
//! The core does no IO: it reads no clock, network, file or environment variable. Hosts (the
//! Lambda, the CLI, the wasm package) pass `now` and a jitter seed in, perform the sends the
//! batch asks for, and report what happened.
//!
//! ```
//! use mailroom_core::{Config, Mailroom, SendOutcome, SqsEvent, TemplateSet, Timestamp};
//!
//! // Configuration as existing deployments set it in the environment (no routes file).
//! let config = Config::resolve(None, |name| match name {
//!     "SENDER" => Some("Courses <courses@example.com>".into()),
//!     "SUBJECT" => Some("New enrollment in {{ courseName }}".into()),
//!     "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL" => Some("enrollment.html".into()),
//!     _ => None,
//! })?;
//! let mut templates = TemplateSet::new();
//! templates.insert("enrollment.html", "<p>{{ studentName }} enrolled in {{ courseName }}.</p>");
//! let mailroom = Mailroom::new(config, &templates)?;
//!
//! let event = SqsEvent::from_json(r#"{"Records": [{
//!     "messageId": "m-1", "receiptHandle": "r-1",
//!     "body": "{\"mailto\": \"organizer@example.com\", \"studentName\": \"Ana\", \"courseName\": \"Rust\"}",
//!     "attributes": {"ApproximateReceiveCount": "1"},
//!     "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:enrollments"
//! }]}"#)?;
//!
//! let mut batch = mailroom.start_batch(event, Timestamp::from_millis(1_795_428_000_000), 7)?;
//! while let Some(send) = batch.next_send() {
//!     // One send per channel; this route has no `sms` block, so its sends are emails.
//!     let email = send.email().expect("an email");
//!     assert_eq!(email.subject(), "New enrollment in Rust");
//!     assert_eq!(email.to()[0].address(), "organizer@example.com");
//!     // The host sends through SES here, then reports what SES said.
//!     batch.complete_send(send.id, SendOutcome::Accepted { message_id: "ses-1".into() })?;
//! }
//! let report = batch.finish();
//! assert!(report.batch_response.batch_item_failures.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The rule for retry versus reject: **if the message is at fault, reject; if our side is at
//! fault, retry** ([`MessageFault`] and [`ServiceFault`]). The reason codes are [`Reason`].
//!
//! Modules: [`record`] (the Lambda event), [`envelope`] (raw, SNS, EventBridge, Shopify),
//! [`json`] (the event's JSON, parsed once and read in place by templates),
//! [`config`] (environment and routes file), [`lookup`] (DynamoDB reads a route declares,
//! handed to the host before rendering), [`render`] (the template engine) and [`filters`],
//! [`address`], [`email`], [`idempotency`], [`outcome`] (SES answers), [`decision`] (reason
//! codes, back-off, and [`Mailroom::decide`]'s single-record decision), [`batch`] (the state
//! machine hosts drive), [`report`] (what a finished batch reports, with the partial batch
//! response), [`preview`] (for template authors), [`sms`] (the rules of an SMS text),
//! [`channel`] (email and SMS, each sent once), [`feedback`] (SES's bounce, complaint and delivery notifications, for a
//! delivery ledger and suppression list).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod address;
pub mod batch;
pub mod channel;
pub mod config;
pub mod decision;
pub mod email;
pub mod envelope;
pub mod error;
pub mod feedback;
pub mod filters;
pub mod idempotency;
pub mod invocation;
pub mod json;
pub mod lookup;
mod mailroom;
pub mod outcome;
pub mod preview;
pub mod record;
pub mod render;
pub mod report;
pub mod sms;
pub mod suppress;

pub use address::Mailbox;
pub use batch::{Batch, BatchError, ParkRequest, RecordId, SendId, SendRequest};
pub use channel::{Channel, Message, SmsDelivery};
pub use config::{Config, RenderLimits, Route, SmsRoute};
pub use decision::{Decision, Disposition, Reason, RecordDecision, RetryPolicy};
pub use email::{Email, EmailError, Tag};
pub use error::{ConfigError, EventError, FaultKind, MessageFault, ServiceFault, TemplateFault};
pub use lookup::fixtures::LookupFixtures;
pub use lookup::{
    LOOKUP_NAME, LookupAnswer, LookupFailure, LookupId, LookupItem, LookupPurpose, LookupRequest,
    LookupSource, NoLookups, OnMissing,
};
pub use mailroom::{METADATA_NAME, Mailroom};
pub use outcome::{SendFailure, SendOutcome};
pub use preview::{Diagnostic, Preview, PreviewError};
pub use record::{SqsEvent, SqsRecord, Timestamp};
pub use render::TemplateSet;
pub use report::{BatchItemFailure, BatchReport, BatchResponse, Counts, RecordReport};
pub use sms::{Sms, SmsType};
