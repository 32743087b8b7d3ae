//! The ledger in DynamoDB: the shared ledger crate's table ([`mailroom_ledger_dynamodb`], where
//! the item layout and the [`super::LedgerStore`] calls are written down once).

pub use mailroom_ledger_dynamodb::{ATTENTION_INDEX, DynamoDbLedger};
