//! The AWS clients, built once per function instance.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Shared configuration: the region from the settings; credentials and endpoints from the
/// environment as usual (`AWS_ENDPOINT_URL_SESV2`, `..._SQS`, `..._CODECOMMIT` included).
pub async fn sdk_config(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}

/// SES without SDK retries: `SendEmail` has no idempotency token, so a retry after a lost
/// answer could send twice. A failed send is retried through the queue with back-off instead.
pub fn ses_client(config: &SdkConfig) -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::config::Builder::from(config)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// SQS with the SDK's standard retries: its batch calls are safe to repeat.
pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// CodeCommit with the SDK's standard retries: reads only.
pub fn codecommit_client(config: &SdkConfig) -> aws_sdk_codecommit::Client {
    aws_sdk_codecommit::Client::new(config)
}
