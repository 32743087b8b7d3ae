"""The messages of the fault-injection run: good events in every example shape and envelope,
producer duplicates of some of them, and poison messages with the reason each must be
rejected for.

Every good event gets its own recipient (`fi-<seq>@...`), so an accepted email is traced back
to its event by the To header alone, whatever the template renders. An ids-only event
(EnrollmentCompleted) gets its own student (`fi-<seq>`), whose profile, holding that address,
`students` lists for the lookup table. Identities (SNS
`MessageId`, EventBridge `id`, `eventId`, `X-Shopify-Event-Id`, Shopify order `id`) are
renewed per event, so each event has its own idempotency key; a producer duplicate repeats
the body exactly, as an SNS or EventBridge retry does, under a new SQS message id.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field

from harness import example_messages

DOMAIN = "academy.example.com"

# Poison kinds and the reason code the function must give each in the dead-letter queue.
POISON_REASONS = {
    "malformed": "malformed_body",
    "no-recipient": "missing_recipient",
    "bad-recipient": "invalid_recipient",
    "ses-rejects": "ses_rejected",
}


@dataclass
class Item:
    """One message to put on the queue."""

    seq: int
    body: str
    attributes: dict = field(default_factory=dict)
    kind: str = "good"  # "good" or a POISON_REASONS key
    duplicate_of: int | None = None  # a producer duplicate repeats event `duplicate_of`

    @property
    def expected_reason(self) -> str | None:
        return POISON_REASONS.get(self.kind)


def recipient(seq: int) -> str:
    return f"fi-{seq}@{DOMAIN}"


def student_id(seq: int) -> str:
    """The student an ids-only event of `seq` names; its profile's email is `recipient(seq)`."""
    return f"fi-{seq}"


def students(items: list[Item]) -> list[dict]:
    """The student profiles ids-only events may need (one per good event: cheaper to write
    than to tell which events carry ids only), as DynamoDB items."""
    from harness import student_item

    return [
        student_item(student_id(item.seq), "Fi", recipient(item.seq))
        for item in items
        if item.kind == "good" and item.duplicate_of is None
    ]


def bounced(seq: int) -> str:
    """An address the SES fault proxy answers MessageRejected for."""
    return f"bounce-{seq}@{DOMAIN}"


def _readdress(event: dict, seq: int, address: str, rng: random.Random) -> None:
    """Gives the event its own recipient and identity, in whatever fields its shape uses."""
    if "mailto" in event:
        event["mailto"] = f"Dana Organizer <{address}>"
    for name in ("email", "contact_email", "studentEmail"):
        if name in event:
            event[name] = address
    for parent in ("customer", "student"):
        if isinstance(event.get(parent), dict) and "email" in event[parent]:
            event[parent]["email"] = address
    if "studentId" in event:
        event["studentId"] = student_id(seq)
    if "eventId" in event:
        event["eventId"] = str(uuid.UUID(int=rng.getrandbits(128)))
    if isinstance(event.get("id"), int):
        event["id"] = 7_000_000_000_000 + seq
    event["sequence"] = seq


def personalise(body: str, seq: int, address: str, rng: random.Random) -> str:
    """`body` (an example message in any envelope) as event number `seq` sent to `address`."""
    outer = json.loads(body)
    new_id = lambda: str(uuid.UUID(int=rng.getrandbits(128)))  # noqa: E731
    if outer.get("Type") == "Notification":
        inner = json.loads(outer["Message"])
        _readdress(inner, seq, address, rng)
        outer["Message"] = json.dumps(inner)
        outer["MessageId"] = new_id()
    elif "detail-type" in outer:
        outer["id"] = new_id()
        detail = outer["detail"]
        _readdress(detail.get("payload", detail), seq, address, rng)
        metadata = detail.get("metadata") or {}
        if "X-Shopify-Event-Id" in metadata:
            metadata["X-Shopify-Event-Id"] = new_id()
    else:
        _readdress(outer, seq, address, rng)
    return json.dumps(outer, ensure_ascii=False)


def build(count: int, seed: int, poison_share: float = 0.04, duplicate_share: float = 0.05) -> list[Item]:
    """`count` messages: good events (every example shape and envelope, round robin), about
    `duplicate_share` producer duplicates of them and `poison_share` poison messages, shuffled."""
    rng = random.Random(seed)
    examples = example_messages()[:9]
    poison_kinds = list(POISON_REASONS)
    items: list[Item] = []
    seq = 0
    while len(items) < count:
        seq += 1
        roll = rng.random()
        if roll < poison_share:
            kind = poison_kinds[seq % len(poison_kinds)]
            items.append(_poison(kind, seq, examples[0].body))
        elif roll < poison_share + duplicate_share and any(i.kind == "good" for i in items):
            original = rng.choice([i for i in items if i.kind == "good" and i.duplicate_of is None])
            items.append(Item(seq, original.body, original.attributes, "good", duplicate_of=original.seq))
        else:
            example = examples[seq % len(examples)]
            items.append(Item(seq, personalise(example.body, seq, recipient(seq), rng), dict(example.attributes)))
    rng.shuffle(items)
    return items


def _poison(kind: str, seq: int, organizer_body: str) -> Item:
    event = json.loads(organizer_body)
    event["sequence"] = seq
    if kind == "malformed":
        body = f'{{"mailto": "{recipient(seq)}", "sequence": {seq}, "studentName": '
    elif kind == "no-recipient":
        event["mailto"] = ""
        body = json.dumps(event, ensure_ascii=False)
    elif kind == "bad-recipient":
        event["mailto"] = f"not an address {seq}"
        body = json.dumps(event, ensure_ascii=False)
    else:
        event["mailto"] = bounced(seq)
        body = json.dumps(event, ensure_ascii=False)
    return Item(seq, body, {}, kind)


def event_of(item: Item) -> int:
    """The event an item carries (a duplicate carries its original's)."""
    return item.duplicate_of if item.duplicate_of is not None else item.seq
