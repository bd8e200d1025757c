"""Send-time policies through the journey dispatcher to a local SMS gateway: suitability with its evidence,
consent (service notices regardless), caps with journey priority, quiet hours that delay, receipts, tracked
links, unsubscribes and the inbox — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from provider_servers import FakeGateway
from support import api_client
from touchpoint.bootstrap import Container, build
from touchpoint.channels import audience, feedback, service
from touchpoint.channels.providers.base import Delivery, OutboundMessage, SendContext
from touchpoint.channels.providers.webhook import WebhookConfig, WebhookProvider
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import sync_customers
from touchpoint.ingest.service import ImportOptions, import_arrow
from touchpoint.journeys import dispatch as journeys_dispatch
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import admit, tick
from touchpoint.journeys.service import customer_runs, parse_journey, publish, save_journey
from touchpoint.store.operational.schema import (
    channel_counters,
    channel_events,
    channel_sends,
    journey_attempts,
    journey_outbox,
)
from unit.journeys.passes import drain, route

DAY = date(2026, 3, 31)
TOKEN = "receipts-0123456789abcdef"
RECEIPTS = f"/api/v1/channels/sms/receipts?token={TOKEN}"
NOON = datetime(2026, 3, 31, 4, tzinfo=UTC)  # 12:00 Beijing
CUSTOMERS = [
    # number, risk level, assessed, investor type, consent, phone
    ("C2OK", "C2", "2026-01-05", "ordinary", True, "13800000001"),
    ("C4OK", "C4", "2026-01-05", "ordinary", True, "13800000002"),
    ("C5OLD", "C5", "2023-01-05", "ordinary", True, "13800000003"),
    ("PRO", "C1", "2026-01-05", "professional", True, "13800000004"),
    ("NOCONSENT", "C3", "2026-01-05", "ordinary", False, "13800000005"),
]
PROMO = {
    "name": "fund_promo",
    "title": "基金推荐",
    "channel": "sms",
    "classification": "marketing",
    "product": "payload.fund_code",
    "provider_template_id": "SMS_1",
    "body": "{{ customer.name }}，{{ product.name }}（{{ product.risk_level }}）现可申购 "
    "https://m.example.cn/f/{{ payload.fund_code }} 。市场有风险，投资需谨慎。",
}
NOTICE = {
    "name": "deduction_failed",
    "title": "定投扣款失败",
    "channel": "sms",
    "classification": "service",
    "provider_template_id": "SMS_2",
    "body": "{{ customer.name }}，您本期定投扣款失败，请检查资金账户余额。",
}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, VirtualClock, FakeGateway]]:
    with FakeGateway() as gateway:
        settings = load_settings(
            tmp_path / "home",
            database_url=database_url,
            channels={
                "sms": {
                    "provider": "http_sms",
                    "url": gateway.url_for("/sms"),
                    "signature": "【测试证券】",
                    "receipt_token": TOKEN,
                }
            },
            public_url="https://t.example.cn",
        )
        clock = VirtualClock(NOON)
        container = build(settings, clock=clock)
        try:
            _brokerage(container)
            for body in (PROMO, NOTICE):
                service.save_template(env=container, principal=SYSTEM, template=service.parse_template(body))
                service.activate_template(env=container, principal=SYSTEM, name=body["name"])
            yield container, clock, gateway
        finally:
            container.close()


def _brokerage(container: Container) -> None:
    customers = pa.table(
        {
            "customer_no": [c[0] for c in CUSTOMERS],
            "name": [f"客户{c[0]}" for c in CUSTOMERS],
            "risk_level": [c[1] for c in CUSTOMERS],
            "risk_assessed_at": [c[2] for c in CUSTOMERS],
            "investor_type": [c[3] for c in CUSTOMERS],
            "consent_marketing": [c[4] for c in CUSTOMERS],
            "phone": [c[5] for c in CUSTOMERS],
        }
    )
    products = pa.table(
        {
            "product_code": ["F002", "F004"],
            "name": ["稳健债券A", "杠杆指数B"],
            "product_type": ["fund", "fund"],
            "risk_level": ["R2", "R4"],
        }
    )
    for table, data in (("customers", customers), ("products", products)):
        import_arrow(
            env=container,
            principal=SYSTEM,
            table=table,
            data=data,
            options=ImportOptions(business_date=DAY),
            source_name=f"{table}.test",
        )


def _journey(container: Container, name: str, template: str, priority: int = 0) -> None:
    body = {
        "name": name,
        "title": name,
        "entry": {"type": "api"},
        "start": "send",
        "priority": priority,
        "nodes": [
            {
                "id": "send",
                "type": "action",
                "action": {"kind": "send", "channel": "sms", "template": template},
            }
        ],
    }
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(body))
    publish(env=container, principal=SYSTEM, name=name)


def _run(
    container: Container, journey: str, customers: list[str], payload: dict[str, Any] | None = None
) -> None:
    env = container
    admit(env=env, name=journey, customers=customers, payloads=dict.fromkeys(customers, payload or {}))
    drain(lambda: tick(env=env), "tick")
    drain(lambda: dispatch(env=env), "dispatch")


def _sends(container: Container) -> dict[tuple[str, str], dict[str, Any]]:
    with container.ops.begin() as connection:
        rows = connection.execute(select(channel_sends)).mappings().all()
    return {(r["customer_no"], r["template"]): dict(r) for r in rows}


def _outbox(container: Container) -> list[dict[str, Any]]:
    with container.ops.begin() as connection:
        return [dict(r) for r in connection.execute(select(journey_outbox)).mappings()]


def _phones(gateway: FakeGateway) -> list[str]:
    return [r.json["phone"] for r in gateway.requests_to("/sms")]


def test_a_product_message_goes_only_to_customers_whose_level_admits_it(world: Any) -> None:
    container, _, gateway = world
    _journey(container, "promo_r4", "fund_promo")
    everyone = [c[0] for c in CUSTOMERS]
    _run(container, "promo_r4", everyone, {"fund_code": "F004"})
    sends = _sends(container)
    assert sorted(_phones(gateway)) == ["13800000002", "13800000004"]  # C4 and the professional investor
    c2 = sends[("C2OK", "fund_promo")]
    assert c2["status"] == "skipped"
    assert c2["reason"] == "suitability: unsuitable: C2 admits up to R2, product F004 is R4"
    assert c2["evidence"]["suitability"] == {
        "customer_level": "C2",
        "investor_type": "ordinary",
        "risk_assessed_at": "2026-01-05",
        "admits_up_to": "R2",
        "product": "F004",
        "product_level": "R4",
        "rule_version": container.settings.channel_policy.suitability_rule_version,
        "decision": c2["reason"].removeprefix("suitability: "),
    }
    assert "expired" in sends[("C5OLD", "fund_promo")]["reason"]
    assert sends[("NOCONSENT", "fund_promo")]["reason"] == "consent: no marketing consent"
    text = gateway.requests_to("/sms")[0].json["content"]
    assert text.startswith("【测试证券】")
    assert text.endswith("回复TD退订")
    assert "https://t.example.cn/t/" in text
    assert "m.example.cn" not in text


def test_an_opted_out_customer_gets_service_notices_but_not_marketing(world: Any) -> None:
    container, clock, gateway = world
    audience.set_consent(env=container, principal=SYSTEM, customer_no="C4OK", channel="sms", granted=False)
    _journey(container, "promo_r2", "fund_promo")
    _journey(container, "notice", "deduction_failed")
    _run(container, "promo_r2", ["C4OK"], {"fund_code": "F002"})
    _run(container, "notice", ["C4OK", "NOCONSENT"])
    sends = _sends(container)
    assert sends[("C4OK", "fund_promo")]["reason"] == "consent: opted out of marketing on sms"
    assert sends[("C4OK", "deduction_failed")]["status"] == "sent"
    assert sends[("NOCONSENT", "deduction_failed")]["status"] == "sent"
    assert not any(r.json["content"].endswith("回复TD退订") for r in gateway.requests_to("/sms"))
    [skipped] = [o for o in _outbox(container) if o["journey"] == "promo_r2"]
    assert (skipped["status"], skipped["last_error"]) == ("skipped", "consent: opted out of marketing on sms")
    del clock


def test_a_capped_customer_is_skipped_and_priority_decides_who_wins(world: Any) -> None:
    container, _, gateway = world
    _journey(container, "low", "fund_promo", priority=1)
    _journey(container, "high", "fund_promo", priority=90)
    env = container
    payloads = {"C4OK": {"fund_code": "F002"}}
    admit(env=env, name="low", customers=["C4OK"], payloads=payloads)
    admit(env=env, name="high", customers=["C4OK"], payloads=payloads)
    drain(lambda: tick(env=env), "tick")
    dispatch(env=env, limit=1)  # one effect per batch: the claim itself takes the higher priority first
    dispatch(env=env, limit=1)
    status = {o["journey"]: (o["status"], o["last_error"]) for o in _outbox(container)}
    assert status == {
        "high": ("sent", None),
        "low": ("skipped", "frequency cap: 1 marketing message(s) per day on all channels"),
    }
    assert len(gateway.requests_to("/sms")) == 1


def test_a_2230_marketing_sms_leaves_at_0800_and_an_urgent_notice_at_once(world: Any) -> None:
    container, clock, gateway = world
    urgent = {
        **NOTICE,
        "name": "margin_call",
        "title": "追保通知",
        "urgent": True,
        "body": "{{ customer.name }}，请及时追加担保物。",
    }
    service.save_template(env=container, principal=SYSTEM, template=service.parse_template(urgent))
    service.activate_template(env=container, principal=SYSTEM, name="margin_call")
    _journey(container, "evening_promo", "fund_promo")
    _journey(container, "margin", "margin_call")
    clock.set(datetime(2026, 3, 31, 14, 30, tzinfo=UTC))  # 22:30 Beijing
    _run(container, "evening_promo", ["C4OK"], {"fund_code": "F002"})
    _run(container, "margin", ["C2OK"])
    assert _phones(gateway) == ["13800000001"]  # the urgent margin call went out in quiet hours
    [held] = [o for o in _outbox(container) if o["journey"] == "evening_promo"]
    assert held["status"] == "pending"
    assert held["attempts"] == 0
    assert held["next_attempt_at"] == datetime(2026, 4, 1, 0, 0, tzinfo=UTC)  # 08:00 Beijing
    assert held["last_error"] == "delayed: quiet hours until 08:00"
    clock.set(datetime(2026, 3, 31, 23, 59, tzinfo=UTC))
    dispatch(env=container)
    assert len(gateway.requests_to("/sms")) == 1
    clock.set(datetime(2026, 4, 1, 0, 0, tzinfo=UTC))
    dispatch(env=container)
    assert _phones(gateway) == ["13800000001", "13800000002"]
    assert _sends(container)[("C4OK", "fund_promo")]["status"] == "sent"


def test_receipts_clicks_and_unsubscribes_become_events_and_opt_outs(world: Any) -> None:
    container, clock, gateway = world
    _journey(container, "promo", "fund_promo")
    _run(container, "promo", ["C4OK", "PRO"], {"fund_code": "F002"})
    sends = _sends(container)
    c4, pro = sends[("C4OK", "fund_promo")], sends[("PRO", "fund_promo")]
    report = [
        {"biz_id": c4["provider_message_id"], "status": "DELIVERED", "report_time": "2026-03-31 12:00:05"},
        {"biz_id": pro["provider_message_id"], "status": "FAILED", "err_code": "MOBILE_NOT_ON_SERVICE"},
        {"biz_id": "not-committed-yet", "status": "DELIVERED"},
        {"phone": "+86 138-0000-0004", "content": "ＴＤ。", "send_time": "2026-03-31 12:01:00"},
        {"phone": "13800000001", "content": "好的", "send_time": "2026-03-31 12:01:00"},
    ]
    client = api_client(container)
    unsigned = client.post("/api/v1/channels/sms/receipts", content=orjson.dumps(report))
    assert unsigned.status_code == 401  # anyone could otherwise opt customers out or forge deliveries
    answer = client.post(RECEIPTS, content=orjson.dumps(report))
    assert answer.json() == {"applied": 2, "pending": 1, "opt_outs": 1, "ignored": 1}
    again = client.post(RECEIPTS, content=orjson.dumps(report[:2]))  # a gateway repeats its reports
    assert again.json()["applied"] == 2
    assert feedback.match_pending_receipts(env=container) == 0  # kept a while for its send
    # The receipt beat its send's commit: once the send is there, the worker matches it.
    _run(container, "promo", ["C2OK"], {"fund_code": "F002"})
    with container.ops.begin() as connection:
        connection.execute(
            channel_sends.update()
            .where(channel_sends.c.customer_no == "C2OK")
            .values(provider_message_id="not-committed-yet")
        )
    assert feedback.match_pending_receipts(env=container) == 1
    assert _sends(container)[("C2OK", "fund_promo")]["status"] == "delivered"
    client.post(RECEIPTS, content=orjson.dumps([{"biz_id": "never-ours", "status": "DELIVERED"}]))
    clock.advance(timedelta(hours=25))
    assert feedback.match_pending_receipts(env=container) == 1  # an unknown one is forgotten
    bad = client.post(RECEIPTS, content=b'[{"biz_id": "x", "status": "MAYBE"}]')
    assert bad.status_code == 400
    assert "DELIVERED or FAILED" in bad.json()["error"]["message"]
    [link] = [t for t in c4["content"].split() if t.startswith("https://t.example.cn/t/")]
    for _ in range(2):  # a second click of one message is not a second conversion
        redirect = client.get(link.removeprefix("https://t.example.cn"), follow_redirects=False)
        assert redirect.status_code == 302
    target = redirect.headers["location"]
    assert target.startswith("https://m.example.cn/f/F002?")
    assert "utm_medium=sms" in target
    assert "utm_campaign=promo" in target
    consent = audience.consent_of(env=container, principal=SYSTEM, customer_no="PRO")
    assert consent["channels"]["sms"] == "opted out of marketing on sms"  # the 退订 reply
    assert consent["channels"]["push"] == "marketing consent on the profile"
    unsubscribe = c4["evidence"]["unsubscribe_url"].removeprefix("https://t.example.cn")
    assert client.get(unsubscribe).status_code == 200
    consent = audience.consent_of(env=container, principal=SYSTEM, customer_no="C4OK")
    assert consent["channels"]["sms"].startswith("opted out")
    with container.ops.begin() as connection:
        events = connection.execute(select(channel_events.c.event, channel_events.c.payload)).all()
    names = sorted(e for e, _ in events)
    assert names == [
        "message_clicked",
        "message_delivered",
        "message_delivered",
        "message_failed",
        "message_sent",
        "message_sent",
        "message_sent",
    ]
    clicked = next(p for e, p in events if e == "message_clicked")
    assert clicked["distinct_id"] == "C4OK"
    assert {k: clicked["properties"][k] for k in ("journey", "node", "template", "channel")} == {
        "journey": "promo",
        "node": "send",
        "template": "fund_promo",
        "channel": "sms",
    }
    assert feedback.forward_events(env=container) == 7
    assert feedback.forward_events(env=container) == 0
    logged = [r.payload["event"] for r in container.log.read_after(0, 100)]
    assert sorted(logged) == names
    del gateway


def test_a_send_without_an_active_template_or_provider_cannot_be_published(world: Any) -> None:
    container, _, _ = world
    draft = {**NOTICE, "name": "draft_notice"}
    service.save_template(env=container, principal=SYSTEM, template=service.parse_template(draft))
    body = {
        "name": "uses_draft",
        "title": "t",
        "entry": {"type": "api"},
        "start": "a",
        "nodes": [
            {
                "id": "a",
                "type": "action",
                "action": {"kind": "send", "channel": "sms", "template": "draft_notice"},
            }
        ],
    }
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(body))
    with pytest.raises(
        ValidationError, match=r"nodes\.a\.action\.template: template 'draft_notice' is not active"
    ):
        publish(env=container, principal=SYSTEM, name="uses_draft")
    wrong = {**body, "name": "wrong_channel"}
    wrong["nodes"] = [
        {"id": "a", "type": "action", "action": {"kind": "send", "channel": "push", "template": "fund_promo"}}
    ]
    with pytest.raises(ValidationError, match="template 'fund_promo' is for sms, not push"):
        save_journey(env=container, principal=SYSTEM, journey=parse_journey(wrong))


def test_a_journey_waits_for_the_click_and_the_run_shows_each_effect(world: Any) -> None:
    container, clock, _ = world
    body = {
        "name": "nudge",
        "title": "click or not",
        "entry": {"type": "api"},
        "start": "offer",
        "nodes": [
            {
                "id": "offer",
                "type": "action",
                "action": {"kind": "send", "channel": "sms", "template": "fund_promo"},
                "next": "clicked",
            },
            {
                "id": "clicked",
                "type": "wait_for_event",
                "event": "message_clicked",
                "timeout": "3d",
                "on_event": "thanks",
                "on_timeout": "done",
            },
            {
                "id": "thanks",
                "type": "action",
                "action": {"kind": "send", "channel": "sms", "template": "deduction_failed"},
                "next": "done",
            },
            {"id": "done", "type": "exit"},
        ],
    }
    env = container
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))
    publish(env=env, principal=SYSTEM, name="nudge")
    _run(container, "nudge", ["C4OK", "C2OK"], {"fund_code": "F004"})
    link = next(t for t in _sends(container)[("C4OK", "fund_promo")]["content"].split() if "/t/" in t)
    clock.advance(timedelta(hours=1))
    client = api_client(container)
    assert client.get(link.removeprefix("https://t.example.cn"), follow_redirects=False).status_code == 302
    feedback.forward_events(env=container)
    sync_customers(env=container, analytics=container.analytics)  # One ID knows the customers
    route(env)  # One ID reads the forwarded events, then journeys route them (as the worker does)
    drain(lambda: tick(env=env), "tick")
    runs = {r["journey"]: r for r in customer_runs(env=env, principal=SYSTEM, customer_no="C4OK")}
    assert runs["nudge"]["status"] == "done"
    assert [e["node"] for e in runs["nudge"]["effects"]] == ["offer", "thanks"]
    [skipped] = customer_runs(env=env, principal=SYSTEM, customer_no="C2OK")
    assert skipped["node"] == "clicked"  # still waiting: the unsuitable offer was never sent
    assert skipped["effects"] == [
        {
            "node": "offer",
            "kind": "send",
            "status": "skipped",
            "attempts": 1,
            "reason": "suitability: unsuitable: C2 admits up to R2, product F004 is R4",
        }
    ]


def test_suitability_never_lapses_for_marketing_and_never_blocks_a_service_notice(world: Any) -> None:
    container, _, gateway = world
    _journey(container, "promo_without_fund", "fund_promo")
    _run(container, "promo_without_fund", ["C4OK"])  # the entry carries no fund_code
    sends = _sends(container)
    assert sends[("C4OK", "fund_promo")]["status"] == "skipped"
    assert sends[("C4OK", "fund_promo")]["reason"] == (
        "suitability: the entry names no product (payload.fund_code is missing)"
    )
    dividend = {
        **NOTICE,
        "name": "dividend_paid",
        "title": "分红到账",
        "product": "payload.fund_code",
        "body": "{{ customer.name }}，您持有的{{ product.name }}分红已到账。市场有风险，投资需谨慎。",
    }
    service.save_template(env=container, principal=SYSTEM, template=service.parse_template(dividend))
    service.activate_template(env=container, principal=SYSTEM, name="dividend_paid")
    _journey(container, "dividends", "dividend_paid")
    _run(container, "dividends", ["C2OK"], {"fund_code": "F004"})  # bought above level after the warning
    assert _sends(container)[("C2OK", "dividend_paid")]["status"] == "sent"
    assert "杠杆指数B分红已到账" in gateway.requests_to("/sms")[-1].json["content"]


# Sends outside database transactions -----------------------------------------------------------------------


class _Probe:
    """Wraps a channel's provider: each time it is called it checks, before passing the message on, that the
    dispatcher holds no database connection and that another connection can write to the effect's outbox row
    at once (SQLite: its only writer is free; PostgreSQL: the row is not locked)."""

    def __init__(self, container: Container, inner: Any) -> None:
        self.container, self.inner = container, inner
        self.kind, self.rate_per_second, self.burst = inner.kind, inner.rate_per_second, inner.burst
        url = make_url(container.ops.url)
        impatient = {"timeout": 0.2} if url.get_backend_name() == "sqlite" else {}
        self.other = create_engine(url, connect_args=impatient, poolclass=NullPool)
        self.seen: list[tuple[int, str]] = []

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Probe, then send through the real provider."""
        self.seen.append((self.container.ops.engine.pool.checkedout(), self._write_elsewhere(message.key)))
        delivery: Delivery = self.inner.send(message, context)
        return delivery

    def _write_elsewhere(self, key: str) -> str:
        try:
            with self.other.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
                touch = update(journey_outbox).where(journey_outbox.c.id == key)
                connection.execute(touch.values(last_error=journey_outbox.c.last_error))
        except OperationalError as exc:
            return f"blocked: {exc.orig}"
        return "free"

    def parse_receipt(self, body: bytes, headers: Any) -> list[Any]:
        """As the real provider."""
        found: list[Any] = self.inner.parse_receipt(body, headers)
        return found


def test_no_transaction_is_open_while_the_gateway_works(world: Any) -> None:
    container, _, gateway = world
    providers = container.providers
    probe = _Probe(container, providers["sms"])
    providers["sms"] = probe
    try:
        _journey(container, "notice", "deduction_failed")
        _run(container, "notice", ["C2OK", "C4OK", "PRO"])
    finally:
        providers["sms"] = probe.inner
        probe.other.dispose()
    assert probe.seen == [(0, "free")] * 3
    assert sorted(_phones(gateway)) == ["13800000001", "13800000002", "13800000004"]
    assert {o["status"] for o in _outbox(container)} == {"sent"}


class _Died(BaseException):
    """Stands for a dispatcher killed between the provider's answer and the outcome's commit."""


def test_a_dispatcher_that_died_before_recording_is_repeated_with_the_same_key_after_its_lease(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    container, clock, gateway = world
    env = container
    _journey(container, "promo", "fund_promo")
    admit(env=env, name="promo", customers=["C4OK"], payloads={"C4OK": {"fund_code": "F002"}})
    drain(lambda: tick(env=env), "tick")

    def die(*args: Any, **kwargs: Any) -> int:
        raise _Died

    with monkeypatch.context() as patch:
        patch.setattr(journeys_dispatch, "_conclude", die)
        with pytest.raises(_Died):
            dispatch(env=env)
    [claimed] = _outbox(container)
    lease = timedelta(seconds=container.settings.dispatch_lease_seconds)
    assert (claimed["status"], claimed["attempts"]) == ("pending", 0)
    assert claimed["claimed_by"] is not None
    assert claimed["lease_until"] == clock.now() + lease
    assert _sends(container)[("C4OK", "fund_promo")]["status"] == "sending"
    assert gateway.deliveries() == [claimed["id"]]  # the gateway took it; nobody recorded it

    clock.advance(lease - timedelta(seconds=1))
    assert dispatch(env=env) == 0  # still claimed: nobody else sends it meanwhile
    assert len(gateway.requests_to("/sms")) == 1
    clock.advance(timedelta(seconds=1))
    assert dispatch(env=env) == 1  # the lease ran out: claimed again, sent again under the same key

    assert [r.key for r in gateway.requests_to("/sms")] == [claimed["id"], claimed["id"]]
    assert gateway.deliveries() == [claimed["id"]]  # the gateway dropped the repeat: one message
    [effect] = _outbox(container)
    assert (effect["status"], effect["attempts"], effect["claimed_by"]) == ("sent", 1, None)
    send = _sends(container)[("C4OK", "fund_promo")]
    assert (send["status"], send["id"]) == ("sent", claimed["id"])
    assert len(send["evidence"]["caps"]) == 2  # the day and the week, each counted once
    with container.ops.begin() as connection:
        events = connection.execute(select(channel_events.c.send_id, channel_events.c.event)).all()
        counted = connection.execute(select(channel_counters.c.count)).scalars().all()
    assert [tuple(e) for e in events] == [(claimed["id"], "message_sent")]
    assert counted == [1, 1]


def test_an_answer_recorded_after_another_dispatcher_took_over_does_not_count(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    container, clock, gateway = world
    env = container
    _journey(container, "notice", "deduction_failed")
    admit(env=env, name="notice", customers=["C2OK"])
    drain(lambda: tick(env=env), "tick")
    lease = timedelta(seconds=container.settings.dispatch_lease_seconds)
    slow = container.providers["sms"]
    taken_over: list[int] = []

    class _Stalls:
        """A gateway call outlasting the lease: meanwhile another dispatcher claims and sends the effect."""

        kind, rate_per_second, burst = slow.kind, slow.rate_per_second, slow.burst
        parse_receipt = slow.parse_receipt

        def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
            container.providers["sms"] = slow
            clock.advance(lease + timedelta(seconds=1))
            taken_over.append(dispatch(env=env))
            delivery: Delivery = slow.send(message, context)
            return delivery

    container.providers["sms"] = _Stalls()
    try:
        assert dispatch(env=env) == 0  # its answer came after it lost the claim: not recorded again
    finally:
        container.providers["sms"] = slow
    assert taken_over == [1]
    [effect] = _outbox(container)
    assert (effect["status"], effect["attempts"]) == ("sent", 1)
    assert len(gateway.requests_to("/sms")) == 2
    assert len(gateway.deliveries()) == 1
    with container.ops.begin() as connection:
        attempts = connection.execute(select(journey_attempts.c.outbox_id)).scalars().all()
    assert attempts == [effect["id"]]


def test_an_unreadable_effect_fails_for_good_and_the_rest_of_the_batch_goes_out(world: Any) -> None:
    container, _clock, gateway = world
    env = container
    _journey(container, "notice", "deduction_failed")
    admit(env=env, name="notice", customers=["C2OK", "C4OK"])
    drain(lambda: tick(env=env), "tick")
    broken, fine = sorted(_outbox(container), key=lambda r: r["customer_no"])
    with container.ops.begin() as connection:  # a row written by an older version, or by hand
        connection.execute(
            update(journey_outbox)
            .where(journey_outbox.c.id == broken["id"])
            .values(payload={"kind": "send", "channel": "sms"})
        )
    assert dispatch(env=env) == 1
    after = {r["id"]: r for r in _outbox(container)}
    assert (after[broken["id"]]["status"], after[broken["id"]]["attempts"]) == ("failed", 1)
    assert "unreadable send effect" in after[broken["id"]]["last_error"]
    assert "exactly one of template" in after[broken["id"]]["last_error"]
    assert after[fine["id"]]["status"] == "sent"
    assert [r.key for r in gateway.requests_to("/sms")] == [fine["id"]]


def test_a_webhook_action_without_a_webhook_provider_fails_saying_what_to_configure(world: Any) -> None:
    """Publishing refuses such a journey (tests/unit/journeys/test_service.py); a provider removed from the
    settings after publishing still fails the action at run time, naming what to configure."""
    container, _, _ = world
    env = container
    body = {
        "name": "hooked",
        "title": "hooked",
        "entry": {"type": "api"},
        "start": "call",
        "nodes": [
            {"id": "call", "type": "action", "action": {"kind": "webhook", "url": "https://crm.test/h"}}
        ],
    }
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))
    providers = container.providers
    with httpx.Client() as client:
        config = WebhookConfig(url="https://crm.test/", secret="s")
        providers["webhook"] = WebhookProvider(config, client, container.clock)
        publish(env=env, principal=SYSTEM, name="hooked")
        del providers["webhook"]
    admit(env=env, name="hooked", customers=["C2OK"])
    drain(lambda: tick(env=env), "tick")
    assert dispatch(env=env) == 0
    [effect] = _outbox(container)
    assert (effect["status"], effect["attempts"]) == ("failed", 1)
    assert "[channels.webhook]" in effect["last_error"]
