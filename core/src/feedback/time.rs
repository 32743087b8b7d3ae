//! Timestamps of feedback: read from SES's RFC 3339 text, and written back as RFC 3339 (UTC,
//! milliseconds) in the core's own form of a [`super::Feedback`], so a stored ledger stays
//! readable.

use crate::record::Timestamp;

/// Reads an RFC 3339 timestamp, keeping only those that write back to the same instant: a
/// time whose UTC form falls outside years 0000-9999 (`0000-01-01T00:00:00+01:00`) cannot be
/// written as RFC 3339, so it is refused here rather than stored unreadably.
pub(super) fn parse(text: &str) -> Option<Timestamp> {
    let parsed = Timestamp::parse_rfc3339(text)?;
    (Timestamp::parse_rfc3339(&parsed.to_rfc3339()) == Some(parsed)).then_some(parsed)
}

fn invalid<E: serde::de::Error>(text: &str) -> E {
    E::custom(format_args!(
        "{:?} is not an RFC 3339 timestamp",
        text.chars().take(40).collect::<String>()
    ))
}

/// `#[serde(with)]` for a [`Timestamp`] as RFC 3339 text.
pub(super) mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::record::Timestamp;

    pub fn serialize<S: Serializer>(value: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse(&text).ok_or_else(|| super::invalid(&text))
    }
}

/// `#[serde(with)]` for an optional [`Timestamp`] as RFC 3339 text or `null`.
pub(super) mod rfc3339_option {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::record::Timestamp;

    #[allow(clippy::ref_option)] // serde's `with` hands over a reference to the field
    pub fn serialize<S: Serializer>(
        value: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::rfc3339::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| super::parse(&text).ok_or_else(|| super::invalid(&text)))
            .transpose()
    }
}
