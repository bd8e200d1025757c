"""Collector throughput: events/s accepted by one `touchpoint collect` process, with p99 latency.

A load generator (this process) drives the collector on loopback with Sensors `data_list` batches of 50
(gzip + base64, as the Android SDK sends) and native batches of 500, and drives the same requests at a bare
endpoint that only reads the body (bench/bare_server.py) — the ratio to it is the figure.
Run: `python bench/bench_collector.py [--sensors-batches N] [--native-batches N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import orjson

HERE = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


def sensors_bodies(count: int, now_ms: int) -> list[bytes]:
    """Android-style form bodies, 50 events each, every event unique."""
    bodies = []
    for b in range(count):
        events = [
            {
                "type": "track",
                "event": "fund_detail_view",
                "distinct_id": f"dev-{b}-{i}",
                "time": now_ms,
                "_track_id": b * 100 + i,
                "properties": {"fund_code": "000001", "$os": "Android"},
            }
            for i in range(50)
        ]
        data = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
        bodies.append(f"gzip=1&data_list={quote(data, safe='')}".encode())
    return bodies


def native_bodies(count: int, now_ms: int) -> list[bytes]:
    """Native JSON batches of 500 events."""
    return [
        orjson.dumps(
            {
                "events": [
                    {
                        "event_id": f"n{b}-{i}",
                        "event": "trade_confirmed",
                        "customer_no": f"C{i}",
                        "time": now_ms,
                        "properties": {"amount": 1000},
                    }
                    for i in range(500)
                ]
            }
        )
        for b in range(count)
    ]


async def drive(
    url: str, bodies: list[bytes], content_type: str, concurrency: int
) -> tuple[float, list[float]]:
    """Send every body with `concurrency` connections; returns wall seconds and per-request latencies."""
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(url, content=body, headers={"Content-Type": content_type})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def _serve(command: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    """Print events/s and p99 for Touchpoint and the bare peer, per payload kind."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sensors-batches", type=int, default=400)
    parser.add_argument("--native-batches", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    now_ms = int(time.time() * 1000)
    cases = [
        (
            "sensors data_list x50",
            "/sa",
            "application/x-www-form-urlencoded",
            sensors_bodies(args.sensors_batches, now_ms),
            50,
        ),
        (
            "native batch x500",
            "/api/v1/events",
            "application/json",
            native_bodies(args.native_batches, now_ms),
            500,
        ),
    ]
    with tempfile.TemporaryDirectory() as home:
        ours_port, bare_port = _port(), _port()
        # Keys off: the figure compares decoding and storing with a bare server (keys add one lookup a batch).
        env = {**os.environ, "TOUCHPOINT_COLLECTOR_REQUIRE_KEYS": "false"}
        ours = _serve(
            [sys.executable, "-m", "touchpoint", "--home", home, "collect", "--port", str(ours_port)], env
        )
        bare = _serve(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_server:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            env,
            cwd=HERE,
        )
        try:
            _wait(f"http://127.0.0.1:{ours_port}")
            _wait(f"http://127.0.0.1:{bare_port}")
            print(
                f"bench_collector  concurrency={args.concurrency}  (SQLite event log, one collector process)"
            )
            for label, path, content_type, bodies, per in cases:
                results = {}
                for name, port in (("touchpoint", ours_port), ("bare", bare_port)):
                    seconds, latencies = asyncio.run(
                        drive(f"http://127.0.0.1:{port}{path}", bodies, content_type, args.concurrency)
                    )
                    results[name] = (len(bodies) * per / seconds, float(np.percentile(latencies, 99)) * 1000)
                rate, p99 = results["touchpoint"]
                bare_rate, bare_p99 = results["bare"]
                print(
                    f"{label:<22} touchpoint {rate:10,.0f} events/s  p99 {p99:7.1f} ms | "
                    f"bare {bare_rate:10,.0f} events/s  p99 {bare_p99:6.1f} ms | "
                    f"ratio {rate / bare_rate:5.2f}"
                )
        finally:
            ours.terminate()
            bare.terminate()
            ours.wait(10)
            bare.wait(10)


if __name__ == "__main__":
    main()
