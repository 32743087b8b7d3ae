//! [`DynamoDbLedger`]: the calls on the ledger table. Reads are consistent, writes conditional
//! on the version read, the attention index is queried newest first.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use mailroom_core::Timestamp;
use mailroom_core::feedback::Attention;

use crate::item::{self, ATTENTION, ATTENTION_AT, ATTENTION_INDEX, KEY, VERSION, number};
use crate::{IndexAttributes, LedgerError, LedgerStore, Stored};

/// The ledger in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention_seconds: u64,
    clock: fn() -> u64,
}

/// An email of the attention index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key (`email#...`).
    pub key: String,
    /// When it bounced or drew the complaint.
    pub at: Timestamp,
    /// Its entry.
    pub stored: Stored,
}

impl DynamoDbLedger {
    /// The ledger in `table`; entries are kept `retention` after their last write.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        retention: Duration,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            retention_seconds: retention.as_secs(),
            clock: unix_millis,
        }
    }

    /// The table's name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The emails that drew `attention` at or after `since`, newest first, at most `limit`:
    /// a Query on the sparse `attention` index (eventually consistent, as every GSI read is).
    pub async fn attention(
        &self,
        attention: Attention,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<Listed>, LedgerError> {
        let mut listed = Vec::new();
        let mut start = None;
        while listed.len() < limit {
            let page = i32::try_from(limit - listed.len()).unwrap_or(i32::MAX);
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ATTENTION_INDEX)
                .expression_attribute_names("#attention", ATTENTION)
                .expression_attribute_values(
                    ":attention",
                    AttributeValue::S(attention.as_str().to_owned()),
                )
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take());
            query = match since {
                Some(since) => query
                    .key_condition_expression("#attention = :attention AND #at >= :since")
                    .expression_attribute_names("#at", ATTENTION_AT)
                    .expression_attribute_values(
                        ":since",
                        AttributeValue::N(since.as_millis().to_string()),
                    ),
                None => query.key_condition_expression("#attention = :attention"),
            };
            let output = query
                .send()
                .await
                .map_err(|error| LedgerError::unavailable("Query", &error))?;
            for found in output.items.unwrap_or_default() {
                let key = item::key_of(&found)?;
                listed.push(Listed {
                    at: item::attention_at(&key, &found)?,
                    stored: item::decode(&key, &found)?,
                    key,
                });
            }
            match output.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => break,
            }
        }
        listed.truncate(limit);
        Ok(listed)
    }
}

impl LedgerStore for DynamoDbLedger {
    async fn read(&self, key: &str) -> Result<Option<Stored>, LedgerError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| LedgerError::unavailable("GetItem", &error))?;
        output.item.map(|item| item::decode(key, &item)).transpose()
    }

    async fn write(
        &self,
        key: &str,
        json: String,
        index: IndexAttributes,
        expected: Option<u64>,
    ) -> Result<bool, LedgerError> {
        let next = expected.map_or(1, |version| version.saturating_add(1));
        let expires_at = ((self.clock)() / 1000).saturating_add(self.retention_seconds);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::encode(key, json, index, next, expires_at)));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", VERSION)
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
            Err(error) => Err(LedgerError::unavailable("PutItem", &error)),
        }
    }
}

/// The clock TTLs are counted from, in milliseconds since the Unix epoch.
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
