//! Sending one email: the [`Mailer`] trait and its SES v2 implementation.
//!
//! The trait is the seam between the batch (which hands out emails) and the provider: a
//! decorator implementing `Mailer` around another can consult an idempotency store before
//! delegating and answer `AlreadySent` or `InProgressElsewhere` itself.

use std::future::Future;

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{EmailContent, MessageTag, RawMessage};
use mailroom_core::{Email, SendFailure, SendOutcome};

use crate::mime;

/// Sends one email and says what happened. Never panics, never errors: every failure is a
/// [`SendOutcome::Failed`] the core classifies.
pub trait Mailer {
    /// Sends `email`.
    fn send(&self, email: &Email) -> impl Future<Output = SendOutcome> + Send;
}

/// SES v2 `SendEmail` with raw content (see [`crate::mime`] for why raw).
///
/// The client should have SDK retries off: SES has no idempotency token, so a retried request
/// after a lost answer can send twice, and the queue's back-off is the retry mechanism.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer over `client`, tagging every email with `configuration_set` when given.
    pub fn new(client: aws_sdk_sesv2::Client, configuration_set: Option<String>) -> Self {
        Self {
            client,
            configuration_set,
        }
    }
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> SendOutcome {
        let raw = match RawMessage::builder()
            .data(Blob::new(mime::raw_message(email)))
            .build()
        {
            Ok(raw) => raw,
            Err(error) => {
                return SendOutcome::Failed(SendFailure::new(
                    "request_construction",
                    error.to_string(),
                    None,
                ));
            }
        };
        let tags = email
            .tags
            .iter()
            .filter_map(|tag| {
                MessageTag::builder()
                    .name(&tag.name)
                    .value(&tag.value)
                    .build()
                    .ok()
            })
            .collect();
        // Recipients and reply-to are taken from the MIME headers; naming them again in
        // `Destination` would only duplicate them.
        let result = self
            .client
            .send_email()
            .from_email_address(email.from.to_header_value())
            .content(EmailContent::builder().raw(raw).build())
            .set_email_tags(Some(tags))
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(output) => SendOutcome::Accepted {
                message_id: output.message_id().unwrap_or_default().to_owned(),
            },
            Err(error) => SendOutcome::Failed(send_failure(&error)),
        }
    }
}

/// What the core needs from an SDK error: the service's error code, or `timeout` / `network`
/// for requests that never got an answer.
pub fn send_failure<E>(error: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> SendFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = error
        .raw_response()
        .map(|response| response.status().as_u16());
    match error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            SendFailure::new(
                inner.code().unwrap_or("UnknownError"),
                inner.message().unwrap_or_default(),
                status,
            )
        }
        SdkError::TimeoutError(_) => {
            SendFailure::new("timeout", "no answer from SES in time", None)
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            SendFailure::new("timeout", "no answer from SES in time", None)
        }
        SdkError::DispatchFailure(_) => SendFailure::new("network", detail(error), None),
        SdkError::ResponseError(_) => SendFailure::new("network", detail(error), status),
        SdkError::ConstructionFailure(_) => {
            SendFailure::new("request_construction", detail(error), None)
        }
        _ => SendFailure::new("network", detail(error), status),
    }
}

fn detail<E: std::error::Error + 'static>(error: &E) -> String {
    aws_sdk_sesv2::error::DisplayErrorContext(error).to_string()
}
