"""Journey scenarios on a virtual clock over a small demo brokerage: every node type, goals, exits, re-entry,
hold-out, versions and pausing; sends counted in the log channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from support import demo_world
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.core.events import LogEntry
from touchpoint.governance import SYSTEM
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import admit, admit_segments, route_events, tick
from touchpoint.journeys.service import parse_journey, publish, save_journey, set_status
from touchpoint.segments.service import SegmentDef, current_members, save_segment
from touchpoint.store.operational.schema import channel_log, journey_outbox, journey_runs
from unit.journeys.passes import drain, route

END = date(2026, 3, 31)
START = datetime(2026, 3, 31, 1, tzinfo=UTC)  # 09:00 Beijing


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, VirtualClock]]:
    yield from demo_world(request, tmp_path_factory.mktemp("journeys") / "home", _save_rich)


def _save_rich(container: Container) -> None:
    rich = SegmentDef(name="rich", title="rich", rule={"tag": "asset_tier", "in": ["高净值", "富裕"]})
    save_segment(env=container, principal=SYSTEM, segment=rich)


def _journey(name: str, nodes: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "entry": settings.pop("entry", {"type": "api"}),
        "start": nodes[0]["id"],
        "nodes": nodes,
        **settings,
    }


def _go_live(env: JourneyEnv, body: dict[str, Any]) -> None:
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))
    publish(env=env, principal=SYSTEM, name=body["name"])


def _drive(env: JourneyEnv, clock: VirtualClock, hours: float, step: float = 0.5) -> None:
    """Run the worker's journey duties while the virtual clock moves on `hours`."""
    end = clock.now() + timedelta(hours=hours)
    while True:
        route(env)
        drain(lambda: tick(env=env), "tick")
        drain(lambda: dispatch(env=env), "dispatch")
        if clock.now() >= end:
            return
        clock.advance(timedelta(hours=step))


def _send(env: JourneyEnv, clock: VirtualClock, customer: str, event: str, **props: Any) -> None:
    ms = int(clock.now().timestamp() * 1000)
    body = {
        "event_id": f"{event}-{customer}-{ms}",
        "kind": "track",
        "event": event,
        "time": ms,
        "distinct_id": customer,
        "properties": props,
        "ids": {"customer_no": customer},
    }
    env.log.append([LogEntry(None, body["event_id"], body)], received_at=clock.now())


def _runs(env: JourneyEnv, journey: str) -> list[Any]:
    with env.ops.begin() as connection:
        return [
            dict(r)
            for r in connection.execute(
                select(journey_runs).where(journey_runs.c.journey == journey)
            ).mappings()
        ]


def _sends(env: JourneyEnv, journey: str) -> list[Any]:
    with env.ops.begin() as connection:
        query = (
            select(journey_outbox.c.node, channel_log.c.customer_no, channel_log.c.content)
            .join(channel_log, channel_log.c.outbox_id == journey_outbox.c.id)
            .where(journey_outbox.c.journey == journey)
        )
        return [tuple(r) for r in connection.execute(query)]


def test_segment_entry_waits_splits_and_sends_once_per_customer(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    body = _journey(
        "welcome",
        [
            {"id": "pause", "type": "wait", "duration": "1d", "next": "by_tier"},
            {
                "id": "by_tier",
                "type": "split",
                "default": "plain",
                "branches": [
                    {"name": "rich", "rule": {"tag": "asset_tier", "in": ["高净值", "富裕"]}, "next": "vip"}
                ],
            },
            {
                "id": "vip",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "尊敬的{{ customer.name }}"},
            },
            {
                "id": "plain",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "您好"},
            },
        ],
        entry={"type": "segment", "segment": "rich"},
    )
    _go_live(env, body)
    admitted = admit_segments(env=env)
    _, members = current_members(env=container, name="rich")
    assert admitted == len(members) > 0
    _drive(env, clock, hours=12)
    assert _sends(env, "welcome") == []  # still waiting out the day
    assert {r["status"] for r in _runs(env, "welcome")} == {"waiting"}
    _drive(env, clock, hours=14)
    sends = _sends(env, "welcome")
    assert len(sends) == admitted
    assert {node for node, _, _ in sends} == {"vip"}  # every member of `rich` is rich
    assert all(content.startswith("尊敬的") and len(content) > 3 for _, _, content in sends)
    assert {r["status"] for r in _runs(env, "welcome")} == {"done"}
    assert admit_segments(env=env) == 0  # a once-only entry admits once
    _drive(env, clock, hours=1)
    assert len(_sends(env, "welcome")) == admitted


def test_a_new_customers_event_waits_for_one_id_before_it_is_routed(
    world: tuple[Container, VirtualClock],
) -> None:
    """The first event of a customer One ID has not linked yet is not dropped by journey routing: routing
    does not pass One ID's committed offset (the two consumers run in separate passes, or processes)."""
    container, clock = world
    env = container
    body = _journey(
        "first_login",
        [{"id": "hi", "type": "action", "action": {"kind": "send", "channel": "log", "text": "欢迎"}}],
        entry={"type": "event", "event": "login"},
    )
    _go_live(env, body)
    newcomer = "C_NEW_0001"  # in no import: only its own event will tell One ID about it
    route(env)  # whatever other tests left in the log
    _send(env, clock, newcomer, "login")
    assert route_events(env=env) == 0  # One ID has not read it: routing waits
    route(env)
    assert [r["customer_no"] for r in _runs(env, "first_login")] == [newcomer]


def test_wait_for_event_counts_an_event_that_came_before_the_node(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    body = _journey(
        "ipo_payment",
        [
            {"id": "settle", "type": "wait", "duration": "2h", "next": "paid"},
            {
                "id": "paid",
                "type": "wait_for_event",
                "event": "ipo_payment",
                "match": {"product_code": "payload.product_code"},
                "timeout": "4h",
                "on_event": "thanks",
                "on_timeout": "remind",
            },
            {
                "id": "thanks",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "已缴款"},
            },
            {
                "id": "remind",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "请缴款 {{ payload.product_code }}"},
            },
        ],
    )
    _go_live(env, body)
    customers = _customers(container, 3)
    admit(
        env=env,
        name="ipo_payment",
        customers=customers,
        payloads={c: {"product_code": "732001"} for c in customers},
    )
    _drive(env, clock, hours=0.5)
    _send(env, clock, customers[0], "ipo_payment", product_code="732001")  # before the wait node is reached
    _send(env, clock, customers[1], "ipo_payment", product_code="999999")  # another product: not this one
    _drive(env, clock, hours=3)
    _send(env, clock, customers[1], "ipo_payment", product_code="732001")  # while waiting at the node
    _drive(env, clock, hours=5)
    by_customer = {customer: (node, content) for node, customer, content in _sends(env, "ipo_payment")}
    assert by_customer[customers[0]][0] == "thanks"
    assert by_customer[customers[1]][0] == "thanks"
    assert by_customer[customers[2]] == ("remind", "请缴款 732001")


def test_goal_converts_and_holdout_receives_nothing(world: tuple[Container, VirtualClock]) -> None:
    container, clock = world
    env = container
    body = _journey(
        "nudge",
        [
            {
                "id": "ask",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "来看看基金"},
            },
            {"id": "later", "type": "wait", "duration": "3d", "next": "again"},
            {
                "id": "again",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "再看看"},
            },
        ],
        goal={"event": "fund_subscribe", "within": "7d"},
        holdout_percent=30,
    )
    body["nodes"][0]["next"] = "later"
    _go_live(env, body)
    customers = _customers(container, 60)
    result = admit(env=env, name="nudge", customers=customers)
    assert 0 < result["holdout"] < 60
    _drive(env, clock, hours=1)
    runs = {r["customer_no"]: r for r in _runs(env, "nudge")}
    treated = [c for c in customers if not runs[c]["holdout"]]
    held = [c for c in customers if runs[c]["holdout"]]
    assert {c for _, c, _ in _sends(env, "nudge")} == set(treated)
    _send(env, clock, treated[0], "fund_subscribe", amount=1000)
    _send(env, clock, held[0], "fund_subscribe", amount=1000)
    _drive(env, clock, hours=80)
    runs = {r["customer_no"]: r for r in _runs(env, "nudge")}
    assert runs[treated[0]]["status"] == "converted"
    assert runs[held[0]]["status"] == "converted"
    assert runs[treated[1]]["status"] == "done"
    sends = _sends(env, "nudge")
    assert sum(1 for _, c, _ in sends if c == treated[0]) == 1  # converted before the second message
    assert sum(1 for _, c, _ in sends if c == treated[1]) == 2
    assert not any(c in held for _, c, _ in sends)


@pytest.mark.parametrize(
    ("mode", "interval", "second_admits"),
    [("never", None, 0), ("after_exit", None, 1), ("interval", "10d", 0)],
)
def test_reentry_rules(
    world: tuple[Container, VirtualClock], mode: str, interval: str | None, second_admits: int
) -> None:
    container, clock = world
    env = container
    name = f"again_{mode}"
    reentry = {"mode": mode} | ({"interval": interval} if interval else {})
    _go_live(env, _journey(name, [{"id": "bye", "type": "exit"}], reentry=reentry))
    customer = _customers(container, 1)
    assert admit(env=env, name=name, customers=customer)["admitted"] == 1
    assert admit(env=env, name=name, customers=customer)["admitted"] == 0  # never two runs at once
    _drive(env, clock, hours=0.5)
    assert admit(env=env, name=name, customers=customer)["admitted"] == second_admits


def test_pause_holds_runs_and_a_new_version_leaves_runs_in_flight_on_theirs(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    env = container
    nodes = [
        {"id": "wait", "type": "wait", "duration": "2h", "next": "say"},
        {"id": "say", "type": "action", "action": {"kind": "send", "channel": "log", "text": "v1"}},
    ]
    _go_live(env, _journey("versions", nodes))
    first = _customers(container, 2)
    admit(env=env, name="versions", customers=first[:1])
    set_status(env=env, principal=SYSTEM, name="versions", to="paused")
    _drive(env, clock, hours=3)
    assert _sends(env, "versions") == []  # held at the wait while paused
    set_status(env=env, principal=SYSTEM, name="versions", to="live")
    nodes[1]["action"]["text"] = "v2"
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(_journey("versions", nodes)))
    publish(env=env, principal=SYSTEM, name="versions")
    admit(env=env, name="versions", customers=first[1:])
    _drive(env, clock, hours=3)
    assert sorted(content for _, _, content in _sends(env, "versions")) == ["v1", "v2"]


def test_invalid_journeys_are_refused_naming_the_node(world: tuple[Container, VirtualClock]) -> None:
    env = world[0]
    cases = [
        (
            [{"id": "a", "type": "wait", "duration": "1d", "next": "zz"}],
            "nodes[0] (a).next: unknown node 'zz'",
        ),
        ([{"id": "a", "type": "exit"}, {"id": "b", "type": "exit"}], "nodes[1] (b): unreachable"),
        (
            [
                {
                    "id": "a",
                    "type": "split",
                    "default": "a",
                    "branches": [{"name": "x", "rule": {"segment": "rich"}, "next": "a"}],
                }
            ],
            "cycle without a wait",
        ),
        (
            [
                {
                    "id": "a",
                    "type": "wait_for_event",
                    "event": "nope",
                    "timeout": "1d",
                    "on_event": "b",
                    "on_timeout": "b",
                },
                {"id": "b", "type": "exit"},
            ],
            "nodes[0] (a).event: unknown event 'nope'",
        ),
        (
            [
                {
                    "id": "a",
                    "type": "action",
                    "action": {"kind": "send", "channel": "pigeon", "template": "pigeon_post"},
                }
            ],
            "unknown channel 'pigeon'",
        ),
    ]
    for nodes, fault in cases:
        with pytest.raises(ValidationError) as caught:
            save_journey(env=env, principal=SYSTEM, journey=parse_journey(_journey("bad", nodes)))
        assert fault in str(caught.value)


def _customers(container: Container, n: int) -> list[str]:
    with container.ops.begin() as connection:
        taken = {r for (r,) in connection.execute(select(journey_runs.c.customer_no))}
    numbers = [c for c in _all_customers(container) if c not in taken]
    return numbers[:n]


def _all_customers(container: Container) -> list[str]:
    analytics = container.analytics
    day = analytics.latest_partition_on_or_before("customers", END)
    return sorted(analytics.read_partition("customers", day)["customer_no"].to_pylist())


def test_a_segment_that_cannot_be_evaluated_holds_back_no_other_journey(
    world: tuple[Container, VirtualClock], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Journeys are admitted in name order: one whose segment fails (here: a stored rule an upgrade now
    refuses) is logged and tried again next time, and the journeys after it are admitted meanwhile."""
    container, _ = world
    env = container
    real = current_members

    def failing_for_broken(*, env: Any, name: str) -> Any:
        if name == "broken":
            raise ValidationError("attribute branch_id is text, not 31.5")
        return real(env=env, name=name)

    broken = SegmentDef(name="broken", title="broken", rule={"tag": "asset_tier", "in": ["高净值", "富裕"]})
    save_segment(env=container, principal=SYSTEM, segment=broken)
    monkeypatch.setattr("touchpoint.journeys.runtime.current_members", failing_for_broken)
    send = [{"id": "hi", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}]
    _go_live(env, _journey("a_first", send, entry={"type": "segment", "segment": "broken"}))
    _go_live(env, _journey("b_second", send, entry={"type": "segment", "segment": "rich"}))
    _, members = current_members(env=container, name="rich")
    with caplog.at_level("ERROR", logger="touchpoint.journeys"):
        assert admit_segments(env=env) == len(members) > 0
    assert "journey a_first: segment broken could not be evaluated" in caplog.text
    context, _ = current_members(env=container, name="rich")
    assert {r["customer_no"] for r in _runs(env, "b_second")} == set(context.customer_numbers(members))
    assert _runs(env, "a_first") == []
    monkeypatch.setattr("touchpoint.journeys.runtime.current_members", real)
    assert admit_segments(env=env) == len(members)  # tried again, now that it can be evaluated
    assert len(_runs(env, "a_first")) == len(members)
