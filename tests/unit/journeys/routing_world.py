"""What the journey routing tests share: a journey keeping one inbox row per routed goal event, a stream of
random events of 25 linked customers, and the events kept — so that routing once and only once is a
comparison of two sorted lists."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from touchpoint.bootstrap import Container
from touchpoint.core.events import LogEntry
from touchpoint.governance import SYSTEM
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import journey_inbox

JOURNEY = {
    "name": "subscribers",
    "title": "subscribers",
    "entry": {"type": "api"},
    "start": "hi",
    "nodes": [{"id": "hi", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}],
    # A goal's event is kept for every customer it is routed for: one inbox row per routed event.
    "goal": {"event": "fund_subscribe", "within": "7d"},
}


def publish_journey(env: Container) -> None:
    """Save and publish the journey that keeps the routed goal events."""
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(JOURNEY))
    publish(env=env, principal=SYSTEM, name="subscribers")


def append(env: Container, rng: random.Random, count: int, start: int) -> list[tuple[str, int]]:
    """`count` events of 25 customers, a third of them fund_subscribe; the (customer, ms) of those."""
    sent = []
    for n in range(start, start + count):
        customer = f"C{rng.randrange(25):04d}"
        event = rng.choice(["fund_subscribe", "page_view", "login"])
        ms = int((env.clock.now() + timedelta(seconds=n)).timestamp() * 1000)
        body = {
            "event_id": f"e{n}",
            "kind": "track",
            "event": event,
            "time": ms,
            "distinct_id": customer,
            "properties": {},
            "ids": {"customer_no": customer},
        }
        env.log.append([LogEntry(None, body["event_id"], body)], received_at=env.clock.now())
        if event == "fund_subscribe":
            sent.append((customer, ms))
    return sent


def kept(env: Container) -> list[tuple[str, int]]:
    """The goal events kept, as (customer, ms), sorted."""
    with env.ops.begin() as connection:
        rows = connection.execute(select(journey_inbox.c.customer_no, journey_inbox.c.time)).all()
    return sorted((c, int(t.timestamp() * 1000)) for c, t in rows)
