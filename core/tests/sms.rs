//! SMS as a second channel, through the batch protocol as every host drives it: one record can
//! send an email and a text, each with its own key and outcome; a record is acknowledged only
//! when both went, and a redelivery sends only what is missing.

use std::collections::{BTreeMap, BTreeSet};

use mailroom_core::{
    Channel, Config, Disposition, Mailroom, Message, NoLookups, Reason, SendFailure, SendOutcome,
    SqsEvent, TemplateSet, Timestamp,
};
use proptest::prelude::*;

const NOW: i64 = 1_795_428_000_000;

fn routes(sms: &str) -> String {
    format!(
        r#"{{ "sender": "Shop <shop@example.com>", "routes": [
            {{ "name": "order", "events": ["*"], "template": "order.html",
               "subject": "Order {{{{ orderId }}}}", "recipient": "email" {sms} }} ] }}"#
    )
}

fn mailroom(sms: &str) -> Mailroom {
    let config = Config::resolve(Some(&routes(sms)), |_| None).unwrap();
    let mut templates = TemplateSet::new();
    templates.insert("order.html", "<p>Order {{ orderId }}</p>");
    templates.insert(
        "order.sms.txt",
        "{{ text | default('Order ' ~ orderId ~ ' received') }}\n",
    );
    Mailroom::new(config, &templates).unwrap()
}

const TEXTS: &str =
    r#", "sms": { "template": "order.sms.txt", "phone": "phone", "maxSegments": 2 }"#;

fn event(records: &[(&str, serde_json::Value)], receive_count: u32) -> SqsEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(id, body)| {
            serde_json::json!({
                "messageId": id, "receiptHandle": format!("h-{id}"), "body": body.to_string(),
                "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn order(id: &str, phone: &str) -> serde_json::Value {
    serde_json::json!({"eventId": format!("evt-{id}"), "orderId": id, "email": "ana@example.com", "phone": phone})
}

/// An idempotency store as the Lambda's behaves: a key completed once answers `AlreadySent`.
#[derive(Default)]
struct Store {
    completed: BTreeMap<String, String>,
    /// Every message really sent, by key.
    sent: Vec<String>,
}

impl Store {
    /// Sends `message` unless its key is completed; `provider` is what the provider answers.
    fn send(&mut self, message: &Message, provider: SendOutcome) -> SendOutcome {
        let key = message.idempotency_key().to_owned();
        if let Some(id) = self.completed.get(&key) {
            return SendOutcome::AlreadySent {
                message_id: Some(id.clone()),
            };
        }
        if let SendOutcome::Accepted { message_id } = &provider {
            self.completed.insert(key.clone(), message_id.clone());
            self.sent.push(key);
        }
        provider
    }
}

fn throttled() -> SendOutcome {
    SendOutcome::Failed(SendFailure::new("Throttling", "Rate exceeded", Some(400)))
}

fn accepted(channel: Channel) -> SendOutcome {
    SendOutcome::Accepted {
        message_id: format!("{channel}-1"),
    }
}

/// Runs one delivery; `answer` gives the provider's answer for each channel.
fn deliver(
    mailroom: &Mailroom,
    store: &mut Store,
    receive_count: u32,
    body: &serde_json::Value,
    answer: &dyn Fn(Channel) -> SendOutcome,
) -> (Disposition, Vec<Channel>) {
    let mut batch = mailroom
        .start_batch(
            event(&[("m-1", body.clone())], receive_count),
            Timestamp::from_millis(NOW),
            7,
        )
        .unwrap();
    let mut handed_out = Vec::new();
    while let Some(send) = batch.next_send() {
        handed_out.push(send.id.channel());
        let outcome = store.send(&send.message, answer(send.id.channel()));
        batch.complete_send(send.id, outcome).unwrap();
    }
    let report = batch.finish();
    (report.records[0].disposition.clone(), handed_out)
}

#[test]
fn a_route_with_an_sms_block_hands_out_an_email_and_a_text_with_their_own_keys() {
    let body = order("o-1", "+49 151 1234 5678");
    let plain = mailroom("").decide(
        &event(&[("m-1", body.clone())], 1).records[0],
        Timestamp::from_millis(NOW),
        7,
        &mut NoLookups,
    );
    let mailroom_core::Decision::Send {
        email: plain_email,
        sms: None,
    } = plain.decision
    else {
        panic!("an email-only route sends no text: {plain:?}");
    };
    let mut batch = mailroom(TEXTS)
        .start_batch(event(&[("m-1", body)], 1), Timestamp::from_millis(NOW), 7)
        .unwrap();
    let first = batch.next_send().unwrap();
    let second = batch.next_send().unwrap();
    assert!(batch.next_send().is_none());
    let (email, sms) = (first.email().unwrap(), second.sms().unwrap());
    // The email's key is what it was before the route texted: stored keys keep working.
    assert_eq!(email.idempotency_key(), plain_email.idempotency_key());
    assert_eq!(
        sms.idempotency_key(),
        format!("{}:sms", email.idempotency_key())
    );
    assert_eq!(sms.to().as_str(), "+4915112345678");
    // The template's final newline is not sent.
    assert_eq!(sms.text(), "Order o-1 received");
    assert_eq!(
        (sms.encoding(), sms.segments()),
        (mailroom_core::sms::Encoding::Gsm7, 1)
    );
    assert_eq!(first.id.record(), second.id.record());
    batch
        .complete_send(second.id, accepted(Channel::Sms))
        .unwrap();
    // Answering the same channel twice is refused.
    assert!(
        batch
            .complete_send(second.id, accepted(Channel::Sms))
            .is_err()
    );
    batch
        .complete_send(first.id, accepted(Channel::Email))
        .unwrap();
    let report = batch.finish();
    let Disposition::Sent {
        sms: Some(delivery),
        provider_message_id,
        ..
    } = &report.records[0].disposition
    else {
        panic!("{:?}", report.records[0].disposition);
    };
    assert_eq!(provider_message_id.as_deref(), Some("email-1"));
    assert_eq!(delivery.provider_message_id.as_deref(), Some("sms-1"));
    assert!(report.batch_response.batch_item_failures.is_empty());
}

#[test]
fn an_email_sent_and_a_text_throttled_is_retried_and_only_the_text_goes_on_redelivery() {
    let mailroom = mailroom(TEXTS);
    let body = order("o-2", "+14155550123");
    let mut store = Store::default();
    let (first, _) = deliver(&mailroom, &mut store, 1, &body, &|channel| match channel {
        Channel::Email => accepted(channel),
        Channel::Sms => throttled(),
    });
    assert_eq!(first.reason(), Some(Reason::Throttled), "{first:?}");
    assert!(first.is_failure());
    assert_eq!(store.sent.len(), 1, "the email went");
    let (second, handed_out) = deliver(&mailroom, &mut store, 2, &body, &accepted);
    assert_eq!(handed_out, [Channel::Email, Channel::Sms]);
    let Disposition::Sent {
        duplicate,
        sms: Some(delivery),
        ..
    } = &second
    else {
        panic!("{second:?}");
    };
    assert!(*duplicate, "the email was found sent, not sent again");
    assert!(!delivery.duplicate);
    assert_eq!(store.sent.len(), 2);
    assert!(store.sent[1].ends_with(":sms"));
}

#[test]
fn numbers_texts_and_opt_outs_the_core_refuses() {
    let mailroom = mailroom(TEXTS);
    let decide = |body: serde_json::Value| {
        let decision = mailroom.decide(
            &event(&[("m-1", body)], 1).records[0],
            Timestamp::from_millis(NOW),
            7,
            &mut NoLookups,
        );
        serde_json::to_value(&decision).unwrap()
    };
    let invalid = decide(order("o-3", "0151 1234 5678"));
    assert_eq!(
        (invalid["decision"].as_str(), invalid["reason"].as_str()),
        (Some("reject"), Some("invalid_recipient"))
    );
    let mut missing = order("o-3", "");
    missing["phone"] = serde_json::Value::Null;
    assert_eq!(decide(missing)["reason"], "missing_recipient");
    let mut number = order("o-3", "");
    number["phone"] = serde_json::json!(4915112345678_u64);
    assert_eq!(decide(number)["reason"], "invalid_recipient");
    // Three GSM-7 segments where the route allows two.
    let mut long = order("o-3", "+4915112345678");
    long["text"] = serde_json::json!("x".repeat(400));
    let refused = decide(long);
    assert_eq!(refused["reason"], "sms_too_long");
    assert_eq!(
        refused["detail"],
        "the SMS cannot be sent: the text takes 3 segments (GSM-7, 400 characters); the route allows at most 2"
    );

    // Opted out: the host says so, the core classifies it; the email that went stays sent.
    let mut store = Store::default();
    let (disposition, _) = deliver(
        &mailroom,
        &mut store,
        1,
        &order("o-4", "+14155550199"),
        &|channel| match channel {
            Channel::Email => accepted(channel),
            Channel::Sms => {
                SendOutcome::Failed(SendFailure::new("OptedOut", "the number opted out", None))
            }
        },
    );
    assert_eq!(disposition.reason(), Some(Reason::OptedOut));
    assert_eq!(disposition.kind(), "reject");
}

#[test]
fn sms_settings_follow_the_precedence_route_file_variables() {
    let file = |top: &str, sms: &str| {
        format!(
            r#"{{ "sender": "a@example.com" {top}, "routes": [{{ "name": "r", "events": ["*"], "template": "t.html",
                "subject": "s", "recipient": "email", "sms": {{ "template": "t.txt", "phone": "phone" {sms} }} }}] }}"#
        )
    };
    let env = |name: &str| match name {
        "SMS_SENDER_ID" => Some("FromEnv".to_owned()),
        "SMS_TYPE" => Some("Promotional".to_owned()),
        _ => None,
    };
    let sms_of = |text: String| {
        let config = Config::resolve(Some(&text), env).unwrap();
        let sms = config.routes()[0].sms().unwrap().clone();
        (
            sms.sender_id().map(|id| id.as_str().to_owned()),
            sms.sms_type().as_str(),
            config.ignored_variables().to_vec(),
        )
    };
    assert_eq!(
        sms_of(file("", "")),
        (Some("FromEnv".into()), "Promotional", vec![])
    );
    assert_eq!(
        sms_of(file(
            r#", "smsSenderId": "FromFile", "smsType": "Transactional""#,
            ""
        )),
        (
            Some("FromFile".into()),
            "Transactional",
            vec!["SMS_SENDER_ID", "SMS_TYPE"]
        )
    );
    assert_eq!(
        sms_of(file(
            r#", "smsSenderId": "FromFile""#,
            r#", "senderId": "Route1", "smsType": "transactional""#
        ))
        .0,
        Some("Route1".into())
    );
    let refused = |sms: &str| {
        Config::resolve(Some(&file("", sms)), |_| None)
            .unwrap_err()
            .to_string()
    };
    assert!(refused(r#", "senderId": "12345""#).contains("routes[0].sms.senderId"));
    assert!(refused(r#", "maxSegments": 11"#).contains("routes[0].sms.maxSegments"));
    assert!(refused(r#", "smsType": "Urgent""#).contains("routes[0].sms.smsType"));
    let html = file("", "").replace("\"t.txt\"", "\"t.html\"");
    assert!(
        Config::resolve(Some(&html), |_| None)
            .unwrap_err()
            .to_string()
            .contains("routes[0].sms.template")
    );
}

/// Segments as a handset fills them, computed independently of the core: the GSM-7 alphabet
/// written out, each character's width, segments of 160/153 or 70/67 filled in order with no
/// character split.
fn reference_segments(text: &str) -> (bool, u32) {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENSION: &str = "\u{0C}^{}\\[~]|€";
    let gsm = text
        .chars()
        .all(|c| BASIC.contains(c) || EXTENSION.contains(c));
    let widths: Vec<usize> = text
        .chars()
        .map(|c| match (gsm, EXTENSION.contains(c)) {
            (true, true) => 2,
            (true, false) => 1,
            (false, _) => c.len_utf16(),
        })
        .collect();
    let (single, part) = if gsm { (160, 153) } else { (70, 67) };
    let total: usize = widths.iter().sum();
    if total == 0 {
        return (gsm, 0);
    }
    if total <= single {
        return (gsm, 1);
    }
    let (mut segments, mut used) = (1, 0);
    for width in widths {
        if used + width > part {
            segments += 1;
            used = 0;
        }
        used += width;
    }
    (gsm, segments)
}

fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        8 => proptest::sample::select("abc XYZ 019 .,!?@£ÄéΔ".chars().collect::<Vec<_>>()),
        2 => proptest::sample::select("€[]{}^~|\\".chars().collect::<Vec<_>>()),
        1 => proptest::sample::select("’çł🎉😀中".chars().collect::<Vec<_>>()),
    ];
    proptest::collection::vec(pieces, 1..700).prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the event's text, the record's decision counts its segments as the reference
    /// does, and sends it exactly when the route allows that many.
    #[test]
    fn the_composed_text_counts_segments_as_the_reference_and_keeps_the_limit(text in text_strategy()) {
        let mailroom = mailroom(TEXTS);
        let mut body = order("o-p", "+4915112345678");
        body["text"] = serde_json::json!(text);
        let decision = mailroom.decide(
            &event(&[("m-1", body)], 1).records[0],
            Timestamp::from_millis(NOW),
            7,
            &mut NoLookups,
        );
        let sent = mailroom_core::sms::message_text(&text);
        let (gsm, segments) = reference_segments(&sent);
        match decision.decision {
            mailroom_core::Decision::Send { sms: Some(sms), .. } => {
                prop_assert!((1..=2).contains(&segments));
                prop_assert_eq!(sms.segments(), segments);
                prop_assert_eq!(sms.encoding() == mailroom_core::sms::Encoding::Gsm7, gsm);
            }
            mailroom_core::Decision::Reject { reason, .. } => {
                prop_assert!(segments > 2 || segments == 0, "{segments} segments rejected");
                prop_assert!(matches!(reason, Reason::SmsTooLong | Reason::SmsEmpty));
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    /// Over any sequence of deliveries in which each channel's provider may throttle, fail or
    /// accept, every message is really sent at most once, a record is acknowledged exactly when
    /// both messages have been sent, and a redelivery only sends what is still missing.
    #[test]
    fn a_partially_sent_record_re_sends_only_what_is_missing(
        answers in proptest::collection::vec((0..3_u8, 0..3_u8), 1..6)
    ) {
        let mailroom = mailroom(TEXTS);
        let body = order("o-q", "+4915112345678");
        let mut store = Store::default();
        for (delivery, (email, sms)) in answers.iter().enumerate() {
            let before: BTreeSet<String> = store.completed.keys().cloned().collect();
            let answer = |channel: Channel| match (channel, if channel == Channel::Email { email } else { sms }) {
                (_, 0) => accepted(channel),
                (_, 1) => throttled(),
                _ => SendOutcome::Failed(SendFailure::new("InternalError", "", Some(500))),
            };
            let sent_before = store.sent.len();
            let receive = u32::try_from(delivery).unwrap() + 1;
            let (disposition, _) = deliver(&mailroom, &mut store, receive, &body, &answer);
            // Only keys not completed before were sent now.
            for key in &store.sent[sent_before..] {
                prop_assert!(!before.contains(key), "{key} sent twice");
            }
            let both = store.completed.len() == 2;
            prop_assert_eq!(!disposition.is_failure(), both, "{:?}", disposition);
            if both {
                break;
            }
        }
        let unique: BTreeSet<&String> = store.sent.iter().collect();
        prop_assert_eq!(unique.len(), store.sent.len());
    }
}
