"""A collector process decoding a large body keeps answering /healthz throughout.

Before decoding left the event loop, a 6 MB Sensors body froze /healthz for 5.4 s (issue 14, item 4). The
test does not time against a fixed budget (a loaded CI machine delays answers by itself); it checks that no
answer waited for the decode: a blocked loop makes one answer take about as long as the whole decode.
The absolute figure is `bench/bench_collector_latency.py`'s.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import orjson
import pytest

from touchpoint.ingest.collector.payload import java_string_hash


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[str]:
    """`touchpoint collect` in its own process (so the measure is the server's, not this test's)."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "touchpoint",
        "--home",
        str(tmp_path / "h"),
        "collect",
        "--port",
        str(port),
    ]
    # The measure is of decoding under load, not of admitting: keys are off (test_keys.py covers them).
    env = {**os.environ, "TOUCHPOINT_COLLECTOR_REQUIRE_KEYS": "false"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the collector exited"
                assert time.monotonic() < deadline, "the collector did not start"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def six_megabyte_sensors_body() -> bytes:
    """A valid Android-style form body of ~6 MB: 1,000 events, 100 properties each, base64 without gzip
    (the most decoding per byte), with its crc."""
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


def _healthz_latencies(client: httpx.Client, still: Callable[[], bool]) -> list[float]:
    latencies: list[float] = []
    while still():
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    return latencies


def test_healthz_keeps_answering_while_a_6_mb_body_is_decoded(collector: str, tmp_path: Path) -> None:
    """Many answers arrive during the decode and none of them waits for a large part of it."""
    body = tmp_path / "body"
    body.write_bytes(six_megabyte_sensors_body())
    assert body.stat().st_size > 6_000_000
    with httpx.Client(base_url=collector, timeout=30) as client:
        client.get("/healthz")  # a warm connection
        # The body is sent from a third process, so that only the collector's answers are timed here.
        started = time.perf_counter()
        sender = subprocess.Popen(
            [sys.executable, "-c", SEND, f"{collector}/sa", str(body)], stdout=subprocess.PIPE, text=True
        )
        busy = _healthz_latencies(client, lambda: sender.poll() is None)
        handled_in = time.perf_counter() - started
    assert sender.stdout is not None
    assert sender.stdout.read().strip() == "200"
    assert len(busy) >= 10, "the body was handled too fast to measure anything"
    assert max(busy) < handled_in / 4, (
        f"slowest /healthz {max(busy) * 1000:.0f} ms of {len(busy)} answers while a body took "
        f"{handled_in * 1000:.0f} ms: the loop waited for the decode"
    )


SEND = """
import sys, httpx
url, path = sys.argv[1], sys.argv[2]
headers = {"Content-Type": "application/x-www-form-urlencoded"}
print(httpx.post(url, content=open(path, "rb").read(), headers=headers, timeout=120).status_code)
"""
