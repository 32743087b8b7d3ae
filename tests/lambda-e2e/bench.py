"""Benchmarks of the release `bootstrap` (not tests: numbers to read, nothing asserted).

    cargo build --release -p mailroom-lambda --bin bootstrap
    MAILROOM_BOOTSTRAP=$CARGO_TARGET_DIR/release/bootstrap python3 tests/lambda-e2e/bench.py

Measures, against moto and a local Runtime API (see harness.py):
  * process start to the first Runtime API poll (init: settings, AWS clients);
  * peak RSS (VmHWM) after a cold 10-record batch (templates loaded from the CodeCommit fake);
  * wall time of a warm 10-record batch when every SES call takes 50 ms (the front door
    answers SendEmail itself after 50 ms),
    from the Runtime API handing out the event to the function posting its response;
  * AWS API calls made for a warm 10-record batch.
Prints a Markdown table.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import AwsFront, Function, Moto, Queues, RuntimeApi, bootstrap_path, example_messages  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "20"))
TEN = (example_messages()[:9] * 2)[:10]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def start_to_first_poll(front: AwsFront, env: dict[str, str]) -> list[float]:
    samples = []
    for _ in range(SAMPLES):
        runtime = RuntimeApi()
        function = Function(runtime, front, env)
        runtime.first_poll.wait(10)
        samples.append((runtime.first_poll_at - function.started_at) * 1000)
        function.stop()
        runtime.stop()
    return samples


def main() -> None:
    binary = bootstrap_path()
    print(f"binary: {binary} ({binary.stat().st_size / 1e6:.1f} MB)")
    moto = Moto()
    front = AwsFront(moto.url)
    try:
        moto.client("sesv2").create_email_identity(EmailIdentity="academy.example.com")
        queues = Queues(moto, "bench")

        # Most of init is the TLS trust store: the SDK reads the system's CA bundle and every
        # file of its certificate directory (292 entries on this Debian machine, a handful on
        # Amazon Linux 2023). The second run reads the bundle file only (SSL_CERT_FILE).
        init = start_to_first_poll(front, {})
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        init_bundle = start_to_first_poll(front, {"SSL_CERT_FILE": bundle}) if Path(bundle).exists() else []

        # Cold 10-record batch, then warm ones with a 50 ms SES.
        runtime = RuntimeApi()
        function = Function(runtime, front, {})
        queues.send(TEN)
        event = queues.receive_event()
        front.reset_counts()
        kind, response = function.invoke(event)
        assert kind == "response" and not response.get("batchItemFailures"), response
        cold_ms = (runtime.answered_at[runtime.last_request_id] - runtime.handed_out_at[runtime.last_request_id]) * 1000
        cold_calls = dict(front.calls)
        rss_cold = peak_rss_mib(function.process.pid)

        # SES answers after exactly 50 ms (the front door accepts the email itself, so moto's
        # own processing time is not added to each call).
        front.ses_delay = 0.050
        front.ses_answers_itself = True
        warm, calls = [], []
        for _ in range(SAMPLES):
            queues.send(TEN)
            event = queues.receive_event()
            front.reset_counts()
            kind, response = function.invoke(event)
            assert kind == "response" and not response.get("batchItemFailures"), response
            rid = runtime.last_request_id
            warm.append((runtime.answered_at[rid] - runtime.handed_out_at[rid]) * 1000)
            calls.append(front.total())
        rss_after = peak_rss_mib(function.process.pid)
        function.stop()
        runtime.stop()
    finally:
        front.stop()
        moto.stop()

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.machine())
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, Python {platform.python_version()}; load average {load} at the end; {SAMPLES} samples each.\n")
    print("| measure | median | p90 | min | target |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| process start to first Runtime API poll | {statistics.median(init):.1f} ms | {percentile(init, 90):.1f} ms | {min(init):.1f} ms | ≤ 15 ms |")
    if init_bundle:
        print(f"| same, trust store = one CA bundle file (SSL_CERT_FILE) | {statistics.median(init_bundle):.1f} ms | {percentile(init_bundle, 90):.1f} ms | {min(init_bundle):.1f} ms | ≤ 15 ms |")
    print(f"| peak RSS (VmHWM), cold 10-record batch (templates loaded) | {rss_cold:.1f} MiB | | | ≤ 30 MB |")
    print(f"| peak RSS after {SAMPLES} more warm batches | {rss_after:.1f} MiB | | | |")
    print(f"| warm 10-record batch, SES 50 ms per call | {statistics.median(warm):.1f} ms | {percentile(warm, 90):.1f} ms | {min(warm):.1f} ms | ≤ 70 ms |")
    print(f"| AWS API calls per warm 10-record batch | {statistics.median(calls):.0f} | {max(calls)} (max) | | 10 (old: 30) |")
    print(f"| cold 10-record batch, SES without delay (includes template loading) | {cold_ms:.1f} ms | | | |")
    print(f"| AWS API calls of the cold batch | {sum(cold_calls.values())} | | | |")
    print(f"\nCold batch calls: {cold_calls}")


if __name__ == "__main__":
    main()
