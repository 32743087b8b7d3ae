//! The ledger in DynamoDB: the shared ledger crate's table ([`mailroom_ledger_dynamodb`], where
//! the item layout is written down once), behind this module's [`LedgerStore`].

pub use mailroom_ledger_dynamodb::{ATTENTION_INDEX, DynamoDbLedger};

use super::{IndexAttributes, LedgerError, LedgerStore, Stored};

impl LedgerStore for DynamoDbLedger {
    async fn read(&self, key: &str) -> Result<Option<Stored>, LedgerError> {
        Self::read(self, key).await
    }

    async fn write(
        &self,
        key: &str,
        json: String,
        index: IndexAttributes,
        expected: Option<u64>,
    ) -> Result<bool, LedgerError> {
        Self::write(self, key, json, index, expected).await
    }
}
