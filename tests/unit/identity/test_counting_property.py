"""Random identity histories from all four sources: no event is ever counted for more than one person.

Anonymous ids, logins (each SDK's own identify flow), an anonymous id whose value is the login itself, shared
devices, unmerges and the separations they leave, in random order. After the history, the events counted per
person by analytics (events_between) and by an indicator (count over 30 days) must equal a brute-force count
over the stored events resolved through the final identity graph, read straight from its table.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from touchpoint.analytics.events import ANONYMOUS_PERSON, events_between
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.identity.corrections import unmerge
from touchpoint.identity.service import process_log, sync_customers
from touchpoint.indicators.model import IndicatorDef, Window
from touchpoint.indicators.service import compute_indicators
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.ingest.collector.model import Batch
from touchpoint.ingest.collector.service import collect
from touchpoint.ingest.compactor import compact
from touchpoint.store.operational.schema import identity_links

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 Beijing, a Tuesday
CUSTOMERS = ["C1", "C2", "C3", "C4"]
DEVICES = ["d1", "d2", "d3", "C2"]  # "C2" as a device value: an anonymous id that is also a login
SOURCES = ["sensors", "segment", "posthog", "native"]
EVENT = "view"

anonymous_event = st.tuples(st.just("anon"), st.sampled_from(SOURCES), st.sampled_from(DEVICES))
login_flow = st.tuples(
    st.just("login"), st.sampled_from(SOURCES), st.sampled_from(DEVICES), st.sampled_from(CUSTOMERS)
)
login_event = st.tuples(st.just("known"), st.sampled_from(SOURCES), st.sampled_from(CUSTOMERS))
detach = st.tuples(st.just("unmerge"), st.sampled_from(DEVICES))
histories = st.lists(st.one_of(anonymous_event, login_flow, login_event, detach), min_size=1, max_size=25)


class World:
    """One container and the messages sent to it; times advance a minute per message."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.sent = 0

    def _ms(self) -> int:
        self.sent += 1
        return int((NOW - timedelta(hours=2) + timedelta(minutes=self.sent)).timestamp() * 1000)

    def _iso(self) -> str:
        return datetime.fromtimestamp(self._ms() / 1000, UTC).isoformat()

    def send(self, source: str, messages: list[dict[str, Any]]) -> None:
        batch = Batch(source=source, project="default", messages=messages, key="k")  # type: ignore[arg-type]
        result = collect(env=self.container, batch=batch)
        assert result.quarantined == 0, messages

    def anonymous(self, source: str, device: str) -> None:
        message: dict[str, Any] = {
            "sensors": {
                "type": "track",
                "event": EVENT,
                "distinct_id": device,
                "time": self._ms(),
                "properties": {"$is_login_id": False},
            },
            "segment": {"type": "track", "event": EVENT, "anonymousId": device, "timestamp": self._iso()},
            "posthog": {"event": EVENT, "distinct_id": device, "timestamp": self._iso(), "properties": {}},
            "native": {"event": EVENT, "distinct_id": device, "time": self._ms()},
        }[source]
        self.send(source, [message])

    def login(self, source: str, device: str, customer: str) -> None:
        """Each SDK's identify flow: the device id and the login in one message."""
        message: dict[str, Any] = {
            "sensors": {
                "type": "track_signup",
                "event": "$SignUp",
                "distinct_id": customer,
                "original_id": device,
                "time": self._ms(),
                "properties": {},
            },
            "segment": {
                "type": "identify",
                "userId": customer,
                "anonymousId": device,
                "timestamp": self._iso(),
                "traits": {},
            },
            "posthog": {
                "event": "$identify",
                "distinct_id": customer,
                "timestamp": self._iso(),
                "properties": {"$anon_distinct_id": device},
            },
            "native": {"event": "login", "customer_no": customer, "anonymous_id": device, "time": self._ms()},
        }[source]
        self.send(source, [message])

    def known(self, source: str, customer: str) -> None:
        message: dict[str, Any] = {
            "sensors": {
                "type": "track",
                "event": EVENT,
                "distinct_id": customer,
                "time": self._ms(),
                "properties": {"$is_login_id": True},
            },
            "segment": {"type": "track", "event": EVENT, "userId": customer, "timestamp": self._iso()},
            "posthog": {"event": EVENT, "distinct_id": customer, "timestamp": self._iso(), "properties": {}},
            "native": {"event": EVENT, "customer_no": customer, "time": self._ms()},
        }[source]
        self.send(source, [message])

    def settle(self) -> None:
        """Apply everything sent so far to the graph and the analytical store."""
        c = self.container
        sync_customers(env=c, analytics=c.analytics)
        while process_log(env=c, log=c.log) > 0:
            pass
        while compact(
            log=c.log, ops=c.ops, analytics=c.analytics, clock=c.clock, calendar=c.calendar
        ).records:
            pass


def brute_force(container: Container) -> Counter[str]:
    """Per person (customer number, else `~uid`), the stored `view` events, resolved by reading the final
    graph's links: the event's own customer number; else the distinct id as a customer number; else as an
    anonymous id; else under any other type (by type name)."""
    with container.ops.begin() as connection:
        links = [tuple(r) for r in connection.execute(select(identity_links))]
    by_value: dict[str, list[tuple[str, int]]] = {}
    customer_of_uid: dict[int, str] = {}
    for id_type, value, uid, _ in links:
        by_value.setdefault(value, []).append((id_type, int(uid)))
        if id_type == "customer_no":
            customer_of_uid[int(uid)] = value
    rank = {"customer_no": "0", "anonymous_id": "1"}
    counts: Counter[str] = Counter()
    for event in container.analytics.table("events").to_pyarrow().to_pylist():
        if event["event"] != EVENT:
            continue
        if event["customer_no"]:
            counts[event["customer_no"]] += 1
            continue
        candidates = sorted(by_value.get(event["distinct_id"], []), key=lambda t: rank.get(t[0], "2" + t[0]))
        if not candidates:
            counts[event["distinct_id"]] += 1
            continue
        uid = candidates[0][1]
        counts[customer_of_uid.get(uid, f"{ANONYMOUS_PERSON}{uid}")] += 1
    return counts


def _import_customers(container: Container) -> None:
    import_arrow(
        env=container,
        principal=SYSTEM,
        table="customers",
        data=pa.table({"customer_no": CUSTOMERS, "name": CUSTOMERS}),
        options=ImportOptions(business_date=date(2026, 3, 10)),
        source_name="customers",
    )


def _check(world: World) -> None:
    container = world.container
    expected = brute_force(container)
    stored = sum(
        1 for e in container.analytics.table("events").to_pyarrow().to_pylist() if e["event"] == EVENT
    )
    assert sum(expected.values()) == stored  # every event for exactly one person
    if not stored:
        return
    day = date(2026, 3, 10)
    frame = events_between(container, [EVENT], day - timedelta(days=1), day).to_pandas()
    assert len(frame) == stored  # the join added no rows
    assert Counter(frame["person"].tolist()) == expected
    definition = IndicatorDef(
        name="views_30d",
        title="views",
        source="events",
        event=EVENT,
        aggregation="count",
        window=Window(kind="days", n=30),
    )
    values = compute_indicators(env=container, day=day, definitions=[definition]).to_pylist()
    got = {r["customer_no"]: r["views_30d"] for r in values}
    assert got == {c: expected.get(c, 0) for c in CUSTOMERS}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(
    history=[
        ("anon", "sensors", "C2"),
        ("anon", "sensors", "C2"),
        ("login", "sensors", "C2", "C2"),
        ("known", "sensors", "C2"),
    ]
)  # Sensors: the login id first seen as an anonymous id
@example(
    history=[
        ("anon", "posthog", "d1"),
        ("anon", "posthog", "C2"),
        ("login", "posthog", "C2", "C2"),
        ("known", "posthog", "C2"),
    ]
)  # PostHog: capture("C2") then $identify C2
@example(
    history=[
        ("anon", "native", "d1"),
        ("login", "segment", "d1", "C1"),
        ("login", "posthog", "d1", "C2"),
        ("login", "native", "d1", "C3"),
        ("anon", "sensors", "d1"),
    ]
)  # a kiosk becomes shared
@example(
    history=[
        ("anon", "segment", "d1"),
        ("login", "segment", "d1", "C1"),
        ("unmerge", "d1"),
        ("login", "segment", "d1", "C1"),
        ("anon", "segment", "d1"),
    ]
)  # unmerge is remembered
@given(history=histories)
def test_every_event_counts_for_exactly_one_person(history: list[tuple[str, ...]]) -> None:
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(NOW))
        try:
            _import_customers(container)
            world = World(container)
            for step in history:
                if step[0] == "anon":
                    world.anonymous(step[1], step[2])
                elif step[0] == "login":
                    world.login(step[1], step[2], step[3])
                elif step[0] == "known":
                    world.known(step[1], step[2])
                else:
                    world.settle()
                    # a device never linked to anyone else has nothing to detach
                    with contextlib.suppress(NotFoundError, ValidationError):
                        unmerge(env=container, principal=SYSTEM, value=step[1])
            world.settle()
            _check(world)
        finally:
            container.close()
