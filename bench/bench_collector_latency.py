"""Collector responsiveness: /healthz latency while one process decodes a 6 MB Sensors body.

Starts `touchpoint collect`, times /healthz for 3 s idle (the peer), then again while a third process posts
a ~6 MB base64 form body (1,000 events × 100 properties, no gzip: the most decoding per byte).
Before decoding left the event loop the slowest answer was 5.4 s; the goal is under 100 ms over idle.
Prints the slowest and median answer busy and idle, and the ratio slowest busy / slowest idle; the
collector's count of accepted events (its /metrics) must equal the events in the body.
Run: `python bench/bench_collector_latency.py [--events N] [--properties N] [--idle S] [--smoke] [--json]`.
"""

from __future__ import annotations

import base64
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import orjson

import _harness as h
from touchpoint.ingest.collector.payload import java_string_hash

SEND = """
import sys, httpx

url, path = sys.argv[1], sys.argv[2]
headers = {"Content-Type": "application/x-www-form-urlencoded"}
print(httpx.post(url, content=open(path, "rb").read(), headers=headers, timeout=120).status_code)
"""
ACCEPTED = "touchpoint_collector_accepted_total"


def sensors_body(events: int, properties: int) -> bytes:
    """An Android-style form body with its crc (~6 MB at 1,000 events × 100 properties)."""
    now = int(time.time() * 1000)
    batch = [
        {
            "type": "track",
            "event": "fund_detail_view",
            "distinct_id": f"dev-{i}",
            "time": now,
            "_track_id": i,
            "properties": {f"p{j}": f"{i:04d}-{j:03d}-" + "x" * 27 for j in range(properties)},
        }
        for i in range(events)
    ]
    data = base64.b64encode(orjson.dumps(batch)).decode()
    return f"crc={java_string_hash(data)}&data_list={quote(data, safe='')}".encode()


def latencies(client: httpx.Client, still: Callable[[], bool]) -> list[float]:
    """/healthz answer times, one request every 10 ms while `still()` (at least one)."""
    out: list[float] = []
    while not out or still():
        started = time.perf_counter()
        client.get("/healthz").raise_for_status()
        out.append(time.perf_counter() - started)
        time.sleep(0.01)
    return out


def main() -> None:
    """Print busy and idle /healthz latency and their ratio."""
    parser = h.parser(__doc__)
    parser.add_argument("--events", type=int, default=1_000, help="events in the one big body")
    parser.add_argument("--properties", type=int, default=100, help="properties of each event")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle /healthz answers (the peer)")
    bench = h.start("bench_collector_latency", parser, smoke={"events": 50, "properties": 20, "idle": 0.5})
    args = bench.args
    with tempfile.TemporaryDirectory() as home, h.collector(home) as server:
        body = Path(home) / "body"
        body.write_bytes(sensors_body(args.events, args.properties))
        size = body.stat().st_size
        with httpx.Client(base_url=server.base, timeout=30) as client:
            client.get("/healthz")
            until = time.monotonic() + args.idle
            idle = latencies(client, lambda: time.monotonic() < until)
            sender = subprocess.Popen(
                [sys.executable, "-c", SEND, f"{server.base}/sa", str(body)],
                stdout=subprocess.PIPE,
                text=True,
            )
            busy = latencies(client, lambda: sender.poll() is None)
            status = int((sender.communicate()[0] or "0").strip() or 0)
        accepted = h.counter(h.metrics(server.base), ACCEPTED, "sensors")
    ms = 1000
    bench.say(f"bench_collector_latency  body {size / h.MiB:.1f} MB, {len(busy)} answers while decoding")
    bench.say(
        f"/healthz busy: slowest {max(busy) * ms:.0f} ms, median {statistics.median(busy) * ms:.1f} ms | "
        f"idle: slowest {max(idle) * ms:.0f} ms, median {statistics.median(idle) * ms:.1f} ms | "
        f"ratio slowest busy/idle {max(busy) / max(idle):.2f}"
    )
    bench.report(
        {
            "events": args.events,
            "properties": args.properties,
            "body_bytes": size,
            "status": status,
            "events_accepted": accepted,
            "busy_answers": len(busy),
            "busy_max_ms": round(max(busy) * ms, 2),
            "busy_median_ms": round(statistics.median(busy) * ms, 2),
            "idle_answers": len(idle),
            "idle_max_ms": round(max(idle) * ms, 2),
            "idle_median_ms": round(statistics.median(idle) * ms, 2),
            "ratio_max_busy_to_idle": round(max(busy) / max(idle), 2),
        }
    )


if __name__ == "__main__":
    main()
