//! The AWS clients, built once per function instance.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;

/// Shared configuration: the region from the settings; credentials and endpoints from the
/// environment as usual (`AWS_ENDPOINT_URL_SESV2`, `..._SNS`, `..._SQS`, `..._CODECOMMIT`, `..._DYNAMODB` included);
/// the timeouts every host uses ([`mailroom_ledger_dynamodb::sdk`]).
pub async fn sdk_config(region: &str) -> SdkConfig {
    mailroom_ledger_dynamodb::sdk_config(Some(region)).await
}

/// SES without SDK retries: `SendEmail` has no idempotency token, so a retry after a lost
/// answer could send twice. A failed send is retried through the queue with back-off instead.
pub fn ses_client(config: &SdkConfig) -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::config::Builder::from(config)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// SNS for texts, without SDK retries for the same reason as SES: `Publish` has no
/// idempotency token.
pub fn sns_client(config: &SdkConfig) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(config)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// SQS with the SDK's standard retries: its batch calls are safe to repeat.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// DynamoDB for lookups: reads, safe to repeat, so the SDK's standard retries, but starting
/// after 50 ms rather than a second (and at most 1 s apart): the whole batch waits for its
/// lookups, and a table that stays throttled is better left to the queue's back-off.
pub fn dynamodb_lookup_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(config)
        .retry_config(lookup_retries())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The lookup client's retries: three attempts, 50 ms to 1 s apart.
#[must_use]
pub fn lookup_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(1))
}

/// CodeCommit with the SDK's standard retries: reads only.
pub fn codecommit_client(config: &SdkConfig) -> aws_sdk_codecommit::Client {
    aws_sdk_codecommit::Client::new(config)
}

/// What a failed DynamoDB call said, for errors and logs: the service's code and message, or
/// the SDK's account of a call that got no answer. One account for the store, the lookups and
/// the ledger (whose crate the CLI shares).
pub use mailroom_ledger_dynamodb::error_detail as dynamodb_error_detail;

/// The first back-off before the items a DynamoDB batch call left unprocessed are tried again;
/// it doubles per attempt up to [`MAX_UNPROCESSED_BACKOFF`]. Short, because the whole batch
/// waits: a table that stays behind is better left to the queue's back-off.
pub const FIRST_UNPROCESSED_BACKOFF: Duration = Duration::from_millis(20);

/// The longest back-off between two attempts at unprocessed items.
pub const MAX_UNPROCESSED_BACKOFF: Duration = Duration::from_millis(500);

/// The pause before the `attempts + 1`-th call for what earlier `BatchGetItem` or
/// `BatchWriteItem` calls left unprocessed: doubling from [`FIRST_UNPROCESSED_BACKOFF`] up to
/// [`MAX_UNPROCESSED_BACKOFF`], of which a random half ("equal jitter"), so that concurrent
/// invocations that were throttled together do not come back together.
pub fn unprocessed_backoff(attempts: u32) -> Duration {
    let ceiling = FIRST_UNPROCESSED_BACKOFF
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(MAX_UNPROCESSED_BACKOFF);
    let half = ceiling / 2;
    let spread = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(fastrand::u64(0..=spread))
}
