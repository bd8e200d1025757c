"""Provider health, the consent list and template versions (issue 18, templates and channels): every figure
is checked against a brute-force count over the rows the test inserted, through the service and over HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from support import api_client
from touchpoint.bootstrap import Container, build
from touchpoint.channels import audience, service
from touchpoint.channels.model import CHANNELS
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest.service import ImportOptions, import_arrow
from touchpoint.store.operational.schema import channel_consents, channel_events, channel_sends

API = "/api/v1"
CONFIGURED = {
    "sms": {"provider": "http_sms", "url": "http://127.0.0.1:9/sms", "signature": "券商"},
    "push": {"provider": "http_push", "url": "http://127.0.0.1:9/push"},
}
STATUSES = ("sent", "delivered", "opened", "failed", "skipped", "delayed", "sending")
RECEIPTS = ("message_delivered", "message_failed", "message_opened", "message_clicked", "message_sent")
CUSTOMERS = [f"C{n}" for n in range(1, 7)]


@pytest.fixture
def container(tmp_path: Path, database_url: str, clock: VirtualClock) -> Iterator[Container]:
    settings = load_settings(tmp_path / "home", database_url=database_url, channels=CONFIGURED)
    built = build(settings, clock=clock)
    customers = pa.table({"customer_no": CUSTOMERS, "name": ["张三"] * len(CUSTOMERS)})
    options = ImportOptions(business_date=date(2026, 3, 2))
    import_arrow(
        env=built, principal=SYSTEM, table="customers", data=customers, options=options, source_name="c"
    )
    yield built
    built.close()


def _random_sends(container: Container, seed: int) -> list[dict[str, Any]]:
    """Sends of every status on some channels over the last three weeks, each with some events."""
    rng = random.Random(seed)
    now = container.clock.now()
    sends: list[dict[str, Any]] = []
    with container.ops.begin() as connection:
        for i in range(120):
            created = now - timedelta(hours=rng.randint(0, 21 * 24))
            status = rng.choice(STATUSES)
            row = {
                "id": f"snd_{i}",
                "customer_no": rng.choice(CUSTOMERS),
                "channel": rng.choice(("sms", "push", "email")),
                "provider": "x",
                "template": "t",
                "template_version": 1,
                "marketing": True,
                "status": status,
                "reason": f"reason {i}" if status in ("failed", "skipped") else None,
                "evidence": {},
                "provider_message_id": f"p{i}" if rng.random() < 0.7 else None,
                "content": "",
                "created_at": created,
                "updated_at": created + timedelta(minutes=rng.randint(0, 600)),
                "events": [],
            }
            for event in rng.sample(RECEIPTS, rng.randint(0, 3)):
                at = created + timedelta(minutes=rng.randint(1, 900))
                row["events"].append((event, at))
                connection.execute(
                    channel_events.insert().values(
                        send_id=row["id"], event=event, payload={}, created_at=at, forwarded=True
                    )
                )
            connection.execute(channel_sends.insert().values({k: v for k, v in row.items() if k != "events"}))
            sends.append(row)
    return sends


def _brute_health(
    sends: list[dict[str, Any]], now: datetime, days: int, customers: set[str]
) -> dict[str, dict[str, Any]]:
    """The health figures counted one send at a time."""
    since = now - timedelta(days=days)
    rows: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        mine = [s for s in sends if s["channel"] == channel and s["customer_no"] in customers]
        recent = [s for s in mine if s["created_at"] >= since]
        done = [s for s in mine if s["status"] in ("sent", "delivered", "opened", "clicked")]
        failed = sorted(
            (s for s in mine if s["status"] == "failed"), key=lambda s: (s["updated_at"], s["id"])
        )
        receipts = [
            at
            for s in mine
            if s["provider_message_id"] is not None
            for event, at in s["events"]
            if event in ("message_delivered", "message_failed", "message_opened")
        ]
        rows[channel] = {
            "sent": sum(s["status"] in ("sent", "delivered", "opened", "clicked") for s in recent),
            "failed": sum(s["status"] == "failed" for s in recent),
            "skipped": sum(s["status"] == "skipped" for s in recent),
            "last_success_at": max((s["updated_at"] for s in done), default=None),
            "last_failure_at": failed[-1]["updated_at"] if failed else None,
            "last_failure_error": failed[-1]["reason"] if failed else None,
            # Only a provider that calls back has receipts (the test's sms and push gateways do).
            "receipts": sum(at >= since for at in receipts) if channel in CALLING_BACK else None,
            "last_receipt_at": max(receipts, default=None) if channel in CALLING_BACK else None,
        }
    return rows


CALLING_BACK = {"sms", "push"}
"""The channels whose provider in this test's settings takes receipts (HTTP gateways; no email provider)."""


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "sent",
        "failed",
        "skipped",
        "last_success_at",
        "last_failure_at",
        "last_failure_error",
        "receipts",
    )
    return {k: row[k] for k in (*keys, "last_receipt_at")}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_health_equals_a_count_send_by_send(container: Container, seed: int) -> None:
    sends = _random_sends(container, seed)
    now = container.clock.now()
    for days in (1, 7, 30):
        answer = service.channel_health(env=container, days=days)
        expected = _brute_health(sends, now, days, set(CUSTOMERS))
        assert [row["channel"] for row in answer["channels"]] == list(CHANNELS)
        for row in answer["channels"]:
            assert _comparable(row) == expected[row["channel"]], (days, row["channel"])
    assert sum(row["sent"] + row["failed"] + row["skipped"] for row in answer["channels"]) > 0


def test_health_names_the_configured_providers_over_http(container: Container) -> None:
    sends = _random_sends(container, 4)
    with api_client(container, roles=("operator",)) as client:
        answer = client.get(f"{API}/channels/health", params={"days": 7})
    assert answer.status_code == 200
    providers = {row["channel"]: row["provider"] for row in answer.json()["channels"]}
    assert providers["sms"] == "http_sms"
    assert providers["push"] == "http_push"
    assert providers["email"] is None
    sms = next(row for row in answer.json()["channels"] if row["channel"] == "sms")
    expected = _brute_health(sends, container.clock.now(), 7, set(CUSTOMERS))["sms"]
    assert (sms["sent"], sms["failed"], sms["receipts"]) == (
        expected["sent"],
        expected["failed"],
        expected["receipts"],
    )


def test_health_refuses_a_window_out_of_range(container: Container) -> None:
    with api_client(container) as client:
        for days in (0, 3661, -1):
            answer = client.get(f"{API}/channels/health", params={"days": days})
            assert answer.status_code == 422
            assert set(answer.json()["error"]) == {"code", "message", "details"}


def _random_consents(container: Container, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = container.clock.now() - timedelta(days=30)
    rows = []
    with container.ops.begin() as connection:
        for i in range(80):
            row = {
                "customer_no": rng.choice(CUSTOMERS),
                "channel": rng.choice(("sms", "push", "*")),
                "granted": rng.random() < 0.5,
                "source": f"s{i}",
                "detail": None,
                # a coarse clock: equal times are common, and then the later record wins
                "at": start + timedelta(days=rng.randint(0, 5)),
            }
            connection.execute(channel_consents.insert().values(**row))
            rows.append(row)
    return rows


def _brute_latest(rows: list[dict[str, Any]]) -> list[tuple[str, str, bool, str]]:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:  # in insertion order: a later record at the same time replaces the earlier
        key = (row["customer_no"], row["channel"])
        if key not in latest or row["at"] >= latest[key]["at"]:
            latest[key] = row
    return [(c, ch, r["granted"], r["source"]) for (c, ch), r in sorted(latest.items())]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_consent_list_is_the_newest_record_of_each_customer_and_channel(
    container: Container, seed: int
) -> None:
    expected = _brute_latest(_random_consents(container, seed))
    for channel in (None, "sms", "*"):
        for granted in (None, True, False):
            wanted = [
                e
                for e in expected
                if (channel is None or e[1] == channel) and (granted is None or e[2] is granted)
            ]
            shown: list[tuple[str, str, bool, str]] = []
            offset: int | None = 0
            while offset is not None:  # page by page, three at a time
                page = audience.consent_list(
                    env=container, principal=SYSTEM, channel=channel, granted=granted, limit=3, offset=offset
                )
                assert page["total"] == len(wanted)
                shown += [
                    (r["customer_no"], r["channel"], r["granted"], r["source"]) for r in page["consents"]
                ]
                offset = page["next_offset"]
            assert shown == wanted, (channel, granted)


def test_the_consent_list_over_http_filters_and_refuses_an_unknown_channel(container: Container) -> None:
    expected = _brute_latest(_random_consents(container, 5))
    with api_client(container, roles=("operator",)) as client:
        answer = client.get(f"{API}/consents", params={"channel": "push", "granted": "false", "limit": 500})
        assert answer.status_code == 200
        got = [(r["customer_no"], r["channel"], r["granted"], r["source"]) for r in answer.json()["consents"]]
        assert got == [e for e in expected if e[1] == "push" and not e[2]]
        assert client.get(f"{API}/consents", params={"channel": "fax"}).status_code == 422
        assert client.get(f"{API}/consents", params={"limit": 0}).status_code == 422


def test_template_versions_name_who_saved_each_and_which_sends(container: Container) -> None:
    template = {"title": "t", "channel": "push", "classification": "service", "body": "您好"}
    with api_client(container, roles=("admin",), username="ops.li") as client:
        for body in ("您好", "您好！", "您好！！"):
            assert client.put(f"{API}/templates/hello", json={**template, "body": body}).status_code == 200
        assert client.post(f"{API}/templates/hello/activate", params={"version": 2}).status_code == 200
        versions = client.get(f"{API}/templates/hello/versions").json()
        assert client.get(f"{API}/templates/nobody/versions").status_code == 404
    assert [(v["version"], v["actor"], v["active"]) for v in versions] == [
        (3, "ops.li", False),
        (2, "ops.li", True),
        (1, "ops.li", False),
    ]


def test_the_variables_are_the_names_the_content_check_accepts(container: Container) -> None:
    with api_client(container, roles=("operator",)) as client:
        answer = client.get(f"{API}/templates/variables")
        assert answer.status_code == 200
        names = answer.json()
        assert "name" in names["customer"]
        template = {"title": "t", "channel": "push", "classification": "service"}
        used = " ".join(f"{{{{ customer.{n} }}}}" for n in names["customer"][:20])
        saved = client.put(f"{API}/templates/every_name", json={**template, "body": used}).json()
        assert not [f for f in saved["faults"] if "unknown variable" in f]
        wrong = client.put(f"{API}/templates/wrong_name", json={**template, "body": "{{ customer.nope_x }}"})
        assert "body: unknown variable customer.nope_x" in wrong.json()["faults"]
