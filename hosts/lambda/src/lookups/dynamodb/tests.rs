//! `DynamoDbReader` against moto's DynamoDB on loopback (each test starts its own
//! `moto_server`, [`crate::moto`]): reads, the conversion wiring, the 100-key split, several
//! tables in a call, and unprocessed keys (moto leaves keys unprocessed past 16 MB of items, as
//! DynamoDB does). What moto cannot do (throttle, fail with 5xx, keep keys unprocessed for
//! ever) is answered by `aws-smithy-mocks` rules instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemError, BatchGetItemOutput};
use aws_sdk_dynamodb::types::error::ThrottlingException;
use aws_sdk_dynamodb::types::{AttributeValue as SdkValue, KeysAndAttributes, ScalarAttributeType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use mailroom_core::lookup::{AttributeValue, Item};
use mailroom_core::{LookupAnswer, LookupFailure};
use mailroom_test_support::dynamodb::Table;

use super::*;
use crate::moto::Moto;

async fn moto_client(moto: &Moto) -> Client {
    crate::aws::dynamodb_lookup_client(&moto.sdk_config().await)
}

/// A table keyed like the example routes' `enrollments`: `PK` and `SK`, strings.
async fn table(client: &Client, name: &str) {
    Table::new(name, "PK", ScalarAttributeType::S)
        .sort_key("SK", ScalarAttributeType::S)
        .create(client)
        .await;
}

fn s(text: &str) -> SdkValue {
    SdkValue::S(text.to_owned())
}

async fn put(client: &Client, table: &str, pk: &str, sk: &str, rest: &[(&str, SdkValue)]) {
    let mut request = client
        .put_item()
        .table_name(table)
        .item("PK", s(pk))
        .item("SK", s(sk));
    for (name, value) in rest {
        request = request.item(*name, value.clone());
    }
    request.send().await.unwrap();
}

fn key(pk: &str, sk: &str) -> Item {
    Item::from([
        ("PK".to_owned(), AttributeValue::S(pk.to_owned())),
        ("SK".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn reads<'a>(table: &'a str, keys: &'a [Item], consistent_read: bool) -> Vec<KeyRead<'a>> {
    keys.iter()
        .map(|key| KeyRead {
            table,
            key,
            consistent_read,
        })
        .collect()
}

fn in_seconds(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

/// The item's JSON as templates see it, or what the answer was instead.
fn json(answer: &LookupAnswer) -> serde_json::Value {
    match answer {
        LookupAnswer::Found(item) => serde_json::from_str(&item.to_json()).unwrap(),
        other => panic!("expected an item, got {other:?}"),
    }
}

#[tokio::test]
async fn items_are_matched_to_their_keys_and_converted_as_the_core_converts_them() {
    let moto = Moto::start();
    let client = moto_client(&moto).await;
    table(&client, "enrollments").await;
    put(
        &client,
        "enrollments",
        "STUDENT#stu_81723",
        "PROFILE",
        &[
            ("firstName", s("Ana")),
            ("email", s("ana.nunez@example.org")),
            ("credits", SdkValue::N("12.5".into())),
            ("active", SdkValue::Bool(true)),
            (
                "address",
                SdkValue::M(HashMap::from([("city".to_owned(), s("Lyon"))])),
            ),
            ("topics", SdkValue::Ss(vec!["async".into(), "axum".into()])),
            ("photo", SdkValue::B(b"png".to_vec().into())),
        ],
    )
    .await;
    put(
        &client,
        "enrollments",
        "COURSE#rust-backend-101",
        "METADATA",
        &[("title", s("Rust for Backend Engineers"))],
    )
    .await;
    let keys = [
        key("COURSE#rust-backend-101", "METADATA"),
        key("STUDENT#nobody", "PROFILE"),
        key("STUDENT#stu_81723", "PROFILE"),
    ];
    let reader = DynamoDbReader::new(client);
    let read = reader
        .read_keys(&reads("enrollments", &keys, true), in_seconds(10))
        .await;
    assert_eq!(read.calls, 1);
    assert_eq!(
        json(&read.answers[0]),
        serde_json::json!({"PK": "COURSE#rust-backend-101", "SK": "METADATA", "title": "Rust for Backend Engineers"})
    );
    assert!(matches!(read.answers[1], LookupAnswer::NotFound));
    assert_eq!(
        json(&read.answers[2]),
        serde_json::json!({
            "PK": "STUDENT#stu_81723", "SK": "PROFILE", "firstName": "Ana",
            "email": "ana.nunez@example.org", "credits": 12.5, "active": true,
            "address": {"city": "Lyon"}, "topics": ["async", "axum"], "photo": "cG5n"
        }),
        "binaries are base64, as the core says"
    );
}

#[tokio::test]
async fn more_than_a_hundred_keys_go_in_calls_of_at_most_a_hundred() {
    let moto = Moto::start();
    let client = moto_client(&moto).await;
    table(&client, "enrollments").await;
    for index in 0..230 {
        let id = format!("STUDENT#s{index}");
        put(
            &client,
            "enrollments",
            &id,
            "PROFILE",
            &[("n", SdkValue::N(index.to_string()))],
        )
        .await;
    }
    // 230 that exist and 20 that do not: moto refuses a call of more than 100 keys outright.
    let keys: Vec<Item> = (0..250)
        .map(|index| key(&format!("STUDENT#s{index}"), "PROFILE"))
        .collect();
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("enrollments", &keys, false), in_seconds(20))
        .await;
    assert_eq!(read.calls, 3);
    for (index, answer) in read.answers.iter().enumerate() {
        if index < 230 {
            assert_eq!(
                json(answer)["n"],
                index,
                "answer {index} is its own key's item"
            );
        } else {
            assert!(
                matches!(answer, LookupAnswer::NotFound),
                "{index}: {answer:?}"
            );
        }
    }
}

#[tokio::test]
async fn two_tables_share_a_call_and_each_keeps_its_own_consistency() {
    let moto = Moto::start();
    let client = moto_client(&moto).await;
    table(&client, "students").await;
    table(&client, "courses").await;
    put(&client, "students", "S#1", "PROFILE", &[("name", s("Ana"))]).await;
    put(
        &client,
        "courses",
        "C#1",
        "METADATA",
        &[("title", s("Rust"))],
    )
    .await;
    let (student, course) = (key("S#1", "PROFILE"), key("C#1", "METADATA"));
    let both = [
        KeyRead {
            table: "students",
            key: &student,
            consistent_read: true,
        },
        KeyRead {
            table: "courses",
            key: &course,
            consistent_read: false,
        },
    ];
    let calls = plan(&both);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].tables["students"], (true, vec![0]));
    assert_eq!(calls[0].tables["courses"], (false, vec![1]));
    let read = DynamoDbReader::new(client)
        .read_keys(&both, in_seconds(10))
        .await;
    assert_eq!(read.calls, 1);
    assert_eq!(json(&read.answers[0])["name"], "Ana");
    assert_eq!(json(&read.answers[1])["title"], "Rust");
}

#[tokio::test]
async fn keys_left_unprocessed_past_16_mb_are_read_in_a_second_call() {
    let moto = Moto::start();
    let client = moto_client(&moto).await;
    table(&client, "documents").await;
    // 50 items of 380 KB: about 19 MB, more than one BatchGetItem answer holds.
    let body = "x".repeat(380_000);
    for index in 0..50 {
        put(
            &client,
            "documents",
            &format!("D#{index}"),
            "BODY",
            &[("body", s(&body))],
        )
        .await;
    }
    let keys: Vec<Item> = (0..50)
        .map(|index| key(&format!("D#{index}"), "BODY"))
        .collect();
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("documents", &keys, true), in_seconds(30))
        .await;
    assert_eq!(read.calls, 2, "the unprocessed keys were asked for again");
    for (index, answer) in read.answers.iter().enumerate() {
        let item = json(answer);
        assert_eq!(item["PK"], format!("D#{index}"));
        assert_eq!(item["body"].as_str().map(str::len), Some(380_000));
    }
}

#[tokio::test]
async fn a_table_that_does_not_exist_is_unavailable_not_missing() {
    let moto = Moto::start();
    let client = moto_client(&moto).await;
    let keys = [key("S#1", "PROFILE")];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("no-such-table", &keys, true), in_seconds(10))
        .await;
    match &read.answers[0] {
        LookupAnswer::Failed(LookupFailure::Unavailable(detail)) => {
            assert!(detail.contains("ResourceNotFoundException"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_plan_packs_keys_into_the_fewest_calls_dynamodb_takes() {
    let keys: Vec<Item> = (0..260).map(|i| key(&format!("K#{i}"), "A")).collect();
    let mut mixed: Vec<KeyRead<'_>> = Vec::new();
    // 150 eventually consistent reads of one table, 60 consistent ones of the same table, 50
    // of another: 260 keys, so at least 3 calls, and the table's two consistencies apart.
    for (index, key) in keys.iter().enumerate() {
        let (table, consistent_read) = match index {
            0..150 => ("students", false),
            150..210 => ("students", true),
            _ => ("courses", true),
        };
        mixed.push(KeyRead {
            table,
            key,
            consistent_read,
        });
    }
    let calls = plan(&mixed);
    assert_eq!(calls.len(), 3, "{calls:?}");
    let mut seen: Vec<usize> = Vec::new();
    for call in &calls {
        assert!(call.len() <= MAX_KEYS_PER_CALL);
        for (table, (consistent, positions)) in &call.tables {
            for &position in positions {
                assert_eq!(mixed[position].table, table);
                assert_eq!(mixed[position].consistent_read, *consistent);
            }
            seen.extend(positions);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..260).collect::<Vec<_>>(), "every read once");
    assert!(plan(&[]).is_empty());
}

/// A mocked DynamoDB that knows every key asked for, but answers at most `per_call` of them per
/// call and leaves the rest unprocessed.
fn stingy(per_call: usize) -> (aws_smithy_mocks::Rule, Arc<AtomicUsize>) {
    let keys_asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&keys_asked);
    let rule = mock!(Client::batch_get_item).then_compute_output(move |input| {
        let mut output = BatchGetItemOutput::builder();
        for (table, asked) in input.request_items().cloned().unwrap_or_default() {
            counter.fetch_add(asked.keys().len(), Ordering::SeqCst);
            let (now, later) = asked.keys().split_at(asked.keys().len().min(per_call));
            let found: Vec<_> = now
                .iter()
                .map(|key| {
                    let mut item = key.clone();
                    item.insert("seen".to_owned(), SdkValue::Bool(true));
                    item
                })
                .collect();
            output = output.responses(table.clone(), found);
            if !later.is_empty() {
                let rest = KeysAndAttributes::builder()
                    .set_keys(Some(later.to_vec()))
                    .consistent_read(asked.consistent_read().unwrap_or(false))
                    .build()
                    .unwrap();
                output = output.unprocessed_keys(table, rest);
            }
        }
        output.build()
    });
    (rule, keys_asked)
}

fn no_retries(config: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
    config.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
}

#[tokio::test]
async fn unprocessed_keys_are_asked_for_again_and_only_they() {
    let (rule, keys_asked) = stingy(2);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys: Vec<Item> = (0..5).map(|i| key(&format!("S#{i}"), "PROFILE")).collect();
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), in_seconds(10))
        .await;
    assert_eq!(read.calls, 3);
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(
        keys_asked.load(Ordering::SeqCst),
        5 + 3 + 1,
        "5, then the 3 left, then 1"
    );
    for (index, answer) in read.answers.iter().enumerate() {
        assert_eq!(json(answer)["PK"], format!("S#{index}"));
    }
}

#[tokio::test]
async fn keys_still_unprocessed_when_the_time_is_up_are_throttled() {
    let (rule, _) = stingy(0);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys = [key("S#1", "PROFILE"), key("S#2", "PROFILE")];
    let until = Instant::now() + Duration::from_millis(150);
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), until)
        .await;
    assert!(Instant::now() <= until, "gave up before the time was up");
    assert!(
        (2..MAX_ATTEMPTS).contains(&read.calls),
        "{} calls",
        read.calls
    );
    for answer in &read.answers {
        match answer {
            LookupAnswer::Failed(LookupFailure::Throttled(detail)) => {
                assert!(detail.contains("2 keys unprocessed"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn keys_unprocessed_call_after_call_give_up_after_the_last_attempt() {
    let (rule, _) = stingy(0);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys = [key("S#1", "PROFILE")];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), in_seconds(30))
        .await;
    assert_eq!(read.calls, MAX_ATTEMPTS);
    assert!(matches!(
        read.answers[0],
        LookupAnswer::Failed(LookupFailure::Throttled(_))
    ));
}

/// An error answer as DynamoDB sends it.
fn error_response(
    status: u16,
    code: &str,
    message: &str,
) -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}"#
        )),
    )
}

#[tokio::test]
async fn throttling_errors_are_throttled_and_other_failures_unavailable() {
    let cases = [
        (400, "ProvisionedThroughputExceededException", true),
        (400, "ThrottlingException", true),
        (400, "RequestLimitExceeded", true),
        (500, "InternalServerError", false),
        (503, "ServiceUnavailable", false),
        (400, "ValidationException", false),
    ];
    for (status, code, throttled) in cases {
        let rule = mock!(Client::batch_get_item)
            .then_http_response(move || error_response(status, code, "injected"));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        let keys = [key("S#1", "PROFILE"), key("S#2", "PROFILE")];
        let read = DynamoDbReader::new(client)
            .read_keys(&reads("students", &keys, true), in_seconds(10))
            .await;
        assert_eq!(read.calls, 1);
        for answer in &read.answers {
            let (was_throttled, said) = match answer {
                LookupAnswer::Failed(LookupFailure::Throttled(said)) => (true, said),
                LookupAnswer::Failed(LookupFailure::Unavailable(said)) => (false, said),
                other => panic!("{other:?}"),
            };
            assert_eq!(was_throttled, throttled, "{said}");
            assert_eq!(said, &format!("BatchGetItem: {code}: injected"));
        }
    }
    // A modeled throttling error (as the SDK builds one) counts too.
    let rule = mock!(Client::batch_get_item).then_error(|| {
        BatchGetItemError::ThrottlingException(
            ThrottlingException::builder().message("rate").build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys = [key("S#1", "PROFILE")];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), in_seconds(10))
        .await;
    assert!(matches!(
        read.answers[0],
        LookupAnswer::Failed(LookupFailure::Throttled(_))
    ));
}

#[tokio::test]
async fn throttled_calls_are_retried_by_the_sdk_within_the_call() {
    let rule = mock!(Client::batch_get_item)
        .sequence()
        .http_response(|| {
            error_response(400, "ProvisionedThroughputExceededException", "slow down")
        })
        .output(|| {
            let item =
                HashMap::from([("PK".to_owned(), s("S#1")), ("SK".to_owned(), s("PROFILE"))]);
            BatchGetItemOutput::builder()
                .responses("students", vec![item])
                .build()
        })
        .build();
    // The lookup client's own retry settings, with the mocked connection.
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |config| {
        config.retry_config(crate::aws::lookup_retries())
    });
    let keys = [key("S#1", "PROFILE")];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), in_seconds(10))
        .await;
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(json(&read.answers[0])["PK"], "S#1");
}

#[tokio::test]
async fn access_denied_is_unavailable() {
    let rule = mock!(Client::batch_get_item).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not authorized to perform: dynamodb:BatchGetItem"}"#,
            ),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys = [key("S#1", "PROFILE")];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), in_seconds(10))
        .await;
    match &read.answers[0] {
        LookupAnswer::Failed(LookupFailure::Unavailable(detail)) => {
            assert!(detail.contains("AccessDeniedException"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_call_without_an_answer_fails_its_keys_when_the_time_is_up() {
    // An endpoint that takes the connection and never answers, as a black-holed one does.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://{}", silent.local_addr().unwrap()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let client = crate::aws::dynamodb_lookup_client(&config);
    let keys = [key("S#1", "PROFILE")];
    let until = Instant::now() + Duration::from_millis(200);
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("students", &keys, true), until)
        .await;
    assert_eq!(read.calls, 1);
    match &read.answers[0] {
        LookupAnswer::Failed(LookupFailure::Unavailable(detail)) => {
            assert!(detail.contains("deadline"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_number_key_matches_the_normalised_number_dynamodb_returns() {
    let rule = mock!(Client::batch_get_item).then_compute_output(|_| {
        let item = HashMap::from([
            ("id".to_owned(), SdkValue::N("1.5".into())),
            ("name".to_owned(), s("one and a half")),
        ]);
        BatchGetItemOutput::builder()
            .responses("numbers", vec![item])
            .build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys = [Item::from([(
        "id".to_owned(),
        AttributeValue::N("1.50".into()),
    )])];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("numbers", &keys, true), in_seconds(10))
        .await;
    assert_eq!(json(&read.answers[0])["name"], "one and a half");
}

#[tokio::test]
async fn one_key_asked_for_twice_goes_once_and_answers_both() {
    let rule = mock!(Client::batch_get_item)
        .match_requests(|input| {
            // DynamoDB refuses duplicate keys in a call.
            input
                .request_items()
                .is_some_and(|items| items["numbers"].keys().len() == 1)
        })
        .then_compute_output(|_| {
            let item = HashMap::from([
                ("id".to_owned(), SdkValue::N("1.5".into())),
                ("name".to_owned(), s("one and a half")),
            ]);
            BatchGetItemOutput::builder()
                .responses("numbers", vec![item])
                .build()
        });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
    let keys = [
        Item::from([("id".to_owned(), AttributeValue::N("1.50".into()))]),
        Item::from([("id".to_owned(), AttributeValue::N("1.5".into()))]),
    ];
    let read = DynamoDbReader::new(client)
        .read_keys(&reads("numbers", &keys, true), in_seconds(10))
        .await;
    assert_eq!(rule.num_calls(), 1);
    for answer in &read.answers {
        assert_eq!(json(answer)["name"], "one and a half");
    }
}
