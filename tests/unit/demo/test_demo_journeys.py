"""The demo installs its sample journeys once, valid and live, and the worker admits the dormant segment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from touchpoint.bootstrap import Container, build
from touchpoint.channels import feedback, service
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_history, ensure_demo_journeys, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.journeys.service import list_journeys, statistics
from touchpoint.segments.service import current_members
from touchpoint.store.operational.schema import channel_sends, journey_runs
from touchpoint.store.operational.schema_service import advisor_tasks, derived_events, mot_firings
from touchpoint.worker.loop import run_pass

DEMO_JOURNEYS = [
    "autoinvest_rescue",
    "dormant_wakeup",
    "fund_autoinvest",
    "ipo_allotment_notice",
    "ipo_payment_reminder",
    "ipo_payment_short",
    "ipo_subscription_day",
]


def test_demo_journeys_are_published_once_and_run(tmp_path: Path) -> None:
    container = build(
        load_settings(tmp_path / "home"), clock=VirtualClock(datetime(2026, 3, 31, 8, tzinfo=UTC))
    )
    try:
        ensure_demo(
            env=container,
            principal=SYSTEM,
            params=DemoParams(customers=300, days=20, seed=2, end_date=date(2026, 3, 31)),
        )
        ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
        env = container
        assert ensure_demo_journeys(env=env, principal=SYSTEM) == DEMO_JOURNEYS
        assert ensure_demo_journeys(env=env, principal=SYSTEM) == []
        assert {(j["name"], j["status"]) for j in list_journeys(env=env)} == {
            (n, "live") for n in DEMO_JOURNEYS
        }
        run_pass(container)
        _, dormant = current_members(env=container, name="dormant_customers")
        stats = statistics(env=env, name="dormant_wakeup")
        assert stats["nodes"][0]["entered"] == len(dormant) > 0
        # The morning brief goes through the policies to the in-app inbox: sent to consenting customers,
        # skipped with the consent reason for the others — every queued send is accounted for.
        content = next(n for n in stats["nodes"] if n["node"] == "content")
        queued = content["outcomes"].get("queued", 0)
        assert queued > 0
        report = service.report(env=container, journey="dormant_wakeup")
        [brief] = [r for r in report["templates"] if r["template"] == "market_morning_brief"]
        assert sum(brief["statuses"].values()) == queued
        # An in-app message is delivered as it is stored: no send of this inbox template waits at "sent".
        assert brief["statuses"].get("delivered", 0) > 0, brief["failure_reasons"]
        assert "sent" not in brief["statuses"]
        assert set(brief["skip_reasons"]) <= {"consent: no marketing consent"}
        sent = next(m for m in _sends(container) if m["status"] == "delivered")
        inbox = feedback.inbox(env=container, principal=SYSTEM, customer_no=sent["customer_no"])
        assert inbox["unread"] == 1
        assert "/t/" in inbox["messages"][0]["body"]  # the brief's link is tracked
    finally:
        container.close()


def _sends(container: Container) -> list[dict[str, object]]:
    with container.ops.begin() as connection:
        rows = connection.execute(select(channel_sends)).mappings().all()
    return [dict(r) for r in rows]


def test_the_demo_replays_its_recent_history_once(tmp_path: Path) -> None:
    clock = VirtualClock(datetime(2026, 3, 31, 9, tzinfo=UTC))
    container = build(load_settings(tmp_path / "home"), clock=clock)
    try:
        params = DemoParams(customers=300, days=25, seed=5, end_date=date(2026, 3, 31))
        ensure_demo(env=container, principal=SYSTEM, params=params)
        ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
        ensure_demo_journeys(env=container, principal=SYSTEM)
        replayed = ensure_demo_history(env=container, claim_hours=4)
        assert replayed is not None
        assert replayed["events"] > 0
        assert ensure_demo_history(env=container, claim_hours=4) is None  # once per generated demo
        assert clock.now() == datetime(2026, 3, 31, 9, tzinfo=UTC)  # the live clock did not move
        with container.ops.begin() as connection:
            firings = connection.execute(select(mot_firings)).mappings().all()
            tasks = connection.execute(select(advisor_tasks)).mappings().all()
            pending = connection.execute(select(derived_events).where(~derived_events.c.forwarded)).all()
            runs = connection.execute(select(journey_runs.c.journey)).scalars().all()
            failed = connection.execute(select(journey_runs).where(journey_runs.c.status == "failed")).all()
        assert {f["rule"] for f in firings} >= {"large_inflow", "ipo_allotted", "autoinvest_debit_failed"}
        assert all(f["fired_at"] <= clock.now() for f in firings)
        assert {"ipo_allotment_notice", "autoinvest_rescue"} <= set(runs)  # journeys that start on mot_*
        assert failed == []  # a split reads the tags as they were on the replayed day
        done = [t for t in tasks if t["status"] == "done"]
        assert done
        assert all(t["completed_at"] <= clock.now() for t in done)
        assert pending == []  # the past's own events were routed, never to be routed again by the worker
    finally:
        container.close()


def test_a_demo_whose_replay_starts_on_a_weekend_replays(tmp_path: Path) -> None:
    """At 00:45 in Beijing on Friday 2026-12-04 (still the 3rd in UTC) the replay's first day, 20 days back,
    is a Saturday: its first tags are of the Friday before, and the demo's earlier customer master must
    already hold that day (it was dated the Saturday: no snapshot, and `touchpoint demo` failed)."""
    clock = VirtualClock(datetime(2026, 12, 3, 16, 45, tzinfo=UTC))
    container = build(load_settings(tmp_path / "home"), clock=clock)
    try:
        params = DemoParams(customers=300, days=25, seed=7)
        outcome = ensure_demo(env=container, principal=SYSTEM, params=params)
        assert outcome.summary is not None
        assert outcome.summary.last_date == date(2026, 12, 4)
        ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
        snapshots = [p.dt for p in container.analytics.partitions("customers")]
        assert snapshots[0] == date(2026, 11, 13)  # the session on or before Saturday the 14th
        assert all(container.calendar.is_trading_day(d) for d in snapshots)
        replayed = ensure_demo_history(env=container, claim_hours=4)
        assert replayed is not None
    finally:
        container.close()
