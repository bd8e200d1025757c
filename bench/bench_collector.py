"""Collector throughput: events/s accepted by one `touchpoint collect` process, with p99 latency.

A load generator (this process) drives the collector on loopback with Sensors `data_list` batches of 50
(gzip + base64, as the Android SDK sends) and native batches of 500, and drives the same requests at a bare
endpoint that only reads the body (bench/bare_server.py) — the ratio to it is the figure. The collector's
own count of accepted events (its /metrics) must equal the events sent.
SQLite event log by default; `--database-url postgresql://…` puts the operational store and the event log
on PostgreSQL, in a fresh schema dropped afterwards; `--nats-url nats://…` runs once more with the event log
on NATS JetStream (a scratch stream, deleted afterwards; the operational store SQLite). `--smoke` without
them: SQLite, and PostgreSQL too when TOUCHPOINT_TEST_POSTGRES_URL is set.
Run: `python bench/bench_collector.py [--sensors-batches N] [--native-batches N] [--concurrency C]
[--database-url URL] [--nats-url URL] [--smoke] [--json]`.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import sys
import tempfile
import time
from typing import Any
from urllib.parse import quote

import httpx
import orjson

import _harness as h

SOURCES = {"/sa": "sensors", "/api/v1/events": "native"}  # the collector counts accepted events by source
ACCEPTED = "touchpoint_collector_accepted_total"


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


def run_store(
    bench: h.Bench,
    bare: h.Server,
    database_url: str | None,
    cases: list[tuple[str, str, str, list[bytes], int]],
    *,
    nats: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every case against a fresh collector on one store (with `nats`, its event log on that stream) and
    against the bare server; print each line and return the figures."""
    concurrency = bench.args.concurrency
    results: list[dict[str, Any]] = []
    log_name = "nats" if nats else h.store_name(database_url)
    with (
        tempfile.TemporaryDirectory() as home,
        h.store_url(database_url) as url,
        h.collector(home, database_url=url, env=nats) as ours,
    ):
        bench.say(f"bench_collector  concurrency={concurrency}  ({log_name} event log, one collector)")
        for label, path, content_type, bodies, per in cases:
            source = SOURCES[path]
            before = h.counter(h.metrics(ours.base), ACCEPTED, source)
            figures = {}
            for name, server in (("touchpoint", ours), ("bare", bare)):
                cpu = server.cpu_seconds()
                seconds, latencies = asyncio.run(
                    drive(f"{server.base}{path}", bodies, content_type, concurrency)
                )
                cpu_us = (server.cpu_seconds() - cpu) / (len(bodies) * per) * 1e6
                figures[name] = (
                    len(bodies) * per / seconds,
                    h.percentiles(latencies, (99,))[99] * 1000,
                    cpu_us,
                )
            accepted = h.counter(h.metrics(ours.base), ACCEPTED, source) - before
            rate, p99, cpu_us = figures["touchpoint"]
            bare_rate, bare_p99, bare_cpu_us = figures["bare"]
            bench.say(
                f"{label:<22} touchpoint {rate:10,.0f} events/s  p99 {p99:7.1f} ms  {cpu_us:5.1f} CPU µs/e | "
                f"bare {bare_rate:10,.0f} events/s  p99 {bare_p99:6.1f} ms  {bare_cpu_us:5.1f} CPU µs/e | "
                f"ratio {rate / bare_rate:5.2f}, CPU {bare_cpu_us / cpu_us:5.2f}"
            )
            results.append(
                {
                    "case": label,
                    "requests": len(bodies),
                    "events_sent": len(bodies) * per,
                    "events_accepted": accepted,
                    "events_per_second": round(rate),
                    "p99_ms": round(p99, 2),
                    "bare_events_per_second": round(bare_rate),
                    "bare_p99_ms": round(bare_p99, 2),
                    "ratio": round(rate / bare_rate, 3),
                    "cpu_us_per_event": round(cpu_us, 2),
                    "bare_cpu_us_per_event": round(bare_cpu_us, 2),
                    "cpu_ratio": round(bare_cpu_us / cpu_us, 3),
                }
            )
    return {"cases": results}


def main() -> None:
    """Print events/s and p99 for Touchpoint and the bare peer, per payload kind and store."""
    parser = h.parser(__doc__)
    parser.add_argument("--sensors-batches", type=int, default=400)
    parser.add_argument("--native-batches", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite (fresh schema)")
    parser.add_argument("--nats-url", default=None, help="also with the event log on NATS JetStream")
    bench = h.start(
        "bench_collector", parser, smoke={"sensors_batches": 8, "native_batches": 2, "concurrency": 4}
    )
    args = bench.args
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
    port = h.free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bare_server:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    stores: dict[str, Any] = {}
    with h.serve(command, port, cwd=h.HERE) as bare:
        for database_url in h.operational_stores(args.database_url, bench.smoke):
            stores[h.store_name(database_url)] = run_store(bench, bare, database_url, cases)
        if args.nats_url:
            with h.nats_stream(args.nats_url) as stream:
                settings = h.nats_settings(args.nats_url, stream)
                nats = {f"TOUCHPOINT_{name.upper()}": value for name, value in settings.items()}
                stores["nats"] = run_store(bench, bare, None, cases, nats=nats)
    bench.report({"concurrency": args.concurrency, "stores": stores})


if __name__ == "__main__":
    main()
