//! The suppression check before sending: every recipient is looked up in the delivery ledger
//! ([`crate::feedback::AddressEntry`], written by the feedback intake), and a suppressed one is
//! not sent to.
//!
//! The check is a lookup like any other, through the same request/answer protocol
//! ([`crate::Batch::lookups`]): once a record's recipients are known (after its own lookups, since
//! a recipient can come from one), it asks for `address#<address>` of each in the ledger table
//! ([`crate::Config::ledger_table`]). A host reads them with the record's other lookups, in the
//! same batched call, and answers as it answers any lookup:
//!
//! | answer | the recipient |
//! | --- | --- |
//! | found, with a suppression that has not expired | dropped |
//! | found without one, or expired; not found | kept |
//! | failed | the record is retried (`lookup_failed` of `suppression`, or `throttled`) |
//!
//! A record left with no recipient is `suppressed`: acknowledged, never sent, never
//! dead-lettered. Without a ledger table nothing is checked.
//!
//! Each of these requests is marked [`LookupPurpose::SuppressionCheck`]. A host that can test
//! an item against a condition need not read it: a condition that holds only when nothing
//! suppresses the address (no suppression, or one that has expired by `now`) answers a check
//! that holds with [`LookupAnswer::NotFound`] (the same as an address the ledger never saw)
//! and one that fails with the item ([`LookupAnswer::Found`]), which is then judged here as
//! any read item is. The condition may fail more often than a suppression is in force (an
//! item it cannot judge, a boundary it rounds); it must never hold when one is. The Lambda
//! checks this way inside the transaction that claims the idempotency keys of the emails the
//! checks hold ([`crate::Batch::emails_held_by_checks`]), so the checks cost no extra call.
//!
//! [`LookupPurpose::SuppressionCheck`]: crate::LookupPurpose::SuppressionCheck

use std::collections::BTreeMap;

use crate::address::Mailbox;
use crate::error::ServiceFault;
use crate::feedback::{
    ADDRESS_KEY_PREFIX, AddressEntry, LEDGER_ENTRY_ATTRIBUTE, LEDGER_KEY_ATTRIBUTE as LEDGER_KEY,
    Suppression, address_storage_key,
};
use crate::lookup::{AttributeValue, Item, Lookup, LookupAnswer, LookupFailure, OnMissing};
use crate::record::Timestamp;

/// The lookup position a suppression read answers to (past every declared lookup's).
pub(crate) const SUPPRESSION_LOOKUP: usize = usize::MAX;

/// The name suppression reads and their failures go by.
pub(crate) const SUPPRESSION_LOOKUP_NAME: &str = "suppression";

/// The lookup every suppression read is made as: eventually consistent (a suppression written
/// a moment ago may be missed once; the next email sees it) and never cached.
pub(crate) fn suppression_lookup(table: &str) -> Lookup {
    Lookup {
        name: SUPPRESSION_LOOKUP_NAME.to_owned(),
        table: table.to_owned(),
        key: Vec::new(),
        on_missing: OnMissing::Skip,
        consistent_read: false,
        cache_seconds: 0,
        depends_on: Vec::new(),
    }
}

/// Where a record's suppression check stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SuppressionCheck {
    /// No ledger table: nothing to check.
    Off,
    /// Not asked yet: the recipients are not known.
    Unasked,
    /// Asked; `outstanding` answers to come.
    Asked {
        outstanding: usize,
        /// Suppressed recipients (normalized address), with their suppression.
        suppressed: BTreeMap<String, Suppression>,
        failure: Option<ServiceFault>,
    },
}

impl SuppressionCheck {
    pub(crate) fn new(enabled: bool) -> Self {
        if enabled { Self::Unasked } else { Self::Off }
    }

    /// Whether answers are still to come.
    pub(crate) fn waiting(&self) -> bool {
        matches!(self, Self::Asked { outstanding, .. } if *outstanding > 0)
    }

    /// Whether it still has to be asked.
    pub(crate) fn unasked(&self) -> bool {
        matches!(self, Self::Unasked)
    }

    /// The reads for `recipients`, each address once; the check now waits for them.
    pub(crate) fn ask(&mut self, recipients: &[Mailbox]) -> Vec<(usize, Item)> {
        let mut addresses: Vec<String> = recipients.iter().map(Mailbox::dedupe_key).collect();
        addresses.sort_unstable();
        addresses.dedup();
        *self = Self::Asked {
            outstanding: addresses.len(),
            suppressed: BTreeMap::new(),
            failure: None,
        };
        addresses
            .into_iter()
            .map(|address| {
                let key = Item::from([(
                    LEDGER_KEY.to_owned(),
                    AttributeValue::S(address_storage_key(&address)),
                )]);
                (SUPPRESSION_LOOKUP, key)
            })
            .collect()
    }

    /// Takes the answer to the read of `key`.
    pub(crate) fn answer(&mut self, key: &Item, answer: &LookupAnswer) {
        let Self::Asked {
            outstanding,
            suppressed,
            failure,
        } = self
        else {
            return;
        };
        *outstanding = outstanding.saturating_sub(1);
        let address = match key.get(LEDGER_KEY) {
            Some(AttributeValue::S(key)) => key
                .strip_prefix(ADDRESS_KEY_PREFIX)
                .unwrap_or(key)
                .to_owned(),
            _ => return,
        };
        match answer {
            LookupAnswer::Found(item) => {
                // The intake stores the core's entry as JSON in `entry`; an item this version
                // cannot read suppresses nothing (sending is what it would do without a ledger).
                let entry = crate::envelope::text_at(&item.0, LEDGER_ENTRY_ATTRIBUTE)
                    .and_then(|json| serde_json::from_str::<AddressEntry>(&json).ok());
                if let Some(suppression) = entry.and_then(|entry| entry.suppression) {
                    suppressed.insert(address, suppression);
                }
            }
            LookupAnswer::NotFound => {}
            LookupAnswer::Failed(why) => {
                let (detail, throttled) = match why {
                    LookupFailure::Throttled(detail) => (detail.clone(), true),
                    LookupFailure::Unavailable(detail) => (detail.clone(), false),
                };
                failure.get_or_insert(ServiceFault::LookupFailed {
                    lookup: SUPPRESSION_LOOKUP_NAME.to_owned(),
                    detail,
                    throttled,
                });
            }
        }
    }

    /// A read that failed: the record is retried.
    pub(crate) fn failure(&self) -> Option<&ServiceFault> {
        match self {
            Self::Asked { failure, .. } => failure.as_ref(),
            _ => None,
        }
    }

    /// Whether `mailbox` may be sent to at `now`.
    pub(crate) fn allows(&self, mailbox: &Mailbox, now: Timestamp) -> bool {
        match self {
            Self::Asked { suppressed, .. } => suppressed
                .get(&mailbox.dedupe_key())
                .is_none_or(|suppression| !suppression.in_force(now)),
            Self::Off | Self::Unasked => true,
        }
    }
}
