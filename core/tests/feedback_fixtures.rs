//! SES feedback read from the fixtures in `tests/fixtures/ses-feedback/` (written by its
//! `make_fixtures.py`, after the SES developer guide's examples): every notification is pinned
//! by an insta snapshot of what it parses to, the status it gives and what it suppresses; the
//! same notifications in SNS and Lambda envelopes read the same; unknown fields and types are
//! tolerated; malformed feedback gives the error that names its fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailroom_core::Timestamp;
use mailroom_core::feedback::{
    BounceType, DeliveryStatus, Feedback, FeedbackEnvelope, FeedbackError, FeedbackEvent,
    FeedbackOrigin, History, HistoryEntry, Layer, Suppression, SuppressionPolicy,
    SuppressionReason, normalize_address, suppression_for, transient_bounce_addresses,
};
use serde::Serialize;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ses-feedback")
}

fn read(folder: &str, name: &str) -> String {
    let path = fixtures().join(folder).join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> Feedback {
    Feedback::parse(&read("notifications", name)).unwrap()
}

fn names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("notifications"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// An hour after the fixtures' emails were sent.
fn now() -> Timestamp {
    at("2026-11-23T11:00:00Z")
}

/// What the ledger makes of one notification: pinned per fixture.
#[derive(Serialize)]
struct Reading {
    feedback: Feedback,
    occurred_at: String,
    status: Option<DeliveryStatus>,
    recipient_statuses: Vec<(String, DeliveryStatus)>,
    suppressions: Vec<Suppression>,
}

#[test]
fn every_notification_parses_to_its_snapshot() {
    insta::glob!(
        "../../tests/fixtures/ses-feedback/notifications",
        "*.json",
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let feedback =
                Feedback::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_stem().unwrap().to_string_lossy();
            assert_eq!(feedback.envelope, FeedbackEnvelope::Raw);
            let origin = if name.starts_with("identity-") {
                FeedbackOrigin::IdentityNotification
            } else {
                FeedbackOrigin::EventPublishing
            };
            assert_eq!(feedback.origin, origin, "{name}");
            let reading = Reading {
                occurred_at: feedback.occurred_at().to_rfc3339(),
                status: feedback.event.status(),
                recipient_statuses: feedback.recipient_statuses(),
                suppressions: suppression_for(
                    &feedback,
                    &SuppressionPolicy::default(),
                    &BTreeMap::new(),
                    now(),
                ),
                feedback,
            };
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path("../../tests/fixtures/ses-feedback/snapshots");
            settings.set_prepend_module_to_snapshot(false);
            settings.bind(|| insta::assert_json_snapshot!("feedback", reading));
        }
    );
}

#[test]
fn each_notification_reads_the_same_through_sns_and_a_lambda_sns_event() {
    let names = names();
    assert!(names.len() >= 20, "only {} fixtures", names.len());
    for name in &names {
        let raw = parse(name);
        for (folder, envelope) in [
            ("sns", FeedbackEnvelope::Sns),
            ("lambda-sns", FeedbackEnvelope::LambdaSns),
        ] {
            let text = read(folder, name);
            let wrapper: Value = serde_json::from_str(&text).unwrap();
            let sns = if envelope == FeedbackEnvelope::Sns {
                &wrapper
            } else {
                &wrapper["Records"][0]["Sns"]
            };
            let got = Feedback::parse(&text).unwrap_or_else(|e| panic!("{folder}/{name}: {e}"));
            assert_eq!(got.envelope, envelope, "{folder}/{name}");
            assert_eq!(got.sns_message_id.as_deref(), sns["MessageId"].as_str());
            assert_eq!(
                Feedback {
                    envelope: FeedbackEnvelope::Raw,
                    sns_message_id: None,
                    ..got
                },
                raw,
                "{folder}/{name}"
            );
        }
    }
}

#[test]
fn a_bounce_keeps_the_dsn_of_each_recipient_and_our_tags() {
    let feedback = parse("event-bounce-permanent");
    assert_eq!(feedback.tags.route.as_deref(), Some("order-confirmation"));
    assert_eq!(feedback.tags.event_type.as_deref(), Some("orders_paid"));
    assert_eq!(
        feedback.tags.idempotency_key.as_deref(),
        Some("5d1f0c8e9a7b6c4d3e2f1a0b9c8d7e6f")
    );
    assert_eq!(feedback.tags.configuration_set.as_deref(), Some("mailroom"));
    assert_eq!(feedback.sent_at, at("2026-11-23T10:00:01.250Z"));
    let FeedbackEvent::Bounce {
        bounce_type,
        sub_type,
        recipients,
        timestamp,
        ..
    } = &feedback.event
    else {
        panic!("{:?}", feedback.event)
    };
    assert_eq!(*bounce_type, BounceType::Permanent);
    assert_eq!(sub_type.as_deref(), Some("General"));
    assert_eq!(*timestamp, Some(at("2026-11-23T10:00:03.112Z")));
    assert_eq!(feedback.occurred_at(), at("2026-11-23T10:00:03.112Z"));
    let [recipient] = recipients.as_slice() else {
        panic!("{recipients:?}")
    };
    assert_eq!(recipient.address, "No.Such.User@Example.com");
    assert_eq!(recipient.action.as_deref(), Some("failed"));
    assert_eq!(recipient.status.as_deref(), Some("5.1.1"));
    assert!(
        recipient
            .diagnostic_code
            .as_deref()
            .unwrap()
            .starts_with("smtp; 550 5.1.1")
    );
}

#[test]
fn identity_notifications_carry_no_tags_and_name_only_the_bounced_recipients() {
    let feedback = parse("identity-bounce-no-dsn");
    assert_eq!(feedback.origin, FeedbackOrigin::IdentityNotification);
    assert_eq!(feedback.tags, Default::default());
    assert_eq!(feedback.destination.len(), 3);
    assert_eq!(
        feedback.recipients(),
        ["jane@example.com", "richard@example.com"]
    );
    let FeedbackEvent::Bounce { recipients, .. } = &feedback.event else {
        panic!()
    };
    assert!(
        recipients
            .iter()
            .all(|r| r.diagnostic_code.is_none() && r.status.is_none())
    );
}

#[test]
fn deliveries_complaints_and_delays_keep_what_the_ledger_shows() {
    let FeedbackEvent::Delivery {
        smtp_response,
        processing_time_ms,
        recipients,
        ..
    } = parse("identity-delivery").event
    else {
        panic!()
    };
    assert_eq!(
        smtp_response.as_deref(),
        Some("250 ok:  Message 64111812 accepted")
    );
    assert_eq!(processing_time_ms, Some(546));
    assert_eq!(recipients, ["jane@example.com"]);

    let FeedbackEvent::Complaint {
        feedback_type,
        sub_type,
        recipients,
        ..
    } = parse("event-complaint").event
    else {
        panic!()
    };
    assert_eq!(feedback_type.as_deref(), Some("abuse"));
    assert_eq!(sub_type, None, "complaintSubType is null");
    assert_eq!(recipients, ["ana@example.com"]);

    let FeedbackEvent::DeliveryDelay {
        delay_type,
        expiration_time,
        recipients,
        ..
    } = parse("event-delivery-delay").event
    else {
        panic!()
    };
    assert_eq!(delay_type.as_deref(), Some("TransientCommunicationFailure"));
    assert_eq!(expiration_time, Some(at("2026-11-24T00:00:01.250Z")));
    assert_eq!(recipients[0].status.as_deref(), Some("4.4.1"));
}

#[test]
fn events_about_the_whole_email_concern_every_destination() {
    for name in [
        "event-send",
        "event-reject",
        "event-rendering-failure",
        "event-open",
    ] {
        let feedback = parse(name);
        assert_eq!(feedback.recipients(), ["ana@example.com"], "{name}");
        // Without an own timestamp the event happened when the email was sent.
        if feedback.event.timestamp().is_none() {
            assert_eq!(feedback.occurred_at(), feedback.sent_at, "{name}");
        }
    }
    assert_eq!(
        parse("event-rendering-failure").event,
        FeedbackEvent::RenderingFailure {
            template_name: Some("OrderConfirmation".into()),
            error_message: Some(
                "Attribute 'customerName' is not present in the rendering data.".into()
            ),
        }
    );
}

// --- Tolerance ------------------------------------------------------------------------------

#[test]
fn an_unknown_event_type_is_read_not_refused_and_implies_nothing() {
    let feedback = parse("event-unknown-type");
    assert_eq!(feedback.event, FeedbackEvent::Unknown("Quarantine".into()));
    assert_eq!(feedback.event.name(), "Quarantine");
    assert_eq!(feedback.event.status(), None);
    assert!(feedback.recipient_statuses().is_empty());
    assert!(
        suppression_for(
            &feedback,
            &SuppressionPolicy::default(),
            &BTreeMap::new(),
            now()
        )
        .is_empty()
    );
    // An unknown identity notification type likewise.
    let identity = Feedback::parse(
        &json!({"notificationType": "Bounce2", "mail": {"messageId": "m", "timestamp": "2026-11-23T10:00:00Z"}})
            .to_string(),
    )
    .unwrap();
    assert_eq!(identity.event, FeedbackEvent::Unknown("Bounce2".into()));
}

/// Removes every key SES does not document today from the fixture with new fields.
fn without_new_fields(mut value: Value) -> Value {
    let object = value.as_object_mut().unwrap();
    object.remove("eventVersion");
    object.remove("deliveryInsights");
    let bounce = object["bounce"].as_object_mut().unwrap();
    bounce.remove("bounceCategory");
    for recipient in bounce["bouncedRecipients"].as_array_mut().unwrap() {
        recipient
            .as_object_mut()
            .unwrap()
            .remove("finalRecipientType");
    }
    let tags = object["mail"]["tags"].as_object_mut().unwrap();
    tags.remove("ses:outgoing-ip");
    tags.remove("tenant");
    value
}

#[test]
fn fields_ses_adds_later_change_nothing() {
    let text = read("notifications", "event-bounce-new-fields");
    let with_new: Value = serde_json::from_str(&text).unwrap();
    let stripped = without_new_fields(with_new.clone());
    assert_ne!(stripped, with_new);
    assert_eq!(
        Feedback::parse(&text).unwrap(),
        Feedback::parse(&stripped.to_string()).unwrap()
    );
}

fn notification(event_type: &str, extra: Value) -> Value {
    let mut value = json!({
        "eventType": event_type,
        "mail": {"messageId": "ses-1", "timestamp": "2026-11-23T10:00:00.000Z",
                 "destination": ["ana@example.com"]},
    });
    for (key, part) in extra.as_object().unwrap() {
        value[key] = part.clone();
    }
    value
}

fn parse_value(value: &Value) -> Result<Feedback, FeedbackError> {
    Feedback::parse(&value.to_string())
}

#[test]
fn odd_but_harmless_shapes_are_tolerated() {
    // Tags of unexpected shapes are ignored, a lone text is taken as a one-item list.
    let odd_tags = json!({"route": "welcome", "event_type": [5, "", "x"], "idempotency_key": {}});
    let mut value = notification("Send", json!({}));
    value["mail"]["tags"] = odd_tags;
    let feedback = parse_value(&value).unwrap();
    assert_eq!(feedback.tags.route.as_deref(), Some("welcome"));
    assert_eq!(feedback.tags.event_type.as_deref(), Some("x"));
    assert_eq!(feedback.tags.idempotency_key, None);
    value["mail"]["tags"] = json!("not a map");
    assert_eq!(parse_value(&value).unwrap().tags, Default::default());

    // Parts that only hold optional details may be absent or null.
    for (event_type, part) in [
        ("Reject", "reject"),
        ("Rendering Failure", "failure"),
        ("Open", "open"),
        ("Click", "click"),
        ("Subscription", "subscription"),
        ("Send", "send"),
    ] {
        let absent = parse_value(&notification(event_type, json!({}))).unwrap();
        let null = parse_value(&notification(event_type, json!({ part: null }))).unwrap();
        assert_eq!(absent, null, "{event_type}");
        assert_eq!(absent.event.name(), event_type);
    }
    // SES spells it with a space; the spelling without one is read too.
    assert_eq!(
        parse_value(&notification("RenderingFailure", json!({})))
            .unwrap()
            .event
            .name(),
        "Rendering Failure"
    );

    // A bounce type SES may add reads as undetermined: neither ignored nor suppressed for good.
    let bounce = json!({"bounce": {"bounceType": "Soft", "bouncedRecipients": [{"emailAddress": "ana@example.com"}]}});
    let FeedbackEvent::Bounce { bounce_type, .. } =
        parse_value(&notification("Bounce", bounce)).unwrap().event
    else {
        panic!()
    };
    assert_eq!(bounce_type, BounceType::Undetermined);

    // A hand-written SNS notification with the Message as an object, and `eventType` beside
    // a `notificationType`.
    let mut both = notification("Send", json!({}));
    both["notificationType"] = json!("Delivery");
    let wrapped = json!({"Type": "Notification", "Message": both});
    let feedback = parse_value(&wrapped).unwrap();
    assert_eq!(feedback.event, FeedbackEvent::Send);
    assert_eq!(feedback.origin, FeedbackOrigin::EventPublishing);
    assert_eq!(feedback.sns_message_id, None);
}

// --- Malformed feedback ----------------------------------------------------------------------

fn malformed_cases() -> Vec<(&'static str, String)> {
    let mail = json!({"messageId": "ses-1", "timestamp": "2026-11-23T10:00:00Z"});
    let with_mail = |mail: Value| json!({"eventType": "Send", "mail": mail}).to_string();
    let sns = |message: &str| {
        json!({"Type": "Notification", "MessageId": "s", "Message": message}).to_string()
    };
    vec![
        ("not JSON", "bounce!".to_owned()),
        ("not an object", "[1, 2]".to_owned()),
        ("an unrelated object", json!({"orderId": 7}).to_string()),
        ("SNS message not JSON", sns("Bounce for ana@example.com")),
        ("SNS message not an object", sns("\"text\"")),
        ("SNS message not a notification", sns("{\"orderId\": 7}")),
        ("SNS notification without Message", json!({"Type": "Notification"}).to_string()),
        (
            "SNS subscription confirmation",
            json!({"Type": "SubscriptionConfirmation", "MessageId": "s", "Token": "t",
                   "Message": "You have chosen to subscribe to the topic ...",
                   "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"})
            .to_string(),
        ),
        (
            "SES subscription notice",
            sns(&json!({"notificationType": "AmazonSnsSubscriptionSucceeded",
                        "message": "You have successfully subscribed your Amazon SNS topic to receive 'Bounce' notifications from Amazon SES for identity 'shop.example'."})
                .to_string()),
        ),
        ("Lambda event without records", json!({"Records": []}).to_string()),
        (
            "Lambda event with two records",
            json!({"Records": [{"Sns": {}}, {"Sns": {}}]}).to_string(),
        ),
        (
            "an SQS event",
            json!({"Records": [{"messageId": "m", "body": "{}"}]}).to_string(),
        ),
        ("eventType not text", json!({"eventType": 4, "mail": mail}).to_string()),
        ("no mail", json!({"eventType": "Send"}).to_string()),
        ("mail without messageId", with_mail(json!({"timestamp": "2026-11-23T10:00:00Z"}))),
        ("empty messageId", with_mail(json!({"messageId": "", "timestamp": "2026-11-23T10:00:00Z"}))),
        ("mail timestamp not RFC 3339", with_mail(json!({"messageId": "m", "timestamp": "yesterday"}))),
        (
            "mail timestamp outside RFC 3339's years in UTC",
            with_mail(json!({"messageId": "m", "timestamp": "0000-01-01T00:00:00+01:00"})),
        ),
        ("destination not a list", with_mail(json!({"messageId": "m", "timestamp": "2026-11-23T10:00:00Z", "destination": "ana@example.com"}))),
        ("bounce without bounce", json!({"eventType": "Bounce", "mail": mail}).to_string()),
        (
            "bounce without recipients",
            json!({"eventType": "Bounce", "mail": mail, "bounce": {"bounceType": "Permanent"}}).to_string(),
        ),
        (
            "bounce timestamp not RFC 3339",
            json!({"eventType": "Bounce", "mail": mail, "bounce": {"bounceType": "Permanent",
                   "bouncedRecipients": [], "timestamp": "2026-11-23 10:00"}}).to_string(),
        ),
        (
            "delivery time not a number",
            json!({"notificationType": "Delivery", "mail": mail,
                   "delivery": {"recipients": ["a@example.com"], "processingTimeMillis": "fast"}}).to_string(),
        ),
        (
            "complaint recipient without address",
            json!({"eventType": "Complaint", "mail": mail, "complaint": {"complainedRecipients": [{}]}}).to_string(),
        ),
    ]
}

#[test]
fn malformed_feedback_names_its_fault() {
    let cases = malformed_cases();
    let errors: Vec<(&str, FeedbackError)> = cases
        .iter()
        .map(|(label, text)| {
            let error = Feedback::parse(text).expect_err(label);
            (*label, error)
        })
        .collect();
    let error = |label: &str| errors.iter().find(|(l, _)| *l == label).unwrap().1.clone();
    use FeedbackError as E;
    assert!(matches!(
        error("not JSON"),
        E::NotJson {
            layer: Layer::Body,
            ..
        }
    ));
    assert_eq!(
        error("not an object"),
        E::NotAnObject {
            layer: Layer::Body,
            found: "array"
        }
    );
    assert_eq!(error("an unrelated object"), E::NotANotification);
    assert!(matches!(
        error("SNS message not JSON"),
        E::NotJson {
            layer: Layer::SnsMessage,
            ..
        }
    ));
    assert_eq!(
        error("SNS message not an object"),
        E::NotAnObject {
            layer: Layer::SnsMessage,
            found: "string"
        }
    );
    assert_eq!(error("SNS message not a notification"), E::NotANotification);
    assert_eq!(
        error("SNS notification without Message"),
        E::MissingField { field: "Message" }
    );
    assert_eq!(
        error("SNS subscription confirmation"),
        E::SnsControl {
            kind: "SubscriptionConfirmation".into()
        }
    );
    assert_eq!(
        error("SES subscription notice"),
        E::SubscriptionNotice {
            notification_type: "AmazonSnsSubscriptionSucceeded".into()
        }
    );
    assert_eq!(
        error("Lambda event without records"),
        E::RecordCount { count: 0 }
    );
    assert_eq!(
        error("Lambda event with two records"),
        E::RecordCount { count: 2 }
    );
    assert!(matches!(
        error("an SQS event"),
        E::InvalidField {
            field: "Records[0]",
            ..
        }
    ));
    assert!(matches!(
        error("eventType not text"),
        E::InvalidField {
            field: "eventType",
            ..
        }
    ));
    assert_eq!(error("no mail"), E::MissingField { field: "mail" });
    assert!(
        matches!(error("mail without messageId"), E::InvalidField { field: "mail", reason } if reason.contains("messageId"))
    );
    assert!(matches!(
        error("empty messageId"),
        E::InvalidField {
            field: "mail.messageId",
            ..
        }
    ));
    for label in [
        "mail timestamp not RFC 3339",
        "mail timestamp outside RFC 3339's years in UTC",
    ] {
        assert!(
            matches!(
                error(label),
                E::InvalidField {
                    field: "mail.timestamp",
                    ..
                }
            ),
            "{label}"
        );
    }
    assert!(matches!(
        error("destination not a list"),
        E::InvalidField { field: "mail", .. }
    ));
    assert_eq!(
        error("bounce without bounce"),
        E::MissingField { field: "bounce" }
    );
    assert!(
        matches!(error("bounce without recipients"), E::InvalidField { field: "bounce", reason } if reason.contains("bouncedRecipients"))
    );
    assert!(matches!(
        error("bounce timestamp not RFC 3339"),
        E::InvalidField {
            field: "bounce.timestamp",
            ..
        }
    ));
    assert!(
        matches!(error("delivery time not a number"), E::InvalidField { field: "delivery", reason } if reason.contains("fast"))
    );
    assert!(
        matches!(error("complaint recipient without address"), E::InvalidField { field: "complaint", reason } if reason.contains("emailAddress"))
    );

    // Only the notices of setting up a subscription are not worth a warning.
    for (label, error) in &errors {
        let notice = label.contains("subscription");
        assert_eq!(error.is_notice(), notice, "{label}");
    }
    // The messages hosts log, pinned.
    let messages: Vec<String> = errors
        .iter()
        .map(|(label, error)| format!("{label}: {error}"))
        .collect();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../tests/fixtures/ses-feedback/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!("malformed", messages));
}

#[test]
fn error_details_are_cut_short_for_logs() {
    let long = "x".repeat(10_000);
    let mail = json!({"messageId": "m", "timestamp": "2026-11-23T10:00:00Z"});
    let long_inputs = [
        // A timestamp quoted in the error.
        json!({"eventType": "Send", "mail": {"messageId": "m", "timestamp": long}}).to_string(),
        // A value serde quotes in its error.
        json!({"eventType": "Delivery", "mail": mail,
               "delivery": {"recipients": [], "processingTimeMillis": long}})
        .to_string(),
        // JSON cut off in a long string.
        format!("{{\"eventType\": \"{long}"),
        json!({"Type": long, "Message": "{}"}).to_string(),
    ];
    for input in &long_inputs {
        let error = Feedback::parse(input).unwrap_err();
        assert!(error.to_string().chars().count() < 300, "{error}");
    }
    let unknown = Feedback::parse(&json!({"eventType": long, "mail": mail}).to_string()).unwrap();
    assert_eq!(unknown.event.name().chars().count(), 201);
}

// --- Status, history, suppression ------------------------------------------------------------

fn status(name: &str) -> DeliveryStatus {
    parse(name).event.status().unwrap()
}

#[test]
fn status_precedence_is_the_operators() {
    let delivered = status("event-delivery");
    let transient = status("event-bounce-transient");
    let permanent = status("event-bounce-permanent");
    let complained = status("event-complaint");
    assert_eq!(delivered, DeliveryStatus::Delivered);
    // A delivery after a bounce does not un-bounce, soft bounces included.
    assert_eq!(transient.merge(delivered), transient);
    assert_eq!(delivered.merge(transient), transient);
    assert_eq!(permanent.merge(delivered), permanent);
    // A complaint after a delivery, or a bounce, marks the recipient complained.
    assert_eq!(delivered.merge(complained), DeliveryStatus::Complained);
    assert_eq!(complained.merge(permanent), DeliveryStatus::Complained);
    // Delays and sends are overtaken by any outcome.
    assert_eq!(
        status("event-delivery-delay").merge(status("event-send")),
        DeliveryStatus::Delayed
    );
    assert_eq!(status("event-delivery-delay").merge(delivered), delivered);
    // Opens, clicks and unsubscribes prove a delivery; a not-spam report is no complaint.
    for name in [
        "event-open",
        "event-click",
        "event-subscription",
        "event-complaint-not-spam",
    ] {
        assert_eq!(status(name), DeliveryStatus::Delivered, "{name}");
    }
    assert_eq!(status("event-reject"), DeliveryStatus::Rejected);
    assert_eq!(
        status("event-rendering-failure"),
        DeliveryStatus::RenderingFailed
    );
    assert_eq!(
        status("event-bounce-undetermined"),
        DeliveryStatus::Bounced(BounceType::Undetermined)
    );
    assert!(DeliveryStatus::ALL.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(
        DeliveryStatus::merge_all([delivered, permanent, transient]),
        Some(permanent)
    );
    assert_eq!(DeliveryStatus::merge_all([]), None);
}

#[test]
fn recipient_statuses_are_keyed_by_normalized_address() {
    assert_eq!(
        parse("event-bounce-permanent").recipient_statuses(),
        [(
            "no.such.user@example.com".to_owned(),
            DeliveryStatus::Bounced(BounceType::Permanent)
        )]
    );
    // A message-level event gives every destination its status.
    let mut reject = parse("event-reject");
    reject.destination = vec![
        "Ana@Example.com".into(),
        "ana@example.com".into(),
        "Bob@Example.com".into(),
    ];
    assert_eq!(
        reject.recipient_statuses(),
        [
            ("ana@example.com".to_owned(), DeliveryStatus::Rejected),
            ("bob@example.com".to_owned(), DeliveryStatus::Rejected)
        ]
    );
}

#[test]
fn a_history_keeps_the_last_events_once_in_time_order() {
    let entries: Vec<HistoryEntry> = [
        "event-send",
        "event-delivery",
        "event-open",
        "event-click",
        "event-complaint",
    ]
    .iter()
    .map(|name| HistoryEntry::of(&parse(name)))
    .collect();
    let mut history = History::new();
    for entry in entries.iter().rev() {
        history = history.record(entry.clone(), 3);
        history = history.record(entry.clone(), 3);
    }
    let kept: Vec<&str> = history.entries().iter().map(|e| e.event.name()).collect();
    assert_eq!(kept, ["Open", "Click", "Complaint"]);
    // The same notification through SNS is the same entry.
    let through_sns = HistoryEntry::of(&Feedback::parse(&read("sns", "event-click")).unwrap());
    assert_eq!(history.clone().record(through_sns, 3), history);
    // Entries of the same millisecond are ordered by content, not arrival.
    let tie = |id: &str| HistoryEntry {
        at: at("2026-11-23T10:00:00Z"),
        ses_message_id: id.into(),
        event: FeedbackEvent::Send,
    };
    let one = History::new().record(tie("b"), 2).record(tie("a"), 2);
    let other = History::new().record(tie("a"), 2).record(tie("b"), 2);
    assert_eq!(one, other);
    assert_eq!(one.entries()[0].ses_message_id, "a");
    // Stored histories come back in order whatever wrote them.
    let stored = serde_json::to_value([tie("b"), tie("a"), tie("b")]).unwrap();
    let read_back: History = serde_json::from_value(stored).unwrap();
    assert_eq!(read_back, one);
}

#[test]
fn hard_bounces_and_complaints_suppress_each_recipient_for_good() {
    let policy = SuppressionPolicy::default();
    let none = BTreeMap::new();
    let forever = |address: &str, reason| Suppression {
        address: address.into(),
        reason,
        expires_at: None,
    };
    assert_eq!(
        suppression_for(&parse("identity-bounce-no-dsn"), &policy, &none, now()),
        [
            forever("jane@example.com", SuppressionReason::PermanentBounce),
            forever("richard@example.com", SuppressionReason::PermanentBounce)
        ]
    );
    assert_eq!(
        suppression_for(&parse("event-bounce-suppressed"), &policy, &none, now()),
        [forever(
            "gone@example.com",
            SuppressionReason::PermanentBounce
        )]
    );
    assert_eq!(
        suppression_for(&parse("identity-complaint"), &policy, &none, now()),
        [forever("richard@example.com", SuppressionReason::Complaint)]
    );
    assert!(suppression_for(&parse("event-complaint-not-spam"), &policy, &none, now()).is_empty());
    for name in [
        "event-delivery",
        "event-delivery-delay",
        "event-reject",
        "event-send",
    ] {
        assert!(
            suppression_for(&parse(name), &policy, &none, now()).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn soft_bounces_suppress_once_they_repeat_within_the_window() {
    let bounce = parse("event-bounce-transient");
    let bounced_at = bounce.occurred_at();
    let now = at("2026-11-23T23:00:00Z");
    let policy = SuppressionPolicy::default();
    assert_eq!(transient_bounce_addresses(&bounce), ["full@example.net"]);
    let days_ago = |days: i64| Timestamp::from_millis(now.as_millis() - days * 24 * 3600 * 1000);
    let priors = |key: &str, times: Vec<Timestamp>| BTreeMap::from([(key.to_owned(), times)]);

    // The first and second bounce do not suppress; the third within 7 days does, for 30 days.
    assert!(suppression_for(&bounce, &policy, &BTreeMap::new(), now).is_empty());
    assert!(
        suppression_for(
            &bounce,
            &policy,
            &priors("full@example.net", vec![days_ago(2)]),
            now
        )
        .is_empty()
    );
    let third = suppression_for(
        &bounce,
        &policy,
        &priors("Full@Example.NET", vec![days_ago(2), days_ago(6)]),
        now,
    );
    assert_eq!(
        third,
        [Suppression {
            address: "full@example.net".into(),
            reason: SuppressionReason::TransientBounces { count: 3 },
            expires_at: Some(at("2026-12-23T23:00:00Z")),
        }]
    );
    // Bounces older than the window do not count, nor does this bounce recorded before.
    assert!(
        suppression_for(
            &bounce,
            &policy,
            &priors("full@example.net", vec![days_ago(2), days_ago(8)]),
            now
        )
        .is_empty()
    );
    assert!(
        suppression_for(
            &bounce,
            &policy,
            &priors("full@example.net", vec![days_ago(2), bounced_at]),
            now
        )
        .is_empty()
    );
    // Another address's bounces are not this one's.
    assert!(
        suppression_for(
            &bounce,
            &policy,
            &priors("empty@example.net", vec![days_ago(1), days_ago(2)]),
            now
        )
        .is_empty()
    );
    // 0 turns the rule off; without an expiry the suppression lasts.
    let off = SuppressionPolicy {
        transient_bounces: 0,
        ..policy
    };
    assert!(
        suppression_for(
            &bounce,
            &off,
            &priors("full@example.net", vec![days_ago(1), days_ago(2)]),
            now
        )
        .is_empty()
    );
    let eager = SuppressionPolicy {
        transient_bounces: 1,
        transient_expiry_seconds: None,
        ..policy
    };
    assert_eq!(
        suppression_for(&bounce, &eager, &BTreeMap::new(), now)[0].expires_at,
        None
    );
    // An undetermined bounce counts as a soft one, never as a hard one.
    let undetermined = parse("event-bounce-undetermined");
    assert_eq!(
        suppression_for(&undetermined, &eager, &BTreeMap::new(), now)[0].reason,
        SuppressionReason::TransientBounces { count: 1 }
    );
    assert!(suppression_for(&undetermined, &policy, &BTreeMap::new(), now).is_empty());
    // A policy read from configuration takes the defaults of what it leaves out.
    let configured: SuppressionPolicy =
        serde_json::from_str(r#"{"transient_bounces": 5}"#).unwrap();
    assert_eq!(
        configured,
        SuppressionPolicy {
            transient_bounces: 5,
            ..SuppressionPolicy::default()
        }
    );
}

#[test]
fn addresses_normalize_as_the_core_compares_recipients() {
    assert_eq!(
        normalize_address("No.Such.User@Example.com").as_deref(),
        Some("no.such.user@example.com")
    );
    assert_eq!(
        normalize_address("Ana <Ana@Bücher.Example>").as_deref(),
        Some("ana@xn--bcher-kva.example")
    );
    assert_eq!(
        normalize_address("  ana@example.com ").as_deref(),
        Some("ana@example.com")
    );
    assert_eq!(normalize_address("not an address"), None);
    assert_eq!(normalize_address("a@b\r\nBcc: c@d.example"), None);
}
