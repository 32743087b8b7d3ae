#!/usr/bin/env python3
"""Writes a Lambda SQS event of N records for benchmarking `mailroom process`.

The records cycle through examples/events/quickstart.json (every envelope, plus its malformed
body, missing recipient and unknown student; the welcome records read their lookups from
examples/templates/lookups.json). Each copy gets its own SQS message id and its own event identity
(eventId, EventBridge id, SNS MessageId, X-Shopify-Event-Id, or content), so every email has its
own idempotency key and the outbox really writes one file per sent record.

Usage: make_event.py RECORDS OUTPUT_FILE
"""

import json
import sys
from pathlib import Path

ID_KEYS = {"eventId", "id", "MessageId", "X-Shopify-Event-Id"}
ROOT = Path(__file__).resolve().parents[3]


def uniquify(value, n):
    """Makes every identity field in value (and in JSON nested in strings) unique for copy n."""
    if isinstance(value, dict):
        return {
            key: f"{item}-{n}" if key in ID_KEYS and isinstance(item, (str, int)) else uniquify(item, n)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [uniquify(item, n) for item in value]
    if isinstance(value, str) and value.startswith("{"):
        try:
            inner = json.loads(value)
        except ValueError:
            return value
        return json.dumps(uniquify(inner, n))
    return value


def copy_of(record, n):
    record = json.loads(json.dumps(record))
    record["messageId"] = f"bench-{n:08d}-{record['messageId'][:8]}"
    record["receiptHandle"] = f"bench-{n}"
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record  # the malformed body stays malformed
    if isinstance(body, dict):
        body = uniquify(body, n)
        body["benchCopy"] = n  # events without any identity are keyed by content
    record["body"] = json.dumps(body)
    return record


def main():
    count, output = int(sys.argv[1]), Path(sys.argv[2])
    source = json.loads((ROOT / "examples/events/quickstart.json").read_text())["Records"]
    records = [copy_of(source[n % len(source)], n) for n in range(count)]
    output.write_text(json.dumps({"Records": records}))


if __name__ == "__main__":
    main()
