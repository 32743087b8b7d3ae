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

from harness import (Function, AwsFront, Moto, Queues, RuntimeApi, bootstrap_path, enrollment_completed,
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


class Configuration(LambdaTestCase):
    def test_a_bad_value_stops_the_function_at_init_naming_the_variable(self) -> None:
        for name, value in [("MAX_CONCURRENT_SENDS", "lots"), ("SENDER", "not an address"), ("DLQ_URL", "arn:aws:sqs:x")]:
            with self.subTest(name=name):
                function = self.start(**{name: value})
                self.assertNotEqual(function.process.wait(timeout=10), 0)
                self.assertIn(f"{name} is invalid", function.output())
        self.assertEqual(self.runtime.polls, 0, "no invocation is ever taken")


if __name__ == "__main__":
    unittest.main()
