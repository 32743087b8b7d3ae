//! [`LedgerStore`]: the two calls the feedback intake and the CLI's commands make on the
//! ledger, so that the Lambda's tests can stand in for the table and a host that serves no
//! feedback queue can refuse them. [`crate::DynamoDbLedger`] is the table's implementation.

use std::future::Future;

use crate::{IndexAttributes, LedgerError, Stored};

/// The ledger table, behind the calls made on its entries.
pub trait LedgerStore: Send + Sync {
    /// The entry under `key`, read consistently: `None` when there is none.
    fn read(&self, key: &str) -> impl Future<Output = Result<Option<Stored>, LedgerError>> + Send;

    /// Writes `json` under `key` if the entry is still at `expected` (`None`: absent), with the
    /// next version. `Ok(false)` when it was not: someone wrote in between; read again.
    fn write(
        &self,
        key: &str,
        json: String,
        index: IndexAttributes,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<bool, LedgerError>> + Send;
}
