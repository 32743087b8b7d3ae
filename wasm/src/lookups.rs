//! Lookups across the JavaScript boundary: the batch's requests go out with their keys as
//! DynamoDB attribute values, the host's answers come in, and the core's fixtures answer for
//! hosts without DynamoDB.
//!
//! An answer is one JSON object (`LookupAnswer` in `js/types.d.ts`):
//!
//! - `{"found": {"name": {"S": "Ada"}, "age": {"N": "36"}}}`: the item as DynamoDB returns it,
//!   attribute values in DynamoDB JSON (what `@aws-sdk/client-dynamodb` gives from `BatchGetItem`
//!   and `GetItem`, binary as base64 text); converted by the core's one conversion
//!   (`mailroom_core::lookup::attribute`), as the Rust Lambda converts what it reads.
//! - `{"foundPlain": {"name": "Ada", "age": 36}}`: the item as templates see it, for hosts that
//!   read through a document client (`unmarshall`) or keep items as plain JSON.
//! - `{"notFound": true}`: no item has the key.
//! - `{"failed": "throttled" | "unavailable", "detail": "..."}`: the read failed (our side: the
//!   records that need it are retried).

use std::collections::BTreeMap;

use mailroom_core::lookup::{AttributeValue, Item};
use mailroom_core::{LookupAnswer, LookupFailure, LookupFixtures, LookupItem, LookupRequest};
use serde::{Deserialize, Serialize};

use crate::error::AdapterError;

/// The core's fixtures from their JSON text; a file that is not the documented format is an
/// input error naming the entry.
pub fn fixtures(text: &str) -> Result<LookupFixtures, AdapterError> {
    LookupFixtures::parse(text).map_err(|error| AdapterError::Input {
        argument: "lookups",
        message: error.to_string(),
    })
}

/// A request as JavaScript receives it: `{id, table, key, consistentRead, cacheSeconds, lookup}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestJson<'a> {
    id: usize,
    table: &'a str,
    key: BTreeMap<&'a str, KeyValue<'a>>,
    consistent_read: bool,
    cache_seconds: u32,
    lookup: &'a str,
}

/// A key attribute in DynamoDB JSON, as `BatchGetItem`'s `Keys` take it.
#[derive(Serialize)]
enum KeyValue<'a> {
    S(&'a str),
    N(&'a str),
}

impl<'a> RequestJson<'a> {
    /// `request` under the id JavaScript holds for it.
    pub(crate) fn new(id: usize, request: &'a LookupRequest) -> Result<Self, AdapterError> {
        let key = request
            .key
            .iter()
            .map(|(name, value)| match value {
                AttributeValue::S(text) => Ok((name.as_str(), KeyValue::S(text))),
                AttributeValue::N(text) => Ok((name.as_str(), KeyValue::N(text))),
                // The core renders key attributes as strings or numbers only.
                other => Err(AdapterError::Encode(format!(
                    "key attribute {name} of table {} is {other:?}, neither S nor N",
                    request.table
                ))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id,
            table: &request.table,
            key,
            consistent_read: request.consistent_read,
            cache_seconds: request.cache_seconds,
            lookup: &request.lookup,
        })
    }
}

/// An answer as JavaScript writes it; exactly one of the first four is given.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnswerJson {
    found: Option<Item>,
    found_plain: Option<serde_json::Value>,
    not_found: Option<bool>,
    failed: Option<FailureKind>,
    detail: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FailureKind {
    Throttled,
    Unavailable,
}

const ONE_OF: &str = "give exactly one of found (DynamoDB attribute values), foundPlain (plain JSON), \
                      notFound: true or failed (\"throttled\" or \"unavailable\", with an optional detail)";

/// The core's answer from its JSON text (the module docs list the shapes).
pub fn answer(text: &str) -> Result<LookupAnswer, AdapterError> {
    let bad = |message: String| AdapterError::Input {
        argument: "answer",
        message,
    };
    let answer: AnswerJson =
        serde_json::from_str(text).map_err(|error| AdapterError::input("answer", &error))?;
    if answer.detail.is_some() && answer.failed.is_none() {
        return Err(bad(format!("detail goes with failed only; {ONE_OF}")));
    }
    match (
        answer.found,
        answer.found_plain,
        answer.not_found,
        answer.failed,
    ) {
        (Some(item), None, None, None) => {
            Ok(LookupAnswer::Found(LookupItem::from_attributes(&item)))
        }
        (None, Some(item), None, None) => LookupItem::from_json(&item.to_string())
            .map(LookupAnswer::Found)
            .map_err(|error| bad(format!("foundPlain: {error}"))),
        (None, None, Some(true), None) => Ok(LookupAnswer::NotFound),
        (None, None, None, Some(kind)) => {
            let failure = match kind {
                FailureKind::Throttled => LookupFailure::Throttled(
                    answer
                        .detail
                        .unwrap_or_else(|| "the read was throttled".into()),
                ),
                FailureKind::Unavailable => LookupFailure::Unavailable(
                    answer.detail.unwrap_or_else(|| "the read failed".into()),
                ),
            };
            Ok(LookupAnswer::Failed(failure))
        }
        _ => Err(bad(ONE_OF.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(answer: &str) -> serde_json::Value {
        match super::answer(answer).unwrap() {
            LookupAnswer::Found(item) => serde_json::from_str(&item.to_json()).unwrap(),
            other => panic!("{answer}: {other:?}"),
        }
    }

    fn refused(answer: &str) -> String {
        let error = super::answer(answer).unwrap_err();
        let AdapterError::Input { argument, .. } = &error else {
            panic!("{answer}: {error:?}");
        };
        assert_eq!(*argument, "answer");
        error.to_string()
    }

    #[test]
    fn an_item_in_dynamodb_json_is_converted_by_the_core() {
        // What @aws-sdk/client-dynamodb returns (binary as base64 once it is JSON).
        let item = found(
            r#"{"found": {"name": {"S": "Ada"}, "weeks": {"N": "6"}, "price": {"N": "1.50"},
                "topics": {"SS": ["async", "axum"]}, "avatar": {"B": "aGk="},
                "address": {"M": {"city": {"S": "Lyon"}}}, "active": {"BOOL": true},
                "gone": {"NULL": true}, "list": {"L": [{"N": "1"}, {"S": "two"}]}}}"#,
        );
        assert_eq!(
            item,
            serde_json::json!({"name": "Ada", "weeks": 6, "price": "1.50",
                "topics": ["async", "axum"], "avatar": "aGk=", "address": {"city": "Lyon"},
                "active": true, "gone": null, "list": [1, "two"]})
        );
    }

    #[test]
    fn a_plain_item_is_taken_as_templates_see_it() {
        let item = found(r#"{"foundPlain": {"name": "Ada", "weeks": 6, "tags": ["a"]}}"#);
        assert_eq!(
            item,
            serde_json::json!({"name": "Ada", "weeks": 6, "tags": ["a"]})
        );
    }

    #[test]
    fn not_found_and_failures_are_the_core_answers() {
        assert!(matches!(
            answer(r#"{"notFound": true}"#),
            Ok(LookupAnswer::NotFound)
        ));
        assert!(matches!(
            answer(r#"{"failed": "throttled", "detail": "ProvisionedThroughputExceededException"}"#),
            Ok(LookupAnswer::Failed(LookupFailure::Throttled(detail))) if detail == "ProvisionedThroughputExceededException"
        ));
        assert!(matches!(
            answer(r#"{"failed": "unavailable"}"#),
            Ok(LookupAnswer::Failed(LookupFailure::Unavailable(detail))) if detail == "the read failed"
        ));
    }

    #[test]
    fn an_answer_of_another_shape_is_an_input_error_saying_which_shapes_are_allowed() {
        for bad in [
            "{}",
            r#"{"notFound": false}"#,
            r#"{"found": {"a": {"S": "x"}}, "notFound": true}"#,
            r#"{"found": {"a": {"S": "x"}}, "foundPlain": {"a": "x"}}"#,
        ] {
            assert!(refused(bad).contains("give exactly one of found"), "{bad}");
        }
        assert!(
            refused(r#"{"notFound": true, "detail": "x"}"#).contains("detail goes with failed")
        );
        assert!(
            refused(r#"{"foundPlain": [1]}"#)
                .contains("foundPlain: the item must be a JSON object")
        );
        assert!(refused(r#"{"failed": "down"}"#).contains("unknown variant `down`"));
        assert!(refused(r#"{"found": {"name": "Ada"}}"#).contains("answer: "));
        assert!(refused(r#"{"found": {"a": {"X": "1"}}}"#).contains("unknown variant `X`"));
        assert!(refused(r#"{"found": {"a": {"B": "not base64!"}}}"#).contains("base64"));
        assert!(refused(r#"{"Item": {}}"#).contains("unknown field `Item`"));
        assert!(refused("[").contains("answer: "));
    }

    #[test]
    fn fixtures_that_are_not_the_format_are_an_input_error_naming_the_entry() {
        let error = fixtures(r#"{"t": [{"key": {"PK": "1"}}]}"#).unwrap_err();
        assert_eq!(error.kind(), "input");
        assert!(
            error
                .to_string()
                .starts_with("lookups: lookup fixture t[0]"),
            "{error}"
        );
    }
}
