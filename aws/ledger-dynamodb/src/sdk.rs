//! The AWS SDK configuration every mailroom host loads: the Lambda for all its clients, the
//! CLI's `mailroom ledger` for DynamoDB. One place, so their timeouts cannot drift apart.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one attempt of a call may take, retries aside.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK's configuration from the environment as usual (credentials, endpoints such as
/// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_DYNAMODB`, and the region unless `region` names
/// one), with mailroom's timeouts.
pub async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
    let loader = match region {
        Some(region) => loader.region(Region::new(region.to_owned())),
        None => loader,
    };
    loader.load().await
}

/// The timeouts of every call: [`CONNECT_TIMEOUT`] and [`ATTEMPT_TIMEOUT`].
#[must_use]
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}
