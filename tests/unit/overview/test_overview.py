"""经营概览 against brute force on a small demo brokerage: each figure and trend day recomputed with pandas
from the raw imported tables, events resolved one distinct id at a time through One ID's `show`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache

import pandas as pd
import pytest
from sqlalchemy import select

from support import demo_world
from touchpoint.bootstrap import Container
from touchpoint.core.errors import NotFoundError
from touchpoint.governance import SYSTEM, Principal
from touchpoint.identity.scopes import scope_for
from touchpoint.identity.service import show
from touchpoint.overview import overview
from touchpoint.store.operational.schema_service import advisor_tasks
from touchpoint.tasks.model import TaskComplete, TaskDraft
from touchpoint.tasks.service import assignments, complete_task, create_tasks

TODAY = date(2026, 3, 31)  # the demo world's clock


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    for container, _ in demo_world(request, tmp_path_factory.mktemp("overview") / "home"):
        yield container


def _table(container: Container, name: str) -> pd.DataFrame:
    frames = []
    for partition in container.analytics.partitions(name):
        part = container.analytics.read_partition(name, partition.dt)
        assert part is not None
        frames.append(part.to_pandas().assign(dt=partition.dt))
    return pd.concat(frames, ignore_index=True)


def _customer_of(container: Container) -> dict[str, str | None]:
    """Each distinct id's customer number, looked up one by one (None: not a customer)."""

    @cache
    def lookup(value: str) -> str | None:
        try:
            person = show(env=container, value=value)
        except NotFoundError:
            return None
        numbers = [i["id_value"] for i in person["identifiers"] if i["id_type"] == "customer_no"]
        return numbers[0] if numbers else None

    events = _table(container, "events")
    return {v: lookup(v) for v in events["distinct_id"].unique()}


def _expected(container: Container, branches: tuple[str, ...]) -> dict[str, object]:
    customers = _table(container, "customers")
    newest = customers[customers["dt"] == customers["dt"].max()]
    allowed = set(newest.loc[newest["branch_id"].isin(branches), "customer_no"]) if branches else None

    def keep(frame: pd.DataFrame, column: str = "customer_no") -> pd.DataFrame:
        return frame if allowed is None else frame[frame[column].isin(allowed)]

    events = _table(container, "events")
    events["customer_no"] = events["distinct_id"].map(_customer_of(container))
    events = keep(events) if allowed is not None else events
    first = TODAY - timedelta(days=29)
    window = events[(events["dt"] >= first) & (events["dt"] <= TODAY)]
    assets, flows = keep(_table(container, "assets")), keep(_table(container, "cash_flows"))
    flows = flows.assign(net=flows["amount"].where(flows["direction"] == "in", -flows["amount"]))
    trend = []
    for n in range(30):
        day = first + timedelta(days=n)
        today = window[window["dt"] == day]
        day_assets = assets[assets["dt"] == day]["total_assets"]
        day_flows = flows.loc[flows["dt"] == day, "net"]
        imported = day in set(_table(container, "cash_flows")["dt"])
        trend.append(
            {
                "date": day.isoformat(),
                "events": len(today),
                "active_customers": today["customer_no"].dropna().nunique(),
                "total_assets": round(float(day_assets.sum()), 2) if len(day_assets) else None,
                "net_inflow": round(float(day_flows.sum()), 2) if imported else None,
            }
        )
    week = window[window["dt"] > TODAY - timedelta(days=7)]
    latest_assets = assets[assets["dt"] == _table(container, "assets")["dt"].max()]
    return {
        "customers": len(keep(newest)),
        "active_customers_7d": week["customer_no"].dropna().nunique(),
        "total_aum": round(float(latest_assets["total_assets"].sum()), 2),
        "trend": trend,
    }


@pytest.mark.parametrize("branches", [(), ("B1",), ("B2", "B5")])
def test_figures_and_trends_match_a_brute_force_count(world: Container, branches: tuple[str, ...]) -> None:
    caller = SYSTEM
    if branches:
        scope = scope_for(world, branches=branches, advisor_id=None)
        caller = Principal(user="mgr", permissions=frozenset({"status:read"}), scope=scope)
    body = overview(env=world, principal=caller)
    expected = _expected(world, branches)
    assert body["as_of"] == TODAY.isoformat()
    figures = body["figures"]
    assert figures["customers"] == expected["customers"]
    assert figures["active_customers_7d"] == expected["active_customers_7d"]
    assert figures["total_aum"] == pytest.approx(expected["total_aum"])
    for got, want in zip(body["trend"], expected["trend"], strict=True):
        assert got["date"] == want["date"]
        assert got["events"] == want["events"], got["date"]
        assert got["active_customers"] == want["active_customers"], got["date"]
        for money in ("total_assets", "net_inflow"):
            assert (got[money] is None) == (want[money] is None), (got["date"], money)
            if want[money] is not None:
                assert got[money] == pytest.approx(want[money]), (got["date"], money)
    assert figures["events_today"] == expected["trend"][-1]["events"]
    days_before_data = [t for t in body["trend"] if t["date"] < "2026-03-17"]
    assert days_before_data
    assert all(t["total_assets"] is None for t in days_before_data), "no snapshot: no value"


def test_freshness_lists_each_import_the_computation_and_each_segment(world: Container) -> None:
    items = overview(env=world, principal=SYSTEM)["freshness"]
    kinds = {(i["kind"], i["name"]) for i in items}
    for table in ("customers", "assets", "events", "cash_flows"):
        assert ("import", table) in kinds
    assert any(kind == "computation" for kind, _ in kinds)
    assert all(i["error"] is None for i in items if i["status"] in ("imported", "succeeded"))


def test_the_calendar_warns_from_60_days_before_the_recorded_closures_end(world: Container) -> None:
    horizon = world.calendar.horizon
    end = world.calendar.recorded_until
    assert horizon(end - timedelta(days=61)).warning is False
    assert horizon(end - timedelta(days=60)).warning is True
    assert horizon(end + timedelta(days=5)).days_left == -5
    assert overview(env=world, principal=SYSTEM)["calendar"]["holidays_recorded_until"] == end.isoformat()


def _some_tasks(container: Container) -> None:
    """A task for every fifth customer of the newest snapshot (idempotent: one per source key), a third of
    them completed."""
    customers = _table(container, "customers")
    numbers = sorted(customers.loc[customers["dt"] == customers["dt"].max(), "customer_no"])[::5]
    now = container.clock.now()
    drafts = [
        TaskDraft(
            source_key=f"overview-test:{n}",
            source="mot",
            customer_no=n,
            title=f"call {n}",
            reason="r",
            talking_points="p",
            priority="normal",
            due_at=now + timedelta(hours=4),
            rule="birthday",
        )
        for n in numbers
    ]
    with container.ops.begin() as connection:
        made = create_tasks(connection, drafts=drafts, assigned=assignments(container, numbers), now=now)
    with container.ops.begin() as connection:
        status = dict(connection.execute(select(advisor_tasks.c.id, advisor_tasks.c.status)).all())
    for task_id in sorted(made.values())[::3]:
        if status[task_id] == "open":
            complete_task(
                env=container, principal=SYSTEM, task_id=task_id, result=TaskComplete(outcome="reached")
            )


@pytest.mark.parametrize("limit", ["none", "one branch", "two branches", "branch and advisor"])
def test_open_tasks_are_counted_within_the_callers_scope(world: Container, limit: str) -> None:
    _some_tasks(world)
    customers = _table(world, "customers")
    newest = customers[customers["dt"] == customers["dt"].max()]
    with world.ops.begin() as connection:
        rows = connection.execute(select(advisor_tasks.c.customer_no, advisor_tasks.c.status)).all()
    open_numbers = {number for number, status in rows if status == "open"}
    # The limits are drawn from where open tasks are (which third of the tasks is done varies with their ids).
    holding = newest[newest["customer_no"].isin(open_numbers)]
    busiest = list(holding["branch_id"].value_counts().index)
    allowed, caller = newest, SYSTEM
    if limit != "none":
        branches = tuple(busiest[:2] if limit == "two branches" else busiest[:1])
        allowed = newest[newest["branch_id"].isin(branches)]
        advisor_id = None
        if limit == "branch and advisor":
            advisor_id = str(sorted(holding[holding["branch_id"] == branches[0]]["advisor_id"].dropna())[0])
            allowed = allowed[allowed["advisor_id"] == advisor_id]
        scope = scope_for(world, branches=branches, advisor_id=advisor_id)
        caller = Principal(user="mgr", permissions=frozenset({"status:read"}), scope=scope)
    inside = set(allowed["customer_no"])
    expected = sum(1 for number, status in rows if status == "open" and number in inside)
    assert sum(1 for _, status in rows if status != "open"), "some tasks are closed"
    assert expected, "the scope holds open tasks"
    assert overview(env=world, principal=caller)["figures"]["open_tasks"] == expected
