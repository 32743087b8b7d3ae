//! Sending one text: the [`SmsSender`] trait and its SNS implementation.
//!
//! The core decides everything about a text (number, encoding, segments, sender id, type) and
//! classifies what SNS answers ([`mailroom_core::SendFailure::classify_sms`]); this module only
//! makes the calls.
//!
//! **Opt-outs.** SNS accepts a `Publish` to a number that answered STOP and then drops it: the
//! answer is a message id, and only the delivery logs say "opted out". So before publishing,
//! [`SnsSender`] asks `CheckIfPhoneNumberIsOptedOut`, and an opted-out number is reported as
//! the failure code `OptedOut`, which the core rejects as `opted_out` (the record names why in
//! the dead-letter queue, and nothing is paid for). The check costs one call per text, within
//! its own rate limit; if it fails (throttled, unreachable) the text is published anyway: SNS
//! never delivers to an opted-out number, so the check only decides what is reported, never
//! whether the person is texted.

use std::future::Future;

use aws_sdk_sns::types::MessageAttributeValue;
use mailroom_core::{SendFailure, SendOutcome, Sms};

use crate::mailer::send_failure;

/// The message attribute SNS reads the SMS type from.
const SMS_TYPE: &str = "AWS.SNS.SMS.SMSType";
/// The message attribute SNS reads the sender id from.
const SENDER_ID: &str = "AWS.SNS.SMS.SenderID";

/// Sends one text and says what happened. Never panics, never errors: every failure is a
/// [`SendOutcome::Failed`] the core classifies.
pub trait SmsSender {
    /// Publishes `sms` to its number.
    fn publish(&self, sms: &Sms) -> impl Future<Output = SendOutcome> + Send;
}

/// SNS `Publish` to a phone number, after `CheckIfPhoneNumberIsOptedOut`.
///
/// The client should have SDK retries off, as SES's has: `Publish` has no idempotency token,
/// and the queue's back-off is the retry mechanism.
#[derive(Debug, Clone)]
pub struct SnsSender {
    client: aws_sdk_sns::Client,
}

impl SnsSender {
    /// A sender over `client`.
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }

    /// Whether SNS says the number opted out; `None` when it could not say.
    async fn opted_out(&self, sms: &Sms) -> Option<bool> {
        match self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(sms.to().as_str())
            .send()
            .await
        {
            Ok(answer) => Some(answer.is_opted_out),
            Err(error) => {
                let failure = send_failure(&error);
                tracing::warn!(
                    code = failure.code,
                    "the opt-out check failed; publishing anyway"
                );
                None
            }
        }
    }
}

fn attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

impl SmsSender for SnsSender {
    async fn publish(&self, sms: &Sms) -> SendOutcome {
        if self.opted_out(sms).await == Some(true) {
            return SendOutcome::Failed(SendFailure::new(
                "OptedOut",
                "SNS reports the number opted out (CheckIfPhoneNumberIsOptedOut)",
                None,
            ));
        }
        let mut request = self
            .client
            .publish()
            .phone_number(sms.to().as_str())
            .message(sms.text())
            .set_message_attributes(None);
        if let Some(value) = attribute(sms.sms_type().as_str()) {
            request = request.message_attributes(SMS_TYPE, value);
        }
        if let Some(value) = sms.sender_id().and_then(|id| attribute(id.as_str())) {
            request = request.message_attributes(SENDER_ID, value);
        }
        match request.send().await {
            Ok(output) => SendOutcome::Accepted {
                message_id: output.message_id().unwrap_or_default().to_owned(),
            },
            Err(error) => SendOutcome::Failed(send_failure(&error)),
        }
    }
}
