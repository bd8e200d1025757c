"""Journey scenarios for what test_runtime leaves out: waits until a time of day, a trading day or a date in
the payload, trading-day durations, A/B splits, the set-tag, set-attribute and webhook actions, exit criteria,
entry caps, recurring segment entry, publishing with runs in flight, and the operator's run controls.

One small demo brokerage per database on one virtual clock that only moves forward: the tests that need
particular dates (holidays of the Shanghai exchange) come first and jump to them; the rest work relative to
the clock. Expected trading days come from exchange_calendars (XSHG) and zoneinfo, not from the project's
calendar. No test touches the network: every dispatch gets an httpx mock transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars
import httpx
import pandas as pd
import pytest
from sqlalchemy import select

from support import demo_world
from touchpoint.bootstrap import Container
from touchpoint.channels.providers.webhook import WebhookConfig, WebhookProvider, verify
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.governance.masking import mask_customer_no
from touchpoint.identity.service import show
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import admit, admit_segments, tick
from touchpoint.journeys.service import (
    customer_runs,
    parse_journey,
    publish,
    resume_run,
    save_journey,
    set_status,
    statistics,
    status,
    stop_run,
    stuck,
)
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.service import SegmentDef, context_at, read_rule, save_segment
from touchpoint.store.operational.schema import journey_attempts, journey_outbox, journey_runs, journey_steps
from touchpoint.tags import repo as tags_repo
from touchpoint.tags.service import list_tags
from unit.journeys.passes import drain, route
from unit.journeys.test_runtime import _all_customers, _customers, _go_live, _journey, _runs, _send, _sends

END = date(2026, 3, 31)
START = datetime(2026, 3, 31, 1, tzinfo=UTC)  # 09:00 Beijing
BJ = ZoneInfo("Asia/Shanghai")
XSHG = exchange_calendars.get_calendar("XSHG")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, VirtualClock]]:
    yield from demo_world(request, tmp_path_factory.mktemp("journey_nodes") / "home", _sign_hooks_with)


# Helpers ---------------------------------------------------------------------------------------------------

# Any webhook reached by a worker pass that did not bring its own transport fails here instead of going out.
_NO_NETWORK = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(503, text="no network")))
HOOK_SECRET = "journey-hook-secret"


def _sign_hooks_with(container: Container, client: httpx.Client = _NO_NETWORK) -> None:
    """Journey webhooks go through the signed webhook provider: one whose posts reach `client`."""
    config = WebhookConfig(url="https://hooks.example.test/", secret=HOOK_SECRET)
    container.providers["webhook"] = WebhookProvider(config, client, container.clock)


def _bj(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """Beijing wall-clock time on `day`, as an aware instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=BJ)


def _today(clock: VirtualClock) -> date:
    return clock.now().astimezone(BJ).date()


def _sessions_after(day: date, count: int) -> list[date]:
    """The first `count` XSHG sessions strictly after `day`, as exchange_calendars records them."""
    found = XSHG.sessions_in_range(
        pd.Timestamp(day + timedelta(days=1)), pd.Timestamp(day + timedelta(days=60))
    )
    return [ts.date() for ts in found[:count]]


def _next_session_at(moment: datetime, at: time) -> datetime:
    """The first XSHG session's `at` (Beijing) that is still ahead of `moment`."""
    local = moment.astimezone(BJ)
    day = local.date() if local.time() < at else local.date() + timedelta(days=1)
    return _bj(_sessions_after(day - timedelta(days=1), 1)[0], at.hour, at.minute)


def _work(env: JourneyEnv) -> None:
    """One pass of the worker's journey duties at the current instant."""
    route(env)
    drain(lambda: tick(env=env), "tick")
    drain(lambda: dispatch(env=env), "dispatch")


def _drive(env: JourneyEnv, clock: VirtualClock, hours: float, step: float = 0.5) -> None:
    """Worker passes while the virtual clock moves on `hours`."""
    end = clock.now() + timedelta(hours=hours)
    while True:
        _work(env)
        if clock.now() >= end:
            return
        clock.advance(timedelta(hours=step))


def _run_of(env: JourneyEnv, journey: str) -> dict[str, dict[str, Any]]:
    """The journey's runs by customer (one run each)."""
    runs = _runs(env, journey)
    by_customer = {r["customer_no"]: r for r in runs}
    assert len(by_customer) == len(runs), "a customer has two runs here"
    return by_customer


def _steps(env: JourneyEnv, journey: str) -> list[tuple[str, str, str, str | None]]:
    """(customer, node, outcome, detail) of every step of the journey, in the order they were taken."""
    query = (
        select(
            journey_runs.c.customer_no, journey_steps.c.node, journey_steps.c.outcome, journey_steps.c.detail
        )
        .join(journey_runs, journey_runs.c.id == journey_steps.c.run_id)
        .where(journey_steps.c.journey == journey)
        .order_by(journey_steps.c.id)
    )
    with env.ops.begin() as connection:
        return [(r[0], r[1], r[2], r[3]) for r in connection.execute(query)]


def _outbox(env: JourneyEnv, journey: str) -> list[dict[str, Any]]:
    with env.ops.begin() as connection:
        query = select(journey_outbox).where(journey_outbox.c.journey == journey)
        return [dict(r) for r in connection.execute(query).mappings()]


def _who(container: Container, rule: dict[str, Any]) -> list[str]:
    """Customer numbers satisfying a segment rule on the newest tag snapshot (to pick test customers)."""
    context = context_at(env=container)
    numbers = context.base.to_pandas().set_index("uid")["customer_no"]
    return sorted(str(numbers[uid]) for uid in evaluate(read_rule(rule), context))


def _tier(*values: str) -> dict[str, Any]:
    return {"tag": "asset_tier", "in": list(values)}


def _send_node(node_id: str, text: str, next_node: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": "action",
        "action": {"kind": "send", "channel": "log", "text": text},
    }
    return node | ({"next": next_node} if next_node else {})


def _save(env: JourneyEnv, body: dict[str, Any]) -> None:
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))


# Waits (dated scenarios first: the clock never goes back) -------------------------------------------------


def test_wait_until_a_time_of_day_and_until_the_next_trading_day(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    _go_live(
        env,
        _journey(
            "opening_bell",
            [
                {"id": "bell", "type": "wait", "until_time": "09:30", "trading_day": True, "next": "say"},
                _send_node("say", "开盘了"),
            ],
        ),
    )
    _go_live(
        env,
        _journey(
            "morning",
            [
                {"id": "dawn", "type": "wait", "until_time": "09:30", "next": "say"},
                _send_node("say", "早上好"),
            ],
        ),
    )
    friday, saturday, holiday = _customers(container, 3)
    # Around Qingming 2026: Friday 3 April is a session; Saturday 4 to Monday 6 April are not.
    entries = {
        friday: _bj(date(2026, 4, 3), 20),  # after 09:30 on a session
        saturday: _bj(date(2026, 4, 4), 8),  # before 09:30 on a weekend day
        holiday: _bj(date(2026, 4, 6), 8),  # before 09:30 on a weekday holiday
    }
    for customer, moment in entries.items():
        clock.set(moment)
        admit(env=env, name="opening_bell", customers=[customer])
        if customer != holiday:
            admit(env=env, name="morning", customers=[customer])
        _work(env)
        if customer == saturday:  # the plain 09:30 wait ends that morning, session or not
            dawn = _run_of(env, "morning")
            assert {c: r["wake_at"] for c, r in dawn.items()} == {
                friday: _bj(date(2026, 4, 4), 9, 30),
                saturday: _bj(date(2026, 4, 4), 9, 30),
            }
            clock.set(_bj(date(2026, 4, 4), 9, 30))
            _work(env)
            assert sorted(c for _, c, _ in _sends(env, "morning")) == sorted([friday, saturday])

    bell = _run_of(env, "opening_bell")
    expected = {c: _next_session_at(moment, time(9, 30)) for c, moment in entries.items()}
    assert set(expected.values()) == {_bj(date(2026, 4, 7), 9, 30)}
    assert {c: (r["status"], r["node"], r["wake_at"]) for c, r in bell.items()} == {
        c: ("waiting", "bell", wake) for c, wake in expected.items()
    }
    clock.set(_bj(date(2026, 4, 6), 9, 30))
    _work(env)
    clock.set(_bj(date(2026, 4, 7), 9, 29))
    _work(env)
    assert _sends(env, "opening_bell") == []
    clock.set(_bj(date(2026, 4, 7), 9, 30))
    _work(env)
    assert sorted(_sends(env, "opening_bell")) == sorted(("say", c, "开盘了") for c in entries)


def test_wait_of_trading_days_skips_weekends_and_holidays(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _go_live(
        env,
        _journey(
            "t_plus_two",
            [{"id": "settle", "type": "wait", "duration": "2td", "next": "say"}, _send_node("say", "T+2")],
        ),
    )
    thursday, saturday = _customers(container, 2)
    # Labour Day 2026: Thursday 30 April is a session; Friday 1 to Tuesday 5 May are not.
    entries = {thursday: _bj(date(2026, 4, 30), 10), saturday: _bj(date(2026, 5, 2), 11)}
    for customer, moment in entries.items():
        clock.set(moment)
        admit(env=env, name="t_plus_two", customers=[customer])
        _work(env)

    runs = _run_of(env, "t_plus_two")
    expected = {}
    for customer, moment in entries.items():
        second = _sessions_after(moment.date(), 2)[1]
        expected[customer] = _bj(second, moment.hour)
        assert runs[customer]["status"] == "waiting"
        assert runs[customer]["wake_at"] == expected[customer]
    assert {w.date() for w in expected.values()} == {date(2026, 5, 7)}

    clock.set(_bj(date(2026, 5, 6), 12))  # the first session after the holiday: one trading day only
    _work(env)
    assert _sends(env, "t_plus_two") == []
    clock.set(expected[thursday])
    _work(env)
    assert [c for _, c, _ in _sends(env, "t_plus_two")] == [thursday]
    clock.set(expected[saturday])
    _work(env)
    assert sorted(c for _, c, _ in _sends(env, "t_plus_two")) == sorted([thursday, saturday])


def test_wait_until_a_payload_date_with_an_offset(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _go_live(
        env,
        _journey(
            "pay_reminder",
            [
                {
                    "id": "before",
                    "type": "wait",
                    "until_field": "payload.pay_deadline",
                    "offset": "-4h",
                    "next": "remind",
                },
                _send_node("remind", "请缴款"),
            ],
        ),
    )
    deadline = _bj(_today(clock) + timedelta(days=2), 16)
    aware, naive, missing, close = _customers(container, 4)
    payloads = {
        aware: {"pay_deadline": deadline.isoformat()},
        naive: {"pay_deadline": deadline.replace(tzinfo=None).isoformat()},  # read as Beijing time
        missing: {"product_code": "732001"},
        close: {"pay_deadline": (clock.now() + timedelta(hours=2)).isoformat()},  # 4 h before is past
    }
    admit(env=env, name="pay_reminder", customers=list(payloads), payloads=payloads)
    _work(env)

    runs = _run_of(env, "pay_reminder")
    wake = deadline - timedelta(hours=4)
    assert wake.astimezone(BJ).time() == time(12, 0)
    for customer in (aware, naive):
        assert (runs[customer]["status"], runs[customer]["wake_at"]) == ("waiting", wake)
    assert runs[missing]["status"] == runs[close]["status"] == "done"
    waits = {
        c: (outcome, detail) for c, node, outcome, detail in _steps(env, "pay_reminder") if node == "before"
    }
    assert waits == {missing: ("next", "no date"), close: ("next", None)}
    assert sorted(c for _, c, _ in _sends(env, "pay_reminder")) == sorted([missing, close])

    clock.set(wake - timedelta(minutes=1))
    _work(env)
    assert len(_sends(env, "pay_reminder")) == 2
    clock.set(wake)
    _work(env)
    assert sorted(c for _, c, _ in _sends(env, "pay_reminder")) == sorted(payloads)


# Actions ---------------------------------------------------------------------------------------------------


def test_set_tag_and_set_attribute_actions(world: tuple[Container, VirtualClock]) -> None:
    container = world[0]
    env = container
    imported = [n for n, t in _tag_kinds(container).items() if t == "imported"]
    assert "key_account" in imported
    _go_live(
        env,
        _journey(
            "mark_vip",
            [
                {
                    "id": "tag",
                    "type": "action",
                    "action": {"kind": "set_tag", "tag": "key_account", "value": "VIP"},
                    "next": "attr",
                },
                {
                    "id": "attr",
                    "type": "action",
                    "action": {
                        "kind": "set_attribute",
                        "attribute": "journey_track",
                        "value": "vip_onboarding",
                    },
                },
            ],
        ),
    )
    customers = _customers(container, 3)
    with container.ops.begin() as connection:
        before = tags_repo.imported_values(connection, "key_account")
    assert not set(customers) & set(before)
    assert all("journey_track" not in _profile(container, c) for c in customers)

    admit(env=env, name="mark_vip", customers=customers)
    _work(env)

    with container.ops.begin() as connection:
        after = tags_repo.imported_values(connection, "key_account")
    assert {c: after.get(c) for c in customers} == dict.fromkeys(customers, "VIP")
    assert {c: _profile(container, c).get("journey_track") for c in customers} == dict.fromkeys(
        customers, "vip_onboarding"
    )
    effects = _outbox(env, "mark_vip")
    assert sorted((e["kind"], e["status"], e["attempts"]) for e in effects) == sorted(
        [("set_tag", "sent", 1)] * 3 + [("set_attribute", "sent", 1)] * 3
    )


def _tag_kinds(container: Container) -> dict[str, str]:
    return {name: tag.kind for name, tag in list_tags(env=container).items()}


def _profile(container: Container, customer: str) -> dict[str, Any]:
    found: dict[str, Any] = show(env=container, value=customer, id_type="customer_no")["profile"]
    return found


class _Hook:
    """A webhook receiver behind httpx's mock transport: answers `status` and records each request."""

    def __init__(self, clock: VirtualClock, status_code: int) -> None:
        self.clock = clock
        self.status_code = status_code
        self.calls: list[tuple[datetime, httpx.Request]] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((self.clock.now(), request))
        return httpx.Response(self.status_code, json={"ok": self.status_code < 400})


def test_webhook_posts_once_signed_with_the_outbox_id_and_retries_failures(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    url = "https://crm.example.test/journey-hook"
    _go_live(
        env, _journey("hook", [{"id": "call", "type": "action", "action": {"kind": "webhook", "url": url}}])
    )
    good, bad = _customers(container, 2)

    ok = _Hook(clock, 200)
    admit(env=env, name="hook", customers=[good], payloads={good: {"order_id": "A-1"}})
    tick(env=env)
    _sign_hooks_with(container, ok.client)
    assert dispatch(env=env) == 1
    assert dispatch(env=env) == 0  # sent once
    [effect] = _outbox(env, "hook")
    assert (effect["status"], effect["attempts"]) == ("sent", 1)
    [(_, request)] = ok.calls
    assert (request.method, str(request.url)) == ("POST", url)
    assert request.headers["Idempotency-Key"] == effect["id"]
    stamp, signature = request.headers["X-Touchpoint-Timestamp"], request.headers["X-Touchpoint-Signature"]
    assert verify(HOOK_SECRET, stamp, request.content, signature, clock.now().timestamp())
    assert not verify("another-secret", stamp, request.content, signature, clock.now().timestamp())
    body = json.loads(request.content)
    assert body == {
        "customer_no": good,
        "journey": "hook",
        "node": "call",
        "outbox_id": effect["id"],
        "context": {"payload": {"order_id": "A-1"}, "variants": {}},
    }

    down = _Hook(clock, 500)
    admit(env=env, name="hook", customers=[bad])
    tick(env=env)
    started = clock.now()
    _sign_hooks_with(container, down.client)
    for _ in range(45):  # a dispatch every virtual minute for 45 minutes
        assert dispatch(env=env) == 0
        clock.advance(timedelta(minutes=1))
    _sign_hooks_with(container)
    [failed] = [e for e in _outbox(env, "hook") if e["customer_no"] == bad]
    # Back-off of 2, 4, 8 and 16 minutes between five attempts, then no more.
    assert [(at - started) // timedelta(minutes=1) for at, _ in down.calls] == [0, 2, 6, 14, 30]
    assert {r.headers["Idempotency-Key"] for _, r in down.calls} == {failed["id"]}
    assert (failed["status"], failed["attempts"], failed["next_attempt_at"]) == ("failed", 5, None)
    assert "500" in str(failed["last_error"])
    with container.ops.begin() as connection:
        attempts = connection.execute(
            select(journey_attempts.c.attempt, journey_attempts.c.ok)
            .where(journey_attempts.c.outbox_id == failed["id"])
            .order_by(journey_attempts.c.attempt)
        ).all()
    assert [tuple(a) for a in attempts] == [(n, False) for n in range(1, 6)]
    [node] = [n for n in statistics(env=env, name="hook")["nodes"] if n["node"] == "call"]
    assert (node["actions"]["sent"], node["actions"]["failed"]) == (1, 1)


# Exit criteria ---------------------------------------------------------------------------------------------


def test_an_exit_event_ends_active_runs_when_routed(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _go_live(
        env,
        _journey(
            "until_bought",
            [{"id": "pause", "type": "wait", "duration": "1d", "next": "say"}, _send_node("say", "看看基金")],
            exit_criteria=[
                {"event": "fund_subscribe", "where": [{"property": "amount", "op": ">=", "value": 1000}]}
            ],
        ),
    )
    buyer, small, idle = _customers(container, 3)
    admit(env=env, name="until_bought", customers=[buyer, small, idle])
    _work(env)
    _send(env, clock, buyer, "fund_subscribe", amount=5000)
    _send(env, clock, small, "fund_subscribe", amount=10)  # fails the filter
    _send(env, clock, idle, "fund_compare")  # another event
    route(env)

    runs = _run_of(env, "until_bought")
    assert (runs[buyer]["status"], runs[buyer]["end_reason"]) == ("exited", "event fund_subscribe")
    assert runs[buyer]["wake_at"] is None
    assert runs[small]["status"] == runs[idle]["status"] == "waiting"
    _drive(env, clock, hours=25, step=1)
    assert sorted(c for _, c, _ in _sends(env, "until_bought")) == sorted([small, idle])
    assert statistics(env=env, name="until_bought")["runs"] == {"exited": 1, "done": 2}


def test_an_exit_segment_ends_the_run_at_its_next_step(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    longtail, affluent, mass = (_who(container, _tier(v))[0] for v in ("长尾", "富裕", "大众"))
    leavers = SegmentDef(name="leavers", title="leavers", rule=_tier("长尾"))
    save_segment(env=container, principal=SYSTEM, segment=leavers)
    _go_live(
        env,
        _journey(
            "stay_or_go",
            [{"id": "pause", "type": "wait", "duration": "1h", "next": "say"}, _send_node("say", "您好")],
            exit_criteria=[{"segment": "leavers"}],
        ),
    )
    admit(env=env, name="stay_or_go", customers=[longtail, affluent, mass])
    _work(env)
    runs = _run_of(env, "stay_or_go")
    assert (runs[longtail]["status"], runs[longtail]["end_reason"]) == ("exited", "segment leavers")
    assert runs[affluent]["status"] == runs[mass]["status"] == "waiting"

    widened = SegmentDef(name="leavers", title="leavers", rule=_tier("长尾", "富裕"))
    save_segment(env=container, principal=SYSTEM, segment=widened)
    clock.advance(timedelta(minutes=30))
    _work(env)
    assert _run_of(env, "stay_or_go")[affluent]["status"] == "waiting"  # checked when the run moves on
    clock.advance(timedelta(minutes=30))
    _work(env)

    runs = _run_of(env, "stay_or_go")
    assert (runs[affluent]["status"], runs[affluent]["end_reason"]) == ("exited", "segment leavers")
    assert runs[mass]["status"] == "done"
    assert _sends(env, "stay_or_go") == [("say", mass, "您好")]
    exits = [(c, node, detail) for c, node, outcome, detail in _steps(env, "stay_or_go") if outcome == "exit"]
    assert exits == [(longtail, "pause", "leavers"), (affluent, "pause", "leavers")]


def test_an_exit_segment_skips_what_the_run_still_had_queued(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    customer = _who(container, _tier("富裕"))[0]
    quitters = SegmentDef(name="quitters", title="quitters", rule=_tier("长尾"))
    save_segment(env=container, principal=SYSTEM, segment=quitters)
    url = "https://crm.example.test/exit-hook"
    _go_live(
        env,
        _journey(
            "hook_then_wait",
            [
                {"id": "call", "type": "action", "action": {"kind": "webhook", "url": url}, "next": "pause"},
                {"id": "pause", "type": "wait", "duration": "10m", "next": "bye"},
                {"id": "bye", "type": "exit"},
            ],
            exit_criteria=[{"segment": "quitters"}],
        ),
    )
    down = _Hook(clock, 500)
    admit(env=env, name="hook_then_wait", customers=[customer])
    tick(env=env)
    _sign_hooks_with(container, down.client)
    dispatch(env=env)  # fails; the effect stays pending for a retry in 2 minutes
    widened = SegmentDef(name="quitters", title="quitters", rule=_tier("长尾", "富裕"))
    save_segment(env=container, principal=SYSTEM, segment=widened)
    clock.advance(timedelta(minutes=10))
    tick(env=env)
    [run] = _runs(env, "hook_then_wait")
    assert (run["status"], run["end_reason"]) == ("exited", "segment quitters")
    for _ in range(40):
        dispatch(env=env)
        clock.advance(timedelta(minutes=1))
    _sign_hooks_with(container)
    [effect] = _outbox(env, "hook_then_wait")
    assert len(down.calls) == 1  # nothing after the exit
    assert effect["status"] == "skipped"


# Caps ------------------------------------------------------------------------------------------------------


def test_daily_cap_counts_entries_per_beijing_day(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _go_live(env, _journey("daily_cap", [{"id": "bye", "type": "exit"}], caps={"per_day": 3}))
    day = _today(clock) + timedelta(days=1)
    people = _customers(container, 8)
    clock.set(_bj(day, 23))  # 15:00 UTC
    first = admit(env=env, name="daily_cap", customers=people[:5])
    assert (first["admitted"], first["refused_by_cap"]) == (3, 2)
    clock.set(_bj(day, 23, 59))
    assert admit(env=env, name="daily_cap", customers=people[3:5])["admitted"] == 0
    clock.set(_bj(day + timedelta(days=1), 0, 1))  # a new Beijing day, the same UTC day
    second = admit(env=env, name="daily_cap", customers=people[3:8])
    assert (second["admitted"], second["refused_by_cap"]) == (3, 2)
    assert sorted(_run_of(env, "daily_cap")) == sorted(people[:6])


def test_total_cap_admits_no_more_ever(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _go_live(env, _journey("total_cap", [{"id": "bye", "type": "exit"}], caps={"total": 4}))
    people = _customers(container, 8)
    assert admit(env=env, name="total_cap", customers=people[:3])["admitted"] == 3
    clock.advance(timedelta(days=1))
    later = admit(env=env, name="total_cap", customers=people[3:6])
    assert (later["admitted"], later["refused_by_cap"]) == (1, 2)
    clock.advance(timedelta(days=1))
    last = admit(env=env, name="total_cap", customers=people[6:8])
    assert (last["admitted"], last["refused_by_cap"]) == (0, 2)
    assert sorted(_run_of(env, "total_cap")) == sorted(people[:4])


# Recurring segment entry -----------------------------------------------------------------------------------


def test_scheduled_segment_entry_admits_at_publishing_then_new_members_at_each_cron_time(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    longtail, affluent = _who(container, _tier("长尾")), _who(container, _tier("富裕"))
    assert longtail
    assert affluent
    segment = SegmentDef(name="daily_pick", title="daily pick", rule=_tier("长尾"))
    save_segment(env=container, principal=SYSTEM, segment=segment)
    day = _today(clock) + timedelta(days=1)
    clock.set(_bj(day, 10))
    _go_live(
        env,
        _journey(
            "nine_oclock",
            [_send_node("say", "早安")],
            entry={"type": "segment", "segment": "daily_pick", "schedule": "0 9 * * *"},
        ),
    )
    assert admit_segments(env=env) == len(longtail)  # the members of the day enter at publishing
    _work(env)
    assert sorted(c for _, c, _ in _sends(env, "nine_oclock")) == longtail
    clock.set(_bj(day, 15))
    assert admit_segments(env=env) == 0  # the next cron time is tomorrow 09:00

    grown = SegmentDef(name="daily_pick", title="daily pick", rule=_tier("长尾", "富裕"))
    save_segment(env=container, principal=SYSTEM, segment=grown)
    clock.set(_bj(day + timedelta(days=1), 8, 59))
    assert admit_segments(env=env) == 0  # new members wait for 09:00
    clock.set(_bj(day + timedelta(days=1), 9))
    assert admit_segments(env=env) == len(affluent)  # re-entry never: only members not yet admitted
    assert admit_segments(env=env) == 0  # once per cron time
    _work(env)
    clock.set(_bj(day + timedelta(days=2), 9))
    assert admit_segments(env=env) == 0  # everyone has been admitted once
    _work(env)
    assert sorted(_run_of(env, "nine_oclock")) == sorted(longtail + affluent)
    assert sorted(c for _, c, _ in _sends(env, "nine_oclock")) == sorted(longtail + affluent)
    with container.ops.begin() as connection:
        entered = connection.execute(
            select(journey_runs.c.customer_no, journey_runs.c.entered_at).where(
                journey_runs.c.journey == "nine_oclock"
            )
        ).all()
    assert {c for c, at in entered if at == _bj(day + timedelta(days=1), 9)} == set(affluent)
    set_status(env=env, principal=SYSTEM, name="nine_oclock", to="stopped")


# Publishing with runs in flight ----------------------------------------------------------------------------

V1 = [{"id": "hold", "type": "wait", "duration": "2h", "next": "say1"}, _send_node("say1", "v1")]
V2 = [{"id": "hold2", "type": "wait", "duration": "1h", "next": "say2"}, _send_node("say2", "v2")]


def _waiting_on_v1(container: Container, name: str, n: int) -> list[str]:
    env = container
    _go_live(env, _journey(name, V1))
    customers = _customers(container, n)
    admit(env=env, name=name, customers=customers)
    _work(env)
    assert {(r["version"], r["node"], r["status"]) for r in _runs(env, name)} == {(1, "hold", "waiting")}
    _save(env, _journey(name, V2))
    return customers


def test_publish_moves_runs_to_the_mapped_node(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    customers = _waiting_on_v1(container, "mover", 3)
    result = publish(env=env, principal=SYSTEM, name="mover", in_flight="move", node_map={"hold": "hold2"})
    assert (result["version"], result["runs_changed"]) == (2, 3)
    assert {(r["version"], r["node"]) for r in _runs(env, "mover")} == {(2, "hold2")}
    _drive(env, clock, hours=3)
    assert sorted(_sends(env, "mover")) == sorted(("say2", c, "v2") for c in customers)
    assert {r["status"] for r in _runs(env, "mover")} == {"done"}


def test_a_run_moved_to_a_wait_starts_that_wait_afresh(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _waiting_on_v1(container, "mover_wait", 1)
    moved_at = clock.now()
    publish(env=env, principal=SYSTEM, name="mover_wait", in_flight="move", node_map={"hold": "hold2"})
    clock.advance(timedelta(minutes=1))
    _work(env)
    [run] = _runs(env, "mover_wait")
    assert _sends(env, "mover_wait") == []
    assert (run["node"], run["status"]) == ("hold2", "waiting")
    assert run["wake_at"] >= moved_at + timedelta(hours=1)


def test_publish_can_end_runs_in_flight(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _waiting_on_v1(container, "ender", 2)
    result = publish(env=env, principal=SYSTEM, name="ender", in_flight="end")
    assert (result["version"], result["runs_changed"]) == (2, 2)
    runs = _runs(env, "ender")
    assert {(r["status"], r["end_reason"], r["version"]) for r in runs} == {("stopped", "version ended", 1)}
    _drive(env, clock, hours=3)
    assert _sends(env, "ender") == []


def test_publish_refuses_a_node_map_that_leaves_a_current_node_unmapped(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    _waiting_on_v1(container, "mapper", 2)
    with pytest.raises(ValidationError, match="'hold'"):
        publish(env=env, principal=SYSTEM, name="mapper", in_flight="move", node_map={"say1": "say2"})
    with pytest.raises(ValidationError, match="version 2 has no node 'nowhere'"):
        publish(env=env, principal=SYSTEM, name="mapper", in_flight="move", node_map={"hold": "nowhere"})
    assert (status(env=env, name="mapper")["version"]) == 1  # nothing published
    assert {(r["version"], r["node"], r["status"]) for r in _runs(env, "mapper")} == {(1, "hold", "waiting")}
    _drive(env, clock, hours=2.5)
    assert {content for _, _, content in _sends(env, "mapper")} == {"v1"}


def test_publish_move_takes_runs_that_have_not_started(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    early = _waiting_on_v1(container, "mover_new", 1)
    [late] = _customers(container, 1)
    admit(env=env, name="mover_new", customers=[late])  # admitted; the worker has not advanced it yet
    result = publish(
        env=env, principal=SYSTEM, name="mover_new", in_flight="move", node_map={"hold": "hold2"}
    )
    assert result["runs_changed"] == 2
    _work(env)  # the late run starts on version 2, at its start
    assert {(r["version"], r["node"], r["status"]) for r in _runs(env, "mover_new")} == {
        (2, "hold2", "waiting")
    }
    _drive(env, clock, hours=1.5)
    assert sorted(_sends(env, "mover_new")) == sorted(("say2", c, "v2") for c in [*early, late])


# Operations ------------------------------------------------------------------------------------------------


def test_stuck_runs_are_listed_resumed_and_stopped(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    _go_live(
        env,
        _journey(
            "ops",
            [
                _send_node("first", "一", "pause"),
                {"id": "pause", "type": "wait", "duration": "1h", "next": "second"},
                _send_node("second", "二"),
            ],
        ),
    )
    resumed, stopped = _customers(container, 2)
    admit(env=env, name="ops", customers=[resumed, stopped])
    _work(env)
    runs = _run_of(env, "ops")
    wake = runs[resumed]["wake_at"]
    clock.advance(timedelta(hours=3))  # no worker ran meanwhile

    listed = {s["run"]: s for s in stuck(env=env) if s["journey"] == "ops"}
    assert sorted(listed) == sorted([runs[resumed]["id"], runs[stopped]["id"]])
    late = listed[runs[resumed]["id"]]
    assert (late["node"], late["wake_at"]) == ("pause", wake.isoformat())
    assert late["customer_no"] == mask_customer_no(resumed) != resumed  # a run list masks, as every list does
    assert not [s for s in stuck(env=env, grace_minutes=180) if s["journey"] == "ops"]  # 2 h late only

    now = clock.now()
    assert resume_run(env=env, principal=SYSTEM, run_id=runs[resumed]["id"])["wake_at"] == now.isoformat()
    assert stop_run(env=env, principal=SYSTEM, run_id=runs[stopped]["id"])["status"] == "stopped"
    assert [s["run"] for s in stuck(env=env) if s["journey"] == "ops"] == []
    with pytest.raises(ValidationError, match="already ended"):
        stop_run(env=env, principal=SYSTEM, run_id=runs[stopped]["id"])
    _drive(env, clock, hours=2)

    runs = _run_of(env, "ops")
    assert runs[resumed]["status"] == "done"
    assert (runs[stopped]["status"], runs[stopped]["end_reason"]) == ("stopped", "stopped by operator")
    assert sorted(_sends(env, "ops")) == sorted(
        [("first", resumed, "一"), ("first", stopped, "一"), ("second", resumed, "二")]
    )
    runs = customer_runs(env=env, principal=SYSTEM, customer_no=resumed)
    [shown] = [r for r in runs if r["journey"] == "ops"]
    assert [(s["node"], s["outcome"]) for s in shown["steps"]] == [
        ("first", "queued"),
        ("pause", "next"),
        ("second", "queued"),
    ]
    assert [s["at"] for s in shown["steps"]] == sorted(s["at"] for s in shown["steps"])
    runs = customer_runs(env=env, principal=SYSTEM, customer_no=stopped)
    [halted] = [r for r in runs if r["journey"] == "ops"]
    assert (halted["status"], halted["node"], [s["node"] for s in halted["steps"]]) == (
        "stopped",
        "pause",
        ["first"],
    )


def test_a_stopped_run_sends_nothing_more(world: tuple[Container, VirtualClock]) -> None:
    container = world[0]
    env = container
    _go_live(
        env,
        _journey(
            "halt",
            [
                _send_node("say", "不该发出", "pause"),
                {"id": "pause", "type": "wait", "duration": "1d", "next": "bye"},
                {"id": "bye", "type": "exit"},
            ],
        ),
    )
    [customer] = _customers(container, 1)
    admit(env=env, name="halt", customers=[customer])
    tick(env=env)  # the message is queued, not yet sent; the run waits at `pause`
    [run] = _runs(env, "halt")
    assert [(e["node"], e["status"]) for e in _outbox(env, "halt")] == [("say", "pending")]
    stop_run(env=env, principal=SYSTEM, run_id=run["id"])
    _work(env)
    assert _sends(env, "halt") == []
    [effect] = _outbox(env, "halt")
    assert (effect["status"], effect["attempts"]) == ("skipped", 0)


def test_statistics_count_skipped_actions_of_hold_out_and_of_ended_runs(
    world: tuple[Container, VirtualClock],
) -> None:
    container = world[0]
    env = container
    _go_live(
        env,
        _journey(
            "held_or_stopped",
            [
                _send_node("say", "您好", "pause"),
                {"id": "pause", "type": "wait", "duration": "1d", "next": "bye"},
                {"id": "bye", "type": "exit"},
            ],
            holdout_percent=50,
        ),
    )
    customers = _customers(container, 10)
    admit(env=env, name="held_or_stopped", customers=customers)
    tick(env=env)
    runs = _runs(env, "held_or_stopped")
    treated = [r for r in runs if not r["holdout"]]
    held = len(runs) - len(treated)
    assert 0 < held < len(runs)
    stop_run(env=env, principal=SYSTEM, run_id=treated[0]["id"])
    _work(env)
    assert len(_sends(env, "held_or_stopped")) == len(treated) - 1
    [say] = [n for n in statistics(env=env, name="held_or_stopped")["nodes"] if n["node"] == "say"]
    assert say["actions"]["sent"] == len(treated) - 1
    assert say["actions"]["skipped"] == held + 1  # the hold-out's and the stopped run's


# A/B split (last: it admits every customer, and the helpers above pick customers never admitted) -----------


def test_ab_split_follows_the_weights_and_keeps_a_customer_in_one_variant(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    _go_live(
        env,
        _journey(
            "ab_offer",
            [
                {
                    "id": "pick",
                    "type": "ab_split",
                    "variants": [
                        {"name": "A", "weight": 80, "next": "offer_a"},
                        {"name": "B", "weight": 20, "next": "offer_b"},
                    ],
                },
                _send_node("offer_a", "A"),
                _send_node("offer_b", "B"),
            ],
            reentry={"mode": "after_exit"},
        ),
    )
    customers = _all_customers(container)
    assert len(customers) == 200
    assert admit(env=env, name="ab_offer", customers=customers)["admitted"] == 200
    _work(env)
    first = {c: outcome for c, node, outcome, _ in _steps(env, "ab_offer") if node == "pick"}
    assert set(first.values()) == {"variant:A", "variant:B"}
    chose_a = sum(v == "variant:A" for v in first.values())
    assert 140 <= chose_a <= 180  # 80 % of 200, give or take
    sends = {c: node for node, c, _ in _sends(env, "ab_offer")}
    assert sends == {c: "offer_a" if v == "variant:A" else "offer_b" for c, v in first.items()}
    [pick] = [n for n in statistics(env=env, name="ab_offer")["nodes"] if n["node"] == "pick"]
    assert pick["outcomes"] == {"variant:A": chose_a, "variant:B": 200 - chose_a}
    contexts = {r["customer_no"]: r["context"].get("variants") for r in _runs(env, "ab_offer")}
    assert contexts == {c: {"pick": v.removeprefix("variant:")} for c, v in first.items()}

    clock.advance(timedelta(hours=1))
    assert admit(env=env, name="ab_offer", customers=customers)["admitted"] == 200  # after_exit: all ended
    _work(env)
    picks: dict[str, list[str]] = {}
    for c, node, outcome, _ in _steps(env, "ab_offer"):
        if node == "pick":
            picks.setdefault(c, []).append(outcome)
    assert picks == {c: [v, v] for c, v in first.items()}
