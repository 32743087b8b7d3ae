#!/usr/bin/env python3
"""Writes the cross-host test vectors in tests/vectors/cases/.

Each case is one Lambda SQS event with its configuration, templates, clock, jitter seed and the
send outcomes to report, plus `expect`: the decision and reason every record must get. Hosts run
a case like this (see core/tests/vectors.rs, the reference):

  config   = Config::resolve(routes, env)        (routes: the routes file's text, if the case has one)
  mailroom = Mailroom::new(config, templates or every template under templateDir)
  batch    = start_batch(event, now, seed)
  for each next_send(), in order: complete_send(id, outcomes[key]
                                     or {"outcome": "accepted", "messageId": "ses-" + messageId})
      where key is the messageId for a record's email and messageId + "/sms" for its text (whose
      default answer is {"outcome": "accepted", "messageId": "sns-" + messageId})
  report   = finish()

The full report of each case is pinned in tests/vectors/snapshots/ (insta); the wasm package and
the CLI compare their own output with those snapshots.

Bodies are JSON inside JSON, so this script is the readable source. After changing it:
    python3 tests/vectors/make_cases.py && cargo insta test -p mailroom-core --review
"""
import json
from pathlib import Path

CASES = Path(__file__).resolve().parent / "cases"
NOW = 1795428000000  # 2026-11-23T10:00:00Z
QUEUE = "arn:aws:sqs:us-east-1:123456789012:notifications"
FIFO_QUEUE = "arn:aws:sqs:us-east-1:123456789012:notifications.fifo"
SENDER_ENV = {"SENDER": "Mailroom <notify@example.com>"}

TEMPLATES = {
    "notice.html": "<p>Hello {{ name }}, {{ message }}</p>",
    "notice.txt": "Hello {{ name }}, {{ message }}",
}


def body_text(body):
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)


def record(message_id, body, receive_count=1, attributes=None, message_attributes=None, queue=QUEUE):
    attrs = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": str(NOW - 1500)}
    attrs.update(attributes or {})
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body_text(body),
        "attributes": attrs,
        "messageAttributes": {
            name: {"stringValue": value, "dataType": "String"}
            for name, value in (message_attributes or {}).items()
        },
        "eventSource": "aws:sqs",
        "eventSourceARN": queue,
        "awsRegion": "us-east-1",
    }


def sns(message, message_id="sns-1", event_type=None):
    envelope = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
        "Message": message if isinstance(message, str) else json.dumps(message, ensure_ascii=False),
        "Timestamp": "2026-11-23T09:59:58.000Z",
    }
    if event_type:
        envelope["MessageAttributes"] = {"eventType": {"Type": "String", "Value": event_type}}
    return envelope


def eventbridge(detail, detail_type, event_id="eb-1"):
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "example.app",
        "account": "123456789012",
        "time": "2026-11-23T09:59:58Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def notice(**extra):
    return {"mailto": "reader@example.com", "name": "Reader", "message": "all good", **extra}


def route(name, events, template="notice.html", subject="Notice for {{ name }}", recipient="mailto", **extra):
    return {"name": name, "events": events, "template": template, "subject": subject, "recipient": recipient, **extra}


def default_routes(*routes):
    return {"routes": list(routes) or [route("notice", ["*"])]}


def case(description, records, expect, routes=None, env=None, templates=None, template_dir=None,
         outcomes=None, seed=7, lookups=None):
    value = {"description": description, "env": env if env is not None else SENDER_ENV}
    if routes is not None:
        value["routes"] = routes
    if template_dir:
        value["templateDir"] = template_dir
    else:
        value["templates"] = templates if templates is not None else TEMPLATES
    value.update({"now": NOW, "seed": seed, "event": {"Records": records}})
    if outcomes:
        value["outcomes"] = outcomes
    if lookups is not None:
        value["lookups"] = lookups
    value["expect"] = expect
    return value


LOOKUP_TEMPLATES = {
    "welcome.html": (
        "<p>Hi {{ lookup.student.firstName }}, welcome to {{ lookup.course.title }}"
        "{% if lookup.mentor is defined %} with {{ lookup.mentor.name }}{% endif %}.</p>"
    ),
}


def lookup(table_key, on_missing=None, **extra):
    value = {"table": "school", "key": table_key, **extra}
    if on_missing:
        value["onMissing"] = on_missing
    return value


def lookup_route(name="welcome", **lookups):
    return route(
        name, ["*"], template="welcome.html", subject="Welcome, {{ lookup.student.firstName }}",
        recipient="lookup.student.email", lookups=lookups,
    )


STUDENT = lookup({"PK": "STUDENT#{{ studentId }}", "SK": "PROFILE"})
COURSE = lookup({"PK": "COURSE#{{ courseId }}", "SK": "META"})


def school(*entries):
    return {"school": [{"key": key, **answer} for key, answer in entries]}


def student_row(student_id, first_name):
    return ({"PK": f"STUDENT#{student_id}", "SK": "PROFILE"},
            {"item": {"firstName": first_name, "email": f"{first_name.lower()}@example.com"}})


def course_row(course_id, title, mentor=None):
    item = {"title": {"S": title}, "weeks": {"N": "6"}}
    if mentor:
        item["mentorId"] = {"S": mentor}
    return ({"PK": f"COURSE#{course_id}", "SK": "META"}, {"Item": item})


def lookup_cases():
    yield "lookups", case(
        "Lookups: found (plain and DynamoDB JSON), missing under each onMissing, a key reading a "
        "missing or empty field, a failed read, and one read shared by records that need the same item.",
        [
            record("found", {"studentId": "s1", "courseId": "c1"}),
            record("same-student", {"studentId": "s1", "courseId": "c2"}),
            record("student-missing", {"studentId": "s404", "courseId": "c1"}),
            record("course-missing-retry", {"studentId": "s2", "courseId": "c404"}),
            record("key-field-missing", {"courseId": "c1"}),
            record("key-field-empty", {"studentId": "", "courseId": "c1"}),
            record("throttled", {"studentId": "s-throttled", "courseId": "c1"}),
            record("unavailable", {"studentId": "s-down", "courseId": "c1"}),
        ],
        {
            "found": "send",
            "same-student": "send",
            "student-missing": "reject lookup_missing",
            "course-missing-retry": "retry lookup_missing",
            "key-field-missing": "reject missing_field",
            "key-field-empty": "reject missing_field",
            "throttled": "retry throttled",
            "unavailable": "retry lookup_failed",
        },
        routes=default_routes(lookup_route(student=STUDENT, course={**COURSE, "onMissing": "retry"})),
        templates=LOOKUP_TEMPLATES,
        lookups=school(
            student_row("s1", "Ada"),
            student_row("s2", "Grace"),
            ({"PK": "STUDENT#s-throttled", "SK": "PROFILE"}, {"failure": "throttled"}),
            ({"PK": "STUDENT#s-down", "SK": "PROFILE"}, {"failure": "unavailable"}),
            course_row("c1", "Rust"),
            course_row("c2", "Go"),
        ),
    )

    yield "lookups-chained", case(
        "A lookup whose key reads another's result runs once that one is answered; skip leaves it "
        "undefined for templates, whether its item is not found or its key cannot be made (the "
        "first item lacks the field); without skip, a key reading a missing field is missing_field.",
        [
            record("with-mentor", {"studentId": "s1", "courseId": "c1"}),
            record("mentor-not-found", {"studentId": "s1", "courseId": "c2"}),
            record("course-without-mentor-id", {"studentId": "s1", "courseId": "c3"}),
            record("course-id-missing", {"studentId": "s1"}),
        ],
        {
            "with-mentor": "send",
            "mentor-not-found": "send",
            "course-without-mentor-id": "send",
            "course-id-missing": "reject missing_field",
        },
        routes=default_routes(lookup_route(
            student=STUDENT,
            course=COURSE,
            mentor=lookup({"PK": "MENTOR#{{ lookup.course.mentorId }}", "SK": "PROFILE"}, "skip"),
        )),
        templates=LOOKUP_TEMPLATES,
        lookups=school(
            student_row("s1", "Ada"),
            course_row("c1", "Rust", mentor="m1"),
            course_row("c2", "Go", mentor="m404"),
            course_row("c3", "Zig"),
            ({"PK": "MENTOR#m1", "SK": "PROFILE"}, {"item": {"name": "Linus"}}),
        ),
    )

    yield "lookups-fifo", case(
        "FIFO: a record waiting for lookups holds its group back, and its lookup reject blocks the "
        "records after it in the group.",
        [
            record("g1-first-missing", {"studentId": "s404", "courseId": "c1"}, queue=FIFO_QUEUE,
                   attributes={"MessageGroupId": "g1"}),
            record("g1-second", {"studentId": "s1", "courseId": "c1"}, queue=FIFO_QUEUE,
                   attributes={"MessageGroupId": "g1"}),
            record("g2-only", {"studentId": "s1", "courseId": "c1"}, queue=FIFO_QUEUE,
                   attributes={"MessageGroupId": "g2"}),
        ],
        {
            "g1-first-missing": "reject lookup_missing",
            "g1-second": "retry group_blocked",
            "g2-only": "send",
        },
        routes=default_routes(lookup_route(student=STUDENT, course=COURSE)),
        templates=LOOKUP_TEMPLATES,
        lookups=school(student_row("s1", "Ada"), course_row("c1", "Rust")),
    )


SMS_TEMPLATES = {
    **TEMPLATES,
    "notice.sms.txt": "Hi {{ name }}: {{ message }}\n",
}


def texting(name="notice", events=("*",), **sms):
    return route(name, list(events), sms={"template": "notice.sms.txt", "phone": "phone", **sms})


def sms_cases():
    yield "sms", case(
        "A route with an sms block sends an email and a text for one record, each with its own key: GSM-7 in one "
        "segment, UCS-2 once an emoji is in it, several segments within the route's maximum; a text over the "
        "maximum, a number that is not E.164 and a missing number reject the record before anything is sent; "
        "an email-only route beside it is unchanged.",
        [
            record("gsm7", notice(eventId="g", phone="+49 151 1234-5678", message="your order shipped (€12)")),
            record("ucs2-emoji", notice(eventId="u", phone="+44 (0)20 7946 0958", message="your order shipped 🎉")),
            record("multi-segment", notice(eventId="m", phone="+14155550123", message="x" * 200)),
            record("over-the-limit", notice(eventId="o", phone="+14155550123", message="y" * 500)),
            record("invalid-number", notice(eventId="i", phone="0151 1234 5678")),
            record("missing-number", notice(eventId="n")),
            record("email-only", notice(eventId="e", eventType="notice/plain", phone="+14155550123")),
        ],
        {
            "gsm7": "send",
            "ucs2-emoji": "send",
            "multi-segment": "send",
            "over-the-limit": "reject sms_too_long",
            "invalid-number": "reject invalid_recipient",
            "missing-number": "reject missing_recipient",
            "email-only": "send",
        },
        env={**SENDER_ENV, "SMS_SENDER_ID": "Mailroom"},
        routes=default_routes(route("plain", ["notice/plain"]), texting(maxSegments=2)),
        templates=SMS_TEMPLATES,
    )

    yield "sms-outcomes", case(
        "What SNS answers decides each text, beside its email: a throttled text retries the record although its "
        "email went; on redelivery the email is found sent (its key completed) and only the text goes; an "
        "opted-out number and an invalid parameter reject; a 5xx retries; a promotional route says so.",
        [
            record("sms-throttled", notice(eventId="t", phone="+14155550123")),
            record("redelivered", notice(eventId="t", phone="+14155550123"), receive_count=2),
            record("opted-out", notice(eventId="x", phone="+14155550199")),
            record("invalid-parameter", notice(eventId="p", phone="+14155550123")),
            record("server-error", notice(eventId="s", phone="+14155550123")),
            record("email-throttled", notice(eventId="b", phone="+14155550123")),
            record("promotional", notice(eventId="q", eventType="notice/promo", phone="+14155550123")),
        ],
        {
            "sms-throttled": "retry throttled",
            "redelivered": "send",
            "opted-out": "reject opted_out",
            "invalid-parameter": "reject sms_rejected",
            "server-error": "retry transient",
            "email-throttled": "retry throttled",
            "promotional": "send",
        },
        outcomes={
            "sms-throttled/sms": failed("Throttling", "Rate exceeded", 400),
            "redelivered": {"outcome": "alreadySent", "messageId": "ses-sms-throttled"},
            "opted-out/sms": failed("OptedOut", "SNS reports the number opted out (CheckIfPhoneNumberIsOptedOut)", None),
            "invalid-parameter/sms": failed("InvalidParameter", "Invalid parameter: PhoneNumber Reason: not a mobile number", 400),
            "server-error/sms": failed("InternalError", "Internal service error", 500),
            "email-throttled": failed("TooManyRequestsException", "Maximum sending rate exceeded.", 429),
        },
        routes={"smsType": "Transactional", "routes": [
            texting("promo", ["notice/promo"], smsType="Promotional", senderId="Deals"),
            texting(),
        ]},
        templates=SMS_TEMPLATES,
    )


def failed(code, message, status):
    value = {"outcome": "failed", "code": code, "message": message}
    if status is not None:
        value["httpStatus"] = status
    return value


def cases():
    yield "malformed-body", case(
        "Bodies that are not JSON objects after unwrapping are rejected as malformed_body.",
        [
            record("not-json", '{"mailto": "reader@example.com", '),
            record("json-array", [1, 2, 3]),
            record("json-string", '"just text"'),
            record("json-null", "null"),
            record("empty-body", ""),
            record("sns-message-not-json", sns("plain text, not JSON")),
            record("sns-message-array", sns([{"mailto": "reader@example.com"}])),
            record("good", notice()),
        ],
        {
            "not-json": "reject malformed_body",
            "json-array": "reject malformed_body",
            "json-string": "reject malformed_body",
            "json-null": "reject malformed_body",
            "empty-body": "reject malformed_body",
            "sns-message-not-json": "reject malformed_body",
            "sns-message-array": "reject malformed_body",
            "good": "send",
        },
        routes=default_routes(),
    )

    yield "no-route", case(
        "Without a default route, unknown or missing event types are rejected as no_route.",
        [
            record("known-type", notice(eventType="NoticePosted")),
            record("unknown-type", notice(eventType="SomethingElse")),
            record("no-type", notice()),
        ],
        {"known-type": "send", "unknown-type": "reject no_route", "no-type": "reject no_route"},
        routes=default_routes(route("notice", ["NoticePosted"])),
    )

    many = [f"person{n}@example.com" for n in range(51)]
    yield "recipients", case(
        "Recipient fields: missing, null, empty, invalid, too many, lists, fallbacks, IDN.",
        [
            record("missing-field", {"name": "Reader", "message": "m"}),
            record("null-field", notice(mailto=None)),
            record("empty-string", notice(mailto="   ")),
            record("empty-list", notice(mailto=[])),
            record("not-an-address", notice(mailto="reader at example dot com")),
            record("header-injection", notice(mailto="reader@example.com\r\nBcc: victim@example.com")),
            record("non-ascii-local-part", notice(mailto="josé@example.com")),
            record("fifty-one", notice(mailto=many)),
            record("fifty-with-duplicates", notice(mailto=many[:50] + ["PERSON0@example.com"])),
            record("list-with-names", notice(mailto=[
                {"email": "ana@example.com", "name": "Ana Núñez"},
                "Bo <bo@example.com>",
                "ana@EXAMPLE.com",
            ])),
            record("fallback-path", {"name": "R", "message": "m", "mailto": "", "customer": {"email": "c@example.com"}}),
            record("idn-domain", notice(mailto="Jürgen <info@bücher.example>")),
            record("number-recipient", notice(mailto=12345)),
        ],
        {
            "missing-field": "reject missing_recipient",
            "null-field": "reject missing_recipient",
            "empty-string": "reject missing_recipient",
            "empty-list": "reject missing_recipient",
            "not-an-address": "reject invalid_recipient",
            "header-injection": "reject invalid_recipient",
            "non-ascii-local-part": "reject invalid_recipient",
            "fifty-one": "reject invalid_recipient",
            "fifty-with-duplicates": "send",
            "list-with-names": "send",
            "fallback-path": "send",
            "idn-domain": "send",
            "number-recipient": "reject invalid_recipient",
        },
        routes=default_routes(route("notice", ["*"], recipient=["mailto", "customer.email"])),
    )

    yield "template-missing", case(
        "A route whose template is not loaded is retried, with a back-off that grows with the receive count.",
        [
            record("first-receive", notice(), receive_count=1),
            record("third-receive", notice(), receive_count=3),
            record("tenth-receive", notice(), receive_count=10),
        ],
        {"first-receive": "retry template_missing", "third-receive": "retry template_missing",
         "tenth-receive": "retry template_missing"},
        routes=default_routes(route("notice", ["*"], template="missing.html")),
    )

    yield "template-error", case(
        "Template syntax errors, undefined variables and runaway templates are retried as template_error.",
        [
            record("syntax", notice(eventType="syntax")),
            record("undefined", notice(eventType="undefined")),
            record("fuel", notice(eventType="fuel")),
            record("output-size", notice(eventType="size")),
            record("bad-filter-input", notice(eventType="money", amount="ten dollars")),
            record("subject-undefined", notice(eventType="subject")),
            record("fine", notice(eventType="fine")),
        ],
        {
            "syntax": "retry template_error",
            "undefined": "retry template_error",
            "fuel": "retry template_error",
            "output-size": "retry template_error",
            "bad-filter-input": "retry template_error",
            "subject-undefined": "retry template_error",
            "fine": "send",
        },
        routes={
            "routes": [
                route("syntax", ["syntax"], template="syntax.html"),
                route("undefined", ["undefined"], template="undefined.html"),
                route("fuel", ["fuel"], template="fuel.html"),
                route("size", ["size"], template="size.html"),
                route("money", ["money"], template="money.html"),
                route("subject", ["subject"], subject="Hi {{ nickname }}"),
                route("fine", ["fine"]),
            ],
            "limits": {"fuel": 20000, "maxOutputBytes": 4096, "maxRecursion": 32},
        },
        templates={
            **TEMPLATES,
            "syntax.html": "<p>{% if name %}unclosed</p>",
            "undefined.html": "<p>Hello\n{{ customer.first_name }}</p>",
            "fuel.html": "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "size.html": "{{ 'x' * 5000 }}",
            "money.html": "<p>{{ amount | money('USD') }}</p>",
        },
    )

    def send_case(message_id):
        return record(message_id, notice(eventId=f"evt-{message_id}"))

    ses_cases = {
        "accepted": None,
        "throttled": {"outcome": "failed", "code": "TooManyRequestsException", "message": "Maximum sending rate exceeded.", "httpStatus": 429},
        "daily-quota": {"outcome": "failed", "code": "LimitExceededException", "message": "Daily message quota exceeded.", "httpStatus": 400},
        "server-error": {"outcome": "failed", "code": "InternalFailure", "message": "", "httpStatus": 500},
        "timeout": {"outcome": "failed", "code": "timeout", "message": "no answer within 5s"},
        "sending-paused": {"outcome": "failed", "code": "SendingPausedException", "message": "Sending is paused for this account.", "httpStatus": 400},
        "mail-from-unverified": {"outcome": "failed", "code": "MailFromDomainNotVerifiedException", "message": "MAIL FROM domain not verified", "httpStatus": 400},
        "message-rejected": {"outcome": "failed", "code": "MessageRejected", "message": "Email address is not verified.", "httpStatus": 400},
        "bad-request": {"outcome": "failed", "code": "BadRequestException", "message": "Illegal header", "httpStatus": 400},
        "account-suspended": {"outcome": "failed", "code": "AccountSuspendedException", "message": "", "httpStatus": 400},
        "not-found": {"outcome": "failed", "code": "NotFoundException", "message": "Configuration set does not exist", "httpStatus": 404},
        "already-sent": {"outcome": "alreadySent", "messageId": "ses-earlier"},
        "in-progress": {"outcome": "inProgressElsewhere"},
        "in-progress-held": {"outcome": "inProgressElsewhere", "retryAfterSeconds": 1800},
    }
    yield "ses-outcomes", case(
        "What SES answers decides the final disposition: throttling and 5xx retry, our account or configuration (paused, suspended, a missing configuration set) retries slowly, refusals reject.",
        [send_case(message_id) for message_id in ses_cases],
        {
            "accepted": "send", "throttled": "retry throttled", "daily-quota": "retry throttled",
            "server-error": "retry transient", "timeout": "retry transient",
            "sending-paused": "retry sender_not_ready", "mail-from-unverified": "retry sender_not_ready",
            "message-rejected": "reject ses_rejected", "bad-request": "reject ses_rejected",
            "account-suspended": "retry sender_not_ready", "not-found": "retry sender_not_ready",
            "already-sent": "send", "in-progress": "retry in_progress",
            "in-progress-held": "retry in_progress",
        },
        routes=default_routes(),
        outcomes={k: v for k, v in ses_cases.items() if v},
    )

    order = {"id": 820982911946154508, "name": "#1071", "email": "buyer@example.com",
             "total_price": "42.50", "currency": "EUR", "customer": {"first_name": "Ana"}}
    shopify = eventbridge({"payload": order, "metadata": {"X-Shopify-Topic": "orders/paid", "x-shopify-event-id": "shop-evt-1"}},
                          "shopifyWebhook", event_id="eb-shop")
    yield "envelopes", case(
        "Raw, SNS, EventBridge, SNS around EventBridge and Shopify through EventBridge all unwrap to the event; the type comes from the attribute, SNS attribute, topic, detail-type, eventType or type, in that order.",
        [
            record("raw-event-type-field", notice(eventType="NoticePosted")),
            record("raw-type-field", notice(type="NoticePosted")),
            record("message-attribute-wins", notice(eventType="Other"), message_attributes={"eventType": "NoticePosted"}),
            record("sns", sns(notice(eventType="NoticePosted"), message_id="sns-a")),
            record("sns-attribute", sns(notice(), message_id="sns-b", event_type="NoticePosted")),
            record("eventbridge", eventbridge(notice(), "NoticePosted", event_id="eb-a")),
            record("sns-eventbridge", sns(eventbridge(notice(), "NoticePosted", event_id="eb-b"), message_id="sns-c")),
            record("shopify-eventbridge", shopify),
            record("shopify-other-topic", eventbridge({"payload": order, "metadata": {"X-Shopify-Topic": "orders/create"}}, "shopifyWebhook", event_id="eb-c")),
        ],
        {
            "raw-event-type-field": "send", "raw-type-field": "send", "message-attribute-wins": "send",
            "sns": "send", "sns-attribute": "send", "eventbridge": "send", "sns-eventbridge": "send",
            "shopify-eventbridge": "send", "shopify-other-topic": "reject no_route",
        },
        routes=default_routes(
            route("notice", ["NoticePosted"], template="envelope.html"),
            route("order", ["orders/paid"], template="order.html", subject="Order {{ name }}",
                  recipient=["email", "customer.email"]),
        ),
        templates={
            "envelope.html": "<p>{{ name }} via {{ mailroom.envelope }} as {{ mailroom.eventType }} ({{ mailroom.messageId }}, receive {{ mailroom.receiveCount }}, sent {{ mailroom.sentAt }})</p>",
            "order.html": "<p>{{ customer.first_name }}: {{ total_price | money(currency) }} via {{ mailroom.envelope }}</p>",
        },
    )

    def fifo(message_id, group, body=None):
        return record(message_id, body if body is not None else notice(eventId=f"evt-{message_id}"),
                      attributes={"MessageGroupId": group, "SequenceNumber": "1"}, queue=FIFO_QUEUE)

    yield "fifo", case(
        "On a FIFO queue, once a record of a group fails every later record of that group is retried unsent (group_blocked); other groups carry on.",
        [
            fifo("a1", "group-a"),
            fifo("b1", "group-b", body="not json"),
            fifo("a2", "group-a"),
            fifo("c1", "group-c"),
            fifo("b2", "group-b"),
            fifo("a3", "group-a"),
            fifo("c2", "group-c"),
            fifo("b3", "group-b"),
        ],
        {
            "a1": "send", "b1": "reject malformed_body", "a2": "retry throttled", "c1": "send",
            "b2": "retry group_blocked", "a3": "retry group_blocked", "c2": "send", "b3": "retry group_blocked",
        },
        routes=default_routes(),
        outcomes={"a2": {"outcome": "failed", "code": "TooManyRequestsException", "message": "Maximum sending rate exceeded.", "httpStatus": 429}},
    )

    plain = notice(orderNumber=1001)
    plain_reordered = {k: plain[k] for k in reversed(list(plain))}
    yield "idempotency", case(
        "Idempotency keys: equal for redeliveries and producer retries of one event, different for different events.",
        [
            record("redelivery-1", notice(eventId="evt-1")),
            record("redelivery-2", notice(eventId="evt-1"), receive_count=2),
            record("other-event", notice(eventId="evt-2")),
            record("sns-retry-1", sns(notice(), message_id="sns-same")),
            record("sns-retry-2", sns(notice(), message_id="sns-same")),
            record("eventbridge-retry-1", eventbridge(notice(), "NoticePosted", event_id="eb-same")),
            record("eventbridge-retry-2", eventbridge(notice(), "NoticePosted", event_id="eb-same")),
            record("content-1", plain),
            record("content-reordered", plain_reordered),
            record("content-different", notice(orderNumber=1002)),
            record("own-event-id-beats-envelope", sns(notice(eventId="evt-1"), message_id="sns-other")),
        ],
        {name: "send" for name in [
            "redelivery-1", "redelivery-2", "other-event", "sns-retry-1", "sns-retry-2",
            "eventbridge-retry-1", "eventbridge-retry-2", "content-1", "content-reordered",
            "content-different", "own-event-id-beats-envelope"]},
        routes=default_routes(),
    )

    yield "header-safety", case(
        "CR, LF and other controls in data never reach a header; non-ASCII subjects and names survive; HTML is escaped, text is not.",
        [
            record("subject-injection", notice(name="Ana\r\nBcc: victim@example.com")),
            record("unicode", notice(name="Zoë Ñúñez 🎉", mailto="Zoë Ñúñez <zoe@example.com>")),
            record("script-in-data", notice(name="<script>alert(1)</script>", message='<img src=x onerror="alert(1)">')),
            record("long-subject", notice(name="x" * 400)),
        ],
        {"subject-injection": "send", "unicode": "send", "script-in-data": "send", "long-subject": "send"},
        routes=default_routes(),
    )

    yield "environment-config", case(
        "Configuration from environment variables only, as existing deployments set it: one default route, recipient field mailto; "
        "CONFIGURATION_SET names the SES configuration set of every email.",
        [
            record("enrollment", {"mailto": "organizer@example.com", "studentName": "Ana", "courseName": "Rust"}),
            record("no-mailto", {"studentName": "Ana", "courseName": "Rust"}),
        ],
        {"enrollment": "send", "no-mailto": "reject missing_recipient"},
        env={
            "SENDER": "Courses <courses@example.com>",
            "SUBJECT": "New enrollment: {{ studentName }}",
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL": "enrollment.html",
            "REPLY_TO": "help@example.com",
            "CONFIGURATION_SET": "mailroom-feedback",
        },
        templates={"enrollment.html": "<p>{{ studentName }} enrolled in {{ courseName }}.</p>"},
    )

    def ledger_row(address, suppression):
        entry = {"history": [], "suppression": suppression}
        return ({"pk": f"address#{address}"}, {"item": {"entry": json.dumps(entry)}})

    yield "suppression", case(
        "With LEDGER_TABLE set, every recipient is checked against the ledger's suppressions before sending, "
        "through the lookup protocol (reads of address#<address>): a record whose only recipient is suppressed "
        "is acknowledged as suppressed and never sent; a suppressed recipient among others is dropped; an expired "
        "suppression, or no entry, suppresses nothing; a read that fails retries the record.",
        [
            record("bounced", {"mailto": "Bounced@Example.com", "studentName": "Ana", "courseName": "Rust"}),
            record("one-of-two", {"mailto": ["bounced@example.com", "kept@example.com"], "studentName": "Ana", "courseName": "Rust"}),
            record("expired", {"mailto": "soft@example.com", "studentName": "Ana", "courseName": "Rust"}),
            record("unknown", {"mailto": "new@example.com", "studentName": "Ana", "courseName": "Rust"}),
            record("ledger-throttled", {"mailto": "busy@example.com", "studentName": "Ana", "courseName": "Rust"}),
        ],
        {"bounced": "suppressed", "one-of-two": "send", "expired": "send", "unknown": "send",
         "ledger-throttled": "retry throttled"},
        env={
            "SENDER": "Courses <courses@example.com>",
            "SUBJECT": "New enrollment: {{ studentName }}",
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL": "enrollment.html",
            "LEDGER_TABLE": "mailroom-ledger",
        },
        templates={"enrollment.html": "<p>{{ studentName }} enrolled in {{ courseName }}.</p>"},
        lookups={"mailroom-ledger": [
            {"key": key, **answer} for key, answer in [
                ledger_row("bounced@example.com", {"address": "bounced@example.com", "reason": {"kind": "permanent_bounce"}, "expiresAt": None}),
                ledger_row("soft@example.com", {"address": "soft@example.com", "reason": {"kind": "transient_bounces", "count": 3},
                                                "expiresAt": "2026-01-01T00:00:00Z"}),
                ({"pk": "address#busy@example.com"}, {"failure": "throttled"}),
            ]
        ]},
    )

    yield "precedence", case(
        "A routes file and variables together, with the one precedence: the file's routes replace the variables' default route "
        "(SUBJECT and SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL are not used), the file's replyTo beats REPLY_TO, "
        "and SENDER fills what the file leaves out.",
        [
            record("routed", notice(eventType="notice/sent")),
            record("unrouted", notice(eventType="something/else")),
        ],
        {"routed": "send", "unrouted": "reject no_route"},
        env={
            "SENDER": "From Env <env@example.com>",
            "REPLY_TO": "env-replies@example.com",
            "SUBJECT": "from the variables",
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL": "legacy.html",
        },
        routes={"replyTo": "file-replies@example.com", "routes": [route("notice", ["notice/sent"])]},
        templates={**TEMPLATES, "legacy.html": "<p>the variables' template</p>"},
    )

    yield "text-template", case(
        "A route's textTemplate is its text part, in place of the .txt sibling; a route without one uses the sibling.",
        [
            record("named-text", notice(eventType="notice/short")),
            record("sibling-text", notice(eventType="notice/sibling")),
        ],
        {"named-text": "send", "sibling-text": "send"},
        routes=default_routes(
            route("short", ["notice/short"], textTemplate="short.txt"),
            route("sibling", ["notice/sibling"]),
        ),
        templates={**TEMPLATES, "short.txt": "Short: {{ message }}"},
    )

    yield "sandbox", case(
        "With a sandbox recipient every email goes to it; the original recipients are kept in a tag.",
        [record("real-recipients", notice(mailto=["a@example.com", "b@example.com"]))],
        {"real-recipients": "send"},
        env={**SENDER_ENV, "SANDBOX_RECIPIENT": "qa@example.com"},
        routes=default_routes(),
    )

    yield "batch-shape", case(
        "A message id that appears twice is listed once; one bad record does not affect the others.",
        [
            record("dup", "not json"),
            record("ok-1", notice(eventId="1")),
            record("dup", "not json"),
            record("ok-2", notice(eventId="2")),
        ],
        {"dup": "reject malformed_body", "ok-1": "send", "ok-2": "send"},
        routes=default_routes(),
    )

    yield from lookup_cases()

    yield from sms_cases()

    yield "empty-batch", case("An empty batch gives an empty response.", [], {}, routes=default_routes())

    yield "examples-quickstart", case(
        "The shipped examples: every example event in every envelope, plus three that can never be sent (not JSON, no recipient, an unknown student).",
        json.loads((CASES.parent.parent.parent / "examples/events/quickstart.json").read_text())["Records"],
        None,
        routes=json.loads((CASES.parent.parent.parent / "examples/templates/routes.json").read_text()),
        template_dir="examples/templates",
        env={},
    )

    yield "examples-domain-events", case(
        "The shipped examples of the order service: its five domain event types through EventBridge, each "
        "emailed, and the four about an order also texted (one in UCS-2 for its emoji), by the routes of "
        "examples/templates/routes.json.",
        json.loads((CASES.parent.parent.parent / "examples/events/domain-events.json").read_text())["Records"],
        None,
        routes=json.loads((CASES.parent.parent.parent / "examples/templates/routes.json").read_text()),
        template_dir="examples/templates",
        env={},
    )


def main():
    CASES.mkdir(exist_ok=True)
    for name, value in cases():
        if value["expect"] is None:
            del value["expect"]
        path = CASES / f"{name}.json"
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
