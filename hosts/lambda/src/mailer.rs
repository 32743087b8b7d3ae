//! Sending one message: the [`Mailer`] trait, its SES v2 implementation for emails, and
//! [`Channels`], which sends each channel's message through its provider.
//!
//! The trait is the seam between the batch (which hands out emails and texts) and the
//! providers: a decorator implementing `Mailer` around another can consult an idempotency
//! store before delegating (keyed by the message's own key, so an email and its text are
//! claimed apart) and answer `AlreadySent` or `InProgressElsewhere` itself.

use std::future::Future;

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};
use mailroom_core::{
    Email, LookupAnswer, LookupFailure, LookupRequest, Message, SendFailure, SendOutcome, Timestamp,
};

use crate::sms::SmsSender;

/// Sends one message and says what happened. Never panics, never errors: every failure is a
/// [`SendOutcome::Failed`] the core classifies.
pub trait Mailer {
    /// Sends `message` (an email or a text) of the record with SQS message id `message_id`
    /// (for logs).
    fn send(&self, message: &Message, message_id: &str)
    -> impl Future<Output = SendOutcome> + Send;

    /// Called with the messages of a round of sends before their [`send`](Self::send)s start,
    /// so that a decorator can do their bookkeeping in one call (claiming their idempotency
    /// keys). The sends follow whether it finished or not.
    fn prepare(&self, messages: &[&Message]) -> impl Future<Output = ()> + Send {
        let _ = messages;
        async {}
    }

    /// Whether [`check_and_claim`](Self::check_and_claim) answers suppression checks: a
    /// decorator whose idempotency store can make them conditions of its claim call.
    fn checks_suppression(&self) -> bool {
        false
    }

    /// Answers a round's suppression checks (requests of
    /// [`LookupPurpose::SuppressionCheck`](mailroom_core::LookupPurpose::SuppressionCheck)) in
    /// the call that claims `keys`, the idempotency keys of the emails they hold
    /// ([`Batch::emails_held_by_checks`](mailroom_core::Batch::emails_held_by_checks)), judging
    /// expiries at `now`: one answer per check, in order, as the core reads them (a check that
    /// held is not found; one that failed, the item). The claims made serve the sends of those
    /// keys. Only called when [`checks_suppression`](Self::checks_suppression) says so; the
    /// default fails every check.
    fn check_and_claim(
        &self,
        checks: &[LookupRequest],
        keys: &[String],
        now: Timestamp,
    ) -> impl Future<Output = Vec<LookupAnswer>> + Send {
        let _ = (keys, now);
        let failed = LookupAnswer::Failed(LookupFailure::Unavailable(
            "this mailer does not check suppressions".to_owned(),
        ));
        let answers = vec![failed; checks.len()];
        async move { answers }
    }

    /// Finishes what sends left running after they answered (bookkeeping such as marking an
    /// idempotency key completed), giving up at `by`. Called once all of a batch's sends have
    /// answered, before the function answers Lambda.
    fn settle(&self, by: std::time::Instant) -> impl Future<Output = ()> + Send {
        let _ = by;
        async {}
    }
}

/// SES v2 `SendEmail` with raw content built by `mailroom-mime`.
///
/// Why raw content rather than SES "simple" content: the message SES receives is exactly the
/// one the CLI writes to its outbox (multipart/alternative with the text part first, RFC 2047
/// headers, quoted-printable bodies), so what tests and previews check is what recipients get,
/// and the idempotency key travels in a header that bounce and complaint notifications carry
/// back. Tags and the configuration set work the same with either content type.
///
/// The client should have SDK retries off: SES has no idempotency token, so a retried request
/// after a lost answer can send twice, and the queue's back-off is the retry mechanism.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
}

impl SesMailer {
    /// A mailer over `client`. Each email names its own configuration set (the core's
    /// configuration decides it).
    pub fn new(client: aws_sdk_sesv2::Client) -> Self {
        Self { client }
    }
}

/// Every channel through its provider: emails through SES, texts through an [`SmsSender`].
#[derive(Debug, Clone)]
pub struct Channels<S> {
    email: SesMailer,
    sms: S,
}

impl<S> Channels<S> {
    /// Emails through `email`, texts through `sms`.
    pub fn new(email: SesMailer, sms: S) -> Self {
        Self { email, sms }
    }
}

impl<S: SmsSender + Sync> Mailer for Channels<S> {
    async fn send(&self, message: &Message, _message_id: &str) -> SendOutcome {
        match message {
            Message::Email(email) => self.email.send_email(email).await,
            Message::Sms(sms) => self.sms.publish(sms).await,
        }
    }
}

impl SesMailer {
    /// Sends one email through `SendEmail` with raw content.
    pub async fn send_email(&self, email: &Email) -> SendOutcome {
        let raw = match RawMessage::builder()
            .data(Blob::new(mailroom_mime::message(
                email,
                crate::timestamp(crate::unix_millis()),
            )))
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
            .tags()
            .iter()
            .filter_map(|tag| {
                MessageTag::builder()
                    .name(tag.name())
                    .value(tag.value())
                    .build()
                    .ok()
            })
            .collect();
        // The recipients are named explicitly: SES then delivers to these addresses only, never
        // to whatever a header parser might read out of the To line.
        let destination = Destination::builder()
            .set_to_addresses(Some(
                email
                    .to()
                    .iter()
                    .map(|to| to.address().to_owned())
                    .collect(),
            ))
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(email.from().to_header_value())
            .destination(destination)
            .content(EmailContent::builder().raw(raw).build())
            .set_email_tags(Some(tags))
            .set_configuration_set_name(email.configuration_set().map(str::to_owned))
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

#[cfg(test)]
mod tests {
    use aws_sdk_sesv2::operation::send_email::SendEmailError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use mailroom_core::Reason;

    use super::*;

    fn service_error(code: &str, message: &str, status: u16) -> SdkError<SendEmailError, Response> {
        let error =
            SendEmailError::generic(ErrorMetadata::builder().code(code).message(message).build());
        SdkError::service_error(
            error,
            Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    fn reason(failure: &SendFailure) -> (bool, Reason) {
        match failure.classify() {
            Ok(fault) => (true, fault.reason()),
            Err(fault) => (false, fault.reason()),
        }
    }

    #[test]
    fn service_errors_keep_their_code_message_and_status() {
        let failure = send_failure(&service_error(
            "TooManyRequestsException",
            "Maximum sending rate exceeded.",
            429,
        ));
        assert_eq!(
            failure,
            SendFailure::new(
                "TooManyRequestsException",
                "Maximum sending rate exceeded.",
                Some(429)
            )
        );
        assert_eq!(reason(&failure), (true, Reason::Throttled));
        let rejected = send_failure(&service_error(
            "MessageRejected",
            "Email address is not verified.",
            400,
        ));
        assert_eq!(reason(&rejected), (false, Reason::SesRejected));
    }

    #[test]
    fn unanswered_requests_are_timeouts_or_network_failures() {
        let timeout: SdkError<SendEmailError, Response> =
            SdkError::timeout_error("operation timed out");
        assert_eq!(send_failure(&timeout).code, "timeout");
        let io = ConnectorError::io("connection refused".into());
        let network: SdkError<SendEmailError, Response> = SdkError::dispatch_failure(io);
        let failure = send_failure(&network);
        assert_eq!(failure.code, "network");
        assert_eq!(reason(&failure), (true, Reason::Transient));
        let slow = ConnectorError::timeout("read timed out".into());
        assert_eq!(
            send_failure(&SdkError::<SendEmailError, Response>::dispatch_failure(
                slow
            ))
            .code,
            "timeout"
        );
    }
}
