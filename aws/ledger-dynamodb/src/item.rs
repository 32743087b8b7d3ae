//! The ledger's DynamoDB item: what [`encode`] writes and [`decode`] reads (the crate's docs
//! have the table of attributes). Pure functions, so the layout is tested without a table.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use mailroom_core::Timestamp;

use crate::{IndexAttributes, LedgerError};

/// The name of the index of bounced and complained emails by time.
pub const ATTENTION_INDEX: &str = "attention";
/// The table's TTL attribute (Unix seconds), the one the idempotency store's claims use too.
pub const TTL_ATTRIBUTE: &str = "expiresAt";
/// The partition key (the core reads items by it too, so the name is the core's).
pub const KEY: &str = mailroom_core::feedback::LEDGER_KEY_ATTRIBUTE;
/// The entry's JSON (the core reads it too).
pub const ENTRY: &str = mailroom_core::feedback::LEDGER_ENTRY_ATTRIBUTE;
/// The version writes are conditional on.
pub const VERSION: &str = "version";
/// An email's overall status.
pub const STATUS: &str = "ledgerStatus";
/// The attention index's partition key: `bounce` or `complaint`.
pub const ATTENTION: &str = "attention";
/// The attention index's sort key: Unix milliseconds.
pub const ATTENTION_AT: &str = "attentionAtMs";
/// An address's suppression reason.
pub const SUPPRESSED: &str = "suppressed";
/// When an address's suppression expires, Unix seconds.
pub const SUPPRESSED_UNTIL: &str = "suppressedUntil";

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// An entry as stored: its JSON and the version a write must still find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The entry's JSON, as the core serialises it.
    pub json: String,
    /// Incremented by every write.
    pub version: u64,
}

/// The item that stores `json` under `key` at `version`, with the attributes of `index`, kept
/// until `expires_at` (Unix seconds) unless it is an address suppressed for good: the TTL must
/// never delete a suppression that does not expire.
#[must_use]
pub fn encode(
    key: &str,
    json: String,
    index: IndexAttributes,
    version: u64,
    expires_at: u64,
) -> Item {
    let mut item = Item::from([
        (KEY.to_owned(), AttributeValue::S(key.to_owned())),
        (ENTRY.to_owned(), AttributeValue::S(json)),
        (VERSION.to_owned(), number(version)),
    ]);
    if let Some(status) = index.status {
        item.insert(STATUS.to_owned(), AttributeValue::S(status));
    }
    if let Some((attention, at)) = index.attention {
        item.insert(ATTENTION.to_owned(), AttributeValue::S(attention));
        item.insert(
            ATTENTION_AT.to_owned(),
            AttributeValue::N(at.as_millis().to_string()),
        );
    }
    let mut keep_for_good = false;
    if let Some((reason, until)) = index.suppressed {
        item.insert(SUPPRESSED.to_owned(), AttributeValue::S(reason));
        match until {
            Some(until) => {
                let until_s = u64::try_from(until.as_millis() / 1000).unwrap_or(0);
                item.insert(SUPPRESSED_UNTIL.to_owned(), number(until_s));
            }
            None => keep_for_good = true,
        }
    }
    if !keep_for_good {
        item.insert(TTL_ATTRIBUTE.to_owned(), number(expires_at));
    }
    item
}

/// A DynamoDB condition: its expression with the names and values it binds.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The `ConditionExpression`.
    pub expression: &'static str,
    /// Its `ExpressionAttributeNames`.
    pub names: Vec<(&'static str, &'static str)>,
    /// Its `ExpressionAttributeValues`.
    pub values: Vec<(&'static str, AttributeValue)>,
}

/// The condition of a suppression check made without reading the address item: it holds
/// only when no suppression of the address is in force at `now`, judged from the attributes
/// [`encode`] writes: no item, no `suppressed`, or a `suppressedUntil` before `now`'s second.
///
/// It must never hold when the core would suppress (the core's rule: a suppression is in
/// force until its expiry, for good without one). `suppressedUntil` is the expiry rounded
/// down to the second, so the comparison is strict: `until_s < now_s` gives
/// `until_ms < (until_s + 1) * 1000 <= now_ms`. It fails more often than a suppression is in
/// force (in the second around an expiry, a suppression without an expiry of an entry this
/// version cannot read): a failed check hands the item to the core, which decides as it
/// decides any read.
#[must_use]
pub fn unsuppressed_condition(now: Timestamp) -> Condition {
    let now_s = u64::try_from(now.as_millis() / 1000).unwrap_or(0);
    Condition {
        expression: "attribute_not_exists(#suppressed) OR #suppressed_until < :now_s",
        names: vec![
            ("#suppressed", SUPPRESSED),
            ("#suppressed_until", SUPPRESSED_UNTIL),
        ],
        values: vec![(":now_s", number(now_s))],
    }
}

/// The entry stored in `item` (read under `key`).
pub fn decode(key: &str, item: &Item) -> Result<Stored, LedgerError> {
    let unreadable = |detail: &str| LedgerError::Unreadable {
        key: key.to_owned(),
        detail: detail.to_owned(),
    };
    let json = match item.get(ENTRY) {
        Some(AttributeValue::S(json)) => json.clone(),
        _ => return Err(unreadable("no entry attribute")),
    };
    let version = match item.get(VERSION) {
        Some(AttributeValue::N(number)) => number
            .parse()
            .map_err(|_| unreadable("version is not a whole number"))?,
        _ => return Err(unreadable("no version attribute")),
    };
    Ok(Stored { json, version })
}

/// The key of an item read from an index.
pub fn key_of(item: &Item) -> Result<String, LedgerError> {
    match item.get(KEY) {
        Some(AttributeValue::S(key)) => Ok(key.clone()),
        _ => Err(LedgerError::Unreadable {
            key: String::from("(an item of the attention index)"),
            detail: format!("no {KEY} attribute"),
        }),
    }
}

/// When an email in the attention index bounced or drew its complaint.
pub fn attention_at(key: &str, item: &Item) -> Result<Timestamp, LedgerError> {
    match item.get(ATTENTION_AT) {
        Some(AttributeValue::N(number)) => {
            number
                .parse()
                .map(Timestamp::from_millis)
                .map_err(|_| LedgerError::Unreadable {
                    key: key.to_owned(),
                    detail: format!("{ATTENTION_AT} is not a whole number"),
                })
        }
        _ => Err(LedgerError::Unreadable {
            key: key.to_owned(),
            detail: format!("no {ATTENTION_AT} attribute"),
        }),
    }
}

pub(crate) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: &str) -> AttributeValue {
        AttributeValue::N(value.to_owned())
    }

    #[test]
    fn an_email_that_bounced_carries_the_attention_index_keys_and_a_ttl() {
        let index = IndexAttributes {
            status: Some("bounced_permanent".into()),
            attention: Some(("bounce".into(), Timestamp::from_millis(1_795_428_003_000))),
            suppressed: None,
        };
        let item = encode("email#k", "{}".into(), index, 3, 1_800_000_000);
        assert_eq!(item[KEY], AttributeValue::S("email#k".into()));
        assert_eq!(item[VERSION], n("3"));
        assert_eq!(item[STATUS], AttributeValue::S("bounced_permanent".into()));
        assert_eq!(item[ATTENTION], AttributeValue::S("bounce".into()));
        assert_eq!(item[ATTENTION_AT], n("1795428003000"));
        assert_eq!(item[TTL_ATTRIBUTE], n("1800000000"));
        assert!(!item.contains_key(SUPPRESSED));
        assert_eq!(decode("email#k", &item).unwrap().version, 3);
        assert_eq!(key_of(&item).unwrap(), "email#k");
        assert_eq!(
            attention_at("email#k", &item).unwrap(),
            Timestamp::from_millis(1_795_428_003_000)
        );
    }

    #[test]
    fn a_suppression_for_good_has_no_ttl_and_one_that_expires_keeps_both() {
        let forever = IndexAttributes {
            suppressed: Some(("complaint".into(), None)),
            ..IndexAttributes::default()
        };
        let item = encode("address#a@b.c", "{}".into(), forever, 1, 9);
        assert_eq!(item[SUPPRESSED], AttributeValue::S("complaint".into()));
        assert!(!item.contains_key(TTL_ATTRIBUTE));
        assert!(!item.contains_key(SUPPRESSED_UNTIL));

        let expiring = IndexAttributes {
            suppressed: Some((
                "transient_bounces".into(),
                Some(Timestamp::from_millis(1_700_000_000_999)),
            )),
            ..IndexAttributes::default()
        };
        let item = encode("address#a@b.c", "{}".into(), expiring, 1, 9);
        assert_eq!(item[SUPPRESSED_UNTIL], n("1700000000"));
        assert_eq!(item[TTL_ATTRIBUTE], n("9"));

        // Lifted: nothing the index or the suppression check reads, and a TTL again.
        let item = encode(
            "address#a@b.c",
            "{}".into(),
            IndexAttributes::default(),
            2,
            9,
        );
        assert!(!item.contains_key(SUPPRESSED));
        assert_eq!(item[TTL_ATTRIBUTE], n("9"));
    }

    #[test]
    fn items_not_written_here_are_unreadable_not_a_panic() {
        let key = "email#k";
        for item in [
            Item::new(),
            Item::from([(ENTRY.to_owned(), n("1"))]),
            Item::from([
                (ENTRY.to_owned(), AttributeValue::S("{}".into())),
                (VERSION.to_owned(), n("1.5")),
            ]),
        ] {
            assert!(matches!(
                decode(key, &item),
                Err(LedgerError::Unreadable { .. })
            ));
            assert!(attention_at(key, &item).is_err());
        }
        assert!(key_of(&Item::new()).is_err());
    }
}
