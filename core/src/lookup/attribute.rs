//! DynamoDB attribute values, and the one conversion of an item into the plain JSON templates
//! see.
//!
//! Hosts hand the core what DynamoDB returned, attribute by attribute ([`AttributeValue`] mirrors
//! the service's types one to one, so a host's mapping from its SDK is mechanical); the core
//! decides what each becomes:
//!
//! | DynamoDB | templates see |
//! | --- | --- |
//! | `S` | a string |
//! | `N` | a number printed exactly as DynamoDB wrote it; a number JSON cannot hold exactly (more digits than a 64-bit float keeps) is its decimal text as a string |
//! | `BOOL`, `NULL` | a boolean, `none` |
//! | `M`, `L` | an object, a list |
//! | `SS`, `NS` | a list of strings, a list of numbers (as `N`) |
//! | `B`, `BS` | standard base64 text, a list of it |
//!
//! The same types read from DynamoDB JSON (`{"S": "Ada"}`, what `aws dynamodb get-item` prints),
//! for fixture files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Deserializer};

/// One DynamoDB attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum AttributeValue {
    /// A string.
    S(String),
    /// A number, as DynamoDB's decimal text.
    N(String),
    /// Binary.
    #[serde(deserialize_with = "base64_bytes")]
    B(Vec<u8>),
    /// A boolean.
    #[serde(rename = "BOOL")]
    Bool(bool),
    /// Null (DynamoDB writes `{"NULL": true}`).
    #[serde(rename = "NULL", deserialize_with = "null_marker")]
    Null,
    /// A map.
    M(BTreeMap<String, AttributeValue>),
    /// A list.
    L(Vec<AttributeValue>),
    /// A string set.
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    /// A number set.
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    /// A binary set.
    #[serde(rename = "BS", deserialize_with = "base64_list")]
    Bs(Vec<Vec<u8>>),
}

/// An item: attribute names to values.
pub type Item = BTreeMap<String, AttributeValue>;

/// The plain JSON text of `item`, as templates see it (the table in the module docs).
#[must_use]
pub fn item_json(item: &Item) -> String {
    let mut out = String::with_capacity(64 * item.len() + 2);
    write_map(&mut out, item);
    out
}

fn write_value(out: &mut String, value: &AttributeValue) {
    match value {
        AttributeValue::S(text) => write_string(out, text),
        AttributeValue::N(number) => write_number(out, number),
        AttributeValue::B(bytes) => write_string(out, &base64_text(bytes)),
        AttributeValue::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        AttributeValue::Null => out.push_str("null"),
        AttributeValue::M(map) => write_map(out, map),
        AttributeValue::L(list) => write_list(out, list.iter(), write_value),
        AttributeValue::Ss(list) => write_list(out, list.iter(), |out, s| write_string(out, s)),
        AttributeValue::Ns(list) => write_list(out, list.iter(), |out, n| write_number(out, n)),
        AttributeValue::Bs(list) => write_list(out, list.iter(), |out, bytes| {
            write_string(out, &base64_text(bytes));
        }),
    }
}

fn write_map(out: &mut String, map: &Item) {
    out.push('{');
    for (index, (name, value)) in map.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

fn write_list<T>(
    out: &mut String,
    items: impl Iterator<Item = T>,
    mut write: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(',');
        }
        write(out, item);
    }
    out.push(']');
}

fn write_string(out: &mut String, text: &str) {
    // serde_json's escaping, so every string is valid JSON whatever it holds.
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

/// A number goes out as a JSON number when reading it back prints the same text, so a price of
/// `19.90`... is never shown as `19.9` by surprise: DynamoDB itself normalises numbers
/// (`19.90` is stored as `19.9`), and what it returns is what the template prints. Integers
/// beyond 64 bits and decimals beyond a double's 17 significant digits stay their text.
fn write_number(out: &mut String, number: &str) {
    let text = number.trim();
    if exact_as_json_number(text) {
        out.push_str(text);
    } else {
        write_string(out, text);
    }
}

fn exact_as_json_number(text: &str) -> bool {
    let is_json_number = serde_json::from_str::<serde_json::Number>(text).is_ok();
    if !is_json_number {
        return false;
    }
    if let Ok(integer) = text.parse::<i64>() {
        return integer.to_string() == text;
    }
    if let Ok(integer) = text.parse::<u64>() {
        return integer.to_string() == text;
    }
    // The core's JSON reads other numbers as doubles, through serde_json (whose float parsing
    // can differ from `str::parse` in the last digit), and templates print a double's shortest
    // form: the number is exact when that round trip prints the same text.
    let mut shortest = String::new();
    match serde_json::from_str::<f64>(text) {
        Ok(float) if float.is_finite() => {
            let _ = write!(shortest, "{}", minijinja::Value::from(float));
            shortest == text
        }
        _ => false,
    }
}

fn base64_text(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|error| serde::de::Error::custom(format!("B is not base64: {error}")))
}

fn base64_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Vec<u8>>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(|error| serde::de::Error::custom(format!("BS is not base64: {error}")))
        })
        .collect()
}

fn null_marker<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    match bool::deserialize(deserializer)? {
        true => Ok(()),
        false => Err(serde::de::Error::custom("NULL must be true")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> Item {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_type_becomes_plain_json() {
        let item = item(
            r#"{
                "name": {"S": "Ada \"the\" first"},
                "age": {"N": "36"},
                "price": {"N": "19.9"},
                "precise": {"N": "3.14159265358979323846264338327950288"},
                "big": {"N": "123456789012345678901234567890"},
                "padded": {"N": "1.50"},
                "active": {"BOOL": true},
                "nothing": {"NULL": true},
                "address": {"M": {"city": {"S": "Lyon"}}},
                "tags": {"L": [{"S": "a"}, {"N": "2"}]},
                "roles": {"SS": ["admin", "author"]},
                "scores": {"NS": ["1", "2.5"]},
                "avatar": {"B": "aGVsbG8="},
                "keys": {"BS": ["aGk="]}
            }"#,
        );
        let json: serde_json::Value = serde_json::from_str(&item_json(&item)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "Ada \"the\" first",
                "age": 36,
                "price": 19.9,
                "precise": "3.14159265358979323846264338327950288",
                "big": "123456789012345678901234567890",
                "padded": "1.50",
                "active": true,
                "nothing": null,
                "address": {"city": "Lyon"},
                "tags": ["a", 2],
                "roles": ["admin", "author"],
                "scores": [1, 2.5],
                "avatar": "aGVsbG8=",
                "keys": ["aGk="]
            })
        );
    }

    #[test]
    fn numbers_print_as_dynamodb_wrote_them() {
        for text in [
            "0",
            "-7",
            "18446744073709551615",
            "0.1",
            "1e21",
            "-0.000001",
        ] {
            let out = item_json(&Item::from([("n".into(), AttributeValue::N(text.into()))]));
            let value = crate::json::JsonDocument::parse(&out).unwrap();
            let printed = value.get("n").unwrap().to_value().to_string();
            assert_eq!(printed, text, "{out}");
        }
    }

    #[test]
    fn bad_dynamodb_json_is_an_error() {
        for bad in [
            r#"{"a": {"B": "not base64!"}}"#,
            r#"{"a": {"NULL": false}}"#,
            r#"{"a": {"X": "1"}}"#,
            r#"{"a": "plain"}"#,
        ] {
            assert!(serde_json::from_str::<Item>(bad).is_err(), "{bad}");
        }
    }
}
