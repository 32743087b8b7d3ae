//! The SDK's DynamoDB attribute values to the core's and back, variant for variant. What an item
//! becomes for templates is the core's one conversion (`LookupItem::from_attributes`); nothing
//! here interprets a value, except [`key_identity`], which compares keys as DynamoDB does.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as SdkValue;
use mailroom_core::lookup::{AttributeValue, Item};

/// An item as the SDK returns it.
pub type SdkItem = HashMap<String, SdkValue>;

/// The core's item for the SDK's. An attribute of a type this SDK does not know (a type
/// DynamoDB added later) is left out: templates see it undefined rather than guessed.
#[must_use]
pub fn item_from_sdk(item: SdkItem) -> Item {
    item.into_iter()
        .filter_map(|(name, value)| Some((name, value_from_sdk(value)?)))
        .collect()
}

/// The core's value for the SDK's; `None` for a type this SDK does not know.
#[must_use]
pub fn value_from_sdk(value: SdkValue) -> Option<AttributeValue> {
    Some(match value {
        SdkValue::S(text) => AttributeValue::S(text),
        SdkValue::N(number) => AttributeValue::N(number),
        SdkValue::B(bytes) => AttributeValue::B(bytes.into_inner()),
        SdkValue::Bool(value) => AttributeValue::Bool(value),
        SdkValue::Null(_) => AttributeValue::Null,
        SdkValue::M(map) => AttributeValue::M(item_from_sdk(map)),
        SdkValue::L(list) => {
            AttributeValue::L(list.into_iter().filter_map(value_from_sdk).collect())
        }
        SdkValue::Ss(list) => AttributeValue::Ss(list),
        SdkValue::Ns(list) => AttributeValue::Ns(list),
        SdkValue::Bs(list) => AttributeValue::Bs(list.into_iter().map(Blob::into_inner).collect()),
        _ => return None,
    })
}

/// The SDK's item for the core's (a request's key).
#[must_use]
pub fn item_to_sdk(item: &Item) -> SdkItem {
    item.iter()
        .map(|(name, value)| (name.clone(), value_to_sdk(value)))
        .collect()
}

/// The SDK's value for the core's.
#[must_use]
pub fn value_to_sdk(value: &AttributeValue) -> SdkValue {
    match value {
        AttributeValue::S(text) => SdkValue::S(text.clone()),
        AttributeValue::N(number) => SdkValue::N(number.clone()),
        AttributeValue::B(bytes) => SdkValue::B(Blob::new(bytes.clone())),
        AttributeValue::Bool(value) => SdkValue::Bool(*value),
        AttributeValue::Null => SdkValue::Null(true),
        AttributeValue::M(map) => SdkValue::M(item_to_sdk(map)),
        AttributeValue::L(list) => SdkValue::L(list.iter().map(value_to_sdk).collect()),
        AttributeValue::Ss(list) => SdkValue::Ss(list.clone()),
        AttributeValue::Ns(list) => SdkValue::Ns(list.clone()),
        AttributeValue::Bs(list) => {
            SdkValue::Bs(list.iter().map(|bytes| Blob::new(bytes.clone())).collect())
        }
    }
}

/// The identity of the key made of `names` in `item` (a request's key, or an item DynamoDB
/// returned): equal exactly when DynamoDB would call the keys equal. Strings and binaries compare
/// byte for byte; numbers by value, because DynamoDB normalises them (a key asked for as
/// `N "1.50"` comes back as `N "1.5"`). `None` when the item lacks one of the attributes.
#[must_use]
pub fn key_identity<'a>(item: &Item, names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut identity = String::new();
    for name in names {
        let value = item.get(name)?;
        identity.push_str(name);
        identity.push('\u{0}');
        match value {
            AttributeValue::S(text) => {
                identity.push_str("S\u{0}");
                identity.push_str(text);
            }
            AttributeValue::N(number) => {
                identity.push_str("N\u{0}");
                identity.push_str(&canonical_number(number).unwrap_or_else(|| number.clone()));
            }
            AttributeValue::B(bytes) => {
                identity.push_str("B\u{0}");
                for byte in bytes {
                    identity.push_str(&format!("{byte:02x}"));
                }
            }
            // Keys are strings, numbers or binaries; anything else cannot be a key, and is kept
            // apart from every key that can.
            other => identity.push_str(&format!("?\u{0}{other:?}")),
        }
        identity.push('\u{1}');
    }
    Some(identity)
}

/// A decimal number's value as text, one text per value: the significant digits without leading
/// or trailing zeros and a power of ten (`1.50`, `1.5` and `15e-1` are all `15e-1`; every zero is
/// `0`). `None` when the text is not a decimal number.
fn canonical_number(text: &str) -> Option<String> {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some("0".to_owned());
    }
    let dropped = i64::try_from(significant.len() - trimmed.len()).ok()?;
    let places = i64::try_from(fraction.len()).ok()?;
    let power = exponent.checked_sub(places)?.checked_add(dropped)?;
    let sign = if negative { "-" } else { "" };
    Some(format!("{sign}{trimmed}e{power}"))
}

#[cfg(test)]
mod tests {
    use mailroom_core::LookupItem;

    use super::*;

    fn sdk(json: serde_json::Value) -> SdkValue {
        // DynamoDB JSON to the SDK's type, for readable tests.
        let (kind, value) = json.as_object().unwrap().iter().next().unwrap();
        match kind.as_str() {
            "S" => SdkValue::S(value.as_str().unwrap().to_owned()),
            "N" => SdkValue::N(value.as_str().unwrap().to_owned()),
            "BOOL" => SdkValue::Bool(value.as_bool().unwrap()),
            "NULL" => SdkValue::Null(true),
            "M" => SdkValue::M(
                value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), sdk(v.clone())))
                    .collect(),
            ),
            "L" => SdkValue::L(value.as_array().unwrap().iter().cloned().map(sdk).collect()),
            _ => unreachable!("{kind}"),
        }
    }

    #[test]
    fn every_type_converts_one_to_one_and_back() {
        let item: SdkItem = [
            ("name", SdkValue::S("Ada".into())),
            ("weeks", SdkValue::N("6".into())),
            ("avatar", SdkValue::B(Blob::new(b"hello".to_vec()))),
            ("active", SdkValue::Bool(true)),
            ("nothing", SdkValue::Null(true)),
            (
                "address",
                sdk(serde_json::json!({"M": {"city": {"S": "Lyon"}}})),
            ),
            (
                "tags",
                sdk(serde_json::json!({"L": [{"S": "a"}, {"N": "2"}]})),
            ),
            ("roles", SdkValue::Ss(vec!["admin".into(), "author".into()])),
            ("scores", SdkValue::Ns(vec!["1".into(), "2.5".into()])),
            ("keys", SdkValue::Bs(vec![Blob::new(b"hi".to_vec())])),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let core = item_from_sdk(item.clone());
        assert_eq!(core["avatar"], AttributeValue::B(b"hello".to_vec()));
        assert_eq!(core["nothing"], AttributeValue::Null);
        assert_eq!(
            core["tags"],
            AttributeValue::L(vec![
                AttributeValue::S("a".into()),
                AttributeValue::N("2".into())
            ])
        );
        assert_eq!(item_to_sdk(&core), item, "and back, unchanged");
        // What templates see is the core's conversion of exactly this item.
        let json: serde_json::Value =
            serde_json::from_str(&LookupItem::from_attributes(&core).to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "Ada", "weeks": 6, "avatar": "aGVsbG8=", "active": true, "nothing": null,
                "address": {"city": "Lyon"}, "tags": ["a", 2], "roles": ["admin", "author"],
                "scores": [1, 2.5], "keys": ["aGk="]
            })
        );
    }

    fn key(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn keys_are_equal_as_dynamodb_compares_them() {
        let n = |text: &str| AttributeValue::N(text.into());
        let s = |text: &str| AttributeValue::S(text.into());
        let id = |item: &Item| key_identity(item, ["PK", "SK"]).unwrap();
        let asked = key(&[("PK", n("1.50")), ("SK", s("PROFILE"))]);
        for same in ["1.5", "15e-1", "+1.500", "0.15E1"] {
            let returned = key(&[("PK", n(same)), ("SK", s("PROFILE")), ("x", s("y"))]);
            assert_eq!(id(&asked), id(&returned), "{same}");
        }
        for other in ["15", "-1.5", "1.51"] {
            assert_ne!(
                id(&asked),
                id(&key(&[("PK", n(other)), ("SK", s("PROFILE"))]))
            );
        }
        assert_ne!(
            id(&key(&[("PK", s("1")), ("SK", s("PROFILE"))])),
            id(&key(&[("PK", n("1")), ("SK", s("PROFILE"))])),
            "a string is never a number"
        );
        assert_eq!(
            id(&key(&[("PK", n("0.000")), ("SK", s("a"))])),
            id(&key(&[("PK", n("-0")), ("SK", s("a"))]))
        );
        assert_eq!(key_identity(&key(&[("PK", s("1"))]), ["PK", "SK"]), None);
    }

    #[test]
    fn numbers_have_one_canonical_text() {
        assert_eq!(canonical_number("120").as_deref(), Some("12e1"));
        assert_eq!(canonical_number("0.012").as_deref(), Some("12e-3"));
        assert_eq!(canonical_number("1e21").as_deref(), Some("1e21"));
        assert_eq!(canonical_number("-007.50").as_deref(), Some("-75e-1"));
        assert_eq!(canonical_number("abc"), None);
        assert_eq!(canonical_number("1e"), None);
        assert_eq!(canonical_number("."), None);
    }
}
