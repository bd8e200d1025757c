"""Collector memory: peak resident memory of one `touchpoint collect` process under eight worst-case requests.

Each case starts a fresh collector (SQLite event log, default limits), measures its resident memory idle after
one small request (the peer), then sends eight copies of one worst-case body at once and samples the
process's resident memory every 5 ms (with its kernel high-water mark) until all eight are answered:

- `max properties`: events of 1,000 properties each, up to the 200,000 JSON values a request may hold;
- `max nesting`: events nested to the 32-level limit, up to the value limit;
- `max body`: a gzip body just under 8 MB inflating to just under 32 MB (64 K-character strings, the longest);
- `1,000,000 properties`: the request that peaked at 1.1 GB (2.5 GB for eight) before the limits; now refused.

Prints the peak in MB, the growth over idle, and the ratio peak / idle. The collector's counts (its
/metrics) must add up: every event of an accepted copy accepted once and a duplicate in every other copy,
a refused request refused whole.
Run: `python bench/bench_collector_memory.py [--copies 8] [--cases NAME …] [--smoke] [--json]`.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

import _harness as h

MB = h.MiB
Body = tuple[bytes, dict[str, str], int]  # the body, its headers, the events in it


def _event(i: int, now_ms: int, properties: object) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "event": "x",
        "customer_no": f"C{i}",
        "time": now_ms,
        "properties": properties,
    }


def max_properties(now_ms: int) -> Body:
    """198 events × 1,000 numeric properties: 199,190 JSON values, just within collector_max_values."""
    events = [_event(i, now_ms, {f"p{j}": j for j in range(1_000)}) for i in range(198)]
    return orjson.dumps({"events": events}), {}, len(events)


def max_nesting(now_ms: int) -> Body:
    """Events whose properties nest to the 32-level limit, as many as the value limit allows."""

    def nested(depth: int) -> object:
        value: object = "leaf"
        for level in range(depth):
            value = {f"k{level}": value, "n": level}
        return value

    events = [_event(i, now_ms, nested(31)) for i in range(1_000)]
    return orjson.dumps({"events": events}), {}, len(events)


def max_body(now_ms: int) -> Body:
    """A gzip body just under 8 MB inflating to just under 32 MB: 480 strings of 64 K characters."""
    # random text over three letters: gzip gets it to ~1.9 bits a character, so 31 MB fits an 8 MB body
    letters = bytes(b"abc"[i % 3] for i in range(256))
    events = [_event(i, now_ms, {"note": os.urandom(65_536).translate(letters).decode()}) for i in range(480)]
    raw = orjson.dumps({"events": events})
    body = gzip.compress(raw, compresslevel=9)
    assert len(raw) < 32 * MB, len(raw)
    assert len(body) < 8 * MB, len(body)
    return body, {"Content-Encoding": "gzip"}, len(events)


def million_properties(now_ms: int) -> Body:
    """The issue's request: one event with 1,000,000 properties (gzip, ~16 MB inflated)."""
    props = b",".join(b'"p%d":%d' % (j, j) for j in range(1_000_000))
    raw = b'{"events":[{"event":"x","customer_no":"C1","time":%d,"properties":{%s}}]}' % (now_ms, props)
    return gzip.compress(raw), {"Content-Encoding": "gzip"}, 1


CASES: dict[str, Callable[[int], Body]] = {
    "max properties": max_properties,
    "max nesting": max_nesting,
    "max body": max_body,
    "1,000,000 properties": million_properties,
}


async def _send(base: str, body: bytes, headers: dict[str, str], copies: int) -> list[int]:
    async with httpx.AsyncClient(timeout=600) as client:
        answers = await asyncio.gather(
            *(client.post(f"{base}/api/v1/events", content=body, headers=headers) for _ in range(copies))
        )
    return [a.status_code for a in answers]


def measure(bench: h.Bench, label: str, build: Callable[[int], Body], copies: int) -> dict[str, Any]:
    """Idle and peak RSS of a fresh collector taking `copies` concurrent copies of one body, and what it
    counted of them."""
    body, headers, events = build(int(time.time() * 1000))
    with tempfile.TemporaryDirectory() as home, h.collector(home) as server:
        # Its own event id: sharing one with the body would make one of the body's events a duplicate.
        warm_up = _event(0, int(time.time() * 1000), {"a": 1}) | {"event_id": "warm-up"}
        small = orjson.dumps({"events": [warm_up]})
        httpx.post(f"{server.base}/api/v1/events", content=small, timeout=60).raise_for_status()
        before = h.metrics(server.base)
        time.sleep(1)
        idle = h.rss(server.pid)
        peak = [idle]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], h.rss(server.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        with h.Stopwatch() as watch:
            statuses = asyncio.run(_send(server.base, body, headers, copies))
        done.set()
        sampler.join()
        peak[0] = max(peak[0], h.rss(server.pid, "VmHWM"))
        after = h.metrics(server.base)
    bench.say(
        f"{label:<22} body {len(body) / MB:5.1f} MB x{copies}  answers {sorted(set(statuses))}  "
        f"{watch.seconds:5.1f} s | idle {idle / MB:6.0f} MB  peak {peak[0] / MB:6.0f} MB  "
        f"(+{(peak[0] - idle) / MB:5.0f} MB) | ratio {peak[0] / idle:4.2f}"
    )

    def counted(metric: str) -> int:
        return sum(int(v) for v in after.get(metric, {}).values()) - sum(
            int(v) for v in before.get(metric, {}).values()
        )

    return {
        "case": label,
        "body_bytes": len(body),
        "copies": copies,
        "events_per_copy": events,
        "statuses": sorted(statuses),
        "events_accepted": counted("touchpoint_collector_accepted_total"),
        "events_duplicate": counted("touchpoint_collector_duplicates_total"),
        "requests_refused": counted("touchpoint_collector_rejected_batches_total"),
        "seconds": round(watch.seconds, 3),
        "idle_rss_bytes": idle,
        "peak_rss_bytes": peak[0],
        "ratio": round(peak[0] / idle, 3),
    }


def main() -> None:
    """Print the peak resident memory per case and the ratio to the same process idle."""
    parser = h.parser(__doc__)
    parser.add_argument("--copies", type=int, default=8, help="concurrent requests per case")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES), help="cases to run")
    # One case: starting a fresh collector (about 5 s of CPU) is most of a case's cost at this size.
    smoke = {"copies": 2, "cases": ["max properties"]}
    bench = h.start("bench_collector_memory", parser, smoke=smoke)
    args = bench.args
    bench.say(
        f"bench_collector_memory  {args.copies} concurrent requests per case "
        "(SQLite event log, default limits)"
    )
    cases = [measure(bench, name, CASES[name], args.copies) for name in args.cases]
    worst = max(cases, key=lambda c: c["peak_rss_bytes"])
    idle, peak = worst["idle_rss_bytes"], worst["peak_rss_bytes"]
    bench.say(
        f"worst case: peak {peak / MB:.0f} MB, {peak / idle:.2f}x the idle process ({idle / MB:.0f} MB)"
    )
    bench.report({"copies": args.copies, "cases": cases, "worst_case": worst["case"]})


if __name__ == "__main__":
    main()
