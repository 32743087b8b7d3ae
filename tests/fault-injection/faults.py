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


@dataclass
class Acceptance:
    key: str
    worker: int
    generation: int
    at: float  # time.monotonic()
    completed: bool = False
    response_lost: bool = False  # an injected fault held the answer past the deadline
    unheard: bool = False  # the function had stopped waiting when SES answered


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: Counter = field(default_factory=Counter)
    acceptances: list[Acceptance] = field(default_factory=list)
    # (worker, generation) -> when the invocation it was killed in had started
    killed: dict[tuple[int, int], float] = field(default_factory=dict)

    def fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def accepted(self, key: str, worker: int, generation: int, response_lost: bool, unheard: bool) -> None:
        with self.lock:
            self.acceptances.append(
                Acceptance(key, worker, generation, time.monotonic(), response_lost=response_lost, unheard=unheard))

    def completed(self, key: str, worker: int) -> None:
        with self.lock:
            for acceptance in reversed(self.acceptances):
                if acceptance.key == key and acceptance.worker == worker and not acceptance.completed:
                    acceptance.completed = True
                    return

    def window(self, acceptance: Acceptance) -> str:
        """Why an acceptance may be followed by a second send of its key ("" if it may not)."""
        if acceptance.completed:
            return ""
        killed_in = self.killed.get((acceptance.worker, acceptance.generation))
        if killed_in is not None and acceptance.at >= killed_in:
            return "kill"
        if acceptance.response_lost:
            return "lost-response"
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
        # Injected failures this worker's function has met so far (SQS calls refused, CodeCommit
        # down): an invocation that met one may hand its records back because of it.
        self.injected_failures = 0
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
        self._completing = None
        target = self.headers.get("X-Amz-Target", "")
        plan, ledger = front.plan, front.ledger
        if target.startswith("CodeCommit_20150413."):
            front.codecommit_down = front.codecommit_is_down()
            if front.codecommit_down:
                ledger.fault("codecommit_unavailable")
                front.injected_failures += 1
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
        if b"bounce-" in raw.split(b"\r\n\r\n", 1)[0]:
            return self.reply(*_json(400, "MessageRejected", "Email address is on the suppression list.", "application/json"))
        if front.roll(plan.ses_throttle):
            ledger.fault("ses_throttled")
            return self.reply(*_json(429, "TooManyRequestsException", "Maximum sending rate exceeded.", "application/json"))
        if front.roll(plan.ses_5xx):
            ledger.fault("ses_5xx")
            code = "InternalFailure" if front.roll(0.5) else "ServiceUnavailable"
            return self.reply(*_json(500 if code == "InternalFailure" else 503, code, "injected", "application/json"))
        if front.roll(plan.kill_after_ses_accept):
            self._after = "kill"
        elif front.roll(plan.ses_lost_response):
            self._after = "lost"
        front.count("SESv2.SendEmail")
        self.forward(front, self._body)

    def sqs(self, front: FaultFront, plan: FaultPlan, ledger: Ledger, operation: str) -> None:
        front.count("SQS." + operation)
        if front.roll(plan.kill_during_sqs):
            ledger.fault("killed_during_sqs_call")
            return self.kill()
        # An outage lasts for the call and the SDK's retries of it (three attempts).
        remaining = front.sqs_failing.get(operation, 0)
        if remaining or front.roll(plan.sqs_outage):
            if not remaining:
                ledger.fault("sqs_unavailable")
                remaining = 3
            front.sqs_failing[operation] = remaining - 1
            ledger.fault("sqs_failed_calls")
            front.injected_failures += 1
            return self.reply(*_json(500, "InternalError", "injected"))
        self.forward(front, self._body)

    def dynamodb(self, front: FaultFront, plan: FaultPlan, ledger: Ledger, operation: str) -> None:
        front.count("DynamoDB." + operation)
        request = json.loads(self._body or b"{}")
        if operation == "PutItem":
            if front.roll(plan.kill_before_claim):
                ledger.fault("killed_before_claim")
                return self.kill()
            if front.roll(plan.dynamodb_throttle):
                ledger.fault("dynamodb_throttled")
                return self.reply(*_json(400, "ProvisionedThroughputExceededException", "injected"))
            if front.roll(plan.claim_delayed):
                ledger.fault("claim_answer_after_deadline")
                self._after = "lost"
        elif operation == "UpdateItem":
            if front.roll(plan.kill_before_complete):
                ledger.fault("killed_before_complete")
                return self.kill()
            self._completing = request.get("Key", {}).get("pk", {}).get("S")
        self.forward(front, self._body)

    def reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        front = self.front
        if self._ses_key is not None and status == 200:
            generation = front.worker.generation
            front.ledger.accepted(self._ses_key, front.worker.index, generation, self._after == "lost", self.peer_gone())
            if self._after == "kill":
                front.ledger.fault("killed_after_ses_accept")
                return self.kill()
            if self._after == "lost":
                front.ledger.fault("ses_answer_after_deadline")
        if self._completing and status == 200:
            front.ledger.completed(self._completing, front.worker.index)
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
