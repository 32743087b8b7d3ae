//! The ledger in DynamoDB: one item per email and per address, beside the idempotency store's
//! claims in the same table (partition key `pk`, a string; the keys cannot collide: claims
//! are bare idempotency keys, ledger items start with `email#` or `address#`).
//!
//! | attribute          | on        | meaning                                                  |
//! |--------------------|-----------|----------------------------------------------------------|
//! | `pk`               | both      | `email#<idempotency key>`, `email#ses#<SES message id>` or `address#<address>` |
//! | `entry`            | both      | the core's entry as JSON (`EmailEntry`, `AddressEntry`)  |
//! | `version`          | both      | incremented by every write; writes are conditional on it |
//! | `ledgerStatus`     | emails    | the overall status (`delivered`, `bounced_permanent`, ...) |
//! | `attention`        | emails    | `bounce` or `complaint`: the partition key of the `attention` index (sparse) |
//! | `attentionAtMs`    | emails    | Unix milliseconds of that event: the index's sort key (a number, which sorts as time does) |
//! | `suppressed`       | addresses | the suppression's reason (sparse)                        |
//! | `suppressedUntil`  | addresses | Unix seconds, when the suppression expires               |
//! | `expiresAt`        | both      | TTL: `LEDGER_TTL_SECONDS` after the last write; never on a suppressed address whose suppression does not expire |

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{IndexAttributes, LedgerError, LedgerStore, Stored};

/// The name of the index of bounced and complained emails by time.
pub const ATTENTION_INDEX: &str = "attention";

/// [`LedgerStore`] over a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention_seconds: u64,
    clock: fn() -> u64,
}

impl DynamoDbLedger {
    /// The ledger in `table`; entries are kept `retention` after their last write.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        retention: std::time::Duration,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            retention_seconds: retention.as_secs(),
            clock: crate::unix_millis,
        }
    }
}

impl LedgerStore for DynamoDbLedger {
    async fn read(&self, key: &str) -> Result<Option<Stored>, LedgerError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let unreadable = |detail: &str| LedgerError::Unreadable {
            key: key.to_owned(),
            detail: detail.to_owned(),
        };
        let json = match item.get("entry") {
            Some(AttributeValue::S(json)) => json.clone(),
            _ => return Err(unreadable("no entry attribute")),
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(number)) => number
                .parse()
                .map_err(|_| unreadable("version is not a whole number"))?,
            _ => return Err(unreadable("no version attribute")),
        };
        Ok(Some(Stored { json, version }))
    }

    async fn write(
        &self,
        key: &str,
        json: String,
        index: IndexAttributes,
        expected: Option<u64>,
    ) -> Result<bool, LedgerError> {
        let next = expected.map_or(1, |version| version.saturating_add(1));
        let now_s = (self.clock)() / 1000;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.to_owned()))
            .item("entry", AttributeValue::S(json))
            .item("version", number(next));
        if let Some(status) = index.status {
            put = put.item("ledgerStatus", AttributeValue::S(status));
        }
        if let Some((attention, at)) = index.attention {
            put = put.item("attention", AttributeValue::S(attention)).item(
                "attentionAtMs",
                AttributeValue::N(at.as_millis().to_string()),
            );
        }
        let mut keep_for_good = false;
        if let Some((reason, until)) = index.suppressed {
            put = put.item("suppressed", AttributeValue::S(reason));
            match until {
                Some(until) => {
                    let until_s = u64::try_from(until.as_millis() / 1000).unwrap_or(0);
                    put = put.item("suppressedUntil", number(until_s));
                }
                None => keep_for_good = true,
            }
        }
        if !keep_for_good {
            put = put.item(
                super::super::idempotency::dynamodb::TTL_ATTRIBUTE,
                number(now_s.saturating_add(self.retention_seconds)),
            );
        }
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", number(version)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E, R>(operation: &'static str, error: &SdkError<E, R>) -> LedgerError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    LedgerError::Unavailable {
        operation,
        detail: crate::aws::dynamodb_error_detail(error),
    }
}
