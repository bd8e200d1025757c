"""Channels deliver each journey step exactly once, through every provider, to real local gateways.

Two worker processes tick and dispatch one journey (push → SMS → WeChat → WeCom → email → webhook → inbox)
for 20 customers on one PostgreSQL schema, against one FakeGateway and one FakeSmtp started here: SKIP LOCKED
must keep the dispatchers off each other's effects, so every (customer, channel) step reaches its gateway
once, is recorded once as a send and once as a `message_sent` event. And a gateway that takes a message but
answers after the provider's time-out is retried under the same idempotency key, so it delivers it once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import tomli_w
from sqlalchemy import Table, func, select

from provider_servers import FakeGateway, FakeSmtp, Reply
from support import postgres_schema_url
from touchpoint.bootstrap import Container, build
from touchpoint.channels.providers.email import message_id
from touchpoint.channels.service import activate_template, parse_template, save_template
from touchpoint.config import CONFIG_FILE_NAME, load_settings
from touchpoint.core.clock import SystemClock, VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import admit, tick
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import (
    channel_events,
    channel_inbox,
    channel_sends,
    journey_attempts,
    journey_outbox,
    journey_runs,
)

CUSTOMERS = [f"C{i:06d}" for i in range(20)]
CHANNELS = ("push", "sms", "wechat", "wecom", "email", "webhook", "inbox")
KEYED_PATHS = {"push": "/push", "sms": "/sms", "wechat": "/cgi-bin/message/template/send", "webhook": "/hook"}
WECOM_SEND = "/cgi-bin/message/send"  # WeCom takes no idempotency key: counted by recipient instead
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Beijing on a trading day
WORKER = """
import sys, time
from pathlib import Path
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import tick
container = build(load_settings(Path(sys.argv[1]), database_url=sys.argv[2]), migrate=False)
env = container
print("ready", flush=True)
while True:
    moved = tick(env=env, limit=5)
    sent = dispatch(env=env, limit=3)
    if sent:
        print("sent", sent, flush=True)
    if not moved and not sent:
        time.sleep(0.02)
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (the two-dispatcher test needs row locks SQLite does not have)."""
    base = os.environ.get("TOUCHPOINT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TOUCHPOINT_TEST_POSTGRES_URL is not set")
    yield from postgres_schema_url(base)


def _channels(gateway: FakeGateway, relay: FakeSmtp) -> dict[str, dict[str, Any]]:
    return {
        "push": {"provider": "http_push", "url": gateway.url_for("/push")},
        "sms": {"provider": "http_sms", "url": gateway.url_for("/sms"), "signature": "【演示证券】"},
        "wechat": {
            "provider": "wechat_mp",
            "appid": "wx-demo",
            "secret": "wx-secret",
            "api_base": gateway.url,
        },
        "wecom": {"provider": "wecom", "corpid": "ww-demo", "corpsecret": "ww-secret", "agentid": 1}
        | {"api_base": gateway.url},
        "email": {"provider": "smtp", "host": relay.host, "port": relay.port, "ca_file": relay.cert_path}
        | {"username": FakeSmtp.USER, "password": FakeSmtp.PASSWORD, "from_address": "noreply@demo-sec.cn"},
        "webhook": {"provider": "webhook", "url": gateway.url_for("/hook"), "secret": "hook-secret"},
    }


def _prepare(container: Container, channels: Sequence[str], customers: list[str]) -> None:
    """Customers with an address on every channel, an active template per channel, one live journey."""
    table = pa.table(
        {
            "customer_no": customers,
            "phone": [f"138{i:08d}" for i in range(len(customers))],
            "wechat_openid": [f"openid-{c}" for c in customers],
            "advisor_id": [f"A{c}" for c in customers],  # one advisor each, to count WeCom sends by recipient
            "consent_marketing": [True] * len(customers),
            "email": [f"{c.lower()}@example.com" for c in customers],
        }
    )
    import_arrow(
        env=container,
        principal=SYSTEM,
        table="customers",
        data=table,
        options=ImportOptions(force=True),
        source_name="customers",
    )
    for channel in channels:
        # Urgent service notices: no consent, caps or quiet hours, which the wall-clock workers might hit.
        body: dict[str, Any] = {
            "name": f"notice_{channel}",
            "title": f"{channel} 对账单通知",
            "channel": channel,
            "classification": "service",
            "urgent": True,
            "subject": "对账单通知",
            "body": "客户{{ customer_no }}：您的月度对账单已生成。",
        }
        if channel in ("sms", "wechat"):
            body |= {"provider_template_id": "SMS_2026001", "params": {"customer": "{{ customer_no }}"}}
        save_template(env=container, principal=SYSTEM, template=parse_template(body))
        activate_template(env=container, principal=SYSTEM, name=f"notice_{channel}")
    nodes: list[dict[str, Any]] = [
        {"id": c, "type": "action", "action": {"kind": "send", "channel": c, "template": f"notice_{c}"}}
        for c in channels
    ]
    for node, after in zip(nodes, channels[1:], strict=False):
        node["next"] = after
    journey = {"name": "notices", "title": "对账单", "entry": {"type": "api"}, "start": channels[0]}
    env = container
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(journey | {"nodes": nodes}))
    publish(env=env, principal=SYSTEM, name="notices")


def _rows(container: Container, table: Table) -> list[dict[str, Any]]:
    with container.ops.begin() as connection:
        return [dict(row) for row in connection.execute(select(table)).mappings()]


def _start(home: Path, url: str, count: int) -> list[subprocess.Popen[str]]:
    """Worker processes, started together, once each is ready to poll."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(home), url],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for _ in range(count)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
    except BaseException:
        _stop(children)
        raise
    return children


def _stop(children: list[subprocess.Popen[str]]) -> None:
    for child in children:
        child.kill()  # SIGKILL, by pid: only the workers this test started
        child.wait()


def _settle(container: Container, seconds: float = 40) -> None:
    """Wait until every run is over and no effect is pending (or give up: the assertions then say why)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with container.ops.begin() as connection:
            busy = connection.execute(
                select(func.count()).select_from(journey_runs).where(journey_runs.c.status != "done")
            ).scalar_one()
            busy += connection.execute(
                select(func.count()).select_from(journey_outbox).where(journey_outbox.c.status == "pending")
            ).scalar_one()
        if not busy:
            return
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.postgres
def test_each_provider_delivers_each_step_exactly_once_with_two_dispatchers(
    tmp_path: Path, postgres_url: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with FakeGateway() as gateway, FakeSmtp() as relay:
        (home / CONFIG_FILE_NAME).write_text(tomli_w.dumps({"channels": _channels(gateway, relay)}))
        container = build(load_settings(home, database_url=postgres_url), clock=SystemClock())
        _prepare(container, CHANNELS, CUSTOMERS)
        workers = _start(home, postgres_url, 2)
        try:
            admit(env=container, name="notices", customers=CUSTOMERS)  # both are polling now
            _settle(container)
        finally:
            _stop(workers)
        concluded = [
            sum(int(line.split()[1]) for line in w.stdout or [] if line.startswith("sent")) for w in workers
        ]
        outbox, sends = _rows(container, journey_outbox), _rows(container, channel_sends)
        events, inbox = _rows(container, channel_events), _rows(container, channel_inbox)
        container.close()
    steps = {(r["customer_no"], r["payload"]["channel"]) for r in outbox}
    assert len(outbox) == len(steps) == len(CUSTOMERS) * len(CHANNELS)
    assert steps == {(customer, channel) for customer in CUSTOMERS for channel in CHANNELS}
    keys = {channel: [r["id"] for r in outbox if r["payload"]["channel"] == channel] for channel in CHANNELS}
    for channel, path in KEYED_PATHS.items():  # each key posted once, so accepted once
        assert Counter(r.key for r in gateway.requests_to(path)) == Counter(keys[channel]), channel
    accepted = [key for channel in KEYED_PATHS for key in keys[channel]]
    assert sorted(gateway.deliveries()) == sorted(accepted)
    assert gateway.delivered_keys() == set(accepted)
    wecom = Counter(r.json["touser"] for r in gateway.requests_to(WECOM_SEND))
    assert wecom == Counter(f"A{c}" for c in CUSTOMERS)
    assert Counter(str(m.message["Message-ID"]) for m in relay.messages) == Counter(
        map(message_id, keys["email"])
    )
    assert sorted(m.rcpt_tos[0] for m in relay.messages) == sorted(
        f"{c.lower()}@example.com" for c in CUSTOMERS
    )
    assert sorted((r["id"], r["customer_no"]) for r in inbox) == sorted(
        (r["id"], r["customer_no"]) for r in outbox if r["payload"]["channel"] == "inbox"
    )
    assert Counter((r["status"], r["attempts"]) for r in outbox) == {("sent", 1): len(outbox)}
    # An in-app message is delivered as it is stored: its send says so, with one delivered event.
    inbox_ids = {r["id"] for r in outbox if r["payload"]["channel"] == "inbox"}
    assert {r["id"]: r["status"] for r in sends} == {
        r["id"]: "delivered" if r["id"] in inbox_ids else "sent" for r in outbox
    }
    assert Counter((r["send_id"], r["event"]) for r in events) == Counter(
        [(r["id"], "message_sent") for r in outbox] + [(i, "message_delivered") for i in inbox_ids]
    )
    assert sum(concluded) == len(outbox)
    assert min(concluded) > 0, concluded  # both dispatchers took a share


def test_a_time_out_then_success_is_not_sent_twice(tmp_path: Path, database_url: str) -> None:
    clock = VirtualClock(START)
    with FakeGateway() as gateway:
        gateway.script("/hook", Reply(delay=1.0))  # taken at once, answered after the client gave up
        hook = {"provider": "webhook", "url": gateway.url_for("/hook"), "secret": "s", "timeout_seconds": 0.3}
        settings = load_settings(tmp_path / "home", database_url=database_url, channels={"webhook": hook})
        container = build(settings, clock=clock)
        try:
            _prepare(container, ["webhook"], ["C000001"])
            env = container
            admit(env=env, name="notices", customers=["C000001"])
            assert tick(env=env) == 1
            assert dispatch(env=env) == 0
            (first,) = _rows(container, journey_outbox)
            assert (first["status"], first["attempts"]) == ("pending", 1)
            assert "timed out" in first["last_error"]
            assert _rows(container, channel_sends) == []  # an unknown outcome is not recorded as a send
            assert dispatch(env=env) == 0  # not due before the back-off
            clock.advance(timedelta(minutes=2))
            assert dispatch(env=env) == 1
            (row,) = _rows(container, journey_outbox)
            (send,) = _rows(container, channel_sends)
            attempts = sorted((r["attempt"], r["ok"]) for r in _rows(container, journey_attempts))
        finally:
            container.close()
    assert [r.headers.get("idempotency-key") for r in gateway.requests_to("/hook")] == [row["id"], row["id"]]
    assert gateway.deliveries() == [row["id"]]
    assert gateway.delivered_keys() == {row["id"]}
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert attempts == [(1, False), (2, True)]
    assert (send["id"], send["status"]) == (row["id"], "sent")


DYING_DISPATCHER = """
import os, signal, sys
from pathlib import Path
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.journeys import dispatch as journeys_dispatch

def killed(*args, **kwargs):
    # kill -9 of this very process after every provider answered, before the outcomes' transaction begins
    os.kill(os.getpid(), signal.SIGKILL)

journeys_dispatch._conclude = killed
container = build(load_settings(Path(sys.argv[1]), database_url=sys.argv[2]), migrate=False)
journeys_dispatch.dispatch(env=container)
"""
LEASE_SECONDS = 4  # calls may start for half of it: a cold process reads its snapshots first


@pytest.mark.slow
def test_a_dispatcher_killed_between_the_answer_and_its_record_resends_once_after_the_lease(
    tmp_path: Path, database_url: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    customers = CUSTOMERS[:4]
    with FakeGateway() as gateway, FakeSmtp() as relay:
        channels = {
            name: config for name, config in _channels(gateway, relay).items() if name in ("sms", "webhook")
        }
        settings = {"channels": channels, "dispatch_lease_seconds": LEASE_SECONDS}
        (home / CONFIG_FILE_NAME).write_text(tomli_w.dumps(settings))
        container = build(load_settings(home, database_url=database_url), clock=SystemClock())
        try:
            _prepare(container, ["sms", "webhook"], customers)
            env = container
            admit(env=env, name="notices", customers=customers)
            assert tick(env=env) == len(customers)
            dying = subprocess.run(
                [sys.executable, "-c", DYING_DISPATCHER, str(home), database_url],
                capture_output=True,
                timeout=120,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert dying.returncode == -9, dying.stderr[-2000:]
            claimed = _rows(container, journey_outbox)
            sending = _rows(container, channel_sends)
            answered = gateway.deliveries()
            [worker] = _start(home, database_url, 1)
            try:
                _settle(container)
            finally:
                _stop([worker])
            outbox, sends = _rows(container, journey_outbox), _rows(container, channel_sends)
            events = _rows(container, channel_events)
        finally:
            container.close()
    # The dying dispatcher's gateway calls went through; nothing of their outcome was recorded.
    keys = sorted(r["id"] for r in claimed)
    assert sorted(answered) == keys
    assert {(r["status"], r["attempts"]) for r in claimed} == {("pending", 0)}
    assert all(r["claimed_by"] and r["lease_until"] for r in claimed)
    assert sorted((s["id"], s["status"]) for s in sending) == [(k, "sending") for k in keys]
    # After the lease each was claimed again and posted again under the same key: one message each.
    for channel, path in (("sms", "/sms"), ("webhook", "/hook")):
        mine = [r["id"] for r in outbox if r["payload"]["channel"] == channel]
        assert Counter(r.key for r in gateway.requests_to(path)) == Counter(dict.fromkeys(mine, 2)), channel
    assert sorted(gateway.deliveries()) == keys
    assert {(r["status"], r["attempts"], r["claimed_by"]) for r in outbox} == {("sent", 1, None)}
    assert sorted((s["id"], s["status"]) for s in sends) == [(k, "sent") for k in keys]
    assert Counter((e["send_id"], e["event"]) for e in events) == Counter((k, "message_sent") for k in keys)
