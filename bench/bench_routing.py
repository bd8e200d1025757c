"""Journey routing by several workers: a backlog of events routed by W worker processes over P partitions.

The event log holds `--events` login events, one per customer, every customer already linked by One ID
(One ID's consumer has read the whole log, untimed). A journey enters on login and sends one log message.
For each layout of `--layouts` (W workers × P partitions, e.g. `1x1,2x4`), in a fresh store: W processes,
started and ready beforehand, are told to go at once; each runs `route_events` until every partition has
reached the log's head, then exits. Figures per layout: the wall time from "go" to the last exit, events
routed per second, the runs admitted (must equal the events), the workers' CPU per event, and the speed-up
over the first layout.

With `--nats-url` the event log is a JetStream stream, and `--sources log,routed` compares the two ways
routing reads (docs/journeys.md): every partition reading the whole log, or One ID's republisher handing each
linked event to the routed stream, where each partition reads only its own customers' subjects (ADR 0005;
the republishing is timed with the routing, done by whichever worker is free).

The peer: one process reading the same log with `read_after` in batches of the same size, doing nothing
with it — the floor of any consumer.

PostgreSQL only for W > 1 (SQLite has one writer): `--database-url` (a scratch schema, dropped afterwards),
or TOUCHPOINT_TEST_POSTGRES_URL. Without either, only the 1×1 layout runs, on SQLite. `--smoke` runs 200
events. On a 2-core machine two workers share the cores with PostgreSQL itself; read the CPU per event as
the figure other load does not move.

Run: `python bench/bench_routing.py [--events N] [--layouts 1x1,2x4] [--batch N] [--database-url URL]
[--nats-url URL [--sources log,routed]] [--smoke] [--json]`
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

import _harness as h
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import SystemClock
from touchpoint.core.events import LogEntry
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import link_business_ids, process_log
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import journey_runs

WELCOME: dict[str, Any] = {
    "name": "welcome",
    "title": "welcome",
    "entry": {"type": "event", "event": "login"},
    "start": "hi",
    "nodes": [{"id": "hi", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}],
}
# A worker: build the container, say ready, wait for "go", route until every partition is at the head.
WORKER = """
import json, os, sys, time
from pathlib import Path
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import SystemClock
from touchpoint.journeys.routing import CONSUMER, REPUBLISHER, ROUTED, partition_names
from touchpoint.journeys.runtime import republish, route_events
from touchpoint.store.operational.offsets import all_offsets
home, url, batch, options = Path(sys.argv[1]), sys.argv[2] or None, int(sys.argv[3]), json.loads(sys.argv[4])
settings = load_settings(home, database_url=url, **options)
env = build(settings, clock=SystemClock(), migrate=False)
routed = env.routing_source == "routed"
names = partition_names(env.routing_partitions, ROUTED if routed else CONSUMER)
print("ready", flush=True)
sys.stdin.readline()
before = os.times()
head = env.log.head()

def finished():
    with env.ops.begin() as connection:
        offsets = all_offsets(connection)
    if not routed:
        return all(offsets.get(n, 0) >= head for n in names)
    return offsets.get(REPUBLISHER, 0) >= head and all(
        n in offsets and env.routed.next_offset(offsets[n], index=i, count=len(names)) is None
        for i, n in enumerate(names)
    )

while True:
    if not republish(env=env, limit=batch) + route_events(env=env, limit=batch):
        if finished():
            break
        time.sleep(0.005)
after = os.times()
print(f"cpu {after.user + after.system - before.user - before.system}", flush=True)
env.close()
"""


def prepare(home: Path, url: str | None, events: int, options: dict[str, Any]) -> None:
    """A store whose log holds `events` logins of linked customers, the welcome journey live, One ID done."""
    settings = load_settings(home, database_url=url, **options)
    env = build(settings, clock=SystemClock())
    try:
        customers = h.customer_numbers(events).tolist()
        link_business_ids(env=env, customers=[{"customer_no": c} for c in customers], id_columns={})
        save_journey(env=env, principal=SYSTEM, journey=parse_journey(WELCOME))
        publish(env=env, principal=SYSTEM, name="welcome")
        now = datetime.now(UTC)
        ms = int(now.timestamp() * 1000)
        for start in range(0, events, 1_000):
            entries = [
                LogEntry(
                    None,
                    f"login-{c}",
                    {
                        "event_id": f"login-{c}",
                        "kind": "track",
                        "event": "login",
                        "time": ms,
                        "distinct_id": c,
                        "properties": {},
                        "ids": {"customer_no": c},
                    },
                )
                for c in customers[start : start + 1_000]
            ]
            env.log.append(entries, received_at=now)
        while process_log(env=env, log=env.log):
            pass
        if env.ops.dialect == "postgresql":
            # As autovacuum would soon after such a load: without statistics the planner takes the freshly
            # filled identity_links for two rows and joins every event's links with every customer's.
            with env.ops.begin() as connection:
                connection.execute(text("ANALYZE"))
    finally:
        env.close()


def route_with_workers(
    home: Path, url: str | None, workers: int, options: dict[str, Any], batch: int
) -> tuple[float, float]:
    """Wall seconds from "go" until every worker is done, and the workers' CPU seconds together."""
    command = [sys.executable, "-c", WORKER, str(home), url or "", str(batch), json.dumps(options)]
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    for child in children:
        if child.stdout is None or child.stdout.readline().strip() != "ready":
            raise RuntimeError("a routing worker did not start")
    started = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    cpu = 0.0
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        child.wait(timeout=600)
        if child.returncode != 0 or not line or line[0] != "cpu":
            raise RuntimeError(f"a routing worker failed: {line}")
        cpu += float(line[1])
    return time.perf_counter() - started, cpu


def admitted(home: Path, url: str | None, options: dict[str, Any]) -> int:
    """Journey runs in the store."""
    settings = load_settings(home, database_url=url, **options)
    env = build(settings, clock=SystemClock(), migrate=False)
    try:
        with env.ops.begin() as connection:
            return int(connection.execute(select(func.count()).select_from(journey_runs)).scalar_one())
    finally:
        env.close()


def read_only(home: Path, url: str | None, batch: int, options: dict[str, Any]) -> float:
    """Seconds one process takes to read the whole log in batches (the peer)."""
    settings = load_settings(home, database_url=url, **options)
    env = build(settings, clock=SystemClock(), migrate=False)
    try:
        with h.Stopwatch() as watch:
            offset = 0
            while records := env.log.read_after(offset, batch):
                offset = records[-1].offset
        return watch.seconds
    finally:
        env.close()


def layout(
    bench: h.Bench, base_url: str | None, workers: int, partitions: int, source: str
) -> dict[str, Any]:
    """One layout in a fresh store (and a fresh stream on NATS): prepared, routed, counted."""
    args = bench.args
    options: dict[str, Any] = {"journey_routing_partitions": partitions, "journey_routing_source": source}
    if args.nats_url:
        stream = f"BENCH_{uuid.uuid4().hex[:10]}"
        options |= {"event_log": "nats", "nats_url": args.nats_url, "nats_stream": stream}
    name = f"{workers}×{partitions} {source}"
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp, h.store_url(base_url) as url:
        home = Path(tmp)
        try:
            with bench.status(f"{name}: preparing {args.events:,} events"):
                prepare(home, url, args.events, options)
            with bench.status(f"{name}: routing"):
                wall, cpu = route_with_workers(home, url, workers, options, args.batch)
            runs = admitted(home, url, options)
            peer = read_only(home, url, args.batch, options)
        finally:
            if args.nats_url:
                drop_streams(home, url, options)
    return {
        "workers": workers,
        "partitions": partitions,
        "source": source,
        "event_log": "nats" if args.nats_url else "sql",
        "events": args.events,
        "runs": runs,
        "seconds": wall,
        "events_per_second": args.events / wall,
        "cpu_ms_per_event": 1000 * cpu / args.events,
        "read_only_seconds": peer,
        "ratio_to_read_only": wall / peer if peer else None,
    }


def drop_streams(home: Path, url: str | None, options: dict[str, Any]) -> None:
    """Remove a layout's event stream and routed stream from the NATS server."""
    env = build(load_settings(home, database_url=url, **options), clock=SystemClock(), migrate=False)
    try:
        if env.routed is not None:
            env.routed.delete_stream()  # type: ignore[attr-defined]
        env.log.delete_stream()  # type: ignore[attr-defined]
    finally:
        env.close()


def main() -> None:
    """Parse the options, run every layout, print the figures (or JSON)."""
    parser = h.parser(__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--layouts", default="1x1,2x4", help="WORKERSxPARTITIONS, comma-separated")
    parser.add_argument("--batch", type=int, default=2_000, help="records a routing call reads")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (a scratch schema)")
    parser.add_argument("--nats-url", default=None, help="the event log on this NATS server")
    parser.add_argument("--sources", default="log", help="log, routed or both (routed needs --nats-url)")
    bench = h.start("bench_routing", parser, smoke={"events": 200, "batch": 50})
    args = bench.args
    url = args.database_url or os.environ.get(h.POSTGRES_ENV)
    wanted = [tuple(int(n) for n in item.split("x")) for item in args.layouts.split(",")]
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if "routed" in sources and not args.nats_url:
        parser.error("--sources routed needs --nats-url")
    if url is None:
        wanted = [(1, 1)]
        bench.say("no PostgreSQL: the 1×1 layout on SQLite only")
    results = [layout(bench, url, w, p, source) for source in sources for w, p in wanted]
    first = results[0]["seconds"]
    for result in results:
        result["speed_up"] = first / result["seconds"]
        bench.say(
            f"{result['workers']} workers × {result['partitions']} partitions reading "
            f"{'the routed stream' if result['source'] == 'routed' else 'the log'} ({result['event_log']}): "
            f"{result['runs']:,} runs from "
            f"{result['events']:,} events in {result['seconds']:.2f} s = {result['events_per_second']:,.0f} "
            f"events/s ({result['speed_up']:.2f}× the first layout), {result['cpu_ms_per_event']:.2f} CPU ms "
            f"per event | read only {result['read_only_seconds']:.2f} s, ratio "
            f"{result['ratio_to_read_only']:.1f}×"
        )
    bench.report({"store": "postgresql" if url else "sqlite", "layouts": results})


if __name__ == "__main__":
    main()
