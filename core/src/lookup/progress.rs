//! A record's lookups while its batch waits for answers, and the batch's table of requests.

use std::collections::BTreeMap;

use super::{
    AttributeValue, Item, KeyKind, LOOKUP_NAME, Lookup, LookupAnswer, LookupFailure, LookupId,
    LookupPurpose, LookupRequest, OnMissing, SUPPRESSION_LOOKUP,
};
use crate::error::{MessageFault, ServiceFault};
use crate::json::{JsonKind, JsonRef};

/// The state of one record's lookups while its batch waits for answers.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    pub slots: Vec<Slot>,
    /// Optional (`skip`) lookups left out because their key could not be made, with the
    /// field it lacked: previews show them.
    pub unkeyed: Vec<(usize, String)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// Not asked yet: waits for the lookups its key reads.
    Unasked,
    /// Asked; the answer is pending.
    Asked,
    /// Answered with an item.
    Found(JsonRef),
    /// Not found, and `onMissing` is `skip`.
    Skipped,
    /// The answer decides the record (not found, failed); which of several such answers
    /// decides it does not depend on the order they came in (see [`Progress::decision`]).
    Failed(Fault),
}

impl Progress {
    pub fn new(count: usize) -> Self {
        Self {
            slots: vec![Slot::Unasked; count],
            unkeyed: Vec::new(),
        }
    }

    /// Leaves lookup `index` out (a preview going on without it).
    pub fn skip(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Slot::Skipped;
        }
    }

    /// The name of an asked lookup still unanswered.
    pub fn unanswered<'a>(&self, lookups: &'a [Lookup]) -> Option<&'a str> {
        lookups
            .iter()
            .zip(&self.slots)
            .find(|(_, slot)| matches!(slot, Slot::Asked))
            .map(|(lookup, _)| lookup.name.as_str())
    }

    /// Whether any asked lookup is unanswered.
    pub fn waiting(&self) -> bool {
        self.slots.iter().any(|slot| matches!(slot, Slot::Asked))
    }

    /// The results so far, as templates see them under [`LOOKUP_NAME`].
    pub fn results(&self, lookups: &[Lookup]) -> minijinja::Value {
        let map: BTreeMap<String, minijinja::Value> = lookups
            .iter()
            .zip(&self.slots)
            .filter_map(|(lookup, slot)| match slot {
                Slot::Found(item) => Some((lookup.name.clone(), item.to_value())),
                _ => None,
            })
            .collect();
        minijinja::Value::from_object(map)
    }

    /// What the answers decide once none is pending: a reject if any lookup's answer rejects
    /// (the data will not appear, whatever the other reads say), else a retry if any failed,
    /// the first in declaration order in each case, so hosts that answer in different orders
    /// decide alike.
    pub fn decision(&self) -> Option<Fault> {
        let failed = || {
            self.slots.iter().filter_map(|slot| match slot {
                Slot::Failed(fault) => Some(fault),
                _ => None,
            })
        };
        failed()
            .find(|fault| matches!(fault, Fault::Message(_)))
            .or_else(|| failed().next())
            .cloned()
    }

    /// What lookup `index`'s answer decides for the record, if anything (for previews).
    pub fn failure(&self, index: usize) -> Option<&Fault> {
        match self.slots.get(index) {
            Some(Slot::Failed(fault)) => Some(fault),
            _ => None,
        }
    }

    /// Records the answer to lookup `index`.
    pub fn answer(
        &mut self,
        lookups: &[Lookup],
        index: usize,
        request: &LookupRequest,
        answer: LookupAnswer,
    ) {
        let Some(lookup) = lookups.get(index) else {
            return;
        };
        let slot = match Self::slot_for(lookup, request, answer) {
            Ok(slot) => slot,
            Err(fault) => Slot::Failed(fault),
        };
        if let Some(place) = self.slots.get_mut(index) {
            *place = slot;
        }
    }

    fn slot_for(
        lookup: &Lookup,
        request: &LookupRequest,
        answer: LookupAnswer,
    ) -> Result<Slot, Fault> {
        let slot = match answer {
            LookupAnswer::Found(item) => Slot::Found(item.0),
            LookupAnswer::NotFound => match lookup.on_missing {
                OnMissing::Skip => Slot::Skipped,
                OnMissing::Reject => {
                    return Err(Fault::Message(MessageFault::LookupMissing {
                        lookup: lookup.name.clone(),
                        table: request.table.clone(),
                        key: request.key_text(),
                    }));
                }
                OnMissing::Retry => {
                    return Err(Fault::Service(ServiceFault::LookupNotYetWritten {
                        lookup: lookup.name.clone(),
                        table: request.table.clone(),
                        key: request.key_text(),
                    }));
                }
            },
            LookupAnswer::Failed(failure) => {
                let (throttled, detail) = match failure {
                    LookupFailure::Throttled(detail) => (true, detail),
                    LookupFailure::Unavailable(detail) => (false, detail),
                };
                return Err(Fault::Service(ServiceFault::LookupFailed {
                    lookup: lookup.name.clone(),
                    detail,
                    throttled,
                }));
            }
        };
        Ok(slot)
    }
}

/// Whose fault a lookup's outcome is.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    Message(MessageFault),
    Service(ServiceFault),
}

/// Renders the keys of every lookup of `lookups` that is unasked and whose dependencies are
/// answered, marking them asked. `render(lookup, part, context)` renders one key template.
pub(crate) fn next_keys(
    lookups: &[Lookup],
    progress: &mut Progress,
    event: &JsonRef,
    mut render: impl FnMut(usize, usize, &minijinja::Value) -> Result<String, crate::TemplateFault>,
) -> Result<Vec<(usize, Item)>, Fault> {
    let mut keys = Vec::new();
    for (index, lookup) in lookups.iter().enumerate() {
        let unasked = matches!(progress.slots.get(index), Some(Slot::Unasked));
        let ready = lookup
            .depends_on
            .iter()
            .all(|&d| matches!(progress.slots.get(d), Some(Slot::Found(_) | Slot::Skipped)));
        if !unasked || !ready {
            continue;
        }
        let missing = lookup
            .key
            .iter()
            .flat_map(|part| &part.reads)
            .find(|path| !present(event, progress, lookups, path));
        if let Some(path) = missing {
            // A lookup the email can do without (`skip`) is left out when its key cannot be
            // made, as when its item is not found: an optional instructor whose course names
            // none. Any other rejects the record, naming the field.
            if lookup.on_missing == OnMissing::Skip {
                if let Some(slot) = progress.slots.get_mut(index) {
                    *slot = Slot::Skipped;
                }
                progress.unkeyed.push((index, path.clone()));
                continue;
            }
            return Err(Fault::Message(MessageFault::MissingField {
                field: path.clone(),
                lookup: lookup.name.clone(),
            }));
        }
        let mut key = Item::new();
        for (part_index, part) in lookup.key.iter().enumerate() {
            let context = key_context(event, progress, lookups);
            let rendered = render(index, part_index, &context)
                .map_err(|fault| Fault::Service(ServiceFault::Template(fault)))?;
            let value = match part.kind {
                KeyKind::String if rendered.is_empty() => None,
                KeyKind::String => Some(AttributeValue::S(rendered.clone())),
                KeyKind::Number => serde_json::from_str::<serde_json::Number>(rendered.trim())
                    .ok()
                    .map(|_| AttributeValue::N(rendered.trim().to_owned())),
            };
            let Some(value) = value else {
                return Err(Fault::Message(MessageFault::InvalidLookupKey {
                    lookup: lookup.name.clone(),
                    attribute: part.attribute.clone(),
                    value: rendered,
                }));
            };
            key.insert(part.attribute.clone(), value);
        }
        if let Some(slot) = progress.slots.get_mut(index) {
            *slot = Slot::Asked;
        }
        keys.push((index, key));
    }
    Ok(keys)
}

/// What a key template sees: the event's fields, and earlier results under [`LOOKUP_NAME`].
fn key_context(event: &JsonRef, progress: &Progress, lookups: &[Lookup]) -> minijinja::Value {
    crate::mailroom::template_context(
        event,
        minijinja::Value::UNDEFINED,
        Some(progress.results(lookups)),
    )
}

/// Whether `path` (an event field, or `lookup.<name>.<field>`) holds something a key can use:
/// not missing, null or an empty string.
fn present(event: &JsonRef, progress: &Progress, lookups: &[Lookup], path: &str) -> bool {
    let value = match path
        .strip_prefix(LOOKUP_NAME)
        .and_then(|r| r.strip_prefix('.'))
    {
        Some(rest) => {
            let (name, field) = rest.split_once('.').unwrap_or((rest, ""));
            lookups
                .iter()
                .position(|lookup| lookup.name == name)
                .and_then(|index| match progress.slots.get(index) {
                    Some(Slot::Found(item)) if field.is_empty() => Some(item.clone()),
                    Some(Slot::Found(item)) => item.at_path(field),
                    _ => None,
                })
        }
        None => event.at_path(path),
    };
    value.is_some_and(|value| match value.kind() {
        JsonKind::Null => false,
        JsonKind::String => value.as_str().is_some_and(|s| !s.is_empty()),
        _ => true,
    })
}

/// Resolves a recipient path that may point into lookup results.
pub(crate) fn at_path(
    event: &JsonRef,
    lookups: &[Lookup],
    progress: Option<&Progress>,
    path: &str,
) -> Option<JsonRef> {
    if !lookups.is_empty()
        && let Some(rest) = path
            .strip_prefix(LOOKUP_NAME)
            .and_then(|r| r.strip_prefix('.'))
    {
        let (name, field) = rest.split_once('.').unwrap_or((rest, ""));
        let index = lookups.iter().position(|lookup| lookup.name == name)?;
        return match progress?.slots.get(index)? {
            Slot::Found(item) if field.is_empty() => Some(item.clone()),
            Slot::Found(item) => item.at_path(field),
            _ => None,
        };
    }
    event.at_path(path)
}

/// The batch-wide table of lookup requests, deduplicated by table, key, consistency and
/// purpose (a suppression check may be answered by a condition rather than the item, so it
/// never stands in for a route's read of the same item).
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pub slots: Vec<RequestSlot>,
    by_key: BTreeMap<(String, String, bool, LookupPurpose), usize>,
}

#[derive(Debug)]
pub(crate) struct RequestSlot {
    pub request: LookupRequest,
    pub handed_out: bool,
    pub answered: bool,
    /// The records (entry positions) and their lookup positions waiting for this answer.
    pub waiters: Vec<(usize, usize)>,
}

impl Requests {
    /// The request for `key` of `lookup`, shared with any identical one; `waiter` waits for it.
    pub fn add(&mut self, tag: u32, lookup: &Lookup, key: Item, waiter: (usize, usize)) {
        let purpose = purpose_of(waiter.1);
        let dedupe = (
            lookup.table.clone(),
            canonical(&key),
            lookup.consistent_read,
            purpose,
        );
        if let Some(&slot) = self.by_key.get(&dedupe)
            && let Some(existing) = self.slots.get_mut(slot)
        {
            existing.request.cache_seconds =
                existing.request.cache_seconds.min(lookup.cache_seconds);
            existing.waiters.push(waiter);
            return;
        }
        let index = self.slots.len();
        self.by_key.insert(dedupe, index);
        self.slots.push(RequestSlot {
            request: LookupRequest {
                id: LookupId {
                    batch: tag,
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                },
                table: lookup.table.clone(),
                key,
                consistent_read: lookup.consistent_read,
                cache_seconds: lookup.cache_seconds,
                lookup: lookup.name.clone(),
                purpose,
            },
            handed_out: false,
            answered: false,
            waiters: vec![waiter],
        });
    }
}

/// What a read at lookup position `lookup` is for.
pub(crate) fn purpose_of(lookup: usize) -> LookupPurpose {
    if lookup == SUPPRESSION_LOOKUP {
        LookupPurpose::SuppressionCheck
    } else {
        LookupPurpose::Declared
    }
}

/// A key's identity for deduplication: every attribute with its type.
fn canonical(key: &Item) -> String {
    key.iter()
        .map(|(name, value)| match value {
            AttributeValue::S(text) => format!("{name}\u{0}S\u{0}{text}"),
            AttributeValue::N(text) => format!("{name}\u{0}N\u{0}{text}"),
            other => format!("{name}\u{0}?\u{0}{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}
