//! Lookup fixtures: the answers a host without DynamoDB gives (the CLI's `lookups.json`, the
//! shared test vectors, the previewer's edited results), in one format every host reads alike.
//!
//! ```json
//! {
//!   "enrollments": [
//!     { "key": { "PK": "STUDENT#s-1042", "SK": "PROFILE" },
//!       "item": { "firstName": "Ada", "email": "ada@example.com" } },
//!     { "key": { "PK": "COURSE#c-7", "SK": "METADATA" },
//!       "Item": { "title": { "S": "Rust for Everyone" }, "seats": { "N": "30" } } },
//!     { "key": { "PK": "COURSE#c-8", "SK": "METADATA" }, "failure": "throttled" }
//!   ]
//! }
//! ```
//!
//! Tables map to entries; an entry's `key` gives every key attribute as text (numbers too).
//! `item` is the item as templates see it (plain JSON); `Item` is DynamoDB JSON, as
//! `aws dynamodb get-item` prints it, converted the way the Lambda converts what it reads;
//! `failure` (`throttled` or `unavailable`) makes the read fail, to try a retry. A request no
//! entry matches is answered "not found".

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Item, LookupAnswer, LookupFailure, LookupItem, LookupRequest, LookupSource};

/// Lookup answers from a fixtures file. See the module docs for the format.
#[derive(Debug, Clone, Default)]
pub struct LookupFixtures {
    entries: BTreeMap<(String, BTreeMap<String, String>), Answer>,
}

#[derive(Debug, Clone)]
enum Answer {
    Item(LookupItem),
    Failure(LookupFailure),
}

/// A fixtures file the core cannot read, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixturesError {
    /// Not JSON of the documented shape.
    #[error("the lookup fixtures are invalid (line {line}, column {column}): {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// An entry is unusable.
    #[error("lookup fixture {table}[{index}] is invalid: {reason}")]
    Entry {
        /// The table.
        table: String,
        /// The entry's position in its table's list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    key: BTreeMap<String, KeyText>,
    #[serde(default)]
    item: Option<serde_json::Value>,
    #[serde(default, rename = "Item")]
    dynamodb_item: Option<Item>,
    #[serde(default)]
    failure: Option<FailureKind>,
}

/// Key attributes as fixtures write them: text, or a bare number for a numeric key.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyText {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FailureKind {
    Throttled,
    Unavailable,
}

impl LookupFixtures {
    /// Reads a fixtures file.
    pub fn parse(json: &str) -> Result<Self, FixturesError> {
        let tables: BTreeMap<String, Vec<Entry>> =
            serde_json::from_str(json).map_err(|error| FixturesError::Json {
                line: error.line(),
                column: error.column(),
                message: error.to_string(),
            })?;
        let mut entries = BTreeMap::new();
        for (table, list) in tables {
            for (index, entry) in list.into_iter().enumerate() {
                let bad = |reason: &str| FixturesError::Entry {
                    table: table.clone(),
                    index,
                    reason: reason.to_owned(),
                };
                let answer = match (entry.item, entry.dynamodb_item, entry.failure) {
                    (Some(item), None, None) => {
                        let text = serde_json::to_string(&item).unwrap_or_default();
                        Answer::Item(
                            LookupItem::from_json(&text)
                                .map_err(|error| bad(&error.to_string()))?,
                        )
                    }
                    (None, Some(item), None) => Answer::Item(LookupItem::from_attributes(&item)),
                    (None, None, Some(FailureKind::Throttled)) => Answer::Failure(
                        LookupFailure::Throttled("throttled by the fixtures".into()),
                    ),
                    (None, None, Some(FailureKind::Unavailable)) => Answer::Failure(
                        LookupFailure::Unavailable("unavailable by the fixtures".into()),
                    ),
                    _ => return Err(bad("give exactly one of item, Item or failure")),
                };
                if entry.key.is_empty() {
                    return Err(bad("the key needs at least one attribute"));
                }
                let key = entry
                    .key
                    .into_iter()
                    .map(|(name, value)| {
                        let text = match value {
                            KeyText::Text(text) => text,
                            KeyText::Number(number) => number.to_string(),
                        };
                        (name, text)
                    })
                    .collect();
                if entries.insert((table.clone(), key), answer).is_some() {
                    return Err(bad("another entry of this table has the same key"));
                }
            }
        }
        Ok(Self { entries })
    }

    /// Whether an entry answers `request` (with an item or a failure).
    #[must_use]
    pub fn answers(&self, request: &LookupRequest) -> bool {
        self.entries.contains_key(&Self::key_of(request))
    }

    /// The answer to `request`: its entry's item or failure, else "not found".
    #[must_use]
    pub fn answer_to(&self, request: &LookupRequest) -> LookupAnswer {
        match self.entries.get(&Self::key_of(request)) {
            Some(Answer::Item(item)) => LookupAnswer::Found(item.clone()),
            Some(Answer::Failure(failure)) => LookupAnswer::Failed(failure.clone()),
            None => LookupAnswer::NotFound,
        }
    }

    fn key_of(request: &LookupRequest) -> (String, BTreeMap<String, String>) {
        (request.table.clone(), request.key_as_text())
    }
}

impl LookupSource for LookupFixtures {
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer {
        self.answer_to(request)
    }
}

impl LookupSource for &LookupFixtures {
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer {
        self.answer_to(request)
    }
}
