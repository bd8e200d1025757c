"""Campaign KPIs: each row is the treated group of its journey's own report, and equals a brute-force count
with pandas over the runs, sends and receipts the test inserted (all of them, and within a branch scope);
which journeys have a row; the total; the route."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import insert

from mot_support import load
from support import api_client, newcombe_interval, signed_token
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM, Principal
from touchpoint.governance.permissions import BUILTIN_BY_NAME
from touchpoint.identity.scopes import scope_for
from touchpoint.identity.service import sync_customers
from touchpoint.journeys.campaigns import campaign_kpis
from touchpoint.journeys.report import journey_report
from touchpoint.journeys.service import parse_journey, publish, save_journey, set_status
from touchpoint.store.operational.schema import (
    channel_events,
    channel_sends,
    journey_outbox,
    journey_runs,
    journey_steps,
)

CUSTOMERS = [(f"K{n:02d}", "B1" if n % 2 else "B2") for n in range(40)]
FIRST = date(2026, 3, 2)
LAST = FIRST + timedelta(days=6)
# name → final status and the entry days of its runs, relative to FIRST (some before or after the period).
JOURNEYS: dict[str, tuple[str, range]] = {
    "alpha": ("live", range(-3, 10)),
    "beta": ("paused", range(0, 7)),
    "gamma": ("stopped", range(2, 4)),  # ended, but ran in the period: a row
    "delta": ("stopped", range(-9, -2)),  # ended before the period: no row
    "quiet": ("live", range(0)),  # running, nobody entered: a row of zeros and no rates
    "sketch": ("draft", range(-3, 10)),  # not published: no row (runs made up to prove a draft is skipped)
}
STAGES = ("message_sent", "message_delivered", "message_opened", "message_clicked")


def _definition(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": f"活动 {name}",
        "entry": {"type": "api"},
        "start": "note",
        "nodes": [
            {
                "id": "note",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "hi"},
                "next": "bye",
            },
            {"id": "bye", "type": "exit"},
        ],
        "goal": {"event": "fund_subscribe", "within": "5d"},
        "holdout_percent": 30,
    }


def _runs(c: Container, name: str, days: range, rng: random.Random) -> None:
    """Runs entered on `days`, about a third held out; treated ones reach the message node, most are
    targeted, some held back by a policy, the rest sent and a random depth into delivered → clicked; some
    of both groups reach the goal."""
    runs, steps, outbox, sends, events = [], [], [], [], []
    for n, (customer, _) in enumerate(rng.sample(CUSTOMERS, 30) * 2):
        if not days:
            break
        at = c.calendar.to_utc(FIRST + timedelta(days=rng.choice(days))) + timedelta(hours=rng.randint(0, 23))
        run_id, holdout = f"{name}-{n}", rng.random() < 0.35
        runs.append(_run(run_id, name, customer, holdout, at))
        if rng.random() < 0.3:
            steps.append(_step(run_id, name, "bye", "goal", at))
        if holdout:
            continue
        steps.append(_step(run_id, name, "note", "sent", at))
        if rng.random() < 0.15:
            continue  # reached the node, but no message was made
        skipped = rng.random() < 0.2
        outbox.append(_outbox(run_id, name, customer, at))
        sends.append(_send(run_id, name, customer, "skipped" if skipped else "sent", at))
        depth = 0 if skipped else rng.randint(0, len(STAGES))
        events += [_event(run_id, stage, at) for stage in STAGES[:depth]]
    with c.ops.begin() as connection:
        for table, rows in (
            (journey_runs, runs),
            (journey_steps, steps),
            (journey_outbox, outbox),
            (channel_sends, sends),
            (channel_events, events),
        ):
            if rows:
                connection.execute(insert(table), rows)


def _run(run_id: str, name: str, customer: str, holdout: bool, at: datetime) -> dict[str, Any]:
    return {
        "id": run_id,
        "journey": name,
        "version": 1,
        "customer_no": customer,
        "node": None,
        "step": 2,
        "status": "done",
        "holdout": holdout,
        "context": {},
        "entered_at": at,
        "updated_at": at,
        "ended_at": at,
    }


def _step(run_id: str, name: str, node: str, outcome: str, at: datetime) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "journey": name,
        "version": 1,
        "node": node,
        "step": 1,
        "outcome": outcome,
        "at": at,
    }


def _outbox(run_id: str, name: str, customer: str, at: datetime) -> dict[str, Any]:
    return {
        "id": run_id,
        "run_id": run_id,
        "journey": name,
        "node": "note",
        "step": 1,
        "customer_no": customer,
        "kind": "send",
        "payload": {},
        "status": "done",
        "attempts": 1,
        "created_at": at,
    }


def _send(run_id: str, name: str, customer: str, status: str, at: datetime) -> dict[str, Any]:
    return {
        "id": run_id,
        "customer_no": customer,
        "channel": "log",
        "provider": "log",
        "template": "t",
        "template_version": 1,
        "journey": name,
        "node": "note",
        "marketing": True,
        "status": status,
        "evidence": {},
        "content": "hi",
        "created_at": at,
        "updated_at": at,
    }


def _event(send_id: str, event: str, at: datetime) -> dict[str, Any]:
    return {"send_id": send_id, "event": event, "payload": {}, "created_at": at, "forwarded": False}


@pytest.fixture
def world(container: Container, clock: VirtualClock) -> Container:
    c = container
    load(
        c, "customers", [{"customer_no": n, "branch_id": b} for n, b in CUSTOMERS], FIRST - timedelta(days=10)
    )
    sync_customers(env=c, analytics=c.analytics)
    rng = random.Random(18)
    # Assets before and within the window, so that the assets uplift has a value to carry.
    assets = [
        {"customer_no": n, "date": FIRST - timedelta(days=12), "total_assets": 1000.0} for n, _ in CUSTOMERS
    ]
    assets += [
        {"customer_no": n, "date": FIRST + timedelta(days=d), "total_assets": 1000.0 + rng.randint(-300, 900)}
        for n, _ in CUSTOMERS
        for d in range(-9, 12, 3)
    ]
    load(c, "assets", assets)
    for name, (status, days) in JOURNEYS.items():
        save_journey(env=c, principal=SYSTEM, journey=parse_journey(_definition(name)))
        if status != "draft":
            publish(env=c, principal=SYSTEM, name=name)
        if status in ("paused", "stopped"):
            set_status(env=c, principal=SYSTEM, name=name, to=status)
        _runs(c, name, days, rng)
    return c


def _frames(c: Container) -> dict[str, pd.DataFrame]:
    with c.ops.begin() as connection:
        return {
            t.name: pd.read_sql(t.select(), connection)
            for t in (journey_runs, journey_steps, journey_outbox, channel_sends, channel_events)
        }


def _brute_force(c: Container, name: str, allowed: set[str] | None = None) -> dict[str, Any]:
    """The treated runs' counts of one journey, from the tables as pandas frames."""
    f = _frames(c)
    runs = f["journey_runs"]
    runs = runs[runs.journey == name]
    entered = pd.to_datetime(runs.entered_at, utc=True).dt.tz_convert("Asia/Shanghai").dt.date
    runs = runs[(entered >= FIRST) & (entered <= LAST)]
    if allowed is not None:
        runs = runs[runs.customer_no.isin(allowed)]
    treated, held = runs[~runs.holdout.astype(bool)], runs[runs.holdout.astype(bool)]
    steps = f["journey_steps"]
    converted = set(steps[(steps.journey == name) & (steps.outcome == "goal")].run_id)
    sends = f["journey_outbox"].merge(f["channel_sends"], on="id", suffixes=("", "_send"))
    sends = sends[sends.journey == name]
    events = f["journey_outbox"][["id", "run_id"]].merge(
        f["channel_events"], left_on="id", right_on="send_id"
    )

    def runs_with(event: str) -> int:
        return int(treated.id.isin(events[events.event == event].run_id).sum())

    counts = {
        "entered": len(treated),
        "targeted": int(treated.id.isin(sends.run_id).sum()),
        "suppressed": int(treated.id.isin(sends[sends.status_send == "skipped"].run_id).sum()),
        **{stage: runs_with(f"message_{stage}") for stage in ("sent", "delivered", "opened", "clicked")},
        "goal": int(treated.id.isin(converted).sum()),
        "holdout_entered": len(held),
        "holdout_goal": int(held.id.isin(converted).sum()),
    }
    delivered = set(events[events.event == "message_delivered"].run_id)
    delivered_goal = int(treated.id.isin(delivered & converted).sum())
    return counts | {"delivered_goal": delivered_goal}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _textbook_uplift(ct: int, nt: int, ch: int, nh: int) -> tuple[float, float, float]:
    """Difference of proportions and its Newcombe 95 % interval, by hand."""
    return (ct / nt - ch / nh, *newcombe_interval(ct, nt, ch, nh))


def _check_against_brute_force(row: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("entered", "targeted", "suppressed", "sent", "delivered", "opened", "clicked", "goal"):
        assert row[key] == expected[key], (row["name"], key)
    assert (row["holdout_entered"], row["holdout_goal"]) == (
        expected["holdout_entered"],
        expected["holdout_goal"],
    )
    assert row["reach_rate"] == _ratio(expected["delivered"], expected["targeted"])
    assert row["suppression_rate"] == _ratio(expected["suppressed"], expected["targeted"])
    assert row["open_rate"] == _ratio(expected["opened"], expected["delivered"])
    assert row["click_rate"] == _ratio(expected["clicked"], expected["delivered"])
    assert row["conversion_rate"] == _ratio(expected["goal"], expected["entered"])
    assert row["delivered_conversion_rate"] == _ratio(expected["delivered_goal"], expected["delivered"])
    if expected["entered"] and expected["holdout_entered"]:
        absolute, low, high = _textbook_uplift(
            expected["goal"], expected["entered"], expected["holdout_goal"], expected["holdout_entered"]
        )
        assert row["uplift"]["absolute"] == pytest.approx(absolute)
        assert (row["uplift"]["ci_low"], row["uplift"]["ci_high"]) == (
            pytest.approx(low),
            pytest.approx(high),
        )
    else:
        assert row["uplift"]["absolute"] is None  # no hold-out in the period: no uplift, not zero


def test_the_journeys_with_a_row_are_those_running_or_entered_in_the_period(world: Container) -> None:
    found = campaign_kpis(env=world, principal=SYSTEM, start=FIRST, end=LAST)
    assert [r["name"] for r in found["rows"]] == ["alpha", "beta", "gamma", "quiet"]
    assert {r["name"]: r["status"] for r in found["rows"]}["gamma"] == "stopped"
    quiet = next(r for r in found["rows"] if r["name"] == "quiet")
    assert (quiet["entered"], quiet["targeted"], quiet["reach_rate"], quiet["conversion_rate"]) == (
        0,
        0,
        None,
        None,
    )
    assert quiet["uplift"]["absolute"] is None


def test_each_row_is_the_treated_group_of_its_journeys_report(world: Container) -> None:
    found = campaign_kpis(env=world, principal=SYSTEM, start=FIRST, end=LAST)
    for row in found["rows"]:
        report = journey_report(env=world, principal=SYSTEM, name=row["name"], start=FIRST, end=LAST)
        treated = report["groups"].get("treated")
        if treated is None:
            continue  # `quiet`: checked above
        for key, value in treated.items():
            if key in row:
                assert row[key] == value, (row["name"], key)
        assert row["uplift"] == report["uplift"]
        assert (row["aum_uplift"], row["net_inflow_uplift"]) == (
            report["aum_uplift"],
            report["net_inflow_uplift"],
        )
        assert (row["goal_event"], row["window"]) == ("fund_subscribe", "5d")
    assert any(r["aum_uplift"] is not None for r in found["rows"])


def test_each_row_equals_a_brute_force_count_of_the_inserted_rows(world: Container) -> None:
    found = campaign_kpis(env=world, principal=SYSTEM, start=FIRST, end=LAST)
    for row in found["rows"]:
        _check_against_brute_force(row, _brute_force(world, row["name"]))
    alpha = next(r for r in found["rows"] if r["name"] == "alpha")
    assert 0 < alpha["suppressed"] < alpha["targeted"]
    assert 0 < alpha["clicked"] < alpha["delivered"]  # the random data reaches every stage


def test_a_branch_manager_sees_the_kpis_of_their_branchs_customers(world: Container) -> None:
    manager = Principal(
        user="mgr",
        roles=frozenset({"branch_manager"}),
        permissions=BUILTIN_BY_NAME["branch_manager"].permissions,
        scope=scope_for(world, branches=("B1",), advisor_id=None),
    )
    mine = {n for n, b in CUSTOMERS if b == "B1"}
    found = campaign_kpis(env=world, principal=manager, start=FIRST, end=LAST)
    everyone = campaign_kpis(env=world, principal=SYSTEM, start=FIRST, end=LAST)
    for row in found["rows"]:
        _check_against_brute_force(row, _brute_force(world, row["name"], mine))
        report = journey_report(env=world, principal=manager, name=row["name"], start=FIRST, end=LAST)
        assert row["uplift"] == report["uplift"]
    assert found["total"]["entered"] < everyone["total"]["entered"]


def test_the_total_sums_the_counts_and_takes_the_rates_of_the_sums(world: Container) -> None:
    found = campaign_kpis(env=world, principal=SYSTEM, start=FIRST, end=LAST)
    rows, total = pd.DataFrame(found["rows"]), found["total"]
    for key in (
        "entered",
        "holdout_entered",
        "targeted",
        "suppressed",
        "sent",
        "delivered",
        "opened",
        "clicked",
    ):
        assert total[key] == rows[key].sum(), key
    assert total["journeys"] == len(rows)
    assert total["reach_rate"] == pytest.approx(rows.delivered.sum() / rows.targeted.sum())
    assert total["click_rate"] == pytest.approx(rows.clicked.sum() / rows.delivered.sum())
    assert "uplift" not in total  # the journeys' goals differ: no pooled uplift
    empty = campaign_kpis(
        env=world, principal=SYSTEM, start=LAST + timedelta(days=30), end=LAST + timedelta(days=30)
    )
    assert empty["total"]["reach_rate"] is None  # nothing targeted: no rate, not zero


def test_the_route_answers_the_kpis_in_its_contract_and_refuses_a_reversed_period(world: Container) -> None:
    client = api_client(world)
    answer = client.get("/api/v1/kpis/campaigns", params={"from": FIRST.isoformat(), "to": LAST.isoformat()})
    assert answer.status_code == 200
    body = answer.json()
    expected = campaign_kpis(env=world, principal=SYSTEM, start=FIRST, end=LAST)
    assert [r["name"] for r in body["rows"]] == [r["name"] for r in expected["rows"]]
    assert body["rows"][0]["uplift"]["ci_low"] == pytest.approx(expected["rows"][0]["uplift"]["ci_low"])
    assert body["total"]["targeted"] == expected["total"]["targeted"]
    reversed_ = client.get(
        "/api/v1/kpis/campaigns", params={"from": LAST.isoformat(), "to": FIRST.isoformat()}
    )
    assert reversed_.status_code == 400
    assert set(reversed_.json()["error"]) == {"code", "message", "details"}
    # The default period is the 30 days to today on the deployment's clock.
    default = client.get("/api/v1/kpis/campaigns").json()
    today = world.calendar.business_date(world.clock.now())
    assert (default["start"], default["end"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())


def test_an_advisor_reads_the_kpis_of_their_own_customers_only(world: Container) -> None:
    from fastapi.testclient import TestClient

    from touchpoint.api.app import create_app

    token = signed_token(world, roles=("advisor",), branches=["B1"])
    client = TestClient(create_app(world), headers={"Authorization": f"Bearer {token}"})
    body = client.get(
        "/api/v1/kpis/campaigns", params={"from": FIRST.isoformat(), "to": LAST.isoformat()}
    ).json()
    mine = {n for n, b in CUSTOMERS if b == "B1"}
    for row in body["rows"]:
        assert row["entered"] == _brute_force(world, row["name"], mine)["entered"]
