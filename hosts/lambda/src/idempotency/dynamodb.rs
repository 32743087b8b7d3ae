//! The idempotency store in DynamoDB: one item per key, claimed with a conditional write.
//!
//! Item layout (partition key `pk`, a string):
//!
//! | attribute       | meaning                                                            |
//! |-----------------|--------------------------------------------------------------------|
//! | `pk`            | the idempotency key                                                |
//! | `state`         | `in_progress` or `completed`                                       |
//! | `owner`         | who claimed it (unique per claim)                                  |
//! | `leaseExpiresMs`| until when an `in_progress` claim holds (Unix ms)                  |
//! | `messageId`     | the SES message id, once `completed`                               |
//! | `expiresAt`     | the table's TTL attribute (Unix seconds): DynamoDB deletes the item |
//!
//! A batch's claims go in one `TransactWriteItems` and its completions in one `BatchWriteItem`
//! ([`batch`] says how the guarantees of the single calls are kept).
//!
//! DynamoDB's TTL deletes expired items only eventually (within days), so the claim condition
//! also treats an item whose `expiresAt` has passed as absent.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{AddressCheck, CheckedClaims, Claim, Completion, IdempotencyStore, Lease, StoreError};

mod batch;

pub use batch::{MAX_CLAIMS_PER_CALL, MAX_COMPLETIONS_PER_CALL};

/// The TTL attribute of the table (the SAM template enables TTL on it): the ledger's, whose
/// items share the table.
pub use mailroom_ledger_dynamodb::TTL_ATTRIBUTE;

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// Claim when: no item, or a claim whose lease ran out, or an item past its TTL.
const CLAIM_CONDITION: &str = "attribute_not_exists(pk) OR (#state = :in_progress AND #lease < :now_ms) OR #expires_at < :now_s";

/// [`IdempotencyStore`] over a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention_seconds: u64,
}

impl DynamoDbStore {
    /// A store in `table`; completed keys are kept `retention` long.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        retention: std::time::Duration,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            retention_seconds: retention.as_secs(),
        }
    }

    /// The TTL of an item written at `now_ms`.
    fn expires_at(&self, now_ms: u64) -> AttributeValue {
        number((now_ms / 1000).saturating_add(self.retention_seconds))
    }

    /// The item of a claim.
    fn claim_item(&self, lease: &Lease<'_>) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(lease.key.to_owned())),
            (
                "state".to_owned(),
                AttributeValue::S(IN_PROGRESS.to_owned()),
            ),
            (
                "owner".to_owned(),
                AttributeValue::S(lease.owner.to_owned()),
            ),
            ("leaseExpiresMs".to_owned(), number(lease.expires_ms)),
            (
                TTL_ATTRIBUTE.to_owned(),
                self.expires_at(lease.expires_ms.max(lease.now_ms)),
            ),
        ])
    }

    /// The item behind a failed claim: from the failed write itself when DynamoDB returned it,
    /// else read consistently.
    async fn current_item(
        &self,
        key: &str,
        returned: Option<HashMap<String, AttributeValue>>,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        if returned.is_some() {
            return Ok(returned);
        }
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map(|output| output.item)
            .map_err(|error| unavailable("GetItem", &error))
    }
}

impl IdempotencyStore for DynamoDbStore {
    async fn claim(&self, lease: &Lease<'_>) -> Result<Claim, StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.claim_item(lease)))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#lease", "leaseExpiresMs")
            .expression_attribute_names("#expires_at", TTL_ATTRIBUTE)
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .expression_attribute_values(":now_ms", number(lease.now_ms))
            .expression_attribute_values(":now_s", number(lease.now_ms / 1000))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            // The item it replaced, if any: an expired claim means this is a takeover.
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let returned = match written {
            Ok(output) => {
                let replaced_a_claim = output.attributes.as_ref().is_some_and(|old| {
                    matches!(old.get("state"), Some(AttributeValue::S(state)) if state == IN_PROGRESS)
                });
                return Ok(if replaced_a_claim {
                    Claim::TakenOver
                } else {
                    Claim::Acquired
                });
            }
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                other => {
                    return Err(StoreError::Unavailable {
                        operation: "PutItem",
                        detail: format!(
                            "{}: {}",
                            other.code().unwrap_or("UnknownError"),
                            other.message().unwrap_or_default()
                        ),
                    });
                }
            },
            Err(error) => return Err(unavailable("PutItem", &error)),
        };
        let Some(item) = self.current_item(lease.key, returned).await? else {
            // Deleted (released or expired) between the write and the read: someone else's
            // turn has ended, ours has not begun. The record is retried shortly.
            return Ok(Claim::HeldElsewhere {
                lease_expires_ms: lease.now_ms,
            });
        };
        interpret(lease, &item)
    }

    async fn complete(&self, lease: &Lease<'_>, message_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(lease.key.to_owned()))
            .update_expression(
                "SET #state = :completed, #message_id = :message_id, #expires_at = :expires_at, #owner = :owner REMOVE #lease",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#message_id", "messageId")
            .expression_attribute_names("#expires_at", TTL_ATTRIBUTE)
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#lease", "leaseExpiresMs")
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.to_owned()))
            .expression_attribute_values(":message_id", AttributeValue::S(message_id.to_owned()))
            .expression_attribute_values(":expires_at", self.expires_at(lease.now_ms))
            .expression_attribute_values(":owner", AttributeValue::S(lease.owner.to_owned()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| unavailable("UpdateItem", &error))
    }

    async fn claim_all(&self, leases: &[Lease<'_>]) -> Vec<Result<Claim, StoreError>> {
        self.claim_batch(leases).await
    }

    fn checks_addresses(&self) -> bool {
        true
    }

    async fn claim_all_checked(
        &self,
        leases: &[Lease<'_>],
        checks: &[AddressCheck<'_>],
    ) -> CheckedClaims {
        self.claim_batch_checked(leases, checks).await
    }

    async fn complete_all(&self, completions: &[Completion<'_>]) -> Vec<Result<(), StoreError>> {
        self.complete_batch(completions).await
    }

    async fn release(&self, lease: &Lease<'_>) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(lease.key.to_owned()))
            .condition_expression("#state = :in_progress AND #owner = :owner")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .expression_attribute_values(":owner", AttributeValue::S(lease.owner.to_owned()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Someone else holds it now, or it completed: nothing of ours to give back.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(unavailable("DeleteItem", &error)),
        }
    }
}

/// What an existing item means for a claim that the condition refused.
fn interpret(
    lease: &Lease<'_>,
    item: &HashMap<String, AttributeValue>,
) -> Result<Claim, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let unreadable = |detail: &str| StoreError::Unreadable {
        key: lease.key.to_owned(),
        detail: detail.to_owned(),
    };
    match text("state") {
        Some(COMPLETED) => Ok(Claim::Completed {
            message_id: text("messageId").map(str::to_owned),
        }),
        // Our own claim, answered "failed" after a retried write whose first attempt landed.
        Some(IN_PROGRESS) if text("owner") == Some(lease.owner) => Ok(Claim::Acquired),
        Some(IN_PROGRESS) => match item.get("leaseExpiresMs") {
            Some(AttributeValue::N(value)) => value
                .parse::<u64>()
                .map(|lease_expires_ms| Claim::HeldElsewhere { lease_expires_ms })
                .map_err(|_| unreadable("leaseExpiresMs is not a whole number")),
            _ => Err(unreadable("in_progress without leaseExpiresMs")),
        },
        Some(other) => Err(unreadable(&format!("unknown state {other:?}"))),
        None => Err(unreadable("no state attribute")),
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E, R>(operation: &'static str, error: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable {
        operation,
        detail: crate::aws::dynamodb_error_detail(error),
    }
}

/// The DynamoDB client: the shared SDK configuration with the SDK's standard retries (a
/// repeated conditional write is recognised by its owner, see [`interpret`]).
pub fn client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

#[cfg(test)]
mod tests;
