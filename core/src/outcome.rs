//! What happened when the host tried to send, and what that means for the record.

use serde::{Deserialize, Serialize};

use crate::channel::Channel;
use crate::error::{MessageFault, ServiceFault};

/// The result of one send attempt, as the host observed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum SendOutcome {
    /// SES (or the outbox) accepted the email.
    #[serde(rename_all = "camelCase")]
    Accepted {
        /// The provider's message id.
        message_id: String,
    },
    /// The idempotency store says this email was already sent by an earlier delivery.
    #[serde(rename_all = "camelCase")]
    AlreadySent {
        /// The provider's message id from the first send, when recorded.
        #[serde(default)]
        message_id: Option<String>,
    },
    /// Another invocation holds the idempotency key right now.
    #[serde(rename_all = "camelCase")]
    InProgressElsewhere {
        /// Seconds until that invocation's claim lapses, when the store knows. The record is
        /// not retried sooner: an earlier retry would find the key still held and spend one
        /// of the message's receives (`maxReceiveCount`) for nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u32>,
    },
    /// The send failed.
    Failed(SendFailure),
}

/// A failed send, described by what SES (or the network) said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendFailure {
    /// The SES error code (`TooManyRequestsException`, `MessageRejected`, ...), or `timeout`,
    /// `network` for failures that never got an answer.
    pub code: String,
    /// The error message.
    #[serde(default)]
    pub message: String,
    /// The HTTP status, when there was a response.
    #[serde(default)]
    pub http_status: Option<u16>,
}

impl SendFailure {
    /// A failure with a code and message.
    #[must_use]
    pub fn new(
        code: impl Into<String>,
        message: impl Into<String>,
        http_status: Option<u16>,
    ) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            http_status,
        }
    }

    /// Whose fault it is, by the SES error tables: the message's (reject) or ours (retry).
    ///
    /// Anything unrecognised is treated as transient: retrying costs a little, while rejecting
    /// a good message would lose it, and the queue's redrive policy bounds the retries.
    pub fn classify(&self) -> Result<ServiceFault, MessageFault> {
        let code = self.code.trim_end_matches("Exception");
        let detail = || format!("{}: {}", self.code, self.message);
        match code {
            "TooManyRequests"
            | "Throttling"
            | "LimitExceeded"
            | "SlowDown"
            | "RequestLimitExceeded" => Ok(ServiceFault::Throttled(detail())),
            // Our account or configuration (a suspended account, a configuration set that does
            // not exist) is not ready: no message would succeed, and none is at fault. Retried
            // slowly, so the redrive policy parks them after a few receives if nobody fixes it.
            "SendingPaused" | "MailFromDomainNotVerified" | "AccountSuspended" | "NotFound" => {
                Ok(ServiceFault::SenderNotReady(detail()))
            }
            "MessageRejected" | "BadRequest" => Err(MessageFault::SesRejected {
                code: self.code.clone(),
                message: self.message.clone(),
            }),
            _ if self.message.contains("Maximum sending rate exceeded")
                || self.http_status == Some(429) =>
            {
                Ok(ServiceFault::Throttled(detail()))
            }
            _ => Ok(ServiceFault::Transient(detail())),
        }
    }
}

impl SendFailure {
    /// Whose fault it is for a send of `channel`: SES's error tables for an email, SNS's for a
    /// text. The one place a provider's answer becomes a retry or a reject.
    pub fn classify_for(&self, channel: Channel) -> Result<ServiceFault, MessageFault> {
        match channel {
            Channel::Email => self.classify(),
            Channel::Sms => self.classify_sms(),
        }
    }

    /// Whose fault a failed SNS `Publish` is.
    ///
    /// `OptedOut` is not an SNS error code: a host reports it when it learns the number opted
    /// out (from `CheckIfPhoneNumberIsOptedOut`, or an SNS answer saying so), and it rejects
    /// the record as `opted_out`, since no retry can reach that number. Invalid parameters (a
    /// number SNS cannot text, a sender id it refuses) reject as `sms_rejected`; throttling
    /// retries as `throttled`; an authorization or KMS failure is our account (retried slowly,
    /// `sender_not_ready`); 5xx, timeouts and anything unknown retry as `transient`.
    pub fn classify_sms(&self) -> Result<ServiceFault, MessageFault> {
        let code = self.code.trim_end_matches("Exception");
        let detail = || format!("{}: {}", self.code, self.message);
        match code {
            "OptedOut" => Err(MessageFault::OptedOut(self.message.clone())),
            _ if self.message.to_ascii_lowercase().contains("opted out") => {
                Err(MessageFault::OptedOut(self.message.clone()))
            }
            "InvalidParameter" | "InvalidParameterValue" | "Validation" | "EndpointDisabled" => {
                Err(MessageFault::SmsRejected {
                    code: self.code.clone(),
                    message: self.message.clone(),
                })
            }
            "Throttled" | "Throttling" | "TooManyRequests" | "RequestLimitExceeded" => {
                Ok(ServiceFault::SmsThrottled(detail()))
            }
            "AuthorizationError" | "InvalidSecurity" | "KMSAccessDenied" | "KMSDisabled"
            | "KMSInvalidState" | "KMSNotFound" | "KMSOptInRequired" | "KMSThrottling" => {
                Ok(ServiceFault::SenderNotReady(detail()))
            }
            _ if self.http_status == Some(429) => Ok(ServiceFault::SmsThrottled(detail())),
            _ => Ok(ServiceFault::Transient(detail())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Reason;

    fn reason_of(code: &str, status: Option<u16>) -> (bool, Reason) {
        match SendFailure::new(code, "", status).classify() {
            Ok(fault) => (true, fault.reason()),
            Err(fault) => (false, fault.reason()),
        }
    }

    #[test]
    fn ses_errors_map_to_the_documented_outcomes() {
        let table = [
            (
                "TooManyRequestsException",
                Some(429),
                true,
                Reason::Throttled,
            ),
            ("LimitExceededException", Some(400), true, Reason::Throttled),
            ("Throttling", Some(400), true, Reason::Throttled),
            ("InternalFailure", Some(500), true, Reason::Transient),
            ("ServiceUnavailable", Some(503), true, Reason::Transient),
            ("timeout", None, true, Reason::Transient),
            ("network", None, true, Reason::Transient),
            (
                "SendingPausedException",
                Some(400),
                true,
                Reason::SenderNotReady,
            ),
            (
                "MailFromDomainNotVerifiedException",
                Some(400),
                true,
                Reason::SenderNotReady,
            ),
            ("MessageRejected", Some(400), false, Reason::SesRejected),
            ("BadRequestException", Some(400), false, Reason::SesRejected),
            (
                "AccountSuspendedException",
                Some(400),
                true,
                Reason::SenderNotReady,
            ),
            ("NotFoundException", Some(404), true, Reason::SenderNotReady),
            ("SomethingNew", Some(400), true, Reason::Transient),
        ];
        for (code, status, retry, reason) in table {
            assert_eq!(reason_of(code, status), (retry, reason), "{code}");
        }
        let rate = SendFailure::new("Unknown", "Maximum sending rate exceeded.", Some(400));
        assert_eq!(rate.classify().map(|f| f.reason()), Ok(Reason::Throttled));
    }

    #[test]
    fn sns_errors_map_to_the_documented_outcomes() {
        let table = [
            ("ThrottledException", Some(400), true, Reason::Throttled),
            ("Throttling", Some(400), true, Reason::Throttled),
            ("InternalError", Some(500), true, Reason::Transient),
            ("timeout", None, true, Reason::Transient),
            (
                "AuthorizationError",
                Some(403),
                true,
                Reason::SenderNotReady,
            ),
            (
                "KMSDisabledException",
                Some(400),
                true,
                Reason::SenderNotReady,
            ),
            ("InvalidParameter", Some(400), false, Reason::SmsRejected),
            (
                "InvalidParameterValue",
                Some(400),
                false,
                Reason::SmsRejected,
            ),
            ("OptedOut", None, false, Reason::OptedOut),
            ("SomethingNew", Some(429), true, Reason::Throttled),
        ];
        for (code, status, retry, reason) in table {
            let got = match SendFailure::new(code, "", status).classify_for(Channel::Sms) {
                Ok(fault) => (true, fault.reason()),
                Err(fault) => (false, fault.reason()),
            };
            assert_eq!(got, (retry, reason), "{code}");
        }
        // The same code means what its own provider's table says.
        let throttled = SendFailure::new("Throttling", "", Some(400));
        assert_eq!(
            throttled
                .classify_for(Channel::Email)
                .map(|f| f.to_string()),
            Ok("SES throttled the send: Throttling: ".to_owned())
        );
        assert_eq!(
            throttled.classify_for(Channel::Sms).map(|f| f.to_string()),
            Ok("SNS throttled the SMS: Throttling: ".to_owned())
        );
    }
}
