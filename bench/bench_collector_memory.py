"""Collector memory: peak resident memory of one `touchpoint collect` process under eight worst-case requests.

Each case starts a fresh collector (SQLite event log, default limits), measures its resident memory idle after
one small request (the peer), then sends eight copies of one worst-case body at once and samples the
process's resident memory every 5 ms (with its kernel high-water mark) until all eight are answered:

- `max properties`: events of 1,000 properties each, up to the 200,000 JSON values a request may hold;
- `max nesting`: events nested to the 32-level limit, up to the value limit;
- `max body`: a gzip body just under 8 MB inflating to just under 32 MB (64 K-character strings, the longest);
- `1,000,000 properties`: the request that peaked at 1.1 GB (2.5 GB for eight) before the limits; now refused.

Prints the peak in MB, the growth over idle, and the ratio peak / idle.
Run: `python bench/bench_collector_memory.py [--copies 8]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import httpx
import orjson

# Keys off: the figure is of decoding and storing under load, not of admitting (one lookup a batch).
NO_KEYS = {**os.environ, "TOUCHPOINT_COLLECTOR_REQUIRE_KEYS": "false"}


MB = 1 << 20


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not start")


def _rss(pid: int, field: str = "VmRSS") -> int:
    """A /proc/PID/status figure in bytes (VmRSS: now; VmHWM: the peak since start)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for {pid}")


def _event(i: int, now_ms: int, properties: object) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "event": "x",
        "customer_no": f"C{i}",
        "time": now_ms,
        "properties": properties,
    }


def max_properties(now_ms: int) -> tuple[bytes, dict[str, str]]:
    """198 events × 1,000 numeric properties: 199,190 JSON values, just within collector_max_values."""
    events = [_event(i, now_ms, {f"p{j}": j for j in range(1_000)}) for i in range(198)]
    return orjson.dumps({"events": events}), {}


def max_nesting(now_ms: int) -> tuple[bytes, dict[str, str]]:
    """Events whose properties nest to the 32-level limit, as many as the value limit allows."""

    def nested(depth: int) -> object:
        value: object = "leaf"
        for level in range(depth):
            value = {f"k{level}": value, "n": level}
        return value

    events = [_event(i, now_ms, nested(31)) for i in range(1_000)]
    return orjson.dumps({"events": events}), {}


def max_body(now_ms: int) -> tuple[bytes, dict[str, str]]:
    """A gzip body just under 8 MB inflating to just under 32 MB: 480 strings of 64 K characters."""
    # random text over three letters: gzip gets it to ~1.9 bits a character, so 31 MB fits an 8 MB body
    letters = bytes(b"abc"[i % 3] for i in range(256))
    events = [_event(i, now_ms, {"note": os.urandom(65_536).translate(letters).decode()}) for i in range(480)]
    raw = orjson.dumps({"events": events})
    body = gzip.compress(raw, compresslevel=9)
    assert len(raw) < 32 * MB, len(raw)
    assert len(body) < 8 * MB, len(body)
    return body, {"Content-Encoding": "gzip"}


def million_properties(now_ms: int) -> tuple[bytes, dict[str, str]]:
    """The issue's request: one event with 1,000,000 properties (gzip, ~16 MB inflated)."""
    props = b",".join(b'"p%d":%d' % (j, j) for j in range(1_000_000))
    raw = b'{"events":[{"event":"x","customer_no":"C1","time":%d,"properties":{%s}}]}' % (now_ms, props)
    return gzip.compress(raw), {"Content-Encoding": "gzip"}


CASES: list[tuple[str, Callable[[int], tuple[bytes, dict[str, str]]]]] = [
    ("max properties", max_properties),
    ("max nesting", max_nesting),
    ("max body", max_body),
    ("1,000,000 properties", million_properties),
]


async def _send(base: str, body: bytes, headers: dict[str, str], copies: int) -> list[int]:
    async with httpx.AsyncClient(timeout=600) as client:
        answers = await asyncio.gather(
            *(client.post(f"{base}/api/v1/events", content=body, headers=headers) for _ in range(copies))
        )
    return [a.status_code for a in answers]


def measure(label: str, build: Callable[[int], tuple[bytes, dict[str, str]]], copies: int) -> tuple[int, int]:
    """(idle RSS, peak RSS) of a fresh collector taking `copies` concurrent copies of one body."""
    body, headers = build(int(time.time() * 1000))
    with tempfile.TemporaryDirectory() as home:
        port = _port()
        command = [sys.executable, "-m", "touchpoint", "--home", home, "collect", "--port", str(port)]
        server = subprocess.Popen(command, env=NO_KEYS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base)
            small = orjson.dumps({"events": [_event(0, int(time.time() * 1000), {"a": 1})]})
            httpx.post(f"{base}/api/v1/events", content=small, timeout=60).raise_for_status()
            time.sleep(1)
            idle = _rss(server.pid)
            peak = [idle]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], _rss(server.pid))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            statuses = asyncio.run(_send(base, body, headers, copies))
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            peak[0] = max(peak[0], _rss(server.pid, "VmHWM"))
        finally:
            server.terminate()
            server.wait(20)
    print(
        f"{label:<22} body {len(body) / MB:5.1f} MB x{copies}  answers {sorted(set(statuses))}  "
        f"{seconds:5.1f} s | idle {idle / MB:6.0f} MB  peak {peak[0] / MB:6.0f} MB  "
        f"(+{(peak[0] - idle) / MB:5.0f} MB) | ratio {peak[0] / idle:4.2f}"
    )
    return idle, peak[0]


def main() -> None:
    """Print the peak resident memory per case and the ratio to the same process idle."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=8, help="concurrent requests per case")
    args = parser.parse_args()
    print(
        f"bench_collector_memory  {args.copies} concurrent requests per case "
        "(SQLite event log, default limits)"
    )
    peaks = [measure(label, build, args.copies) for label, build in CASES]
    idle, peak = max(peaks, key=lambda p: p[1])
    print(f"worst case: peak {peak / MB:.0f} MB, {peak / idle:.2f}x the idle process ({idle / MB:.0f} MB)")


if __name__ == "__main__":
    main()
