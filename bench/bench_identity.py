"""One ID: binding anonymous ids to logins from imported history, in bulk, against pair by pair as before.

What is timed is `sync_imported_events`, as the worker runs it after a historical import: read each new
events partition, take its (anonymous id, login) pairs, bind them. The history is shaped like a brokerage's
app history, about `--sizes` pairs over each of `--days` days of history (customers linked first, as
`sync_customers` does): each customer has a phone (`dev-…`), one in eight also a tablet; each is active on a
third of the days, every active day binding its device to its customer number again; branch kiosks seen
with many customers (they become shared); a few placeholder ids ("null"), anonymous ids that are the login
itself, and logins that are no imported customer. Over 30 days a customer has about 11 pairs and most pairs
repeat a link made already; over 3 days about one, and nearly every pair is a device seen for the first time
(the shape of bench_analytics' history). Each pair is carried by EVENTS_PER_PAIR events.

The figure is pairs/s of the bulk path over the whole history. The peer in the same run is the path as it
was (`before_sync`: each partition's pairs through `Graph.bind` one by one, a transaction per partition)
over the history of every k-th customer, at most `--peer-pairs` pairs; the bulk path runs on that subset
too, and the two graphs (every person's identifiers, shared marks, merge-log entries by kind) must be equal
(`same_graph`), or the bench fails. Wall seconds are the figure; the process's CPU seconds are printed
beside them, because other jobs share this machine's two cores (on PostgreSQL the server's CPU is not
counted). SQLite in a throwaway home, and PostgreSQL too (a fresh schema, dropped afterwards) when
TOUCHPOINT_TEST_POSTGRES_URL is set; `--database-url` runs PostgreSQL alone. `--profile bulk|per-pair` runs
one sync at the first size under cProfile instead.
Run: `python bench/bench_identity.py [--sizes 10000,50000,110000] [--days 30,3] [--peer-pairs 10000]
[--database-url URL] [--profile bulk|per-pair] [--smoke] [--json]`.
"""

from __future__ import annotations

import cProfile
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select

import _harness as h
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import ANONYMOUS, Identifier
from touchpoint.identity.service import EVENTS_SYNCED, link_business_ids, sync_imported_events
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.store.operational.meta import get_value, set_value
from touchpoint.store.operational.schema import identity_links, identity_log, identity_shared

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FIRST = NOW - timedelta(days=60)
ACTIVE = 1 / 3
EVENTS_PER_PAIR = 3
Pair = tuple[str, str]


@dataclass(frozen=True)
class Workload:
    """The customers to import first, and the (anonymous id, login) pairs of each day."""

    customers: list[str]
    days: list[list[Pair]]

    @property
    def pairs(self) -> int:
        """How many pairs over all days."""
        return sum(len(d) for d in self.days)

    def subset(self, every: int) -> Workload:
        """The pairs of every `every`-th customer (all days): the same shape, fewer people."""
        kept = set(self.customers[::every])
        days = [[p for p in day if f"C{p[1][1:]}" in kept] for day in self.days]  # N… logins with their C…
        return Workload(customers=sorted(kept), days=days)


def workload(pairs: int, days: int, seed: int = 19) -> Workload:
    """About `pairs` pairs over `days` days, shaped as described in the module docstring."""
    rng = random.Random(seed)
    count = max(10, round(pairs / (days * ACTIVE * 1.1)))
    customers = [f"C{n:07d}" for n in range(count)]
    tablets = {c for c in customers if rng.random() < 0.125}
    kiosks = [f"kiosk-{n:03d}" for n in range(max(1, count // 500))]
    history = []
    for _ in range(days):
        day: set[Pair] = set()
        for customer in customers:
            if rng.random() >= ACTIVE:
                continue
            day.add((f"dev-{customer}", customer))
            if customer in tablets and rng.random() < 0.5:
                day.add((f"tab-{customer}", customer))
            day |= _odd_pairs(rng, customer, kiosks)
        history.append(sorted(day))
    return Workload(customers=customers, days=history)


def _odd_pairs(rng: random.Random, customer: str, kiosks: list[str]) -> set[Pair]:
    """The rarer shapes: a branch kiosk, a placeholder id, the login as its own anonymous id, a login
    that is no imported customer."""
    roll = rng.random()
    if roll < 0.02:
        return {(rng.choice(kiosks), customer)}
    if roll < 0.025:
        return {("null", customer)}
    if roll < 0.03:
        return {(customer, customer)}
    if roll < 0.035:
        return {(f"dev-{customer}", f"N{customer[1:]}")}
    return set()


def events_table(day: int, pairs: list[Pair]) -> pa.Table:
    """The day's events: EVENTS_PER_PAIR events carrying each pair, as a historical import has them."""
    rows = [pair for pair in pairs for _ in range(EVENTS_PER_PAIR)]
    start = FIRST + timedelta(days=day, hours=1)  # 09:00 Beijing
    return pa.table(
        {
            "event_id": [f"e{day}-{n}" for n in range(len(rows))],
            "event": ["$AppStart"] * len(rows),
            "distinct_id": [login for _, login in rows],
            "login_id": [login for _, login in rows],
            "anonymous_id": [anonymous for anonymous, _ in rows],
            "time": pa.array(
                [start + timedelta(seconds=n) for n in range(len(rows))], pa.timestamp("us", "UTC")
            ),
        }
    )


def prepared(url: str | None, home: Path, load: Workload) -> Container:
    """A container with the customers linked and the history imported, not yet bound."""
    container = build(load_settings(home, database_url=url), clock=VirtualClock(NOW))
    link_business_ids(env=container, customers=[{"customer_no": c} for c in load.customers])
    for day, pairs in enumerate(load.days):
        if pairs:
            import_arrow(
                env=container,
                principal=SYSTEM,
                table="events",
                data=events_table(day, pairs),
                options=ImportOptions(force=True),
                source_name=f"bench:events:{day}",
            )
    return container


def before_sync(*, env: Container, analytics: Any) -> int:
    """`sync_imported_events` as it was before bulk binding (the peer): every pair through `Graph.bind`."""
    with env.ops.begin() as connection:
        done: dict[str, str] = get_value(connection, EVENTS_SYNCED) or {}
    linked = 0
    for partition in [p for p in analytics.partitions("events") if done.get(p.dt.isoformat()) != p.file]:
        rows = analytics.read_partition("events", partition.dt).select(
            ["anonymous_id", "login_id", "customer_no", "source"]
        )
        pairs = sorted(
            {
                (r["anonymous_id"], r["login_id"] or r["customer_no"])
                for r in rows.to_pylist()
                if r["source"] == "import" and r["anonymous_id"] and (r["login_id"] or r["customer_no"])
            }
        )
        with env.ops.begin() as connection:
            graph = Graph(connection, now=NOW, source="import", shared_after=env.identity_policy.shared_after)
            for anonymous, login in pairs:
                graph.bind(Identifier(ANONYMOUS, anonymous), Identifier("customer_no", login), "many_to_one")
            done[partition.dt.isoformat()] = partition.file
            set_value(connection, EVENTS_SYNCED, done, now=NOW)
        linked += len(pairs)
    return linked


Sync = Callable[..., int]


@dataclass(frozen=True)
class Timed:
    """One timed sync: pairs bound, wall and CPU seconds, and the resulting graph."""

    pairs: int
    wall: float
    cpu: float
    graph: dict[str, Any]


def timed_sync(database_url: str | None, load: Workload, sync: Sync) -> Timed:
    """On a fresh store, prepare `load`, then time one sync of its history."""
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as home, h.store_url(database_url) as url:
        container = prepared(url, Path(home), load)
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            pairs = sync(env=container, analytics=container.analytics)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            with container.ops.begin() as connection:
                return Timed(pairs, wall, cpu, graph_summary(connection))
        finally:
            container.close()


def graph_summary(connection: Any) -> dict[str, Any]:
    """The graph up to uid renaming: the sorted groups of labels per person, shared marks, log kinds."""
    groups: dict[int, list[str]] = {}
    for id_type, value, uid in connection.execute(
        select(identity_links.c.id_type, identity_links.c.id_value, identity_links.c.uid)
    ):
        groups.setdefault(uid, []).append(f"{id_type}:{value}")
    shared = sorted(f"{t}:{v}" for t, v in connection.execute(select(identity_shared.c[:2])))
    kinds = Counter(a for (a,) in connection.execute(select(identity_log.c.action)))
    return {"people": sorted(sorted(g) for g in groups.values()), "shared": shared, "log": dict(kinds)}


def measure(bench: h.Bench, database_url: str | None, size: int, days: int) -> dict[str, Any]:
    """The bulk figure at one size and, on a subset, the per-pair peer (and the same subset in bulk, whose
    graph must equal the per-pair one)."""
    load = workload(size, days)
    subset = load.subset(max(1, -(-load.pairs // bench.args.peer_pairs)))
    with bench.status(f"{h.store_name(database_url)}: {load.pairs:,} pairs in bulk"):
        bulk = timed_sync(database_url, load, sync_imported_events)
    with bench.status(f"{h.store_name(database_url)}: {subset.pairs:,} pairs one by one, and in bulk"):
        peer = timed_sync(database_url, subset, before_sync)
        check = timed_sync(database_url, subset, sync_imported_events)
    same = check.graph == peer.graph and check.pairs == peer.pairs
    if not same:
        raise SystemExit(
            f"{h.store_name(database_url)} {size}: the bulk graph differs from the per-pair graph"
        )
    return {
        "store": h.store_name(database_url),
        "days": days,
        "pairs": bulk.pairs,
        "events": load.pairs * EVENTS_PER_PAIR,
        "customers": len(load.customers),
        "seconds": round(bulk.wall, 3),
        "cpu_seconds": round(bulk.cpu, 3),
        "pairs_per_second": round(bulk.pairs / bulk.wall),
        "peer_pairs": peer.pairs,
        "peer_seconds": round(peer.wall, 3),
        "peer_cpu_seconds": round(peer.cpu, 3),
        "peer_pairs_per_second": round(peer.pairs / peer.wall),
        "speed_up": round((bulk.pairs / bulk.wall) / (peer.pairs / peer.wall), 1),
        "same_graph": same,
        "log": bulk.graph["log"],
    }


def profiled(bench: h.Bench, size: int, per_pair: bool) -> list[dict[str, Any]]:
    """One sync at `size` on SQLite under cProfile: its top entries."""
    load = workload(size, int(bench.args.days.split(",")[0]))
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as home:
        container = prepared(None, Path(home), load)
        try:
            profiler.enable()
            (before_sync if per_pair else sync_imported_events)(env=container, analytics=container.analytics)
            profiler.disable()
        finally:
            container.close()
    return h.top_entries(profiler, top=20, entry="sync")


def main() -> None:
    """Print pairs/s of the bulk path and of the per-pair peer at each size, on each store."""
    parser = h.parser(__doc__)
    parser.add_argument("--sizes", default="10000,50000,110000", help="pair counts, comma-separated")
    parser.add_argument("--days", default="30,3", help="days of history (a partition each), comma-separated")
    parser.add_argument("--peer-pairs", type=int, default=10_000, help="the per-pair peer's subset size")
    parser.add_argument("--database-url", default=None, help="PostgreSQL alone (a fresh schema)")
    parser.add_argument("--profile", choices=["bulk", "per-pair"], help="cProfile one sync at the first size")
    bench = h.start("bench_identity", parser, smoke={"sizes": "600", "days": "5", "peer_pairs": 300})
    sizes = [int(s) for s in bench.args.sizes.split(",")]
    if bench.args.profile:
        rows = profiled(bench, sizes[0], bench.args.profile == "per-pair")
        h.print_profile(bench, bench.args.profile, rows, what="sync")
        bench.report({"size": sizes[0], "profile": rows})
        return
    postgres = os.environ.get(h.POSTGRES_ENV)
    stores = (
        [bench.args.database_url] if bench.args.database_url else [None, postgres] if postgres else [None]
    )
    results = []
    for database_url in stores:
        for days in [int(d) for d in bench.args.days.split(",")]:
            for size in sizes:
                results.append(measure(bench, database_url, size, days))
                _say(bench, results[-1])
    bench.report({"sizes": results})


def _say(bench: h.Bench, r: dict[str, Any]) -> None:
    bench.say(
        f"{r['store']:<10} {r['days']:>2} days, {r['pairs']:>7,} pairs ({r['customers']:,} customers): "
        f"bulk {r['pairs_per_second']:>7,}/s ({r['seconds']:.2f} s, CPU {r['cpu_seconds']:.2f} s); "
        f"per pair {r['peer_pairs_per_second']:>5,}/s over {r['peer_pairs']:,} pairs "
        f"({r['peer_seconds']:.2f} s, CPU {r['peer_cpu_seconds']:.2f} s); × {r['speed_up']}"
    )


if __name__ == "__main__":
    main()
