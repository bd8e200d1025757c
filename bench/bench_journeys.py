"""Journeys at scale: segment admission, advancing runs through a graph, dispatch, event-to-outbox latency.

Part 1, on a VirtualClock. Synthesises what a segment needs for `--customers` customers the way
bench_segments.py does (the customers snapshot, three tags' values and Roaring bitmaps, the tag definitions)
and saves a segment every customer is in; publishes a segment-entry journey

    wait 1d → split (asset_tier in 高净值/富裕 → offer_vip, else offer_plain; both action send, channel log)
    → wait_for_event fund_subscribe (timeout 1d) → action send (thanks / remind)

and times, as the worker calls them:

- admission: `admit_segments` (runs admitted per second);
- advancing: `tick(limit=--batch)` until nothing is due, in three passes with the clock moved on between
  them: entry (every run reaches the 1-day wait), +1 day (wait → split → send → wait_for_event: three steps
  and one effect a run), +1 day more (the timeout → send → end: two steps and one effect). Figures: run
  advances (runs tick took) and steps (journey_steps rows written) per second of tick time;
- dispatch: `dispatch(limit=--batch)` until the outbox is empty (effects per second; the log channel).

The peer beside each is a bare bulk insert of as many rows as were admitted into a copy of journey_runs
(same columns, indexes and unique key) in the same operational store: SQLAlchemy Core executemany, 10,000
rows a statement, one transaction, the rows built beforehand — the floor for writing that many runs. Each
figure is printed with its ratio to it, and admission beside the anchors' published 20,000 audience-entry
instances/s. Only `--advance` runs (default 200,000) are advanced and dispatched, the rest stopped first
(the output says so): on SQLite the busy pass advances about 700 runs/s, so all of 1,000,000 would take
about an hour. `--profile` runs the first tick of the +1-day and +2-day passes under cProfile (left out
of their rates), and One ID + route_events + tick over a burst of 200 login events after part 2, and lists the
top entries.

Part 2, on the SystemClock, in the same store: an event-entry journey (login → action send) fed at a
steady `--rate` events/s (default 1,000) for `--seconds` by a producer thread appending to the event log
(one append per due batch, each event for a new customer One ID knows), while the main thread runs
One ID's consumer, `route_events` and `tick` in a loop as the worker does (polling every 2 ms when idle;
routing waits for One ID), until everything
is handled or `--drain` seconds (default 60) have passed since the last append. Latency per event = its
outbox row's created_at (the time tick started, before its commit) − the received_at it was appended
with. Figures: p50/p99/max; the p50 of the first and last tenth of the events (a backlog shows as
growth); the achieved rate; the consumer's events per busy second (busy: its route_events + tick rounds
that found work). An event not handled within the drain window counts as infinitely late (printed
"unhandled", null in JSON). The peer: the same producer with a
consumer that only polls `read_after` (latency = when the read returned the record − its received_at),
the round trip the journey consumer's own reads start from.

SQLite in a throwaway home by default; `--database-url postgresql://…` runs the operational store (and the
event log) on PostgreSQL, in a fresh schema dropped afterwards. `--smoke` runs both parts at tiny sizes on
SQLite, and again on PostgreSQL when TOUCHPOINT_TEST_POSTGRES_URL is set (only there with `--database-url`).
Run: `python bench/bench_journeys.py [--customers N] [--advance N] [--batch N] [--seconds S] [--rate R]
[--drain S] [--database-url URL] [--nats-url URL] [--profile] [--smoke] [--json]` (the default on 2 CPUs
and SQLite: about 20 minutes, peak RSS about 1.4 GiB). `--nats-url` runs part 2 once more with the event
log on a scratch JetStream stream, in a fresh operational store of the same kind.
"""

from __future__ import annotations

import cProfile
import gc
import math
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Column, Index, MetaData, Table, func, insert, select

import _harness as h
from bench_segments import synthesise_tags
from touchpoint.bootstrap import Container, build
from touchpoint.config import Settings, load_settings
from touchpoint.core.clock import SystemClock, VirtualClock
from touchpoint.core.events import LogEntry
from touchpoint.core.ids import new_id
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.identity.service import link_business_ids, process_log
from touchpoint.journeys import repo
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.routing import CONSUMER
from touchpoint.journeys.runtime import admit_segments, route_events, tick
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.segments.service import SegmentDef, save_segment
from touchpoint.store.operational.offsets import lock_offset, set_offset
from touchpoint.store.operational.schema import NAMING, journey_outbox, journey_runs, journey_steps

AT = datetime(2026, 3, 31, 1, tzinfo=UTC)  # 09:00 Beijing
ANCHOR = 20_000  # audience-entry instances/s, as the anchors published
CHUNK = 10_000  # rows a statement, as admit_in inserts runs
POLL = 0.002
BURST = 200  # login events routed and ticked under cProfile (each admission reads the journey's runs)
AUDIENCE = SegmentDef(name="bench_audience", title="everyone", rule={"tag": "activity_level", "exists": True})
AFFLUENT = {"tag": "asset_tier", "in": ["高净值", "富裕"]}


def _send(node: str, text: str, after: str | None = None) -> dict[str, Any]:
    action = {"kind": "send", "channel": "log", "text": text}
    return {"id": node, "type": "action", "action": action} | ({"next": after} if after else {})


NURTURE: dict[str, Any] = {
    "name": "bench_nurture",
    "title": "新品认购培育",
    "entry": {"type": "segment", "segment": AUDIENCE.name},
    "start": "cool_off",
    "nodes": [
        {"id": "cool_off", "type": "wait", "duration": "1d", "next": "by_tier"},
        {
            "id": "by_tier",
            "type": "split",
            "branches": [{"name": "affluent", "rule": AFFLUENT, "next": "offer_vip"}],
            "default": "offer_plain",
        },
        _send("offer_vip", "尊敬的客户 {{ customer_no }}，您的理财经理为您预留了新发基金额度", "subscribed"),
        _send("offer_plain", "{{ customer_no }}，新发基金今日开放认购", "subscribed"),
        {
            "id": "subscribed",
            "type": "wait_for_event",
            "event": "fund_subscribe",
            "timeout": "1d",
            "on_event": "thanks",
            "on_timeout": "remind",
        },
        _send("thanks", "感谢认购"),
        _send("remind", "{{ customer_no }}，新发基金认购明日截止"),
    ],
}
WELCOME: dict[str, Any] = {
    "name": "bench_welcome",
    "title": "登录欢迎",
    "entry": {"type": "event", "event": "login"},
    "start": "welcome",
    "nodes": [_send("welcome", "欢迎回来 {{ payload.seq }}")],
}


def synthesise(container: Container, size: int) -> None:
    """The customers snapshot, three tags' values and bitmaps for `size` customers (as bench_segments.py
    makes them), and the audience segment."""
    synthesise_tags(container, size, np.random.default_rng(size))
    save_segment(env=container, principal=SYSTEM, segment=AUDIENCE)


def go_live(env: JourneyEnv, body: dict[str, Any]) -> None:
    """Save and publish a journey, as the API does."""
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))
    publish(env=env, principal=SYSTEM, name=body["name"])


# Part 1 ----------------------------------------------------------------------------------------------------


def bare_insert(container: Container, size: int) -> float:
    """The peer: seconds to insert `size` journey_runs-shaped rows into a copy of the table, in one
    transaction with executemany in chunks of CHUNK (the rows built beforehand, not timed)."""
    copy = Table(
        "bench_bare_runs",
        MetaData(naming_convention=NAMING),
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, unique=c.unique)
            for c in journey_runs.columns
        ),
        *(Index(None, *(c.name for c in index.columns)) for index in journey_runs.indexes),
    )
    now = container.clock.now()
    numbers = h.customer_numbers(size).tolist()
    rows = [
        {
            "id": new_id("run"),
            "journey": "bench_bare",
            "version": 1,
            "customer_no": number,
            "node": None,
            "step": 0,
            "status": "ready",
            "wake_at": now,
            "wait_event": None,
            "holdout": False,
            "context": {"payload": {}},
            "active_key": f"bench_bare|{number}",
            "entered_at": now,
            "updated_at": now,
            "ended_at": None,
            "end_reason": None,
        }
        for number in numbers
    ]
    engine = container.ops.engine
    copy.create(engine)
    try:
        with h.Stopwatch() as watch, engine.begin() as connection:
            for start in range(0, len(rows), CHUNK):
                connection.execute(insert(copy), rows[start : start + CHUNK])
    finally:
        copy.drop(engine)
    return watch.seconds


def counts(env: JourneyEnv, journey: str) -> tuple[int, int]:
    """(journey_steps rows, journey_outbox rows) of a journey."""
    with env.ops.begin() as connection:
        steps = connection.execute(
            select(func.count()).select_from(journey_steps).where(journey_steps.c.journey == journey)
        ).scalar_one()
        effects = connection.execute(
            select(func.count()).select_from(journey_outbox).where(journey_outbox.c.journey == journey)
        ).scalar_one()
    return int(steps), int(effects)


@dataclass
class Pass:
    """One tick pass: runs taken, steps and effects written, and the seconds tick took for them."""

    name: str
    runs: int = 0
    steps: int = 0
    effects: int = 0
    seconds: float = 0.0
    calls: int = 0
    profile: list[dict[str, Any]] = field(default_factory=list)


def tick_pass(bench: h.Bench, env: JourneyEnv, name: str, total: int, batch: int, *, profile: bool) -> Pass:
    """Tick until nothing is due; with `profile`, the first call runs under cProfile and is not counted."""
    result = Pass(name)
    steps_before, effects_before = counts(env, NURTURE["name"])
    profiled_runs = 0
    with bench.progress() as progress:
        task = progress.add_task(f"tick {name}", total=total, note="")
        if profile:
            profiler = cProfile.Profile()
            profiled_runs = profiler.runcall(lambda: tick(env=env, limit=batch))
            result.profile = h.top_entries(profiler)
            progress.update(task, advance=profiled_runs, note="(first call profiled)")
            steps_after, effects_after = counts(env, NURTURE["name"])
            steps_before, effects_before = steps_after, effects_after
        while True:
            with h.Stopwatch() as watch:
                taken = tick(env=env, limit=batch)
            result.seconds += watch.seconds
            if not taken:
                break
            result.runs += taken
            result.calls += 1
            rate = result.runs / result.seconds
            progress.update(task, advance=taken, note=f"{rate:,.0f} runs/s")
    steps_after, effects_after = counts(env, NURTURE["name"])
    result.steps, result.effects = steps_after - steps_before, effects_after - effects_before
    if profiled_runs:
        result.name += f" ({profiled_runs:,} runs of the profiled call left out)"
    return result


def drain_outbox(bench: h.Bench, env: JourneyEnv, total: int, batch: int) -> tuple[int, float]:
    """Dispatch until nothing is due: (effects done, seconds)."""
    done, seconds = 0, 0.0
    with bench.progress() as progress:
        task = progress.add_task("dispatch", total=total, note="")
        while True:
            with h.Stopwatch() as watch:
                n = dispatch(env=env, limit=batch)
            seconds += watch.seconds
            if not n:
                break
            done += n
            progress.update(task, advance=n, note=f"{done / seconds:,.0f} effects/s")
    return done, seconds


def segment_journey(
    bench: h.Bench,
    container: Container,
    clock: VirtualClock,
    size: int,
    advance: int,
    batch: int,
    *,
    profile: bool,
) -> dict[str, Any]:
    """Part 1: admission, three tick passes and dispatch, each beside the bare insert."""
    env = container
    with (
        bench.status(f"synthesising {size:,} customers, their tags and the audience segment"),
        h.Stopwatch() as watch,
    ):
        synthesise(container, size)
    bench.say(f"{size:,} customers synthesised in {watch.seconds:.1f} s")
    go_live(env, NURTURE)
    with bench.status(f"admit_segments: {size:,} members"), h.Stopwatch() as admitting:
        admitted = admit_segments(env=env)
    admit_seconds = admitting.seconds
    assert admitted == size, f"admitted {admitted:,} of {size:,}"
    with bench.status(f"peer: bare executemany of {admitted:,} journey_runs rows"):
        bare_seconds = bare_insert(container, admitted)
    admit_rate, bare_rate = admitted / admit_seconds, admitted / bare_seconds
    bench.say(
        f"admission  {admitted:,} runs in {admit_seconds:.1f} s = {admit_rate:,.0f} admitted/s | bare "
        f"insert {bare_seconds:.1f} s = {bare_rate:,.0f} rows/s | ratio admission ÷ bare "
        f"{admit_rate / bare_rate:.2f}× | anchors' published {ANCHOR:,} entries/s: "
        f"{admit_rate / ANCHOR:.2f}×"
    )
    figures: dict[str, Any] = {
        "customers": size,
        "admitted": admitted,
        "admit_seconds": round(admit_seconds, 3),
        "admitted_per_second": round(admit_rate),
        "bare_insert_seconds": round(bare_seconds, 3),
        "bare_insert_rows_per_second": round(bare_rate),
        "ratio_admission_to_bare": round(admit_rate / bare_rate, 3),
        "ratio_admission_to_anchor": round(admit_rate / ANCHOR, 3),
    }
    advanced = min(advance, admitted)
    if advanced < admitted:
        cutoff = str(h.customer_numbers(advanced + 1)[-1])
        with env.ops.begin() as connection:
            stopped = repo.end_runs(
                connection,
                (repo.RUNS.c.journey == NURTURE["name"]) & (repo.RUNS.c.customer_no >= cutoff),
                "stopped",
                "bench: not advanced",
                clock.now(),
            )
        bench.say(
            f"advancing a subset: {advanced:,} of the {admitted:,} admitted runs ({stopped:,} stopped first)"
        )
    figures["advanced"] = advanced
    passes = [tick_pass(bench, env, "entry", advanced, batch, profile=False)]
    clock.advance(timedelta(days=1, minutes=1))
    passes.append(tick_pass(bench, env, "+1 day", advanced, batch, profile=profile))
    clock.advance(timedelta(days=1, minutes=1))
    passes.append(tick_pass(bench, env, "+2 days", advanced, batch, profile=profile))
    for p in passes:
        runs_rate, steps_rate = p.runs / p.seconds, p.steps / p.seconds
        bench.say(
            f"tick {p.name}: {p.runs:,} runs, {p.steps:,} steps, {p.effects:,} effects in {p.seconds:.1f} s "
            f"({p.calls} calls) = {runs_rate:,.0f} runs/s, {steps_rate:,.0f} steps/s | ratio runs/s ÷ bare "
            f"{runs_rate / bare_rate:.3f}×"
        )
    runs = sum(p.runs for p in passes)
    steps = sum(p.steps for p in passes)
    queued = sum(p.effects for p in passes)
    seconds = sum(p.seconds for p in passes)
    bench.say(
        f"advancing  {runs:,} run advances, {steps:,} steps, {queued:,} effects queued in {seconds:.1f} s = "
        f"{runs / seconds:,.0f} run advances/s, {steps / seconds:,.0f} steps/s | ratio steps/s ÷ bare "
        f"{steps / seconds / bare_rate:.3f}×"
    )
    _, pending = counts(env, NURTURE["name"])
    done, dispatch_seconds = drain_outbox(bench, env, pending, batch)
    effects_rate = done / dispatch_seconds
    bench.say(
        f"dispatch   {done:,} effects in {dispatch_seconds:.1f} s = {effects_rate:,.0f} effects/s | "
        f"ratio ÷ bare {effects_rate / bare_rate:.3f}×"
    )
    figures |= {
        "passes": [
            {
                "pass": p.name,
                "runs": p.runs,
                "steps": p.steps,
                "effects": p.effects,
                "seconds": round(p.seconds, 3),
                "calls": p.calls,
                "runs_per_second": round(p.runs / p.seconds),
                "steps_per_second": round(p.steps / p.seconds),
            }
            for p in passes
        ],
        "run_advances_per_second": round(runs / seconds),
        "steps_per_second": round(steps / seconds),
        "ratio_steps_to_bare": round(steps / seconds / bare_rate, 4),
        "effects_dispatched": done,
        "dispatch_seconds": round(dispatch_seconds, 3),
        "effects_per_second": round(effects_rate),
        "ratio_effects_to_bare": round(effects_rate / bare_rate, 4),
    }
    if profile:
        figures["tick_profiles"] = {p.name: p.profile for p in passes if p.profile}
        for p in passes:
            if p.profile:
                h.print_profile(bench, f"{p.name}, first call", p.profile)
    return figures


# Part 2 ----------------------------------------------------------------------------------------------------


@dataclass
class Producer:
    """Appends `rate` events a second for `seconds` to the log, each for the next customer, in a thread."""

    container: Container
    event: str
    customers: list[str]
    rate: int
    seconds: float
    sent: dict[int, datetime] = field(default_factory=dict)
    first: float = 0.0
    last: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def start(self) -> threading.Thread:
        """Run in a daemon thread."""
        thread = threading.Thread(target=self._run, name="bench-producer", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.done.set()

    def _produce(self) -> None:
        log, clock = self.container.log, self.container.clock
        total = int(self.rate * self.seconds)
        origin = time.perf_counter()
        n = 0
        while n < total:
            due = min(total, int((time.perf_counter() - origin) * self.rate) + 1)
            if due <= n:
                time.sleep(max(0.0, origin + n / self.rate - time.perf_counter()))
                continue
            now = clock.now()
            ms = int(now.timestamp() * 1000)
            entries = []
            for seq in range(n, due):
                customer = self.customers[seq]
                event_id = f"{self.event}-{seq}-{ms}"
                body = {
                    "event_id": event_id,
                    "kind": "track",
                    "event": self.event,
                    "time": ms,
                    "distinct_id": customer,
                    "properties": {"seq": seq},
                    "ids": {"customer_no": customer},
                }
                entries.append(LogEntry(None, event_id, body))
            log.append(entries, received_at=now)
            if n == 0:
                self.first = time.perf_counter()
            self.last = time.perf_counter()
            for seq in range(n, due):
                self.sent[seq] = now
            n = due

    def achieved(self) -> float:
        """Events a second from the first append to the last."""
        span = self.last - self.first
        return (len(self.sent) - 1) / span if span > 0 else float("nan")


def latency_ms(values: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of latencies in seconds, as milliseconds (nearest rank); None where the rank falls
    on an event never handled (its latency, infinite here, is beyond the drain window)."""
    return {
        f"{name}_ms": round(value * 1000, 2) if math.isfinite(value) else None
        for name, value in zip(
            ("p50", "p99", "max"), h.percentiles(values, (50, 99, 100)).values(), strict=True
        )
    }


def _ms(value: float | None) -> str:
    return f"{value:,.1f} ms" if value is not None else "unhandled"


def _ratio(left: float | None, right: float | None) -> float | None:
    return round(left / right, 1) if left is not None and right else None


def _times(ratio: float | None) -> str:
    return f"{ratio:,.1f}×" if ratio is not None else "n/a (unhandled)"


def journey_latency(
    bench: h.Bench, container: Container, customers: list[str], rate: int, seconds: float, drain: float
) -> dict[str, Any]:
    """Feed the event journey and run the worker's route + tick until every event is handled, or until
    `drain` seconds after the producer stopped (events still unhandled then count as infinitely late)."""
    env = container
    producer = Producer(container, "login", customers, rate, seconds)
    busy, loops, cpu = 0.0, 0, 0.0
    total = int(rate * seconds)
    thread = producer.start()
    wall = time.perf_counter()
    with bench.progress() as progress:
        task = progress.add_task("event → outbox", total=total, note="")
        while True:
            finished = producer.done.is_set()  # before routing, as in log_latency
            started, started_cpu = time.perf_counter(), time.thread_time()
            # As the worker's consumers job: One ID reads the new events first (routing waits for it).
            process_log(env=env, log=env.log)
            routed = route_events(env=env)
            ticked = 0
            while (n := tick(env=env)) > 0:
                ticked += n
            # The consumer's own CPU, empty polls included: unlike its wall time, other jobs' load leaves it.
            cpu += time.thread_time() - started_cpu
            if routed or ticked:  # empty polls (about 4 ms each on SQLite) are not counted as busy
                busy += time.perf_counter() - started
                loops += 1
            progress.update(task, advance=ticked, note=f"{len(producer.sent):,} appended")
            if finished and not routed and not ticked:
                break
            if producer.done.is_set() and time.perf_counter() - producer.last > drain:
                progress.update(task, note=f"drain window of {drain:.0f} s over")
                break
            if not routed and not ticked:
                time.sleep(POLL)
    finished = time.perf_counter()
    thread.join()
    wall = finished - wall
    if producer.error is not None:
        raise producer.error
    with env.ops.begin() as connection:
        rows = connection.execute(
            select(journey_outbox.c.payload, journey_outbox.c.created_at).where(
                journey_outbox.c.journey == WELCOME["name"]
            )
        ).all()
    by_seq = {}
    for payload, created_at in rows:
        seq = int(str(payload["content"]).rsplit(" ", 1)[-1])
        by_seq[seq] = (created_at - producer.sent[seq]).total_seconds()
    latencies = [by_seq.get(seq, math.inf) for seq in sorted(producer.sent)]
    tenth = max(len(latencies) // 10, 1)
    return {
        "appended": len(producer.sent),
        "outbox_rows": len(rows),
        "unhandled": len(producer.sent) - len(rows),
        "achieved_rate": round(producer.achieved(), 1),
        "consumer_busy_share": round(busy / wall, 3),
        "handled_per_busy_second": round(len(rows) / busy, 1) if busy else 0.0,
        "consumer_cpu_ms_per_event": round(cpu / len(rows) * 1000, 3) if rows else None,
        "consumer_loops": loops,
        "drain_seconds_after_producer": round(finished - producer.last, 2),
        **latency_ms(latencies),
        "first_tenth_p50_ms": latency_ms(latencies[:tenth])["p50_ms"],
        "last_tenth_p50_ms": latency_ms(latencies[-tenth:])["p50_ms"],
    }


def profile_burst(container: Container, customers: list[str]) -> list[dict[str, Any]]:
    """Append one batch of login events at once, then route and tick them all under cProfile."""
    env = container
    now = container.clock.now()
    ms = int(now.timestamp() * 1000)
    entries = [
        LogEntry(
            None,
            f"burst-{seq}",
            {
                "event_id": f"burst-{seq}",
                "kind": "track",
                "event": "login",
                "time": ms,
                "distinct_id": customer,
                "properties": {"seq": seq},
                "ids": {"customer_no": customer},
            },
        )
        for seq, customer in enumerate(customers)
    ]
    with env.ops.begin() as connection:  # skip any backlog the drain window left: only the burst is profiled
        for consumer in (IDENTITY, CONSUMER):
            lock_offset(connection, consumer, now)
            set_offset(connection, consumer, int(container.log.head()), now)
    container.log.append(entries, received_at=now)
    profiler = cProfile.Profile()

    def handle() -> None:
        while process_log(env=env, log=env.log):
            pass
        while route_events(env=env):
            pass
        while tick(env=env):
            pass

    profiler.runcall(handle)
    return h.top_entries(profiler, entry="route_events + tick")


def log_latency(
    bench: h.Bench, container: Container, customers: list[str], rate: int, seconds: float
) -> dict[str, Any]:
    """The peer: the same producer, a consumer that only reads the log back."""
    log, clock = container.log, container.clock
    after = int(log.head())
    producer = Producer(container, "$pageview", customers, rate, seconds)
    latencies: list[float] = []
    thread = producer.start()
    with bench.progress() as progress:
        task = progress.add_task("append → read_after", total=int(rate * seconds), note="")
        while True:
            # Asked before the read: an empty read after the producer finished has seen its last append
            # (asked after, the last append could land between the two and be left unread).
            finished = producer.done.is_set()
            records = log.read_after(after, 2_000)
            now = clock.now()
            latencies += [(now - r.received_at).total_seconds() for r in records]
            if records:
                after = records[-1].offset
                progress.update(task, advance=len(records))
            elif finished:
                break
            else:
                time.sleep(POLL)
    thread.join()
    if producer.error is not None:
        raise producer.error
    return {
        "appended": len(producer.sent),
        "read": len(latencies),
        "achieved_rate": round(producer.achieved(), 1),
        **latency_ms(latencies),
    }


def event_latency(
    bench: h.Bench, settings: Settings, offset: int, rate: int, seconds: float, drain: float, *, profile: bool
) -> dict[str, Any]:
    """Part 2 in a container on the system clock over the same store."""
    container = build(settings, clock=SystemClock(), migrate=False)
    total = int(rate * seconds)
    try:
        customers = h.customer_numbers(offset + 2 * total + BURST).tolist()[offset:]
        linked = customers[:total] + customers[2 * total :]
        link_business_ids(env=container, customers=[{"customer_no": c} for c in linked], id_columns={})
        go_live(container, WELCOME)
        journey = journey_latency(bench, container, customers[:total], rate, seconds, drain)
        rows = profile_burst(container, customers[2 * total :]) if profile else []
        peer = log_latency(bench, container, customers[total : 2 * total], rate, seconds)
    finally:
        container.close()
    j, p = journey, peer
    bench.say(
        f"event → outbox  {j['outbox_rows']:,} of {j['appended']:,} events handled ({j['unhandled']:,} not "
        f"within {drain:.0f} s of the last append), appended at {j['achieved_rate']:,.0f}/s: p50 "
        f"{_ms(j['p50_ms'])}, p99 {_ms(j['p99_ms'])}, max {_ms(j['max_ms'])} (first tenth p50 "
        f"{_ms(j['first_tenth_p50_ms'])}, last tenth {_ms(j['last_tenth_p50_ms'])}; consumer working "
        f"{j['consumer_busy_share']:.0%}, {j['handled_per_busy_second']:,.0f} events per busy second, "
        f"{j['consumer_cpu_ms_per_event'] or 0:.2f} CPU ms per event) | "
        f"append → read_after at {p['achieved_rate']:,.0f}/s: p50 {_ms(p['p50_ms'])}, p99 "
        f"{_ms(p['p99_ms'])}, max {_ms(p['max_ms'])} | ratio p50 {_times(_ratio(j['p50_ms'], p['p50_ms']))}, "
        f"p99 {_times(_ratio(j['p99_ms'], p['p99_ms']))}"
    )
    figures = {
        "rate": rate,
        "seconds": seconds,
        "drain_window_seconds": drain,
        "journey": journey,
        "log_round_trip": peer,
        "ratio_p50": _ratio(j["p50_ms"], p["p50_ms"]),
        "ratio_p99": _ratio(j["p99_ms"], p["p99_ms"]),
    }
    if rows:
        figures["burst_profile"] = rows
        h.print_profile(bench, f"{BURST:,} login events at once", rows, what="route_events + tick")
    return figures


# Running ---------------------------------------------------------------------------------------------------


def run(bench: h.Bench, home: Path, database_url: str | None) -> dict[str, Any]:
    """Both parts in one store (SQLite in `home`, or a scratch schema at `database_url`); print and return
    the figures."""
    args = bench.args
    figures: dict[str, Any] = {}
    with h.store_url(database_url) as url:
        settings = load_settings(home, database_url=url) if url else load_settings(home)
        clock = VirtualClock(AT)
        container = build(settings, clock=clock)
        gc.freeze()  # as `touchpoint worker` does once it has started
        bench.say(f"operational store: {container.ops.dialect}")
        try:
            figures["segment_journey"] = segment_journey(
                bench, container, clock, args.customers, args.advance, args.batch, profile=args.profile
            )
        finally:
            container.close()
        figures["event_latency"] = event_latency(
            bench, settings, args.customers, args.rate, args.seconds, args.drain, profile=args.profile
        )
    if args.nats_url:
        # Part 2 again with the event log on a scratch JetStream stream, over a fresh store beside it (the
        # consumers' offsets are positions in one log: the SQL log's would skip the stream's first records).
        with h.nats_stream(args.nats_url) as stream, h.store_url(database_url) as url:
            overrides = h.nats_settings(args.nats_url, stream) | ({"database_url": url} if url else {})
            on_nats = load_settings(home / "nats", **overrides)
            build(on_nats, clock=SystemClock()).close()  # its operational store, migrated
            bench.say(f"event log: NATS JetStream, stream {stream}")
            figures["event_latency_nats"] = event_latency(
                bench, on_nats, args.customers, args.rate, args.seconds, args.drain, profile=False
            )
    return figures


def main() -> None:
    """Parse the options, run both parts in a throwaway home per store, print the figures (or JSON)."""
    parser = h.parser(__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--advance", type=int, default=200_000, help="advance only this many of the runs")
    parser.add_argument("--batch", type=int, default=10_000, help="tick and dispatch limit per call")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the producer appends")
    parser.add_argument("--rate", type=int, default=1_000, help="events a second the producer appends")
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to keep handling after the last append"
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL instead of SQLite (fresh schema)")
    parser.add_argument("--profile", action="store_true", help="profile one tick of each later pass")
    parser.add_argument("--nats-url", default=None, help="part 2 again with the event log on NATS JetStream")
    smoke = {"customers": 300, "advance": 300, "batch": 100, "seconds": 1.0, "rate": 100, "drain": 30.0}
    bench = h.start("bench_journeys", parser, smoke=smoke)
    stores: dict[str, Any] = {}
    for database_url in h.operational_stores(bench.args.database_url, bench.smoke):
        with tempfile.TemporaryDirectory(prefix="bench-journeys-") as home:
            stores[h.store_name(database_url)] = run(bench, Path(home), database_url)
    lifetime = h.lifetime_peak_rss()
    bench.say(f"peak RSS of the whole run {lifetime / h.GiB:.2f} GiB")
    bench.report({"stores": stores, "max_rss_bytes": lifetime})


if __name__ == "__main__":
    main()
