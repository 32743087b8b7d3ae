"""End-to-end tests of the real `bootstrap` binary.

moto provides SQS (with a dead-letter queue and its redrive policy), SES v2, SNS and the
DynamoDB table the example routes' lookups read (holding `examples/templates/lookups.json`); a
local Lambda Runtime API feeds the function batches received from moto exactly as the event
source mapping would; CodeCommit, which has no local server, is an HTTP fake serving
`examples/templates/`.

Run: python3 -m unittest discover -s tests/lambda-e2e -v   (after `cargo build -p mailroom-lambda`)
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import time
import tempfile
import unittest
from pathlib import Path

from harness import (Function, AwsFront, Message, Moto, Queues, RuntimeApi, bootstrap_path, enrollment_completed,
                     example_messages, example_repository_with, seed_lookups)

MOTO: Moto | None = None

GOOD = example_messages()[:9]  # 3 enrollment notifications, 3 orders, 3 welcomes (ids only), in every envelope
MALFORMED, NO_RECIPIENT = example_messages()[9:11]


def setUpModule() -> None:
    global MOTO
    if not bootstrap_path().exists():
        raise RuntimeError(f"{bootstrap_path()} is missing: run `cargo build -p mailroom-lambda` first")
    MOTO = Moto()


def tearDownModule() -> None:
    if MOTO is not None:
        MOTO.stop()


def parse(raw: str) -> email.message.EmailMessage:
    return email.message_from_string(raw, policy=email.policy.default)


class LambdaTestCase(unittest.TestCase):
    """A fresh moto state, AWS front door, Runtime API and sender identity per test."""

    def setUp(self) -> None:
        MOTO.reset()
        MOTO.client("sesv2").create_email_identity(EmailIdentity="academy.example.com")
        seed_lookups(MOTO)
        self.front = AwsFront(MOTO.url)
        self.runtime = RuntimeApi()
        self.functions: list[Function] = []

    def tearDown(self) -> None:
        for function in self.functions:
            function.stop()
        self.runtime.stop()
        self.front.stop()

    def tmp(self) -> Path:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        return Path(folder.name)

    def start(self, **env: str) -> Function:
        function = Function(self.runtime, self.front, env)
        self.functions.append(function)
        return function

    def sent(self) -> list[email.message.EmailMessage]:
        return [parse(m["raw_data"]) for m in MOTO.sent_raw_messages()]

    def failures(self, response: dict) -> list[str]:
        return [f["itemIdentifier"] for f in response.get("batchItemFailures") or []]

    def record_logs(self, function: Function) -> dict[str, dict]:
        return {line["message_id"]: line for line in function.json_lines() if "decision" in line}

    def metrics(self, function: Function) -> list[dict]:
        return [line for line in function.json_lines() if "_aws" in line]


class MixedBatch(LambdaTestCase):
    def test_good_records_are_sent_and_bad_ones_parked_in_the_dead_letter_queue_with_their_reason(self) -> None:
        queues = Queues(MOTO, "mailroom-notifications")
        function = self.start(DLQ_URL=queues.dlq_url)
        queues.send(GOOD[:8] + [MALFORMED, NO_RECIPIENT])
        event = queues.receive_event()
        self.assertEqual(len(event["Records"]), 10)

        kind, response = function.invoke(event)
        self.assertEqual(kind, "response", response)
        self.assertEqual(self.failures(response), [], "rejected records were moved to the DLQ, so acknowledged")
        queues.acknowledge(event, response)

        sent = self.sent()
        self.assertEqual(len(sent), 8)
        subjects = sorted(m["subject"] for m in sent)
        self.assertEqual(subjects.count("New enrollment: Ana Núñez joined Rust for Backend Engineers"), 3)
        self.assertEqual(subjects.count("Order #1071 confirmed"), 3)
        self.assertEqual(subjects.count("Welcome to Rust for Backend Engineers, Ana"), 2)
        for message in sent:
            self.assertEqual(message["from"].addresses[0].addr_spec, "notifications@academy.example.com")
            self.assertEqual(message["reply-to"].addresses[0].addr_spec, "support@academy.example.com")
            text = message.get_body(("plain",)).get_content()
            html = message.get_body(("html",)).get_content()
            if message["subject"].startswith("New enrollment"):
                self.assertEqual(message["to"].addresses[0].addr_spec, "dana.organizer@academy.example.com")
                self.assertEqual(message["to"].addresses[0].display_name, "Dana Organizer")
                self.assertIn("Ana Núñez has enrolled in Rust for Backend Engineers", " ".join(text.split()))
                self.assertIn("<strong>Ana Núñez</strong>", html)
            elif message["subject"].startswith("Order"):
                self.assertEqual(message["to"].addresses[0].addr_spec, "ana.nunez@example.org")
                self.assertIn("order #1071", text)
                self.assertIn("Total:", text)
            else:
                self.assertEqual(message["to"].addresses[0].addr_spec, "ana.nunez@example.org")
                self.assertIn("Your place in <strong>Rust for Backend Engineers</strong> is confirmed", html)
            self.assertRegex(message["x-mailroom-idempotency-key"], r"^[0-9a-f]{16,}$")

        self.assertEqual(queues.counts(), (0, 0), "the work queue is empty")
        dead = queues.dead_letters()
        reasons = {m["Body"]: m["MessageAttributes"]["mailroom.reason"]["StringValue"] for m in dead}
        self.assertEqual(reasons, {MALFORMED.body: "malformed_body", NO_RECIPIENT.body: "missing_recipient"})
        for message in dead:
            attributes = message["MessageAttributes"]
            self.assertEqual(attributes["mailroom.sourceQueue"]["StringValue"], queues.queue_arn)
            self.assertIn(attributes["mailroom.sourceMessageId"]["StringValue"], [r["messageId"] for r in event["Records"]])

        logs = self.record_logs(function)
        self.assertEqual(set(logs), {r["messageId"] for r in event["Records"]}, "one log line per record")
        self.assertEqual(sorted(l["decision"] for l in logs.values()), ["reject"] * 2 + ["send"] * 8)
        output = function.output()
        self.assertNotIn("dana.organizer@academy.example.com", output, "recipients are masked in logs")
        self.assertNotIn("ana.nunez@example.org", output)
        self.assertIn("d***@academy.example.com", output)
        [metrics] = self.metrics(function)
        self.assertEqual((metrics["Sent"], metrics["Rejected"], metrics["Retried"]), (8, 2, 0))
        self.assertEqual(metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Mailroom")
        # The two welcomes: student and course in one BatchGetItem, then the instructor.
        self.assertEqual((metrics["LookupReads"], metrics["LookupCalls"], metrics["LookupCacheHits"]), (3, 2, 0))

    def test_without_a_dlq_url_rejected_records_fail_until_the_redrive_policy_moves_them(self) -> None:
        queues = Queues(MOTO, "mailroom-redrive", visibility_timeout=1)
        function = self.start()
        queues.send([MALFORMED])
        deliveries = 0
        for _ in range(12):
            event = queues.receive_event()
            if event["Records"]:
                deliveries += 1
                kind, response = function.invoke(event)
                self.assertEqual(self.failures(response), [event["Records"][0]["messageId"]])
                queues.acknowledge(event, response)
            if queues.counts(queues.dlq_url)[0]:
                break
            time.sleep(1.1)
        self.assertEqual(deliveries, 5, "delivered maxReceiveCount times, then redriven")
        [dead] = queues.dead_letters()
        self.assertEqual(dead["Body"], MALFORMED.body)
        self.assertEqual(self.sent(), [])


class SesThrottling(LambdaTestCase):
    def test_throttled_sends_are_retried_later_and_the_rest_go_out(self) -> None:
        queues = Queues(MOTO, "mailroom-throttled", visibility_timeout=1)
        self.front.throttle = lambda raw: "Welcome to" in raw
        function = self.start()
        queues.send(GOOD)
        event = queues.receive_event()
        kind, response = function.invoke(event)
        self.assertEqual(kind, "response")
        welcome_ids = {r["messageId"] for r in event["Records"] if "EnrollmentCompleted" in r["body"]}
        self.assertEqual(len(welcome_ids), 3)
        self.assertEqual(set(self.failures(response)), welcome_ids)
        queues.acknowledge(event, response)

        self.assertEqual(len(self.sent()), 6)
        self.assertTrue(all(not m["subject"].startswith("Welcome") for m in self.sent()))
        self.assertEqual(self.front.calls["SESv2.SendEmail"], 9, "one attempt each: the SDK does not retry SES")
        # The queue's own visibility timeout is 1 s; the back-off set by the function (15-30 s
        # on a first receive) keeps the throttled records hidden well beyond it.
        time.sleep(2)
        self.assertEqual(queues.counts(), (0, 3))
        logs = self.record_logs(function)
        for message_id in welcome_ids:
            self.assertEqual(logs[message_id]["reason"], "throttled")
            self.assertTrue(15 <= logs[message_id]["retry_after_seconds"] <= 30, logs[message_id])
        [metrics] = self.metrics(function)
        self.assertEqual((metrics["Sent"], metrics["Retried"], metrics["Throttled"]), (6, 3, 3))


class Sms(LambdaTestCase):
    """Routes that text as well as email, through moto's SNS, with the idempotency store."""

    TABLE = "mailroom-keys"

    def setUp(self) -> None:
        super().setUp()
        MOTO.client("dynamodb").create_table(
            TableName=self.TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )

    def test_a_mixed_batch_emails_and_texts_and_a_throttled_text_alone_goes_again_on_redelivery(self) -> None:
        queues = Queues(MOTO, "mailroom-sms")
        function = self.start(IDEMPOTENCY_TABLE=self.TABLE, DLQ_URL=queues.dlq_url)
        # SNS throttles the payment's text once; everything else goes.
        throttled: list[str] = []
        def throttle(phone: str, message: str) -> bool:
            if "payment of" in message and not throttled:
                throttled.append(phone)
                return True
            return False
        self.front.sms_throttle = throttle
        domain = example_messages("domain-events.json")
        queues.send(GOOD[:3] + domain)
        event = queues.receive_event()
        self.assertEqual(len(event["Records"]), 8)
        payment = next(r for r in event["Records"] if "PAYMENT_PROCESSED" in r["body"])

        kind, response = function.invoke(event)
        self.assertEqual(kind, "response", response)
        self.assertEqual(self.failures(response), [payment["messageId"]], "the record whose text was throttled is retried")
        queues.acknowledge(event, response)
        # Every email went, the payment's included; three texts went, the payment's did not.
        self.assertEqual(len(self.sent()), 8)
        texts = MOTO.sms_messages()
        self.assertEqual(len(texts), 3)
        self.assertTrue(all(t["phone_number"] == "+34612345678" for t in texts), texts)
        self.assertFalse(any("payment of" in t["message"] for t in texts))
        self.assertEqual(throttled, ["+34612345678"])
        # Each text was asked about first: SNS would accept a text to an opted-out number.
        self.assertEqual(self.front.calls["SNS.CheckIfPhoneNumberIsOptedOut"], 4)
        self.assertEqual(self.front.calls["SNS.Publish"], 4)
        logs = self.record_logs(function)
        self.assertEqual(logs[payment["messageId"]]["reason"], "throttled")
        sent_logs = [line for line in logs.values() if line["decision"] == "send"]
        self.assertTrue(all("+34612345678" not in json.dumps(line) for line in sent_logs), "numbers are masked in logs")
        self.assertEqual(sorted(line.get("sms_segments", 0) for line in sent_logs), [0, 0, 0, 0, 1, 1, 1])

        # The redelivery (made visible at once rather than after the back-off): the email's key
        # is completed, so only the text is sent.
        MOTO.client("sqs").change_message_visibility(
            QueueUrl=queues.url, ReceiptHandle=payment["receiptHandle"], VisibilityTimeout=0)
        again = queues.receive_event()
        self.assertEqual([r["messageId"] for r in again["Records"]], [payment["messageId"]])
        kind, response = function.invoke(again)
        self.assertEqual((kind, self.failures(response)), ("response", []))
        queues.acknowledge(again, response)
        self.assertEqual(len(self.sent()), 8, "the email was not sent again")
        texts = MOTO.sms_messages()
        self.assertEqual(len(texts), 4)
        [paid] = [t for t in texts if "payment of" in t["message"]]
        self.assertEqual(paid["message"], "Mailroom Shop: payment of €29.90 received for order ord_1001 ✅")
        line = self.record_logs(function)[payment["messageId"]]
        self.assertEqual((line["decision"], line["duplicate"], line["sms_duplicate"], line["sms_encoding"]), ("send", True, False, "UCS-2"))
        self.assertEqual(queues.counts(), (0, 0))

    def test_an_opted_out_number_rejects_the_record_to_the_dead_letter_queue_with_its_email_sent(self) -> None:
        queues = Queues(MOTO, "mailroom-opted-out")
        function = self.start(IDEMPOTENCY_TABLE=self.TABLE, DLQ_URL=queues.dlq_url)
        [created] = example_messages("domain/order-created.json")
        opted_out = type(created)(created.body.replace("+34 612 345 678", "+1 415 555 0199"), created.attributes)
        queues.send([opted_out])
        event = queues.receive_event()
        kind, response = function.invoke(event)
        self.assertEqual((kind, self.failures(response)), ("response", []), "parked in the dead-letter queue")
        queues.acknowledge(event, response)
        self.assertEqual(len(self.sent()), 1)
        self.assertEqual(MOTO.sms_messages(), [], "nothing published to a number that opted out")
        [dead] = queues.dead_letters()
        self.assertEqual(dead["MessageAttributes"]["mailroom.reason"]["StringValue"], "opted_out")


class CodeCommitOutage(LambdaTestCase):
    def test_unavailable_at_cold_start_retries_everything_then_recovers(self) -> None:
        queues = Queues(MOTO, "mailroom-cold", visibility_timeout=1)
        self.front.codecommit_down = True
        function = self.start(DLQ_URL=queues.dlq_url)
        queues.send(GOOD[:3] + [MALFORMED])
        event = queues.receive_event()
        kind, response = function.invoke(event)
        self.assertEqual(kind, "response")
        self.assertEqual(sorted(self.failures(response)), sorted(r["messageId"] for r in event["Records"]))
        queues.acknowledge(event, response)
        self.assertEqual(self.sent(), [])
        self.assertEqual(queues.dead_letters(), [], "nothing is decided without templates, not even a reject")
        time.sleep(1.5)
        self.assertEqual(queues.counts(), (0, 4), "all kept, hidden for the back-off")
        self.assertEqual({l["reason"] for l in self.record_logs(function).values()}, {"template_missing"})

        self.front.codecommit_down = False
        queues.send(GOOD[3:5])
        event = queues.receive_event()
        kind, response = function.invoke(event)
        self.assertEqual(self.failures(response), [])
        self.assertEqual(len(self.sent()), 2)

    def test_a_warm_function_keeps_its_templates_through_an_outage(self) -> None:
        queues = Queues(MOTO, "mailroom-warm")
        function = self.start(TEMPLATE_CACHE_SECONDS="0")
        queues.send(GOOD[:2])
        event = queues.receive_event()
        self.assertEqual(self.failures(function.invoke(event)[1]), [])
        self.front.codecommit_down = True
        self.front.reset_counts()
        queues.send(GOOD[2:4])
        event = queues.receive_event()
        kind, response = function.invoke(event)
        self.assertEqual(self.failures(response), [])
        self.assertEqual(len(self.sent()), 4)
        self.assertGreaterEqual(self.front.calls.get("CodeCommit.GetBranch", 0), 1, "the head was checked")
        warnings = [l for l in function.json_lines() if l.get("level") == "WARN" and "cached copy" in l.get("message", "")]
        self.assertEqual(len(warnings), 1)

    def test_a_warm_batch_of_ten_costs_ten_sends_and_one_read(self) -> None:
        queues = Queues(MOTO, "mailroom-calls")
        function = self.start()
        # A welcome first: its course and instructor (cacheSeconds 300) stay cached.
        queues.send(GOOD[6:7])
        function.invoke(queues.receive_event())
        queues.send(GOOD + GOOD[:1])
        event = queues.receive_event()
        self.assertEqual(len(event["Records"]), 10)
        self.front.reset_counts()
        kind, response = function.invoke(event)
        self.assertEqual(self.failures(response), [])
        # The three welcomes' student (cacheSeconds 0) is read once for all three.
        self.assertEqual(self.front.calls, {"SESv2.SendEmail": 10, "DynamoDB.BatchGetItem": 1})


class Lookups(LambdaTestCase):
    """The ids-only EnrollmentCompleted event: the student, the course and its instructor come
    from moto's DynamoDB, the event from a real SNS topic subscribed to the queue."""

    def through_sns(self, queues: Queues, *student_ids: str) -> None:
        sns = MOTO.client("sns")
        topic = sns.create_topic(Name="enrollments")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queues.queue_arn)
        for student_id in student_ids:
            sns.publish(TopicArn=topic, Message=enrollment_completed(student_id))

    def test_an_ids_only_event_through_sns_is_sent_with_what_dynamodb_holds(self) -> None:
        queues = Queues(MOTO, "mailroom-lookups")
        function = self.start(DLQ_URL=queues.dlq_url)
        self.through_sns(queues, "stu_81723")
        event = queues.receive_event()
        [record] = event["Records"]
        self.assertEqual(json.loads(record["body"])["Type"], "Notification", "an SNS envelope")
        kind, response = function.invoke(event)
        self.assertEqual((kind, self.failures(response)), ("response", []), function.output())
        [message] = self.sent()
        self.assertEqual(message["subject"], "Welcome to Rust for Backend Engineers, Ana")
        [to] = message["to"].addresses
        self.assertEqual((to.display_name, to.addr_spec), ("Ana Núñez", "ana.nunez@example.org"))
        html = message.get_body(("html",)).get_content()
        text = " ".join(message.get_body(("plain",)).get_content().split())
        self.assertIn("Hi Ana,", html)
        self.assertIn("Your place in <strong>Rust for Backend Engineers</strong> is confirmed", html)
        self.assertIn("Your instructor is Grace Okafor, Staff Engineer.", text)
        self.assertIn("https://academy.example.com/courses/rust-backend-101", text)
        self.assertEqual(self.front.calls["DynamoDB.BatchGetItem"], 2, "student and course, then the instructor")
        [metrics] = self.metrics(function)
        self.assertEqual((metrics["LookupRounds"], metrics["LookupReads"], metrics["LookupsNotFound"], metrics["LookupsFailed"]),
                         (2, 3, 0, 0))

    def test_a_student_the_table_does_not_have_goes_to_the_dead_letter_queue(self) -> None:
        queues = Queues(MOTO, "mailroom-unknown")
        function = self.start(DLQ_URL=queues.dlq_url)
        self.through_sns(queues, "stu_99999")
        event = queues.receive_event()
        kind, response = function.invoke(event)
        self.assertEqual(self.failures(response), [], "moved to the DLQ, so acknowledged")
        queues.acknowledge(event, response)
        self.assertEqual(self.sent(), [])
        [dead] = queues.dead_letters()
        attributes = dead["MessageAttributes"]
        self.assertEqual(attributes["mailroom.reason"]["StringValue"], "lookup_missing")
        self.assertIn("STUDENT#stu_99999", attributes["mailroom.detail"]["StringValue"])
        self.assertEqual(queues.counts(), (0, 0))
        [metrics] = self.metrics(function)
        self.assertEqual((metrics["LookupsNotFound"], metrics["Rejected"], metrics["Parked"]), (1, 1, 1))

    def test_throttled_reads_are_retried_and_the_record_is_sent_on_redelivery(self) -> None:
        # A short retry policy from the routes file, so the redelivery comes within seconds: on a
        # first receive the back-off is 1-2 s (half of baseSeconds, plus jitter up to the rest).
        self.front.repository = example_repository_with(self.tmp(), retry={"baseSeconds": 2, "maxSeconds": 4})
        queues = Queues(MOTO, "mailroom-throttled-reads", visibility_timeout=30)
        codes = iter(["ThrottlingException"] + ["ProvisionedThroughputExceededException"] * 100)
        self.front.dynamodb_fault = lambda operation, request: next(codes) if operation == "BatchGetItem" else None
        function = self.start(DLQ_URL=queues.dlq_url)
        self.through_sns(queues, "stu_81723")
        event = queues.receive_event()
        kind, response = function.invoke(event)
        [record] = event["Records"]
        self.assertEqual(self.failures(response), [record["messageId"]])
        queues.acknowledge(event, response)
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.front.calls["DynamoDB.BatchGetItem"], 3, "the SDK's three attempts")
        log = self.record_logs(function)[record["messageId"]]
        self.assertEqual((log["decision"], log["reason"]), ("retry", "throttled"))
        self.assertIn(log["retry_after_seconds"], (1, 2))
        self.assertEqual(queues.dead_letters(), [], "a throttled read is never the message's fault")

        self.front.dynamodb_fault = lambda operation, request: None
        deadline = time.monotonic() + 10
        redelivered = {"Records": []}
        while not redelivered["Records"] and time.monotonic() < deadline:
            time.sleep(0.5)
            redelivered = queues.receive_event()
        self.assertEqual([r["messageId"] for r in redelivered["Records"]], [record["messageId"]],
                         "back after the function's back-off, not the queue's 30 s")
        kind, response = function.invoke(redelivered)
        self.assertEqual(self.failures(response), [])
        [message] = self.sent()
        self.assertEqual(message["subject"], "Welcome to Rust for Backend Engineers, Ana")

    def test_a_throttled_attempt_the_sdk_retries_is_sent_in_the_same_invocation(self) -> None:
        queues = Queues(MOTO, "mailroom-one-throttle")
        codes = iter(["ProvisionedThroughputExceededException"])
        self.front.dynamodb_fault = lambda operation, request: next(codes, None) if operation == "BatchGetItem" else None
        function = self.start()
        self.through_sns(queues, "stu_81723")
        kind, response = function.invoke(queues.receive_event())
        self.assertEqual(self.failures(response), [])
        self.assertEqual(len(self.sent()), 1)
        self.assertEqual(self.front.calls["DynamoDB.BatchGetItem"], 3, "one throttled, its retry, the instructor")


class FifoQueue(LambdaTestCase):
    def test_a_group_stops_at_its_first_failure_and_other_groups_go_on(self) -> None:
        # The routes file's retry policy, served from a copy of the examples, keeps the back-off short.
        self.front.repository = example_repository_with(self.tmp(), retry={"baseSeconds": 2, "maxSeconds": 4})
        queues = Queues(MOTO, "mailroom-orders", fifo=True, visibility_timeout=1)
        # Group "ana": a welcome (throttled), then two order confirmations. Group "dana": two
        # enrollment notifications and a malformed body.
        self.front.throttle = lambda raw: "Welcome to" in raw
        function = self.start(DLQ_URL=queues.dlq_url)
        queues.send([GOOD[6], GOOD[3], GOOD[4]], group="ana")
        queues.send([GOOD[0], GOOD[1], MALFORMED], group="dana")
        event = queues.receive_event()
        self.assertEqual(len(event["Records"]), 6)
        kind, response = function.invoke(event)
        self.assertEqual(kind, "response")
        groups = {r["messageId"]: r["attributes"]["MessageGroupId"] for r in event["Records"]}
        self.assertEqual(sorted(groups[i] for i in self.failures(response)), ["ana"] * 3)
        queues.acknowledge(event, response)

        subjects = [m["subject"] for m in self.sent()]
        self.assertEqual(subjects, ["New enrollment: Ana Núñez joined Rust for Backend Engineers"] * 2,
                         "nothing of group ana after its failure")
        logs = self.record_logs(function)
        ana = [r["messageId"] for r in event["Records"] if groups[r["messageId"]] == "ana"]
        self.assertEqual([logs[i]["reason"] for i in ana], ["throttled", "group_blocked", "group_blocked"])
        self.assertEqual([logs[i]["retry_after_seconds"] for i in ana][1:], [0, 0])
        self.assertIn(logs[ana[0]]["retry_after_seconds"], (1, 2), "the routes file's retry policy applies")
        [dead] = queues.dead_letters()
        self.assertEqual(dead["Body"], MALFORMED.body)
        self.assertEqual(dead["Attributes"]["MessageGroupId"], "dana")

        # The group's next delivery starts again at its first message, in order.
        self.front.throttle = lambda raw: False
        time.sleep(0.2)
        deadline = time.monotonic() + 10
        redelivered = []
        while not redelivered and time.monotonic() < deadline:
            redelivered = queues.receive_event()["Records"]
            if not redelivered:
                time.sleep(0.5)
        self.assertTrue(redelivered)
        self.assertEqual(redelivered[0]["body"], GOOD[6].body)


class Compatibility(LambdaTestCase):
    def test_without_report_batch_item_failures_processed_messages_are_deleted_and_the_invocation_fails(self) -> None:
        queues = Queues(MOTO, "mailroom-legacy")
        function = self.start(SQS_URL=queues.url, DELETE_PROCESSED="true")
        queues.send(GOOD[:2] + [MALFORMED])
        event = queues.receive_event()
        kind, error = function.invoke(event)
        self.assertEqual(kind, "error")
        self.assertEqual(error["errorType"], "Mailroom.RecordsToRetry")
        self.assertIn("1 of 3 records", error["errorMessage"])
        # No acknowledge: on an error the event source mapping deletes nothing.
        self.assertEqual(len(self.sent()), 2)
        self.assertEqual(queues.counts(), (0, 1), "only the failed record is left")
        self.assertEqual(self.front.calls.get("SQS.DeleteMessageBatch"), 1)


class Deadline(LambdaTestCase):
    def test_near_the_deadline_no_send_starts_and_records_return_at_once(self) -> None:
        queues = Queues(MOTO, "mailroom-late")
        function = self.start(DEADLINE_MARGIN_MS="5000")
        queues.send(GOOD[:4])
        event = queues.receive_event()
        kind, response = function.invoke(event, timeout_ms=4000)
        self.assertEqual(len(self.failures(response)), 4)
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.front.calls.get("SESv2.SendEmail", 0), 0)
        self.assertEqual(queues.counts(), (4, 0), "visible again at once: not the messages' fault")
        self.assertEqual({l["reason"] for l in self.record_logs(function).values()}, {"deadline"})


class Sandbox(LambdaTestCase):
    def test_while_testing_every_email_goes_to_the_sandbox_address_only(self) -> None:
        queues = Queues(MOTO, "mailroom-sandbox")
        function = self.start(SANDBOX_RECIPIENT="QA Inbox <qa@academy.example.com>")
        queues.send([GOOD[0], GOOD[3]])
        kind, response = function.invoke(queues.receive_event())
        self.assertEqual(self.failures(response), [])
        sent = self.sent()
        self.assertEqual(len(sent), 2)
        for message in sent:
            self.assertEqual([a.addr_spec for a in message["to"].addresses], ["qa@academy.example.com"])
        # moto lists the To header's mailboxes and the explicit Destination: all the sandbox.
        destinations = [d for m in MOTO.sent_raw_messages() for d in m["destinations"]]
        self.assertGreaterEqual(len(destinations), 2)
        self.assertEqual({email.utils.parseaddr(d)[1] for d in destinations}, {"qa@academy.example.com"}, "SES was asked for the sandbox only")


class LedgerTestCase(LambdaTestCase):
    """A function with the idempotency store, the delivery ledger in the same table, and a
    feedback queue subscribed to an SNS topic, as the SAM template deploys them."""

    TABLE = "mailroom"

    def setUp(self) -> None:
        super().setUp()
        dynamodb = MOTO.client("dynamodb")
        dynamodb.create_table(
            TableName=self.TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        self.events = Queues(MOTO, "mailroom-events")
        self.feedback = Queues(MOTO, "mailroom-feedback")
        sns = MOTO.client("sns")
        self.topic = sns.create_topic(Name="mailroom-ses-feedback")["TopicArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=self.feedback.queue_arn)
        self.function = self.start(
            DLQ_URL=self.events.dlq_url,
            IDEMPOTENCY_TABLE=self.TABLE,
            LEDGER_TABLE=self.TABLE,
            FEEDBACK_QUEUE_ARN=self.feedback.queue_arn,
        )

    def send_one(self) -> tuple[str, str, str]:
        """Sends the first example event; (SES message id, idempotency key, recipient)."""
        self.events.send(GOOD[:1])
        event = self.events.receive_event()
        kind, response = self.function.invoke(event)
        self.assertEqual((kind, self.failures(response)), ("response", []), self.function.output())
        [raw] = MOTO.sent_raw_messages()
        message = parse(raw["raw_data"])
        return raw["id"], str(message["X-Mailroom-Idempotency-Key"]), message["to"].addresses[0].addr_spec

    def publish(self, *notifications: dict | str) -> None:
        sns = MOTO.client("sns")
        for notification in notifications:
            text = notification if isinstance(notification, str) else json.dumps(notification)
            sns.publish(TopicArn=self.topic, Message=text)

    def notification(self, event_type: str, ses_id: str, key: str, to: str, **details) -> dict:
        notification = {
            "eventType": event_type,
            "mail": {"timestamp": "2026-11-23T10:00:01.000Z", "messageId": ses_id,
                     "source": "notifications@academy.example.com", "destination": [to],
                     "tags": {"idempotency_key": [key], "route": ["organizer-enrollment"],
                              "event_type": ["EnrollmentNotification"], "ses:configuration-set": ["mailroom"]}},
        }
        notification.update(details)
        return notification

    def entry(self, key: str) -> tuple[dict, dict]:
        item = MOTO.client("dynamodb").get_item(TableName=self.TABLE, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        self.assertIsNotNone(item, f"no ledger item {key}")
        return json.loads(item["entry"]["S"]), item

    def take_feedback(self, expected: int) -> dict:
        event = self.feedback.receive_event()
        self.assertEqual(len(event["Records"]), expected)
        kind, response = self.function.invoke(event)
        self.assertEqual((kind, self.failures(response)), ("response", []), self.function.output())
        self.feedback.acknowledge(event, response)
        return event



class StoreCalls(LedgerTestCase):
    """What the idempotency store and the ledger cost a batch, counted at the AWS endpoint."""

    def notifications(self, batch: str) -> list[Message]:
        template = json.loads(GOOD[0].body)
        return [Message(json.dumps({**template, "eventId": f"{batch}-{i}",
                                    "mailto": f"Organizer {i} <organizer{i}@academy.example.com>"}))
                for i in range(10)]

    def test_a_batch_is_claimed_in_one_call_and_completed_in_one_and_its_redelivery_sends_nothing(self) -> None:
        self.events.send(self.notifications("warm-up"))
        kind, response = self.function.invoke(self.events.receive_event())
        self.assertEqual((kind, self.failures(response)), ("response", []), self.function.output())
        # SES answers the ten concurrent sends together, as SES does (moto's SES answers them
        # one after another, tens of milliseconds apart, longer than a completion waits for
        # the others): the front door accepts each email itself after 50 ms.
        self.front.ses_delay, self.front.ses_answers_itself = 0.050, True
        self.events.send(self.notifications("batch"))
        event = self.events.receive_event()
        self.assertEqual(len(event["Records"]), 10)
        self.front.reset_counts()
        kind, response = self.function.invoke(event)
        self.assertEqual((kind, self.failures(response)), ("response", []), self.function.output())
        # The recipients' suppression checks and the ten claims in one transaction, the ten
        # sends, the ten completions in one batch write: 12 calls in three round trips.
        self.assertEqual(self.front.calls, {"DynamoDB.TransactWriteItems": 1,
                                            "SESv2.SendEmail": 10, "DynamoDB.BatchWriteItem": 1})
        items = MOTO.client("dynamodb").scan(TableName=self.TABLE)["Items"]
        claims = [item for item in items if not item["pk"]["S"].startswith(("email#", "address#"))]
        self.assertEqual(len(claims), 20, "the warm-up's ten keys and the batch's")
        self.assertEqual({item["state"]["S"] for item in claims}, {"completed"})
        self.assertEqual(sum(item["messageId"]["S"].startswith("stub-") for item in claims), 10)
        # The same events again (a producer's retry): the cancelled transaction shows every
        # address clear and every key completed; nothing is sent.
        self.events.send(self.notifications("batch"))
        self.front.reset_counts()
        kind, response = self.function.invoke(self.events.receive_event())
        self.assertEqual((kind, self.failures(response)), ("response", []), self.function.output())
        self.assertEqual(self.front.calls, {"DynamoDB.TransactWriteItems": 1})
        self.assertNotIn("SESv2.SendEmail", self.front.calls)


class Feedback(LedgerTestCase):
    """SES feedback as SES publishes it: through a real SNS topic into the feedback queue, then
    the function writes it to the ledger in moto's DynamoDB. moto does not publish SES events,
    so the notifications are written here after the SES developer guide's examples, for the
    email the function really sent."""

    def test_feedback_in_any_order_repeated_or_unreadable_gives_one_ledger_and_suppresses_a_hard_bounce(self) -> None:
        ses_id, key, to = self.send_one()
        bounce = self.notification("Bounce", ses_id, key, to, bounce={
            "bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-23T10:00:04.000Z",
            "feedbackId": "fb-1", "reportingMTA": "dsn; a1-2.smtp-out.amazonses.com",
            "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]})
        delivery = self.notification("Delivery", ses_id, key, to, delivery={
            "timestamp": "2026-11-23T10:00:03.000Z", "recipients": [to], "smtpResponse": "250 2.0.0 OK",
            "processingTimeMillis": 1200})
        send = self.notification("Send", ses_id, key, to, send={})
        # The bounce before the delivery it outranks, the bounce twice, and one SNS message that
        # is no SES notification at all.
        self.publish(bounce, delivery, send, bounce, "this is not an SES notification")
        self.take_feedback(5)

        entry, item = self.entry(f"email#{key}")
        self.assertEqual(entry["status"], {"bounced": "permanent"})
        self.assertEqual(entry["sesMessageId"], ses_id)
        self.assertEqual(entry["route"], "organizer-enrollment")
        self.assertEqual(sorted(entry["firstSeen"]), ["Bounce", "Delivery", "Send"])
        self.assertEqual(len(entry["history"]), 3, "the repeated bounce is held once")
        self.assertEqual(entry["bounce"]["diagnostic"], "smtp; 550 5.1.1 user unknown")
        self.assertEqual((item["ledgerStatus"]["S"], item["attention"]["S"]), ("bounced_permanent", "bounce"))
        address, address_item = self.entry(f"address#{to.lower()}")
        self.assertEqual(address["suppression"]["reason"], {"kind": "permanent_bounce"})
        self.assertEqual(address_item["suppressed"]["S"], "permanent_bounce")
        self.assertNotIn("expiresAt", address_item, "suppressed for good: never expires")

        metrics = [line for line in self.metrics(self.function) if "FeedbackDuration" in line]
        self.assertEqual(len(metrics), 1)
        counts = {name: metrics[0][name] for name in ("BouncedPermanent", "Delivered", "FeedbackSends", "Suppressed", "FeedbackUnreadable")}
        self.assertEqual(counts, {"BouncedPermanent": 2, "Delivered": 1, "FeedbackSends": 1, "Suppressed": 1, "FeedbackUnreadable": 1})
        unreadable = [line for line in self.function.json_lines() if line.get("message") == "feedback unreadable; acknowledged"]
        self.assertEqual(len(unreadable), 1, self.function.output())

        # A redelivery of the whole batch (SNS and SQS deliver at least once) changes nothing.
        self.publish(delivery, bounce)
        self.take_feedback(2)
        self.assertEqual(self.entry(f"email#{key}")[0], entry)

        # The next event to the bounced address: checked against the ledger before sending,
        # acknowledged as suppressed, never sent, never dead-lettered.
        another = json.loads(GOOD[0].body)
        another["studentName"] = "Bea Ortiz"
        self.events.sqs.send_message(QueueUrl=self.events.url, MessageBody=json.dumps(another))
        event = self.events.receive_event()
        kind, response = self.function.invoke(event)
        self.assertEqual((kind, self.failures(response)), ("response", []), self.function.output())
        self.events.acknowledge(event, response)
        self.assertEqual(len(MOTO.sent_raw_messages()), 1, "only the first email was ever sent")
        self.assertEqual(self.events.dead_letters(), [])
        [logged] = [line for line in self.function.json_lines() if line.get("decision") == "suppressed"]
        self.assertEqual(logged["message_id"], event["Records"][0]["messageId"])
        event_metrics = [line for line in self.metrics(self.function) if "SuppressedRecords" in line]
        self.assertEqual(event_metrics[-1]["SuppressedRecords"], 1)

    def test_the_configured_policy_decides_when_soft_bounces_suppress(self) -> None:
        self.function.stop()
        self.function = self.start(
            DLQ_URL=self.events.dlq_url, IDEMPOTENCY_TABLE=self.TABLE, LEDGER_TABLE=self.TABLE,
            FEEDBACK_QUEUE_ARN=self.feedback.queue_arn,
            SUPPRESSION_TRANSIENT_BOUNCES="2", SUPPRESSION_TRANSIENT_EXPIRY_SECONDS="3600")
        ses_id, key, to = self.send_one()

        def soft_bounce(n: int) -> dict:
            return self.notification("Bounce", ses_id, key, to, bounce={
                "bounceType": "Transient", "bounceSubType": "MailboxFull",
                # Within the policy's window (7 days back from now).
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600 * (3 - n))),
                "feedbackId": f"soft-{n}",
                "bouncedRecipients": [{"emailAddress": to, "status": "4.2.2"}]})

        self.publish(soft_bounce(1))
        self.take_feedback(1)
        address, item = self.entry(f"address#{to.lower()}")
        self.assertIsNone(address.get("suppression"), "one soft bounce of the two the policy asks for")
        self.assertNotIn("suppressed", item)
        started = time.time()
        self.publish(soft_bounce(2))
        self.take_feedback(1)
        address, item = self.entry(f"address#{to.lower()}")
        self.assertEqual(address["suppression"]["reason"], {"kind": "transient_bounces", "count": 2})
        self.assertEqual(item["suppressed"]["S"], "transient_bounces")
        # Lifted an hour from now, as SUPPRESSION_TRANSIENT_EXPIRY_SECONDS says.
        self.assertAlmostEqual(int(item["suppressedUntil"]["N"]), started + 3600, delta=60)

    def test_feedback_for_an_email_the_ledger_never_saw_is_kept_under_its_key(self) -> None:
        to = "someone@example.org"
        self.publish(self.notification("Delivery", "ses-unknown", "0123456789abcdef0123456789abcdef", to, delivery={
            "timestamp": "2026-11-23T10:00:03.000Z", "recipients": [to]}))
        self.take_feedback(1)
        entry, _ = self.entry("email#0123456789abcdef0123456789abcdef")
        self.assertEqual(entry["status"], "delivered")
        self.assertEqual(entry["recipients"], {to: "delivered"})


class DirectSns(LedgerTestCase):
    """A topic that invokes the function itself (no queue): business events are decided as an
    SQS record is, feedback goes to the ledger, and the invocation fails only when SNS should
    try again."""

    @staticmethod
    def invocation(message: str, message_id: str) -> dict:
        return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                             "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:events:sub",
                             "Sns": {"Type": "Notification", "MessageId": message_id,
                                     "TopicArn": "arn:aws:sns:us-east-1:123456789012:events", "Subject": None,
                                     "Message": message, "Timestamp": "2026-11-23T10:00:00.000Z",
                                     "SignatureVersion": "1", "Signature": "c2ln", "MessageAttributes": {}}}]}

    def test_a_business_event_is_sent_a_reject_parked_and_feedback_recorded(self) -> None:
        kind, answer = self.function.invoke(self.invocation(GOOD[0].body, "sns-direct-1"))
        self.assertEqual((kind, answer), ("response", {}), self.function.output())
        [raw] = MOTO.sent_raw_messages()
        message = parse(raw["raw_data"])
        key, to = str(message["X-Mailroom-Idempotency-Key"]), message["to"].addresses[0].addr_spec

        kind, answer = self.function.invoke(self.invocation(NO_RECIPIENT.body, "sns-direct-2"))
        self.assertEqual((kind, answer), ("response", {}), "parked in the DLQ, so settled")
        [dead] = self.events.dead_letters()
        self.assertEqual(dead["MessageAttributes"]["mailroom.reason"]["StringValue"], "missing_recipient")

        delivery = self.notification("Delivery", raw["id"], key, to, delivery={
            "timestamp": "2026-11-23T10:00:03.000Z", "recipients": [to]})
        kind, answer = self.function.invoke(self.invocation(json.dumps(delivery), "sns-direct-3"))
        self.assertEqual((kind, answer), ("response", {}), self.function.output())
        entry, _ = self.entry(f"email#{key}")
        self.assertEqual(entry["status"], "delivered")
        self.assertEqual(len(MOTO.sent_raw_messages()), 1)

    def test_a_retry_fails_the_invocation_so_sns_tries_again(self) -> None:
        # The ledger's table is gone: the suppression read fails, the record is retried.
        MOTO.client("dynamodb").delete_table(TableName=self.TABLE)
        kind, answer = self.function.invoke(self.invocation(GOOD[0].body, "sns-direct-4"))
        self.assertEqual(kind, "error", answer)
        self.assertEqual(answer["errorType"], "Mailroom.NotSettled")
        self.assertIn("retry lookup_failed", answer["errorMessage"])
        self.assertEqual(MOTO.sent_raw_messages(), [])


class Configuration(LambdaTestCase):
    def test_a_bad_value_stops_the_function_at_init_naming_the_variable(self) -> None:
        for name, value in [("MAX_CONCURRENT_SENDS", "lots"), ("SENDER", "not an address"), ("DLQ_URL", "arn:aws:sqs:x"),
                            ("SUPPRESSION_WINDOW_SECONDS", "7d")]:
            with self.subTest(name=name):
                function = self.start(**{name: value})
                self.assertNotEqual(function.process.wait(timeout=10), 0)
                self.assertIn(f"{name} is invalid", function.output())
        self.assertEqual(self.runtime.polls, 0, "no invocation is ever taken")


if __name__ == "__main__":
    unittest.main()
