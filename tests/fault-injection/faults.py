"""Faults injected at the HTTP level between the function and AWS, and the ledger of what SES
accepted.

`FaultFront` is the lambda-e2e harness's AWS front door (CodeCommit fake, forwarding to moto)
with a fault layer in front of it. One front serves one function instance, so it knows which
process to kill. Every decision comes from one seeded random generator, so a run is
repeatable in what it injects (not in timing).

The `Ledger` records each SES acceptance (moto answered 200) with its idempotency key, and each
successful "mark completed" write to DynamoDB for that key. An acceptance never completed is
the window in which a second send is expected: SES took the email but the function died (or
never heard the answer) before recording it.
"""

from __future__ import annotations

import base64
import json
import random
import re
import select
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from harness import AwsFront, _FrontHandler, _Handler

KEY_HEADER = re.compile(rb"^X-Mailroom-Idempotency-Key:\s*(\S+)", re.MULTILINE | re.IGNORECASE)
TO_HEADER = re.compile(rb"^To:(.*)$", re.MULTILINE | re.IGNORECASE)
ADDRESS = re.compile(rb"[\w.+-]+@[\w.-]+\w")


def strings_in(value) -> set[str]:
    """Every string in a decoded JSON request (receipt handles, message bodies, ids)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value)) if value else set()
    return set()


@dataclass
class FaultPlan:
    """Rates are per call of the kind named."""

    seed: int = 7
    invocation_timeout_s: float = 5.0
    ses_throttle: float = 0.05  # 429 TooManyRequestsException
    ses_5xx: float = 0.03  # 500 InternalFailure / 503 ServiceUnavailable
    ses_lost_response: float = 0.004  # SES accepts; the answer comes after the deadline
    kill_after_ses_accept: float = 0.003  # the function dies between SES accepting and the key completing
    kill_before_complete: float = 0.002  # ... at the DynamoDB "completed" write
    kill_before_claim: float = 0.002  # ... at the DynamoDB claim
    kill_during_sqs: float = 0.01  # ... at a visibility / dead-letter call
    sqs_outage: float = 0.04  # a visibility or dead-letter call fails with 500, with the SDK's retries
    dynamodb_throttle: float = 0.02  # a claim is throttled (the SDK retries)
    claim_delayed: float = 0.002  # the claim's answer comes after the deadline
    codecommit_down: tuple[float, float] = (8.0, 20.0)  # seconds after the start
    # Hangs: the endpoint takes the request and never answers; the connection is held until
    # the function gives up on it (or for a little longer than an invocation).
    ses_hang: float = 0.003  # SES never saw the email: the claim holds, the retry waits
    sqs_hang: float = 0.005  # a visibility / dead-letter call
    codecommit_hang: float = 0.01  # a template refresh call
    # The instance is stopped (SIGSTOP) as SES's answer goes out, before the completion write,
    # and continued `thaw_after_s` after its invocation started: past its deadline and past
    # the visibility timeout, so another instance receives the record while the claim is held
    # by the grace alone (without it the claim would have expired at the deadline).
    freeze_after_ses_accept: float = 0.004
    thaw_after_s: float = 23.0


@dataclass
class Acceptance:
    key: str
    worker: int
    generation: int
    at: float  # time.monotonic()
    completed: bool = False
    response_lost: bool = False  # an injected fault held the answer past the deadline
    owner: str = ""  # the claim this send was made under (the instance's last claim of the key)
    unheard: bool = False  # the function had stopped waiting when SES answered


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: Counter = field(default_factory=Counter)
    acceptances: list[Acceptance] = field(default_factory=list)
    # (worker, generation) -> when the invocation it was killed in had started
    killed: dict[tuple[int, int], float] = field(default_factory=dict)
    # idempotency key -> the recipient addresses of the SES requests that carried it, to trace
    # a DynamoDB fault (which names only the key) back to its record
    recipients_by_key: dict[str, set] = field(default_factory=dict)
    # idempotency key -> (worker, until): keys whose sender is frozen, until it is continued
    frozen_keys: dict[str, tuple[int, float]] = field(default_factory=dict)
    # claims of a frozen key by another instance while its sender was stopped: each is a
    # retry that met a claim only the grace kept alive
    claims_while_frozen: int = 0
    # (worker, generation) -> when that instance was stopped
    frozen: dict[tuple[int, int], float] = field(default_factory=dict)
    # idempotency key -> what the faults of the invocation that last claimed it touched
    holders: dict[str, object] = field(default_factory=dict)
    # (key, worker, generation) -> the owner of that instance's last successful claim of the key
    claim_owners: dict[tuple, str] = field(default_factory=dict)
    # claims refused because the key was held by an invocation a fault touched (killed, frozen,
    # its SES call hung or its claim answered late): the retry that follows is the fault's
    held_by_faulted: int = 0
    # receipt handle -> the latest time.monotonic() the function asked the queue to hide it
    # until (a retry's back-off, or 0 s: at once). Its keys are the receipts whose visibility
    # the function changed; its values say when a retried message is due back, which the run
    # waits for past its time limit.
    hidden_until: dict[str, float] = field(default_factory=dict)
    # idempotency key -> every store call about it (time, instance, operation, status, owner),
    # shown for a duplicate no window explains
    store_calls: dict[str, list] = field(default_factory=dict)
    # SES's event publishing: called with (key, SES message id, recipients) for every email SES
    # accepts, whatever becomes of the function after (None: no feedback)
    publish_send: object = None

    def fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def hide(self, request: dict) -> None:
        """Notes the delays a ChangeMessageVisibility(Batch) request asks for (under the lock).
        Noted when asked, answered or not: a refused call only brings the message back sooner."""
        now = time.monotonic()
        for entry in request.get("Entries") or [request]:
            if not isinstance(entry, dict):
                continue
            handle, seconds = entry.get("ReceiptHandle"), entry.get("VisibilityTimeout")
            if isinstance(handle, str) and isinstance(seconds, int):
                self.hidden_until[handle] = max(self.hidden_until.get(handle, 0.0), now + seconds)

    def accepted(self, key: str, worker: int, generation: int, response_lost: bool, unheard: bool) -> None:
        with self.lock:
            owner = self.claim_owners.get((key, worker, generation), "")
            self.acceptances.append(
                Acceptance(key, worker, generation, time.monotonic(), response_lost=response_lost, unheard=unheard,
                           owner=owner))

    def completed(self, key: str, owner: str) -> None:
        """A completion write of `key` by the claim `owner` landed: it completes the send made
        under that claim, and no other (a repeated write, an SDK retry, completes nothing
        more)."""
        with self.lock:
            for acceptance in reversed(self.acceptances):
                if acceptance.key == key and acceptance.owner == owner:
                    acceptance.completed = True
                    return

    def recipients(self, key: str, addresses: list[str]) -> None:
        with self.lock:
            self.recipients_by_key.setdefault(key, set()).update(addresses)

    def claimed(self, key: str, worker: int) -> None:
        with self.lock:
            holder, until = self.frozen_keys.get(key, (worker, 0.0))
            if holder != worker and time.monotonic() < until:
                self.claims_while_frozen += 1

    def held(self, key: str, worker) -> None:
        """A claim of `key` by `worker` was refused: another invocation holds it. If a fault
        touched that invocation, the record's receive is the fault's doing and is excused."""
        with self.lock:
            holder = self.holders.get(key)
            if holder is None:
                return
            with holder.lock:
                faulted = (holder.every_record or key in holder.keys
                           or bool(holder.addresses & self.recipients_by_key.get(key, set())))
            if faulted:
                self.held_by_faulted += 1
        if faulted:
            worker.touch(keys=[key])

    def window(self, acceptance: Acceptance) -> str:
        """Why an acceptance may be followed by a second send of its key ("" if it may not)."""
        if acceptance.completed:
            return ""
        killed_in = self.killed.get((acceptance.worker, acceptance.generation))
        if killed_in is not None and acceptance.at >= killed_in:
            return "kill"
        if acceptance.response_lost:
            return "lost-response"
        thawed_at = self.frozen.get((acceptance.worker, acceptance.generation))
        if thawed_at is not None and acceptance.at <= thawed_at:
            # Accepted before the instance was continued (the frozen send, and every other send
            # of its batch SES answered while it was stopped), and not completed after: the
            # SDK's attempt timeout fired on waking before the buffered answer was read.
            return "frozen"
        if acceptance.unheard:
            return "unheard"
        # SES accepted, the instance lived on, and the key was never completed: a defect.
        return "unexplained"


class FaultFront(AwsFront):
    """The harness's front door for one worker, with faults."""

    def __init__(self, moto_url: str, plan: FaultPlan, ledger: Ledger, rng: random.Random, worker) -> None:
        self.plan = plan
        self.ledger = ledger
        self.rng = rng
        self.rng_lock = threading.Lock()
        self.worker = worker
        self.started = time.monotonic()
        self.sqs_failing: dict[str, int] = {}
        super().__init__(moto_url)
        # The harness sets its handler's owner at class level; with one front per worker each
        # front gets a handler class of its own.
        self.server.RequestHandlerClass = type("FaultHandler", (_FaultHandler,), {"owner": self})

    def roll(self, rate: float) -> bool:
        with self.rng_lock:
            return self.rng.random() < rate

    def codecommit_is_down(self) -> bool:
        start, end = self.plan.codecommit_down
        return start <= time.monotonic() - self.started < end


def _json(status: int, code: str, message: str, content_type: str = "application/x-amz-json-1.0") -> tuple[int, bytes, dict]:
    return status, json.dumps({"__type": code, "message": message}).encode(), {
        "Content-Type": content_type,
        "X-Amzn-ErrorType": code,
    }


class _FaultHandler(_FrontHandler):
    """Decides a fault per request, then lets the harness handler do the rest."""

    @property
    def front(self) -> FaultFront:
        return self.owner

    def body(self) -> bytes:
        return self._body

    def do_POST(self) -> None:
        front = self.front
        self._body = _Handler.body(self)
        self._ses_key = None
        self._after = ""
        # (idempotency key, owner) of the claims or completions this request writes, and of
        # every item it names (for the store-call log)
        self._completing: list[tuple[str, str]] = []
        self._claiming: list[tuple[str, str]] = []
        self._store_items: list[tuple[str, str]] = []
        self._store_operation = ""
        target = self.headers.get("X-Amz-Target", "")
        plan, ledger = front.plan, front.ledger
        if target.startswith("CodeCommit_20150413."):
            front.codecommit_down = front.codecommit_is_down()
            if front.codecommit_down:
                ledger.fault("codecommit_unavailable")
                # No templates: every record of the invocation is the outage's.
                front.worker.touch(every_record=True)
            elif front.roll(plan.codecommit_hang):
                ledger.fault("codecommit_hang")
                front.worker.touch(every_record=True)
                return self.hang()
            return super().do_POST()
        if self.path.startswith("/v2/email/outbound-emails"):
            return self.ses(front, plan, ledger)
        if target.startswith("AmazonSQS."):
            return self.sqs(front, plan, ledger, target.split(".", 1)[1])
        if target.startswith("DynamoDB_20120810."):
            return self.dynamodb(front, plan, ledger, target.split(".", 1)[1])
        return super().do_POST()

    def ses(self, front: FaultFront, plan: FaultPlan, ledger: Ledger) -> None:
        request = json.loads(self._body or b"{}")
        raw = base64.b64decode(request.get("Content", {}).get("Raw", {}).get("Data", ""))
        found = KEY_HEADER.search(raw)
        self._ses_key = found.group(1).decode() if found else ""
        headers = raw.split(b"\r\n\r\n", 1)[0]
        to = TO_HEADER.search(headers)
        addresses = [a.decode().lower() for a in ADDRESS.findall(to.group(1))] if to else []
        self._ses_addresses = addresses
        if self._ses_key:
            ledger.recipients(self._ses_key, addresses)
        if b"bounce-" in headers:
            return self.reply(*_json(400, "MessageRejected", "Email address is on the suppression list.", "application/json"))
        # Every fault below touches the record this email is for (found by its recipient).
        touch = lambda: front.worker.touch(addresses=addresses)  # noqa: E731
        if front.roll(plan.ses_throttle):
            ledger.fault("ses_throttled")
            touch()
            return self.reply(*_json(429, "TooManyRequestsException", "Maximum sending rate exceeded.", "application/json"))
        if front.roll(plan.ses_5xx):
            ledger.fault("ses_5xx")
            touch()
            code = "InternalFailure" if front.roll(0.5) else "ServiceUnavailable"
            return self.reply(*_json(500 if code == "InternalFailure" else 503, code, "injected", "application/json"))
        if front.roll(plan.ses_hang):
            ledger.fault("ses_hang")
            # A call that never answers takes the invocation's time from every record of the
            # batch (their sends and dead-letter moves wait behind its budget).
            front.worker.touch(every_record=True)
            return self.hang()
        if front.roll(plan.kill_after_ses_accept):
            self._after = "kill"
        elif front.roll(plan.ses_lost_response):
            self._after = "lost"
            touch()
        elif front.roll(plan.freeze_after_ses_accept):
            self._after = "freeze"
        front.count("SESv2.SendEmail")
        self.forward(front, self._body)

    def sqs(self, front: FaultFront, plan: FaultPlan, ledger: Ledger, operation: str) -> None:
        front.count("SQS." + operation)
        if front.roll(plan.kill_during_sqs):
            ledger.fault("killed_during_sqs_call")
            return self.kill()
        # The records this call is about: their receipt handles (visibility) or bodies (DLQ).
        try:
            request = json.loads(self._body or b"{}")
        except ValueError:
            request = {}
        named = strings_in(request)
        if operation.startswith("ChangeMessageVisibility") and isinstance(request, dict):
            with ledger.lock:
                ledger.hide(request)
        # An outage lasts for the call and the SDK's retries of it (three attempts).
        remaining = front.sqs_failing.get(operation, 0)
        if remaining or front.roll(plan.sqs_outage):
            if not remaining:
                ledger.fault("sqs_unavailable")
                remaining = 3
            front.sqs_failing[operation] = remaining - 1
            ledger.fault("sqs_failed_calls")
            front.worker.touch(strings=named)
            return self.reply(*_json(500, "InternalError", "injected"))
        if front.roll(plan.sqs_hang):
            ledger.fault("sqs_hang")
            front.worker.touch(every_record=True)
            return self.hang()
        self.forward(front, self._body)

    def dynamodb(self, front: FaultFront, plan: FaultPlan, ledger: Ledger, operation: str) -> None:
        front.count("DynamoDB." + operation)
        request = json.loads(self._body or b"{}")
        self._store_operation = operation
        claims, completions, named = store_writes(operation, request)
        self._store_items = named
        if claims:
            # One claim call (a PutItem, or a TransactWriteItems for a batch's keys) is one
            # roll of each fault: a fault of the call touches every key it names.
            keys = [key for key, _ in claims]
            for key in keys:
                ledger.claimed(key, front.worker.index)
            self._claiming = claims
            if front.roll(plan.kill_before_claim):
                ledger.fault("killed_before_claim")
                return self.kill()
            if front.roll(plan.dynamodb_throttle):
                ledger.fault("dynamodb_throttled")
                front.worker.touch(keys=keys)
                return self.reply(*_json(400, "ProvisionedThroughputExceededException", "injected"))
            if front.roll(plan.claim_delayed):
                ledger.fault("claim_answer_after_deadline")
                front.worker.touch(keys=keys)
                self._after = "lost"
        elif completions:
            if front.roll(plan.kill_before_complete):
                ledger.fault("killed_before_complete")
                return self.kill()
            self._completing = completions
        self.forward(front, self._body)

    def reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        front = self.front
        if self._ses_key is not None and status == 200:
            generation = front.worker.generation
            front.ledger.accepted(self._ses_key, front.worker.index, generation, self._after == "lost", self.peer_gone())
            if front.ledger.publish_send is not None:
                try:
                    ses_id = json.loads(body).get("MessageId", "")
                except ValueError:
                    ses_id = ""
                front.ledger.publish_send(self._ses_key, ses_id, self._ses_addresses)
            if self._after == "kill":
                front.ledger.fault("killed_after_ses_accept")
                return self.kill()
            if self._after == "lost":
                front.ledger.fault("ses_answer_after_deadline")
        if self._completing and status == 200:
            unprocessed = unprocessed_keys(body)
            for key, owner in self._completing:
                if key not in unprocessed:
                    front.ledger.completed(key, owner)
        if self._store_items:
            with front.ledger.lock:
                for key, owner in self._store_items:
                    front.ledger.store_calls.setdefault(key, []).append({
                        "at": round(time.monotonic(), 3), "worker": f"{front.worker.index}.{front.worker.generation}",
                        "operation": self._store_operation, "status": status,
                        "answer": body[:160].decode(errors="replace") if status != 200 else "",
                        "owner": owner})
        if self._claiming:
            if status == 200:
                with front.ledger.lock:
                    for key, owner in self._claiming:
                        front.ledger.holders[key] = front.worker.touched
                        front.ledger.claim_owners[(key, front.worker.index, front.worker.generation)] = owner
            else:
                # A PutItem refused for its condition, or the claims of a cancelled
                # transaction that DynamoDB refused for theirs (the others were not written).
                for key, _ in refused_claims(self._store_operation, self._claiming, body):
                    front.ledger.held(key, front.worker)
        if self._after == "freeze" and self._ses_key is not None and status == 200:
            front.ledger.fault("frozen_after_ses_accept")
            try:
                super().reply(status, body, headers)
            except OSError:
                pass
            # The answer is out; the instance stops before it can write the completion.
            front.worker.freeze(self._ses_key)
            return
        if self._after == "lost":
            time.sleep(front.plan.invocation_timeout_s + 1)
        try:
            super().reply(status, body, headers)
        except OSError:
            pass  # the function gave up on this call

    def peer_gone(self) -> bool:
        """The function closed the connection: it stopped waiting for this answer."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def kill(self) -> None:
        self.front.worker.kill(signal.SIGKILL)
        self.close_connection = True

    def hang(self) -> None:
        """Never answers: holds the connection until the function closes it (its time budget
        ran out) or a little longer than an invocation lasts, then drops it."""
        give_up = time.monotonic() + self.front.plan.invocation_timeout_s + 1
        while time.monotonic() < give_up and not self.peer_gone():
            time.sleep(0.05)
        self.close_connection = True


def _text(attributes: dict, name: str) -> str:
    return (attributes.get(name) or {}).get("S", "")


def store_writes(operation: str, request: dict) -> tuple[list, list, list]:
    """The idempotency claims and completions a DynamoDB request writes, and every item it
    names, each as (key, owner). Claims are the in-progress puts (a `PutItem`, or the puts of a
    batch's `TransactWriteItems`); completions the `UpdateItem` of one key or the completed
    items of a batch's `BatchWriteItem`. Ledger items (`email#...`, `address#...`) are neither."""
    def is_claim(item: dict) -> bool:
        return _text(item, "state") == "in_progress"

    if operation == "PutItem":
        item = request.get("Item", {})
        named = [(_text(item, "pk"), _text(item, "owner"))]
        return (named if is_claim(item) else []), [], named
    if operation == "TransactWriteItems":
        puts = [entry.get("Put", {}).get("Item", {}) for entry in request.get("TransactItems", [])]
        named = [(_text(item, "pk"), _text(item, "owner")) for item in puts if item]
        return [(_text(i, "pk"), _text(i, "owner")) for i in puts if i and is_claim(i)], [], named
    if operation == "UpdateItem":
        key = _text(request.get("Key", {}), "pk")
        owner = _text(request.get("ExpressionAttributeValues", {}), ":owner")
        named = [(key, owner)]
        return [], named, named
    if operation == "BatchWriteItem":
        items = [entry.get("PutRequest", {}).get("Item", {})
                 for entries in request.get("RequestItems", {}).values() for entry in entries]
        done = [(_text(i, "pk"), _text(i, "owner")) for i in items if _text(i, "state") == "completed"]
        return [], done, done
    key = _text(request.get("Key", {}), "pk")
    return [], [], ([(key, _text(request.get("ExpressionAttributeValues", {}), ":owner"))] if key else [])


def refused_claims(operation: str, claims: list, body: bytes) -> list:
    """The claims of a failed claim call that DynamoDB refused for their condition."""
    if b"ConditionalCheckFailed" not in body:
        return []
    if operation != "TransactWriteItems":
        return claims
    try:
        reasons = json.loads(body).get("CancellationReasons", [])
    except ValueError:
        return []
    return [claim for claim, reason in zip(claims, reasons) if reason.get("Code") == "ConditionalCheckFailed"]


def unprocessed_keys(body: bytes) -> set:
    """The keys a `BatchWriteItem` answer left unprocessed (written by a later call, if any)."""
    try:
        left = json.loads(body).get("UnprocessedItems") or {}
    except ValueError:
        return set()
    return {_text(entry.get("PutRequest", {}).get("Item", {}), "pk")
            for entries in left.values() for entry in entries}
