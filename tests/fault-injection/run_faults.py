"""Fault injection: a few thousand messages through the real `bootstrap` under faults, then an
account of every one of them.

    moto_server (SQS + dead-letter queue, SES v2, DynamoDB idempotency table)
        ^                                   ^
        | event source mapping (this file)  | FaultFront per instance: SES throttling and 5xx,
        | receive, invoke, delete           | lost answers, CodeCommit outage, SQS failures,
        v                                   | DynamoDB throttling, hangs, kills, freezes
    RuntimeApi <--> bootstrap x WORKERS ----+

Each worker is one function instance with its own Runtime API: it receives up to 10 messages
from moto's queue, invokes the function with them, deletes what the partial batch response
does not list, and when the instance dies or overruns its deadline starts a new one (the
messages come back after the visibility timeout, as on AWS).

At the end every good event must have produced exactly one accepted email (a second one only
where SES accepted and the key was never completed because of a kill, a lost answer or a
freeze), every poison message must be in the dead-letter queue with its reason after one
receive no fault touched, no message may have been received more than the deployed
maxReceiveCount, and nothing may be left over. Exit status 1 otherwise.

The run ends when the queue is empty. At its time limit it goes on only while every message
still on the queue is waiting out a delay the function chose (`due_back`), up to the wait
limit: a cold start that cannot read the repository has no routes file, so it retries its batch
with the core's default back-off, minutes on a late receive, not the routes file's seconds.

Settings (environment): MAILROOM_FI_MESSAGES (default 2000), MAILROOM_FI_WORKERS (3),
MAILROOM_FI_SEED (7), MAILROOM_FI_TIME_LIMIT (seconds, 360), MAILROOM_FI_WAIT_LIMIT (seconds,
900), MAILROOM_FI_PLAN (FaultPlan fields as JSON), MAILROOM_FI_REPORT (a path for the figures as
JSON). Needs `moto_server` and a built `bootstrap` (see harness.bootstrap_path).
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lambda-e2e"))
sys.path.insert(0, str(HERE))

from harness import (Function, Moto, Queues, RuntimeApi, _RuntimeHandler, bootstrap_path, example_repository_with,  # noqa: E402
                     seed_lookups)

from accounting import account, excused_receives, print_summary  # noqa: E402
from faults import FaultFront, FaultPlan, Ledger  # noqa: E402
from workload import DOMAIN, build, event_of, students  # noqa: E402

TABLE = "mailroom-idempotency"
TEMPLATE = HERE.parents[1] / "deploy" / "template.yaml"
# Claims outlive their invocation by this much here (the Lambda's test knob), not 2 minutes:
# long enough to cover a frozen instance (continued `FaultPlan.thaw_after_s` after its
# invocation started) and the retry that meets its claim, short enough for the step's time limit.
LEASE_GRACE_S = 30
# How long after a message is due back the run waits for a poller to take it.
DUE_MARGIN_S = 20


def deployed_max_receive_count() -> int:
    """The redrive policy's maxReceiveCount of the SAM template, so the run uses what is deployed."""
    found = re.search(r"maxReceiveCount:\s*(\d+)", TEMPLATE.read_text())
    if not found:
        raise RuntimeError(f"no maxReceiveCount in {TEMPLATE}")
    return int(found.group(1))


class Touched:
    """What the injected faults of one invocation touched: every record (a kill, a freeze, a
    CodeCommit outage or hang), or the records named by a failed or hung SQS call (receipt
    handles, bodies), by a faulted SES call (recipients) or by a faulted claim (keys)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.every_record = False
        self.strings: set[str] = set()
        self.addresses: set[str] = set()
        self.keys: set[str] = set()


def private_runtime() -> RuntimeApi:
    """A Runtime API whose handler answers for it alone (the harness sets the owner of its
    handler class at class level, which is shared when several run at once)."""
    api = RuntimeApi()
    api.server.RequestHandlerClass = type("PrivateRuntimeHandler", (_RuntimeHandler,), {"owner": api})
    return api


class Worker:
    """One function instance and the event source mapping's poller for it."""

    def __init__(self, index: int, moto: Moto, queues: Queues, plan: FaultPlan, ledger: Ledger, env: dict, repository: Path) -> None:
        self.index = index
        self.generation = 0
        self.plan = plan
        self.ledger = ledger
        self.queues = queues
        self.env = env
        self.sqs = moto.client("sqs")
        self.runtime = private_runtime()
        self.front = FaultFront(moto.url, plan, ledger, random.Random(plan.seed * 1000 + index), self)
        self.front.repository = repository
        self.lock = threading.Lock()
        self.function = Function(self.runtime, self.front, env)
        self.logs = [self.function.log_path]  # every instance's log, for the diagnostics
        self.invocations = 0
        self.restarts = 0
        self.timeouts = 0
        self.idle = True
        self.invocation_started = time.monotonic()
        self.touched = Touched()
        self.thaw_at = 0.0  # while frozen: when the instance is continued
        self.freezes = 0
        # (records, touched) per invocation, resolved to excused receives at the end
        self.log: list[tuple[list[dict], Touched]] = []
        # message id -> what happened at each receive, for the report on messages that went wrong
        self.timeline: dict[str, list[dict]] = {}
        self.queues_visibility = plan.invocation_timeout_s * 3  # the run's visibility timeout
        self.clock_zero = time.monotonic()
        # Message ids whose delete the queue accepted: with the dead-letter queue's, what is
        # not left on the queue, so a run that ends at its time limit names what is.
        self.acknowledged: set[str] = set()
        # message id -> (time.monotonic() of its latest receive here, receipt handle, receive count)
        self.last_receive: dict[str, tuple[float, str, int]] = {}
        # The traceback that ended this poller, if one did: a broken test bed, not a finding
        # about the function, and the run says so rather than waiting out its time limit.
        self.crashed: str | None = None

    def touch(self, every_record: bool = False, strings=(), addresses=(), keys=()) -> None:
        touched = self.touched
        with touched.lock:
            touched.every_record |= every_record
            touched.strings.update(strings)
            touched.addresses.update(addresses)
            touched.keys.update(keys)

    def freeze(self, key: str) -> None:
        with self.lock:
            if self.function.process.poll() is not None:
                return
            self.function.process.send_signal(signal.SIGSTOP)
            self.freezes += 1
            self.thaw_at = self.invocation_started + self.plan.thaw_after_s
            self.ledger.frozen_keys[key] = (self.index, self.thaw_at)
            # Until the instance is continued: every SES answer of its in-flight sends waits
            # in its socket, and the SDK's attempt timeout may fire first on waking.
            self.ledger.frozen[(self.index, self.generation)] = self.thaw_at
            process = self.function.process
        self.touch(every_record=True)
        threading.Timer(max(0.0, self.thaw_at - time.monotonic()), self.thaw, args=(process,)).start()

    def thaw(self, process) -> None:
        with self.lock:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
            self.thaw_at = 0.0

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with self.lock:
            self.ledger.killed.setdefault((self.index, self.generation), self.invocation_started)
            if self.function.process.poll() is None:
                self.function.process.send_signal(sig)

    def restart(self) -> None:
        with self.lock:
            if self.function.process.poll() is None:
                self.function.process.kill()
            self.function.process.wait()
            self.function.stop(keep_log=True)
            # A fresh Runtime API per instance: a request the dead instance left waiting for
            # its next invocation must not take the next instance's.
            self.runtime.stop()
            self.runtime = private_runtime()
            self.generation += 1
            self.restarts += 1
            self.function = Function(self.runtime, self.front, self.env)
            self.logs.append(self.function.log_path)

    def invoke(self, event: dict) -> tuple[str, dict | None]:
        request_id = str(uuid.uuid4())
        self.invocation_started = time.monotonic()
        answers: queue.Queue = queue.Queue()
        self.runtime.answers[request_id] = answers
        timeout = self.plan.invocation_timeout_s
        self.runtime.pending.put((request_id, int((time.time() + timeout) * 1000), json.dumps(event).encode()))
        give_up = time.monotonic() + timeout + 1.0
        try:
            while True:
                try:
                    return answers.get(timeout=0.05)
                except queue.Empty:
                    pass
                if self.function.process.poll() is not None:
                    return "killed", None
                if self.thaw_at:
                    # Frozen: Lambda's timer does not stop a paused host, and the test is what
                    # the instance does once continued; it gets a few seconds then.
                    give_up = max(give_up, self.thaw_at + 3.0)
                    continue
                if time.monotonic() > give_up:
                    # Lambda stops an invocation at its deadline.
                    self.timeouts += 1
                    self.kill()
                    if os.environ.get("MAILROOM_FI_KEEP_LOGS"):
                        keep = Path(os.environ["MAILROOM_FI_KEEP_LOGS"]) / f"timeout-{self.index}-{self.generation}.log"
                        keep.write_text(self.function.output())
                    return "killed", None
        finally:
            self.runtime.answers.pop(request_id, None)

    def run(self, stop: threading.Event, receives: dict[str, int], in_invocation: dict) -> None:
        try:
            self.poll(stop, receives, in_invocation)
        except Exception:  # noqa: BLE001 - reported by the run, which then fails
            self.crashed = traceback.format_exc()
            self.idle = True

    def poll(self, stop: threading.Event, receives: dict[str, int], in_invocation: dict) -> None:
        while not stop.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.queues.url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                self.idle = True
                time.sleep(0.2)
                continue
            self.idle = False
            self.touched = touched = Touched()
            for message in messages:
                count = int(message["Attributes"]["ApproximateReceiveCount"])
                receives[message["MessageId"]] = max(receives.get(message["MessageId"], 0), count)
                # moto's queue can hand a message out again while another receiver still holds
                # it within its visibility timeout (the function did not change it): that
                # second receive is the test bed's, not the function's, and is excused.
                with self.ledger.lock:
                    earlier = in_invocation.get(message["MessageId"])
                    in_invocation[message["MessageId"]] = (self.index, message["ReceiptHandle"], time.monotonic())
                    # Within the visibility timeout of the earlier receive: a frozen or slow
                    # holder past it is a redelivery SQS makes too.
                    if (earlier is not None and earlier[0] != self.index
                            and time.monotonic() - earlier[2] < self.queues_visibility - 1
                            and earlier[1] not in self.ledger.hidden_until):
                        self.ledger.faults["queue_handed_out_an_in_flight_message"] += 1
                        touched.strings.add(message["ReceiptHandle"])
            event = {"Records": [self.queues.record(m) for m in messages]}
            self.invocations += 1
            started = time.monotonic()
            for message in messages:
                self.last_receive[message["MessageId"]] = (
                    started, message["ReceiptHandle"], int(message["Attributes"]["ApproximateReceiveCount"]))
            kind, response = self.invoke(event)
            with self.ledger.lock:
                for message in messages:
                    if in_invocation.get(message["MessageId"], (None, None, 0))[1] == message["ReceiptHandle"]:
                        del in_invocation[message["MessageId"]]
            if kind == "response" and time.monotonic() > started + self.plan.invocation_timeout_s:
                # A frozen instance answered after its deadline: Lambda discards that answer.
                kind = "late"
            if kind in ("killed", "late"):
                self.touch(every_record=True)
            self.log.append((messages, touched))
            failed = {f.get("itemIdentifier") for f in (response or {}).get("batchItemFailures") or [] if isinstance(f, dict)}
            for message in messages:
                self.timeline.setdefault(message["MessageId"], []).append({
                    "at_s": round(started - self.clock_zero, 1),
                    "worker": f"{self.index}.{self.generation}",
                    "receive": int(message["Attributes"]["ApproximateReceiveCount"]),
                    "invocation": kind,
                    "failed": kind != "response" or message["MessageId"] in failed,
                    "took_s": round(time.monotonic() - started, 1),
                    "fault_touched": touched.every_record or message["ReceiptHandle"] in touched.strings
                    or message["Body"] in touched.strings,
                })
            if kind == "response":
                self.acknowledge(event, response)
            elif kind == "killed":
                self.restart()
            # kind "error" or "late": the whole batch comes back after the visibility timeout.

    def acknowledge(self, event: dict, response: dict | None) -> None:
        """The event source mapping's reading of a partial batch response: anything malformed
        fails the whole batch."""
        ids = {record["messageId"] for record in event["Records"]}
        failures = (response or {}).get("batchItemFailures") or []
        if not isinstance(failures, list) or any(
            not isinstance(f, dict) or f.get("itemIdentifier") not in ids for f in failures
        ):
            return
        failed = {f["itemIdentifier"] for f in failures}
        done = [r for r in event["Records"] if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done[start:start + 10])]
            # The event source mapping retries a delete the queue refused; so does the run
            # (moto under load refuses some), and counts them.
            for _ in range(3):
                answer = self.sqs.delete_message_batch(QueueUrl=self.queues.url, Entries=entries)
                refused = {f["Id"] for f in answer.get("Failed", [])}
                batch = done[start:start + 10]
                self.acknowledged.update(batch[int(e["Id"])]["messageId"] for e in entries if e["Id"] not in refused)
                if not refused:
                    break
                with self.ledger.lock:
                    self.ledger.faults["queue_refused_a_delete"] += len(refused)
                entries = [e for e in entries if e["Id"] in refused]

    def stop(self) -> None:
        self.function.stop()
        self.runtime.stop()
        self.front.stop()
        for log in self.logs:
            log.unlink(missing_ok=True)


class Producer:
    """Puts the messages on the queue as producers would, over time: moto's SQS slows down
    with the number of messages a queue holds, so the backlog is kept near `backlog`."""

    def __init__(self, moto: Moto, queues: Queues, items: list, by_message_id: dict[str, int], backlog: int = 60) -> None:
        self.sqs = moto.client("sqs")
        self.queues = queues
        self.items = items
        self.by_message_id = by_message_id
        self.backlog = backlog
        self.sent = 0
        self.done = False
        self.crashed: str | None = None

    def remaining(self) -> int:
        return len(self.items) - self.sent

    def run(self, stop: threading.Event) -> None:
        try:
            self.feed(stop)
        except Exception:  # noqa: BLE001 - reported by the run, which then fails
            self.crashed = traceback.format_exc()

    def feed(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.sent < len(self.items):
            visible, _ = self.queues.counts()
            if visible >= self.backlog:
                time.sleep(0.2)
                continue
            for _ in range(10):
                chunk = self.items[self.sent:self.sent + 10]
                if not chunk:
                    break
                answer = self.sqs.send_message_batch(QueueUrl=self.queues.url, Entries=[
                    {"Id": str(item.seq), "MessageBody": item.body, **({"MessageAttributes": item.attributes} if item.attributes else {})}
                    for item in chunk
                ])
                if answer.get("Failed"):
                    raise RuntimeError(f"the producer could not send: {answer['Failed']}")
                self.by_message_id.update({entry["MessageId"]: int(entry["Id"]) for entry in answer["Successful"]})
                self.sent += len(chunk)
        self.done = self.sent == len(self.items)


def setting(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def main() -> int:
    count = setting("MAILROOM_FI_MESSAGES", 2000)
    workers_wanted = setting("MAILROOM_FI_WORKERS", 3)
    time_limit = setting("MAILROOM_FI_TIME_LIMIT", 360)
    # The longest the run waits for messages the function delayed past the time limit.
    wait_limit = setting("MAILROOM_FI_WAIT_LIMIT", 900)
    # MAILROOM_FI_PLAN, a JSON object of FaultPlan fields, changes the faults' rates: to make a
    # rare path common while looking into it (e.g. {"codecommit_hang": 0.2}).
    plan = FaultPlan(seed=setting("MAILROOM_FI_SEED", 7), **json.loads(os.environ.get("MAILROOM_FI_PLAN") or "{}"))
    max_receive_count = deployed_max_receive_count()
    if not bootstrap_path().exists():
        print(f"{bootstrap_path()} is missing: build it first (cargo build -p mailroom-lambda)", file=sys.stderr)
        return 2
    items = build(count, plan.seed)
    ledger = Ledger()
    moto = Moto()
    workers: list[Worker] = []
    scratch = tempfile.TemporaryDirectory()
    try:
        moto.client("sesv2").create_email_identity(EmailIdentity=DOMAIN)
        dynamodb = moto.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        dynamodb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
        # The example routes' lookup table, with a student per ids-only event.
        seed_lookups(moto, extra=students(items))
        visibility = int(plan.invocation_timeout_s * 3)
        queues = Queues(moto, "fault-injection", visibility_timeout=visibility)
        queues.sqs.set_queue_attributes(QueueUrl=queues.url, Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": queues.arn(queues.dlq_url), "maxReceiveCount": str(max_receive_count)})})
        by_message_id: dict[str, int] = {}
        by_seq = {item.seq: item for item in items}
        producer = Producer(moto, queues, items, by_message_id)
        repository = example_repository_with(Path(scratch.name), retry={"baseSeconds": 1, "maxSeconds": 4})
        env = {
            "DLQ_URL": queues.dlq_url,
            "SQS_URL": queues.url,
            # MAILROOM_FI_WITHOUT_STORE=1 runs the same faults without the idempotency store,
            # to see what it prevents.
            "IDEMPOTENCY_TABLE": "" if os.environ.get("MAILROOM_FI_WITHOUT_STORE") else TABLE,
            "TEMPLATE_CACHE_SECONDS": "1",
            "DEADLINE_MARGIN_MS": "1500",
            "MAX_CONCURRENT_SENDS": "10",
            # Warnings hold every retry and reject with its reason: the report's diagnostics
            # read them.
            "AWS_LAMBDA_LOG_LEVEL": "warn",
            "IDEMPOTENCY_LEASE_GRACE_SECONDS": str(LEASE_GRACE_S),
        }
        # SES's event publishing, as the SAM template deploys it: every email SES accepts gives a
        # Send event, through SNS, on the feedback queue, which an instance of the same function
        # writes to the ledger. A takeover of an expired claim reads it (the window of a
        # claimer that died or froze after SES accepted closes once the event is in).
        # MAILROOM_FI_WITH_LEDGER=1 turns it on (RELIABILITY.md has both runs' figures; CI runs
        # without it, one instance fewer on its two cores).
        feedback_worker = None
        if os.environ.get("MAILROOM_FI_WITH_LEDGER") and env["IDEMPOTENCY_TABLE"]:
            feedback = Queues(moto, "fault-injection-feedback", visibility_timeout=visibility)
            env["LEDGER_TABLE"] = TABLE
            env["FEEDBACK_QUEUE_ARN"] = feedback.queue_arn
            feedback_sqs = moto.client("sqs")

            def publish_send(key: str, ses_id: str, addresses: list[str]) -> None:
                notification = {"eventType": "Send", "send": {}, "mail": {
                    "messageId": ses_id or f"ses-{key}", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "destination": addresses or ["unknown@example.com"], "tags": {"idempotency_key": [key]}}}
                sns = {"Type": "Notification", "MessageId": str(uuid.uuid4()), "Message": json.dumps(notification)}
                feedback_sqs.send_message(QueueUrl=feedback.url, MessageBody=json.dumps(sns))

            ledger.publish_send = publish_send
            quiet = FaultPlan(seed=plan.seed, ses_throttle=0, ses_5xx=0, ses_lost_response=0, kill_after_ses_accept=0,
                              kill_before_complete=0, kill_before_claim=0, kill_during_sqs=0, sqs_outage=0,
                              dynamodb_throttle=0, claim_delayed=0, codecommit_down=(0.0, 0.0), ses_hang=0,
                              sqs_hang=0, codecommit_hang=0, freeze_after_ses_accept=0)
            feedback_worker = Worker(workers_wanted, moto, feedback, quiet, ledger, env, repository)
        workers = [Worker(i, moto, queues, plan, ledger, env, repository) for i in range(workers_wanted)]
        if feedback_worker is not None:
            workers.append(feedback_worker)
        for worker in workers:
            worker.clock_zero = time.monotonic()
        receives: dict[str, int] = {}
        in_invocation: dict[str, tuple[int, str, float]] = {}  # message id -> (worker, receipt handle, received) while invoked
        stop = threading.Event()
        started = time.monotonic()
        threads = [threading.Thread(target=w.run, args=(stop, receives, in_invocation), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        feeding = threading.Thread(target=producer.run, args=(stop,), daemon=True)
        feeding.start()
        stuck = 0
        last_report = started
        deadline = started + time_limit
        while True:
            time.sleep(1)
            visible, in_flight = queues.counts()
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                print(f"fault-injection: {time.monotonic() - started:.0f} s, {visible} visible, {in_flight} in flight, "
                      f"{producer.sent} sent, {sum(w.invocations for w in workers)} invocations, {sum(ledger.faults.values())} faults", flush=True)
            if producer.done and visible == 0 and in_flight == 0 and all(w.idle for w in workers):
                break
            if time.monotonic() > deadline and not producer.crashed:
                # Past the time limit, the run still waits for messages the function chose to
                # delay beyond it: a cold start that cannot read the repository retries its
                # batch with the core's default back-off (up to 480 s on a fifth receive), not
                # the routes file's 1 s to 4 s. Anything else left is stuck.
                due = due_back(by_message_id, workers, ledger, visibility, max_receive_count)
                if due is not None:
                    deadline = min(max(deadline, due + DUE_MARGIN_S), started + wait_limit)
            if time.monotonic() > deadline or producer.crashed:
                stuck = visible + in_flight + producer.remaining()
                break
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(timeout=plan.invocation_timeout_s + 5)
        dead_letters = drain(queues)
        # What neither a delete nor the redrive took off the queue: empty unless the run met its
        # time limit, and then the messages it waited for.
        gone = acknowledged_by(workers) | {m["MessageId"] for m in dead_letters}
        left_on_queue = sorted(seq for mid, seq in by_message_id.items() if mid not in gone)
        result = account(
            items=by_seq,
            by_message_id=by_message_id,
            receives=receives,
            sent=moto.sent_raw_messages(),
            dead_letters=dead_letters,
            ledger=ledger,
            stuck=stuck,
            fault_receives=with_unseen_receives(
                excused_receives([entry for w in workers for entry in w.log], ledger.recipients_by_key),
                receives, workers),
            max_receive_count=max_receive_count,
            waits=claim_waits([log for w in workers for log in w.logs]),
        )
        result["run"] = {
            "messages": len(items),
            "workers": workers_wanted,
            "seed": plan.seed,
            "seconds": round(elapsed, 1),
            "time_limit_s": time_limit,
            "invocations": sum(w.invocations for w in workers),
            "instance_restarts": sum(w.restarts for w in workers),
            "invocations_past_deadline": sum(w.timeouts for w in workers),
            "visibility_timeout_s": visibility,
            "invocation_timeout_s": plan.invocation_timeout_s,
            "max_receive_count": max_receive_count,
            "lease_grace_s": LEASE_GRACE_S,
            "thaw_after_s": plan.thaw_after_s,
            "frozen_instances": sum(w.freezes for w in workers),
            "claims_while_frozen": ledger.claims_while_frozen,
            "claims_held_by_faulted_invocations": ledger.held_by_faulted,
            "idempotency_store": not os.environ.get("MAILROOM_FI_WITHOUT_STORE"),
            "ledger": feedback_worker is not None,
        }
        crashes = {f"worker {w.index}": w.crashed for w in workers if w.crashed}
        if producer.crashed:
            crashes["producer"] = producer.crashed
        result["run"]["crashed"] = crashes
        result["left_on_queue"] = left_on_queue[:20]
        result["passed"] = result["passed"] and not crashes
        result["diagnostics"] = diagnostics(result, by_seq, by_message_id, workers)
        print_summary(result)
        for who, trace in crashes.items():
            print(f"the test bed's {who} stopped on an exception:\n{trace}", flush=True)
        if not result["passed"]:
            # A CI run keeps its log, not the report file: what happened to each message the run
            # found wrong goes to the log too (bounded, should a run go wrong wholesale).
            timelines = json.dumps(result["diagnostics"], indent=1, sort_keys=True)
            print(f"receive timelines of the messages found wrong:\n{timelines[:200_000]}", flush=True)
        if os.environ.get("MAILROOM_FI_REPORT"):
            Path(os.environ["MAILROOM_FI_REPORT"]).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        return 0 if result["passed"] else 1
    finally:
        for worker in workers:
            worker.stop()
        moto.stop()
        scratch.cleanup()


def diagnostics(result: dict, items: dict, by_message_id: dict[str, int], workers: list) -> dict:
    """The receive timeline of every message the run found wrong (lost, poison retried, good in
    the dead-letter queue, left on the queue at the time limit), so a failure says what
    happened to them."""
    wanted = set(result["lost"]["good_events"]) | set(result["lost"]["poison"])
    wanted |= {d["seq"] for d in result["dlq"]["poison_retried_more_than_once_detail"]}
    wanted |= set(result["dlq"].get("good_in_dlq_seqs", []))
    wanted |= {seq for seq, _, _ in result["dlq"]["poison_wrong_reason"]}
    wanted |= set(result.get("left_on_queue", []))
    timelines = {}
    for message_id, seq in by_message_id.items():
        if seq in wanted or event_of(items[seq]) in wanted:
            receives = sorted((r for w in workers for r in w.timeline.get(message_id, [])), key=lambda r: r["at_s"])
            decisions = [d for w in workers for d in decisions_in(w.logs, message_id)]
            timelines[f"{seq} ({items[seq].kind}{', duplicate of %d' % items[seq].duplicate_of if items[seq].duplicate_of is not None else ''})"] = {
                "receives": receives, "decisions": decisions}
    return timelines


def acknowledged_by(workers: list) -> set[str]:
    """The message ids whose delete the queue accepted, from any worker."""
    return set().union(*(w.acknowledged for w in workers))


def due_back(by_message_id: dict[str, int], workers: list, ledger: Ledger, visibility: float,
             max_receive_count: int) -> float | None:
    """When the last message still on the queue is due to be received again (time.monotonic()),
    by what the run saw of each one not yet deleted: its latest receive plus the visibility
    timeout, or the delay the function set on that receipt, whichever is later. A message
    whose receives are spent and whose delay is over is the redrive's (moved at the next poll).
    None when a message cannot be accounted for so: sent but never received, or due back more
    than DUE_MARGIN_S ago and still not deleted."""
    now = time.monotonic()
    acknowledged = acknowledged_by(workers)
    latest = now
    for message_id in by_message_id:
        if message_id in acknowledged:
            continue
        receives = [w.last_receive[message_id] for w in workers if message_id in w.last_receive]
        if not receives:
            return None
        received, handle, count = max(receives)
        with ledger.lock:
            due = max(received + visibility, ledger.hidden_until.get(handle, 0.0))
        if due < now and count >= max_receive_count:
            continue
        if due < now - DUE_MARGIN_S:
            return None
        latest = max(latest, due)
    return latest


def with_unseen_receives(excused: dict[str, int], receives: dict[str, int], workers: list) -> dict[str, int]:
    """Excused receives plus, per message, the receives moto counted that no instance was handed
    (its receive count jumped past them): they cannot be the function's decisions."""
    handed: dict[str, int] = {}
    for worker in workers:
        for message_id, entries in worker.timeline.items():
            handed[message_id] = handed.get(message_id, 0) + len(entries)
    total = dict(excused)
    for message_id, count in receives.items():
        unseen = max(0, count - handed.get(message_id, 0))
        if unseen:
            total[message_id] = total.get(message_id, 0) + unseen
    return total


def claim_waits(logs: list[Path]) -> dict[str, int]:
    """Per SQS message id, how often the function retried it because another invocation held
    its key's claim (`in_progress`), from its JSON log lines."""
    waits: dict[str, int] = {}
    for log in logs:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if '"in_progress"' not in line:
                continue
            try:
                fields = json.loads(line)
            except ValueError:
                continue
            fields = fields.get("fields", fields)
            if fields.get("reason") == "in_progress" and fields.get("message_id"):
                waits[fields["message_id"]] = waits.get(fields["message_id"], 0) + 1
    return waits


def decisions_in(logs: list[Path], message_id: str) -> list[dict]:
    """The function's logged retries and rejects of one message, from its JSON log lines."""
    found = []
    for log in logs:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if message_id not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            fields = entry.get("fields", entry)
            if fields.get("message_id") == message_id:
                found.append({k: fields.get(k) for k in ("decision", "reason", "detail", "retry_after_seconds") if k in fields})
    return found


def drain(queues: Queues) -> list[dict]:
    """Every message of the dead-letter queue."""
    found: dict[str, dict] = {}
    empty_rounds = 0
    while empty_rounds < 2:
        answer = queues.sqs.receive_message(
            QueueUrl=queues.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"], VisibilityTimeout=300
        )
        messages = answer.get("Messages", [])
        empty_rounds = 0 if messages else empty_rounds + 1
        for message in messages:
            found[message["MessageId"]] = message
    return list(found.values())


if __name__ == "__main__":
    sys.exit(main())
