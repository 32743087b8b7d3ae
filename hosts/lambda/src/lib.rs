//! The mailroom Lambda: SQS batches in, SES emails out.
//!
//! `main` reads the [`settings`], builds the AWS clients once ([`aws`]) and hands each
//! invocation to [`handler::Notifier`], which drives `mailroom-core`: the core decides every
//! record, [`lookups`] reads the items records name by id from DynamoDB (with a cache across
//! invocations), the [`dispatch`] loop sends through the [`mailer`] concurrently (emails through SES,
//! texts through SNS, [`sms`]), the [`queue`] module
//! applies back-off and moves rejected records to the dead-letter queue, and the [`templates`]
//! cache keeps the CodeCommit templates between invocations. [`telemetry`] writes JSON logs
//! and embedded metrics. With `IDEMPOTENCY_TABLE` set, [`idempotency`] claims each email's key
//! in DynamoDB before sending, so a redelivery does not send twice.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod aws;
pub mod budget;
pub mod dispatch;
pub mod feedback;
pub mod handler;
pub mod idempotency;
pub mod lookups;
pub mod mailer;
#[cfg(test)]
pub(crate) mod moto;
pub mod queue;
pub mod settings;
pub mod sms;
pub mod telemetry;
pub mod templates;

use std::time::{SystemTime, UNIX_EPOCH};

/// The host's clock, in milliseconds since the Unix epoch: the one place the Lambda reads the
/// time (the core never does; it is handed `now`).
#[must_use]
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A reading of [`unix_millis`] as the core takes time.
#[must_use]
pub fn timestamp(unix_millis: u64) -> mailroom_core::Timestamp {
    mailroom_core::Timestamp::from_millis(i64::try_from(unix_millis).unwrap_or(i64::MAX))
}
