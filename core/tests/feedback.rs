//! Properties of SES feedback: the ledger's status and history come out the same whatever
//! order, grouping and repetition notifications arrive in, and reading never panics, on any
//! text and on the fixtures mutated, while every invariant of the `feedback_body` fuzz target
//! holds (`fuzz/src/feedback_invariants.rs` is compiled in; the target's seeds and past crashes
//! are replayed on stable by `core/tests/fuzz_regressions.rs`, with the other targets').

#[path = "../../fuzz/src/feedback_invariants.rs"]
mod feedback_invariants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailroom_core::Timestamp;
use mailroom_core::feedback::{
    AddressEntry, BounceType, DeliveryStatus, EmailEntry, Feedback, FeedbackEnvelope,
    FeedbackError, FeedbackEvent, FeedbackOrigin, History, HistoryEntry, LedgerLimits,
    MailroomTags, RecipientReport, SuppressionPolicy, SuppressionReason,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};

const BASE_MS: i64 = 1_795_428_000_000; // 2026-11-23T10:00:00Z

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

// --- Generated events ------------------------------------------------------------------------

/// Few distinct values, so that events share recipients and timestamps tie.
fn address() -> impl Strategy<Value = String> {
    select(vec![
        "ana@example.com",
        "Ana@Example.com",
        "bob@example.net",
        "not an address",
    ])
    .prop_map(str::to_owned)
}

fn time() -> impl Strategy<Value = Option<Timestamp>> {
    prop::option::of((0i64..4).prop_map(|s| Timestamp::from_millis(BASE_MS + s * 1000)))
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(vec![
        "General", "abuse", "not-spam", "Not-Spam", "5.1.1", "",
    ]))
    .prop_map(|t| t.map(str::to_owned))
}

fn report() -> impl Strategy<Value = RecipientReport> {
    (address(), text(), text()).prop_map(|(address, action, status)| RecipientReport {
        address,
        action,
        status,
        diagnostic_code: None,
    })
}

fn event() -> impl Strategy<Value = FeedbackEvent> {
    let bounce_type = select(vec![
        BounceType::Transient,
        BounceType::Undetermined,
        BounceType::Permanent,
    ]);
    prop_oneof![
        Just(FeedbackEvent::Send),
        (prop::collection::vec(address(), 0..3), time(), text()).prop_map(
            |(recipients, timestamp, smtp_response)| FeedbackEvent::Delivery {
                recipients,
                timestamp,
                smtp_response,
                processing_time_ms: Some(12),
                reporting_mta: None,
            }
        ),
        (
            bounce_type,
            text(),
            prop::collection::vec(report(), 0..3),
            time()
        )
            .prop_map(|(bounce_type, sub_type, recipients, timestamp)| {
                FeedbackEvent::Bounce {
                    bounce_type,
                    sub_type,
                    recipients,
                    timestamp,
                    feedback_id: None,
                    reporting_mta: None,
                }
            }),
        (prop::collection::vec(address(), 0..3), text(), time()).prop_map(
            |(recipients, feedback_type, timestamp)| FeedbackEvent::Complaint {
                recipients,
                feedback_type,
                sub_type: None,
                timestamp,
                feedback_id: None,
            }
        ),
        text().prop_map(|reason| FeedbackEvent::Reject { reason }),
        (prop::collection::vec(report(), 0..3), time()).prop_map(|(recipients, timestamp)| {
            FeedbackEvent::DeliveryDelay {
                delay_type: None,
                recipients,
                expiration_time: None,
                timestamp,
            }
        }),
        text().prop_map(|template_name| FeedbackEvent::RenderingFailure {
            template_name,
            error_message: None,
        }),
        time().prop_map(|timestamp| FeedbackEvent::Open { timestamp }),
        (text(), time()).prop_map(|(link, timestamp)| FeedbackEvent::Click {
            link,
            link_tags: BTreeMap::new(),
            timestamp,
        }),
        time().prop_map(|timestamp| FeedbackEvent::Subscription {
            contact_list: None,
            source: None,
            unsubscribe_all: Some(true),
            opted_out_topics: Vec::new(),
            timestamp,
        }),
        select(vec!["Quarantine", "Send2"]).prop_map(|n| FeedbackEvent::Unknown(n.into())),
    ]
}

fn feedback() -> impl Strategy<Value = Feedback> {
    (
        event(),
        select(vec!["ses-1", "ses-2"]),
        prop::collection::vec(address(), 0..3),
        select(vec![None, Some("welcome"), Some("orders")]),
    )
        .prop_map(|(event, id, destination, route)| Feedback {
            envelope: FeedbackEnvelope::Raw,
            origin: FeedbackOrigin::EventPublishing,
            sns_message_id: None,
            ses_message_id: id.into(),
            sent_at: Timestamp::from_millis(BASE_MS),
            source: None,
            destination,
            tags: MailroomTags {
                route: route.map(str::to_owned),
                ..MailroomTags::default()
            },
            event,
        })
}

/// A deterministic shuffle of `items`, each twice (at-least-once delivery), from `seed`.
fn shuffled_twice<T: Clone>(items: &[T], mut seed: u64) -> Vec<T> {
    let mut shuffled: Vec<T> = items.iter().chain(items).cloned().collect();
    for i in (1..shuffled.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        shuffled.swap(i, (seed >> 33) as usize % (i + 1));
    }
    shuffled
}

fn email_entry<'a>(
    feedbacks: impl IntoIterator<Item = &'a Feedback>,
    limits: LedgerLimits,
) -> EmailEntry {
    feedbacks
        .into_iter()
        .fold(EmailEntry::default(), |entry, feedback| {
            EmailEntry::updated(Some(entry), feedback, limits)
        })
}

/// Every ordering of `0..n` (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, items: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let swap = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(swap, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

/// A ledger of many notifications: the join of the statuses each recipient got.
fn ledger<'a>(
    feedbacks: impl IntoIterator<Item = &'a Feedback>,
) -> BTreeMap<String, DeliveryStatus> {
    let mut ledger = BTreeMap::new();
    for feedback in feedbacks {
        for (address, status) in feedback.recipient_statuses() {
            ledger
                .entry(address)
                .and_modify(|known: &mut DeliveryStatus| *known = known.merge(status))
                .or_insert(status);
        }
    }
    ledger
}

fn history_of(entries: &[HistoryEntry], limit: usize) -> History {
    entries.iter().fold(History::new(), |history, entry| {
        history.record(entry.clone(), limit)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn merge_is_a_join_semilattice(
        a in select(DeliveryStatus::ALL.to_vec()),
        b in select(DeliveryStatus::ALL.to_vec()),
        c in select(DeliveryStatus::ALL.to_vec()),
    ) {
        prop_assert_eq!(a.merge(b), b.merge(a));
        prop_assert_eq!(a.merge(b).merge(c), a.merge(b.merge(c)));
        prop_assert_eq!(a.merge(a), a);
        // The join is the least upper bound.
        let join = a.merge(b);
        prop_assert!(join >= a && join >= b && (join == a || join == b));
        prop_assert_eq!(DeliveryStatus::merge_all([c, b, a]), Some(a.merge(b).merge(c)));
    }

    #[test]
    fn every_order_of_events_gives_the_same_status(events in prop::collection::vec(event(), 0..6)) {
        let statuses: Vec<Option<DeliveryStatus>> = events.iter().map(FeedbackEvent::status).collect();
        let fold = |order: &[usize]| order.iter().fold(None, |acc, &i| acc.max(statuses[i]));
        let expected = fold(&(0..events.len()).collect::<Vec<_>>());
        for order in permutations(events.len()) {
            prop_assert_eq!(fold(&order), expected, "order {:?}", order);
        }
        // Every event repeated (at-least-once delivery) changes nothing.
        let twice: Vec<usize> = (0..events.len()).chain(0..events.len()).collect();
        prop_assert_eq!(fold(&twice), expected);
    }

    #[test]
    fn a_ledger_is_the_same_in_any_arrival_order_with_repeats(
        feedbacks in prop::collection::vec(feedback(), 0..8),
        order in any::<u64>(),
    ) {
        let expected = ledger(&feedbacks);
        let mut shuffled = feedbacks.clone();
        // A deterministic shuffle from the generated seed, with every notification twice.
        shuffled.extend(feedbacks.iter().cloned());
        let mut seed = order;
        for i in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(ledger(&shuffled), expected.clone());
        // Two hosts' ledgers merged equal one host's.
        let (left, right) = feedbacks.split_at(feedbacks.len() / 2);
        let mut merged = ledger(left);
        for (address, status) in ledger(right) {
            merged.entry(address).and_modify(|known| *known = known.merge(status)).or_insert(status);
        }
        prop_assert_eq!(merged, expected);
    }

    #[test]
    fn an_email_entry_is_the_same_in_any_arrival_order_with_repeats_or_split_between_writers(
        feedbacks in prop::collection::vec(feedback(), 0..8),
        order in any::<u64>(),
        limit in 1usize..6,
    ) {
        let limits = LedgerLimits { email_history: limit, ..LedgerLimits::default() };
        let expected = email_entry(&feedbacks, limits);
        prop_assert_eq!(email_entry(&shuffled_twice(&feedbacks, order), limits), expected.clone());
        // Two writers that each applied some notifications, merged: the same entry.
        let (left, right) = feedbacks.split_at(feedbacks.len() / 2);
        let merged = email_entry(left, limits).merge(email_entry(right, limits), limits);
        prop_assert_eq!(&merged, &expected);
        // The overall status is the join of the events', each recipient's the join of theirs.
        prop_assert_eq!(expected.status, feedbacks.iter().filter_map(|f| f.event.status()).max());
        prop_assert_eq!(&expected.recipients, &ledger(&feedbacks));
        prop_assert!(expected.history.entries().len() <= limit);
        prop_assert_eq!(expected.ses_has_it(), !feedbacks.is_empty());
    }

    #[test]
    fn a_hard_bounce_or_complaint_suppresses_an_address_for_good_in_any_order(
        feedbacks in prop::collection::vec(feedback(), 0..8),
        order in any::<u64>(),
    ) {
        let now = Timestamp::from_millis(BASE_MS + 60_000);
        let policy = SuppressionPolicy::default();
        let limits = LedgerLimits::default();
        let address = "ana@example.com";
        let entry = |feedbacks: &[Feedback]| {
            feedbacks.iter().fold(AddressEntry::default(), |entry, feedback| {
                AddressEntry::updated(Some(entry), address, feedback, &policy, now, limits)
            })
        };
        let for_good = |entry: &AddressEntry| {
            entry.suppression.as_ref().is_some_and(|s| {
                s.expires_at.is_none()
                    && matches!(s.reason, SuppressionReason::PermanentBounce | SuppressionReason::Complaint)
            })
        };
        let hard = feedbacks.iter().any(|f| {
            f.recipient_statuses().iter().any(|(a, status)| {
                a == address
                    && matches!(status, DeliveryStatus::Bounced(BounceType::Permanent) | DeliveryStatus::Complained)
            })
        });
        for arrival in [feedbacks.clone(), shuffled_twice(&feedbacks, order)] {
            let entry = entry(&arrival);
            prop_assert_eq!(for_good(&entry), hard);
            prop_assert_eq!(entry.is_suppressed(now), entry.suppression.is_some());
        }
    }

    #[test]
    fn histories_keep_the_last_distinct_entries_whatever_the_order_or_grouping(
        feedbacks in prop::collection::vec(feedback(), 0..10),
        limit in 0usize..6,
        split in any::<Index>(),
        permutation in any::<u64>(),
    ) {
        let entries: Vec<HistoryEntry> = feedbacks.iter().map(HistoryEntry::of).collect();
        let history = history_of(&entries, limit);

        // The greatest `limit` distinct entries, oldest first.
        let mut distinct = entries.clone();
        distinct.sort();
        distinct.dedup();
        let expected = &distinct[distinct.len().saturating_sub(limit)..];
        prop_assert_eq!(history.entries(), expected);

        let mut shuffled = entries.clone();
        let mut seed = permutation;
        for i in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(&history_of(&shuffled, limit), &history);

        let cut = if entries.is_empty() { 0 } else { split.index(entries.len() + 1) };
        let (left, right) = entries.split_at(cut);
        let (left, right) = (history_of(left, limit), history_of(right, limit));
        prop_assert_eq!(&left.clone().merge(right.clone(), limit), &history);
        prop_assert_eq!(&right.clone().merge(left.clone(), limit), &history);
        prop_assert_eq!(&history.clone().merge(history.clone(), limit), &history);
        prop_assert_eq!(&history.clone().merge(left, limit), &history);
    }
}

// --- Parsing never panics ---------------------------------------------------------------------

/// Every fixture text: the notifications and their envelopes.
fn fixture_texts() -> &'static [String] {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(|| {
        let mut texts = Vec::new();
        for folder in ["notifications", "sns", "lambda-sns"] {
            let dir = repo().join("tests/fixtures/ses-feedback").join(folder);
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
            paths.sort();
            texts.extend(
                paths
                    .iter()
                    .map(|path| std::fs::read_to_string(path).unwrap()),
            );
        }
        assert!(texts.len() >= 60, "only {} fixture texts", texts.len());
        texts
    })
}

/// The notifications only, parsed.
fn fixture_notifications() -> &'static [Value] {
    static VALUES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    VALUES.get_or_init(|| {
        fixture_texts()
            .iter()
            .map(|text| serde_json::from_str::<Value>(text).unwrap())
            .filter(|value| {
                value.get("eventType").is_some() || value.get("notificationType").is_some()
            })
            .collect()
    })
}

/// Paths to every value in `value`, as object keys and array indices.
fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(Step::Key(key.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(Step::Index(index));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn at_path<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()),
        Step::Index(index) => value.get_mut(*index),
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Index, Value),
    Remove(Index),
    Truncate(Index),
    Splice(Index, String),
}

/// JSON values that sit badly where SES puts others.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(vec![
            "",
            "Permanent",
            "Transient",
            "Bounce",
            "Complaint",
            "Rendering Failure",
            "not-spam",
            "2026-11-23T10:00:00Z",
            "0000-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59.999-23:59",
            "ANA@EXAMPLE.COM",
            "a@b\r\nBcc: c@d.example",
            "Notification",
            "{\"eventType\":\"Send\"}",
        ])
        .prop_map(|s| Value::String(s.into())),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!(["x@example.com", 1, null])),
        Just(json!([{"emailAddress": "Z@Example.com"}])),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), odd_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), "[{}\\[\\]\",:0-9a-z\\\\]{1,6}").prop_map(|(i, s)| Mutation::Splice(i, s)),
    ]
}

/// The notification with the mutations applied, as a body in one of the envelopes.
fn mutated(notification: &Value, mutations: &[Mutation], envelope: u8) -> String {
    let mut value = notification.clone();
    let mut text = None;
    for mutation in mutations {
        let mut all = Vec::new();
        paths(&value, &mut Vec::new(), &mut all);
        match mutation {
            Mutation::Replace(index, replacement) => {
                let path = index.get(&all).clone();
                if let Some(target) = at_path(&mut value, &path) {
                    *target = replacement.clone();
                }
            }
            Mutation::Remove(index) => {
                let path = index.get(&all);
                if let Some((Step::Key(key), parent)) = path.split_last()
                    && let Some(Value::Object(map)) = at_path(&mut value, parent)
                {
                    map.remove(key);
                }
            }
            // Text mutations come last: after them the notification is no longer JSON.
            Mutation::Truncate(index) => {
                let full = text.take().unwrap_or_else(|| value.to_string());
                let cut = full
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(index.index(full.chars().count().max(1)))
                    .unwrap_or(0);
                text = Some(full[..cut].to_owned());
            }
            Mutation::Splice(index, insert) => {
                let mut full = text.take().unwrap_or_else(|| value.to_string());
                let at = full
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(index.index(full.chars().count().max(1)))
                    .unwrap_or(0);
                full.insert_str(at, insert);
                text = Some(full);
            }
        }
    }
    let message = text.unwrap_or_else(|| value.to_string());
    let sns = json!({"Type": "Notification", "MessageId": "m-sns", "Message": message});
    match envelope % 3 {
        0 => message,
        1 => sns.to_string(),
        _ => json!({"Records": [{"EventSource": "aws:sns", "Sns": sns}]}).to_string(),
    }
}

/// Adds a field named as SES names none today to an object at `path` (not inside a map of
/// tags, where a new name is a new tag).
fn with_new_field(notification: &Value, index: Index, field: &str, extra: Value) -> Option<Value> {
    let mut value = notification.clone();
    let mut all = Vec::new();
    paths(&value, &mut Vec::new(), &mut all);
    let objects: Vec<&Vec<Step>> = all
        .iter()
        .filter(|path| {
            !path
                .iter()
                .any(|step| matches!(step, Step::Key(key) if key == "linkTags"))
        })
        .filter(|path| {
            matches!(
                at_path(&mut notification.clone(), path),
                Some(Value::Object(_))
            )
        })
        .collect();
    let path = (*index.get(&objects)).clone();
    if let Some(Value::Object(map)) = at_path(&mut value, &path) {
        map.insert(format!("future_{field}"), extra);
        return Some(value);
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_text_is_read_without_panic_and_keeps_every_invariant(text in any::<String>()) {
        prop_assert_eq!(feedback_invariants::check_body(&text), Ok(()));
    }

    #[test]
    fn json_like_text_is_read_without_panic_and_keeps_every_invariant(
        tokens in prop::collection::vec(select(vec![
            "{", "}", "[", "]", ",", ":", "\"eventType\"", "\"notificationType\"", "\"mail\"",
            "\"messageId\"", "\"timestamp\"", "\"2026-11-23T10:00:00Z\"", "\"Bounce\"", "\"bounce\"",
            "\"bouncedRecipients\"", "\"emailAddress\"", "\"a@example.com\"", "\"Type\"",
            "\"Notification\"", "\"Message\"", "\"Records\"", "\"Sns\"", "null", "1", "\"\"",
        ]), 0..48),
    ) {
        let text: String = tokens.concat();
        prop_assert_eq!(feedback_invariants::check_body(&text), Ok(()));
    }

    #[test]
    fn mutated_fixtures_are_read_without_panic_and_keep_every_invariant(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
        envelope in any::<u8>(),
    ) {
        let notification = which.get(fixture_notifications());
        let body = mutated(notification, &mutations, envelope);
        prop_assert_eq!(feedback_invariants::check_body(&body), Ok(()), "{}", body);
    }

    #[test]
    fn unknown_fields_anywhere_change_nothing(
        which in any::<Index>(),
        place in any::<Index>(),
        field in "[a-z]{1,8}",
        extra in odd_value(),
    ) {
        let notification = which.get(fixture_notifications());
        let expected = Feedback::parse(&notification.to_string()).unwrap();
        let widened = with_new_field(notification, place, &field, extra).unwrap();
        prop_assert_eq!(Feedback::parse(&widened.to_string()), Ok(expected));
    }
}

#[test]
fn every_fixture_text_keeps_every_invariant() {
    for text in fixture_texts() {
        assert_eq!(feedback_invariants::check_body(text), Ok(()), "{text}");
        assert!(Feedback::parse(text).is_ok());
    }
}

/// The checks must be able to fail, or passing them proves nothing.
#[test]
fn the_invariants_catch_what_they_are_meant_to_catch() {
    let body = &fixture_texts()[0];
    let feedback = Feedback::parse(body).unwrap();
    assert_eq!(feedback_invariants::check_feedback(body, &feedback), Ok(()));

    // A feedback that the SNS envelope would read differently.
    let mut other = feedback.clone();
    other.ses_message_id.push('x');
    assert!(feedback_invariants::check_feedback(body, &other).is_err());
    let mut empty = feedback.clone();
    empty.ses_message_id.clear();
    assert!(feedback_invariants::check_feedback(body, &empty).is_err());
    // A feedback whose timestamps cannot be written back.
    let mut unwritable = feedback;
    unwritable.sent_at = Timestamp::from_millis(i64::MIN);
    assert!(feedback_invariants::check_feedback(body, &unwritable).is_err());

    let long = FeedbackError::InvalidField {
        field: "mail",
        reason: "x".repeat(1000),
    };
    assert!(feedback_invariants::check_error(&long).is_err());
    assert!(feedback_invariants::check_error(&FeedbackError::NotANotification).is_ok());
}
