//! The delivery ledger in DynamoDB, in one place: the Lambda's feedback intake writes it, the
//! Lambda's takeovers read it, and the CLI's `mailroom ledger` commands read it and lift
//! suppressions. The item layout is written once, here ([`item`]), so the writers and the
//! readers cannot drift apart.
//!
//! The ledger lives beside the idempotency store's claims in one table (partition key `pk`, a
//! string; the keys cannot collide: claims are bare idempotency keys, ledger items start with
//! `email#` or `address#`). What an entry says is the core's business
//! ([`mailroom_core::feedback::EmailEntry`], [`mailroom_core::feedback::AddressEntry`], stored
//! as their JSON); this crate only stores it, with the attributes the table's indexes and TTL
//! read ([`IndexAttributes`]), and writes it on the condition that its version did not change
//! since it was read.
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
//! | `expiresAt`        | both      | TTL: the retention after the last write; never on a suppressed address whose suppression does not expire |
//!
//! A suppression check may be made as a condition on the address item instead of a read
//! ([`unsuppressed_condition`], over `suppressed` and `suppressedUntil`), so that it can go in
//! the transaction that claims the batch's idempotency keys.
//!
//! `deploy/template.yaml` declares the table and the `attention` index with these names.
//!
//! The SDK configuration both hosts load, with mailroom's timeouts, is here too ([`sdk`]).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod index;
pub mod item;
pub mod sdk;
mod store;
mod table;

pub use error::{LedgerError, MAX_CONFLICTS, error_detail};
pub use index::IndexAttributes;
pub use item::{ATTENTION_INDEX, Condition, Stored, TTL_ATTRIBUTE, unsuppressed_condition};
pub use sdk::sdk_config;
pub use store::LedgerStore;
pub use table::{DynamoDbLedger, Listed};
