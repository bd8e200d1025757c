"""Collector responsiveness: /healthz latency while one process decodes a 6 MB Sensors body.

Starts `touchpoint collect`, times /healthz for 3 s idle (the peer), then again while a third process posts
a ~6 MB base64 form body (1,000 events × 100 properties, no gzip: the most decoding per byte).
Before decoding left the event loop the slowest answer was 5.4 s; the goal is under 100 ms over idle.
Prints the slowest and median answer busy and idle, and the ratio slowest busy / slowest idle.
Run: `python bench/bench_collector_latency.py`.
"""

from __future__ import annotations

import base64
import os
import socket
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

from touchpoint.ingest.collector.payload import java_string_hash

# Keys off: the figure is of decoding and storing under load, not of admitting (one lookup a batch).
NO_KEYS = {**os.environ, "TOUCHPOINT_COLLECTOR_REQUIRE_KEYS": "false"}

SEND = """
import sys, httpx

url, path = sys.argv[1], sys.argv[2]
headers = {"Content-Type": "application/x-www-form-urlencoded"}
print(httpx.post(url, content=open(path, "rb").read(), headers=headers, timeout=120).status_code)
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sensors_body() -> bytes:
    """~6 MB Android-style form body with its crc."""
    now = int(time.time() * 1000)
    events = [
        {
            "type": "track",
            "event": "fund_detail_view",
            "distinct_id": f"dev-{i}",
            "time": now,
            "_track_id": i,
            "properties": {f"p{j}": f"{i:04d}-{j:03d}-" + "x" * 27 for j in range(100)},
        }
        for i in range(1_000)
    ]
    data = base64.b64encode(orjson.dumps(events)).decode()
    return f"crc={java_string_hash(data)}&data_list={quote(data, safe='')}".encode()


def latencies(client: httpx.Client, still: Callable[[], bool]) -> list[float]:
    """/healthz answer times, one request every 10 ms while `still()`."""
    out: list[float] = []
    while still():
        started = time.perf_counter()
        client.get("/healthz").raise_for_status()
        out.append(time.perf_counter() - started)
        time.sleep(0.01)
    return out


def main() -> None:
    """Print busy and idle /healthz latency and their ratio."""
    with tempfile.TemporaryDirectory() as home:
        body = Path(home) / "body"
        body.write_bytes(sensors_body())
        size = body.stat().st_size
        port = _port()
        command = [sys.executable, "-m", "touchpoint", "--home", home, "collect", "--port", str(port)]
        server = subprocess.Popen(command, env=NO_KEYS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            with httpx.Client(base_url=base, timeout=30) as client:
                client.get("/healthz")
                until = time.monotonic() + 3
                idle = latencies(client, lambda: time.monotonic() < until)
                sender = subprocess.Popen(
                    [sys.executable, "-c", SEND, f"{base}/sa", str(body)], stdout=subprocess.PIPE, text=True
                )
                busy = latencies(client, lambda: sender.poll() is None)
        finally:
            server.terminate()
            server.wait(20)
    ms = 1000
    print(f"bench_collector_latency  body {size / (1 << 20):.1f} MB, {len(busy)} answers while decoding")
    print(
        f"/healthz busy: slowest {max(busy) * ms:.0f} ms, median {statistics.median(busy) * ms:.1f} ms | "
        f"idle: slowest {max(idle) * ms:.0f} ms, median {statistics.median(idle) * ms:.1f} ms | "
        f"ratio slowest busy/idle {max(busy) / max(idle):.2f}"
    )


if __name__ == "__main__":
    main()
