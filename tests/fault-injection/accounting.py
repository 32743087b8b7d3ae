"""The account of a fault-injection run: where every message ended up.

Sources of truth are moto's (what SES accepted, what the dead-letter queue holds, what the
queue still holds) and the fault ledger (which acceptances were never marked completed); the
function's own logs and answers are not trusted for it.
"""

from __future__ import annotations

import email
import email.policy
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda-e2e"))

from faults import Ledger  # noqa: E402
from workload import Item, event_of  # noqa: E402


def _recipient_and_key(raw: str) -> tuple[str, str]:
    message = email.message_from_string(raw, policy=email.policy.default)
    to = message.get("To")
    address = to.addresses[0].addr_spec if to is not None and to.addresses else ""
    return address.lower(), str(message.get("X-Mailroom-Idempotency-Key") or "")


def excused_receives(invocations: list, recipients_by_key: dict[str, set]) -> dict[str, int]:
    """Per SQS message id, how many of its receives an injected fault touched, and so may have
    brought back rather than the function's own decision. A receive is excused when its
    invocation was killed, frozen or answered late, or met a CodeCommit outage or hang (every
    record of the batch then); or when a faulted call named the record: an SQS call with its
    receipt handle or body, an SES call to its recipient, a claim of a key SES was (then or
    later) asked to send to its recipient. No other receive is excused."""
    excused: dict[str, int] = Counter()
    for records, touched in invocations:
        addresses = set(touched.addresses)
        for key in touched.keys:
            addresses |= recipients_by_key.get(key, set())
        for record in records:
            if (
                touched.every_record
                or record["ReceiptHandle"] in touched.strings
                or record["Body"] in touched.strings
                or record["MessageId"] in touched.strings
                or any(address in record["Body"].lower() for address in addresses)
            ):
                excused[record["MessageId"]] += 1
    return dict(excused)


def account(items: dict[int, Item], by_message_id: dict[str, int], receives: dict[str, int], sent: list[dict],
            dead_letters: list[dict], ledger: Ledger, stuck: int, fault_receives: dict[str, int],
            max_receive_count: int, waits: dict[str, int] | None = None) -> dict:
    # Emails SES accepted, by the event they belong to (the recipient names it).
    emails_by_event: dict[int, list[str]] = defaultdict(list)
    strays = 0
    for message in sent:
        address, key = _recipient_and_key(message["raw_data"])
        local = address.split("@", 1)[0]
        if local.startswith("fi-") and local[3:].isdigit() and int(local[3:]) in items:
            emails_by_event[int(local[3:])].append(key)
        else:
            strays += 1

    # The dead-letter queue, by body.
    dlq_by_body: dict[str, list[dict]] = defaultdict(list)
    for message in dead_letters:
        dlq_by_body[message["Body"]].append(message)

    def reason(message: dict) -> str:
        return message.get("MessageAttributes", {}).get("mailroom.reason", {}).get("StringValue", "")

    # Receives of each message, less those an injected fault touched (`excused_receives`).
    receives_by_seq: dict[int, int] = Counter()
    for message_id, count in receives.items():
        seq = by_message_id.get(message_id)
        if seq is not None:
            receives_by_seq[seq] = max(receives_by_seq[seq], count - fault_receives.get(message_id, 0))

    good_events = sorted({event_of(i) for i in items.values() if i.kind == "good"})
    acceptances_by_key = defaultdict(list)
    for acceptance in ledger.acceptances:
        acceptances_by_key[acceptance.key].append(acceptance)

    lost_good, good_in_dlq, exactly_once, defects = [], [], 0, []
    duplicates = Counter()  # by window: kill, lost-response; unexplained is a defect
    for seq in good_events:
        keys = emails_by_event.get(seq, [])
        copies = [items[s] for s in items if event_of(items[s]) == seq]
        if not keys:
            (good_in_dlq if any(c.body in dlq_by_body for c in copies) else lost_good).append(seq)
            continue
        if len(keys) == 1:
            exactly_once += 1
            continue
        # Every acceptance but the last must have been left uncompleted for a resend to be allowed.
        history = acceptances_by_key.get(keys[0], [])
        for acceptance in history[:-1]:
            window = ledger.window(acceptance) or "after_completion"
            duplicates[window] += 1
            if window in ("unexplained", "after_completion") and len(defects) < 10:
                defects.append({"event": seq, "key": keys[0], "acceptances": [vars(a) for a in history],
                                "store_calls": ledger.store_calls.get(keys[0], [])})
        # Acceptances moto saw but the ledger did not (should not happen) count as defects.
        missing = max(0, len(keys) - 1 - max(0, len(history) - 1))
        if missing:
            duplicates["unexplained"] += missing

    poison = [i for i in items.values() if i.kind != "good"]
    poison_in_dlq, poison_lost, wrong_reason, poison_retried = 0, [], [], []
    for item in poison:
        parked = dlq_by_body.get(item.body, [])
        if not parked:
            poison_lost.append(item.seq)
        elif reason(parked[0]) != item.expected_reason:
            wrong_reason.append((item.seq, item.expected_reason, reason(parked[0])))
        else:
            poison_in_dlq += 1
        # Parked on its first receive that no fault touched: a second one is a retry the
        # function decided for a message it should have rejected.
        if receives_by_seq.get(item.seq, 0) > 1:
            poison_retried.append(item.seq)

    # A good event dead-lettered without an email: SQS's redrive moved it after maxReceiveCount
    # receives. Allowed only when every one of those receives was either touched by an injected
    # fault (kills, freezes, hangs, SES and SQS errors, claims held by a faulted invocation) or
    # waited for another invocation's claim of its key (`in_progress`, what a concurrent copy or
    # a dead claimer's lease makes it do, with a delay that covers the lease): then the faults
    # outnumbered the redrive policy. Any other receive the function failed is a defect.
    waits = waits or {}
    message_ids = {seq: mid for mid, seq in by_message_id.items()}
    dead_lettered_by_faults, good_in_dlq_defects = [], []
    for seq in good_in_dlq:
        copies = [s for s in items if event_of(items[s]) == seq and items[s].body in dlq_by_body]
        explained = all(receives_by_seq.get(s, 0) <= waits.get(message_ids.get(s, ""), 0) for s in copies)
        (dead_lettered_by_faults if explained else good_in_dlq_defects).append(seq)

    good_bodies = {i.body for i in items.values() if i.kind == "good"}
    dlq_good_messages = sum(len(v) for body, v in dlq_by_body.items() if body in good_bodies)
    lost = len(lost_good) + len(poison_lost)
    unexplained = duplicates["unexplained"] + duplicates["after_completion"]
    result = {
        "messages": {
            "total": len(items),
            "good_events": len(good_events),
            "producer_duplicates": sum(1 for i in items.values() if i.duplicate_of is not None),
            "poison": len(poison),
            "poison_by_kind": dict(Counter(i.kind for i in poison)),
        },
        "faults": dict(sorted(ledger.faults.items())),
        "emails": {
            "accepted_by_ses": len(sent),
            "events_sent_exactly_once": exactly_once,
            "duplicates": sum(duplicates.values()),
            "duplicates_by_window": dict(duplicates),
            "unexplained_duplicates": unexplained,
            "unexplained_detail": defects,
            "strays": strays,
        },
        "dlq": {
            "messages": len(dead_letters),
            # A message parked, then redelivered because the instance died before the batch was
            # acknowledged, is parked again: a second copy, not a loss.
            "second_copies": len(dead_letters) - len(dlq_by_body),
            "poison_with_expected_reason": poison_in_dlq,
            "poison_wrong_reason": wrong_reason[:10],
            "poison_retried_more_than_once": len(poison_retried),
            "poison_retried_more_than_once_detail": [
                {"seq": seq, "kind": items[seq].kind, "receives": receives_by_seq[seq]} for seq in poison_retried[:10]
            ],
            "good_events_in_dlq": len(good_in_dlq),
            "good_events_dead_lettered_by_faults": dead_lettered_by_faults[:10],
            "good_events_in_dlq_defects": good_in_dlq_defects[:10],
            "good_messages_in_dlq": dlq_good_messages,
            "good_in_dlq_seqs": sorted(i.seq for i in items.values() if i.kind == "good" and i.body in dlq_by_body)[:10],
            "good_in_dlq_reasons": dict(Counter(reason(m) for body, v in dlq_by_body.items() if body in good_bodies for m in v)),
        },
        "lost": {"total": lost, "good_events": lost_good[:20], "poison": poison_lost[:20]},
        "stuck_on_queue": stuck,
        "max_receive_count_seen": max(receives.values(), default=0),
        "max_receive_count": max_receive_count,
    }
    result["passed"] = (
        lost == 0 and unexplained == 0 and not poison_retried and not wrong_reason and not good_in_dlq_defects
        and stuck == 0 and strays == 0
        # The redrive policy is in force: no message was received more often than it allows.
        and 0 < result["max_receive_count_seen"] <= max_receive_count
    )
    return result


def summary_rows(result: dict) -> list[tuple[str, str]]:
    m, e, d = result["messages"], result["emails"], result["dlq"]
    return [
        ("messages", f"{m['total']} ({m['good_events']} good events, {m['producer_duplicates']} producer duplicates, {m['poison']} poison)"),
        *[(f"fault: {kind}", str(n)) for kind, n in result["faults"].items()],
        ("invocations", f"{result['run']['invocations']} ({result['run']['instance_restarts']} instance restarts, {result['run']['invocations_past_deadline']} past the deadline)"),
        ("emails accepted by SES", str(e["accepted_by_ses"])),
        ("good events sent exactly once", f"{e['events_sent_exactly_once']} of {m['good_events']}"),
        ("duplicates", str(e["duplicates"])),
        ("duplicates, killed after SES accepted", str(e["duplicates_by_window"].get("kill", 0))),
        ("duplicates, SES answer lost", str(e["duplicates_by_window"].get("lost-response", 0))),
        ("duplicates, SES answered after the function gave up", str(e["duplicates_by_window"].get("unheard", 0))),
        ("duplicates, frozen between SES's answer and the completion write", str(e["duplicates_by_window"].get("frozen", 0))),
        ("duplicates outside those windows", str(e["unexplained_duplicates"])),
        ("DLQ", f"{d['messages']} ({d['poison_with_expected_reason']} poison with the expected reason, "
                f"{d.get('second_copies', 0)} second copies, {d['good_messages_in_dlq']} good)"),
        ("good events dead-lettered, every receive faulted or waiting", str(len(d.get("good_events_dead_lettered_by_faults", [])))),
        ("good events dead-lettered otherwise", str(len(d.get("good_events_in_dlq_defects", [])))),
        ("poison retried more than once", str(d["poison_retried_more_than_once"])),
        ("max receive count seen", f"{result.get('max_receive_count_seen')} (maxReceiveCount {result.get('max_receive_count', result['run']['max_receive_count'])})"),
        ("frozen instances", f"{result['run'].get('frozen_instances', 0)} (continued {result['run'].get('thaw_after_s')} s after the invocation started; "
                             f"{result['run'].get('claims_while_frozen', 0)} claims of a frozen key by another instance, lease grace {result['run'].get('lease_grace_s')} s)"),
        ("lost", str(result["lost"]["total"])),
        ("left on the queue", str(result["stuck_on_queue"]) + (
            f" (messages {', '.join(map(str, result['left_on_queue']))})" if result.get("left_on_queue") else "")),
        ("seconds", seconds(result)),
    ]


def seconds(result: dict) -> str:
    """The run's length, and how much of it was spent past the time limit waiting for messages
    the function had delayed beyond it (a run that ended with messages left did not wait)."""
    run, limit = result["run"], result["run"].get("time_limit_s")
    if limit is None or run["seconds"] <= limit or result["stuck_on_queue"]:
        return str(run["seconds"])
    return f"{run['seconds']} ({run['seconds'] - limit:.1f} past the {limit} s time limit, for messages the function delayed)"


def print_summary(result: dict) -> None:
    rows = summary_rows(result)
    width = max(len(name) for name, _ in rows)
    print(f"{'':-<{width + 2}}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"{'':-<{width + 2}}")
    print("PASS" if result["passed"] else "FAIL", flush=True)


if __name__ == "__main__":
    # `python3 accounting.py report.json`: the summary of a saved run as a Markdown table.
    import json

    saved = json.loads(open(sys.argv[1]).read())
    print("| | |\n| --- | --- |")
    for name, value in summary_rows(saved):
        print(f"| {name} | {value} |")
    print(f"| result | {'PASS' if saved['passed'] else 'FAIL'} |")
