#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets from the examples and test vectors.

  fuzz/seeds/record_body/      every record body of examples/events/*.json and
                               tests/vectors/cases/*.json
  fuzz/seeds/render_template/  every template of examples/templates/ and of the vectors, each
                               followed by a NUL byte and sample data (the input format of the
                               render_template target)

  fuzz/cases/batch_invariants/ structured batch cases (JSON): FIFO groups with failures, lost
                               sends, deadlines, parking, header injection in every envelope.
                               The batch_invariants target reads them as seeds (a JSON case is a
                               valid input) and the stable test replays them.

Run after changing the examples or the vectors:  python3 fuzz/make_seeds.py
"""
import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"


def events():
    """(label, event) for every Lambda event of the examples and vectors."""
    for path in sorted((ROOT / "examples" / "events").glob("*.json")):
        yield f"examples-{path.stem}", json.loads(path.read_text())
    for path in sorted((ROOT / "tests" / "vectors" / "cases").glob("*.json")):
        case = json.loads(path.read_text())
        if isinstance(case.get("event"), dict):
            yield f"vectors-{path.stem}", case["event"]


def template_sets():
    """(label, {path: source}) for the examples and each vector case."""
    base = ROOT / "examples" / "templates"
    yield "examples", {
        str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()
    }
    for path in sorted((ROOT / "tests" / "vectors" / "cases").glob("*.json")):
        templates = json.loads(path.read_text()).get("templates")
        if isinstance(templates, dict):
            yield f"vectors-{path.stem}", templates


def write(folder, name, content, seen):
    digest = hashlib.sha1(content).hexdigest()
    if digest in seen:
        return
    seen.add(digest)
    (folder / name).write_bytes(content)


def main():
    bodies = []
    folder = SEEDS / "record_body"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seen = set()
    for label, event in events():
        for index, record in enumerate(event.get("Records", [])):
            body = record.get("body", "")
            if isinstance(body, str):
                bodies.append(body)
                write(folder, f"{label}-{index}", body.encode(), seen)

    # Data for the templates: the unwrapped example events (raw envelopes), and a few bodies
    # of the vectors.
    data = []
    for path in sorted((ROOT / "examples" / "events").glob("*-raw.json")):
        data.append(json.loads(path.read_text())["Records"][0]["body"])
    data.extend(b for b in bodies if b.startswith("{") and b not in data)

    folder = SEEDS / "render_template"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seen = set()
    for label, templates in template_sets():
        for path, source in sorted(templates.items()):
            stem = path.replace("/", "_")
            for index, sample in enumerate(data[:3] if label == "examples" else data[3:8]):
                content = source.encode() + b"\0" + sample.encode()
                write(folder, f"{label}-{stem}-{index}", content, seen)


QUEUE = "arn:aws:sqs:us-east-1:123456789012:notifications"
FIFO = QUEUE + ".fifo"
NASTY = "Ana\r\nBcc: victim@example.net\u2028<script>alert('x')</script>\"&"


def record(message_id, body, queue=QUEUE, group=None, receive_count=1, event_type=None):
    attributes = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1795427998500"}
    if group is not None:
        attributes["MessageGroupId"] = group
    out = {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body, ensure_ascii=False),
        "attributes": attributes,
        "eventSourceARN": queue,
    }
    if event_type is not None:
        out["messageAttributes"] = {"eventType": {"dataType": "String", "stringValue": event_type}}
    return out


def example_body(name):
    return json.loads((ROOT / "examples" / "events" / f"{name}-raw.json").read_text())["Records"][0]["body"]


def accepted(message_id):
    return {"report": {"outcome": "accepted", "messageId": message_id}}


def failed(code, message="", status=None):
    return {"report": {"outcome": "failed", "code": code, "message": message, "httpStatus": status}}


def echo(**fields):
    return {"eventType": "fuzz/echo", **fields}


def sns(message, event_type=None):
    envelope = {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(message)}
    if event_type:
        envelope["MessageAttributes"] = {"eventType": {"Type": "String", "Value": event_type}}
    return envelope


def eventbridge(detail, detail_type):
    return {"version": "0", "id": "eb-1", "detail-type": detail_type, "source": "x", "detail": detail}


def cases():
    order = example_body("order")
    enrollment = example_body("enrollment")
    welcome = example_body("welcome")
    yield "fifo-failure-blocks-the-rest-of-its-group", {
        "records": [
            record("a1", order, FIFO, "g-a", event_type="orders/paid"),
            record("b1", welcome, FIFO, "g-b"),
            record("a2", order, FIFO, "g-a", event_type="orders/paid"),
            record("a3", enrollment, FIFO, "g-a"),
            record("b2", "not json", FIFO, "g-b"),
            record("b3", welcome, FIFO, "g-b"),
        ],
        "outcomes": [accepted("ses-1"), accepted("ses-2"), failed("MessageRejected", "Email address is not verified.", 400)],
        "concurrent": True,
    }
    yield "lost-sends-deadline-and-throttling", {
        "records": [
            record(f"s{i}", body, event_type="orders/paid" if body is order else None)
            for i, body in enumerate([order, enrollment, welcome, order, welcome])
        ],
        "outcomes": [accepted("ses-1"), "lose", failed("TooManyRequestsException", "Maximum sending rate exceeded.", 429)],
        "expireAfter": 3,
        "seed": 99,
    }
    yield "header-injection-in-every-envelope", {
        "records": [
            record("e1", echo(subject=NASTY, note=NASTY, title=NASTY, name=NASTY, to=f"{NASTY} <a@example.com>")),
            record("e2", sns(echo(subject=NASTY, note={"k": NASTY}, to="b@example.com"), "fuzz/echo")),
            record("e3", eventbridge(echo(subject=[NASTY], name=NASTY, customer={"email": "c@example.com", "name": NASTY}), "fuzz/echo")),
            record("e4", echo(subject="ok", recipients=["d@example.com", "D@EXAMPLE.COM", "Ünï <e@Bücher.example>"])),
            record("e5", echo(subject="x" * 400, to="f@example.com\r\nBcc: victim@example.net")),
        ],
        "sandbox": True,
    }
    yield "rejects-parked-and-duplicate-ids", {
        "records": [
            record("dup", "[1, 2]"),
            record("dup", enrollment),
            record("x", {"eventType": "unknown/type"}),
            record("y", {"eventType": "orders/paid", "name": "#1"}),
            record("z", enrollment, receive_count=40),
        ],
        "outcomes": [failed("MessageRejected"), accepted("ses-2")],
        "parkRejected": True,
        "now": -62135596800001,
    }


def write_cases():
    folder = ROOT / "fuzz" / "cases" / "batch_invariants"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, case in cases():
        (folder / f"{name}.json").write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
    write_cases()
