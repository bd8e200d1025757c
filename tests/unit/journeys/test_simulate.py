"""The simulator's clock stops at every scheduled instant (run wake-ups and delayed or retried sends: the
runtime's next instant includes a retry after a transient gateway failure), its counts add up (entered = sum
of outcomes + still waiting, per node and for the journey), a walk says why a customer did not enter, and
sample paths show customer numbers masked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from provider_servers import FakeGateway, Reply
from support import api_client, demo_world, finished_job
from touchpoint.analytics.events import events_between
from touchpoint.bootstrap import Container, build
from touchpoint.channels import service as channels
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo.runs import ensure_demo_journeys
from touchpoint.governance import SYSTEM
from touchpoint.governance.masking import mask_customer_no
from touchpoint.ingest.service import ImportOptions, import_arrow
from touchpoint.journeys import reads, repo
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.model import JourneyDef
from touchpoint.journeys.runtime import admit, tick
from touchpoint.journeys.service import get_journey, next_instant, parse_journey, publish, save_journey
from touchpoint.journeys.simulate import simulate
from touchpoint.segments.service import current_members
from unit.journeys.passes import drain

DAY = date(2026, 3, 31)
PROMO = {
    "name": "fund_promo",
    "title": "基金推荐",
    "channel": "sms",
    "classification": "marketing",
    "product": "payload.fund_code",
    "provider_template_id": "SMS_1",
    "body": "{{ customer.name }}，{{ product.name }}（{{ product.risk_level }}）现可申购。"
    "市场有风险，投资需谨慎。",
}
EVENING_PROMO = {
    "name": "evening_promo",
    "title": "晚间推荐",
    "entry": {"type": "api", "required": ["fund_code"]},
    "start": "evening",
    "nodes": [
        {"id": "evening", "type": "wait", "until_time": "22:30", "next": "send"},
        {
            "id": "send",
            "type": "action",
            "action": {"kind": "send", "channel": "sms", "template": "fund_promo"},
        },
    ],
}


NOON_PROMO = {
    "name": "noon_promo",
    "title": "午间推荐",
    "entry": {"type": "api", "required": ["fund_code"]},
    "start": "send",
    "nodes": [
        {
            "id": "send",
            "type": "action",
            "action": {"kind": "send", "channel": "sms", "template": "fund_promo"},
        }
    ],
}


@pytest.fixture
def sms_world(tmp_path: Path) -> Iterator[Container]:
    """Two consenting customers, a fund, an active marketing SMS template and an SMS provider (never called:
    a simulation records sends instead)."""
    with _sms_container(tmp_path, "http://127.0.0.1:9/sms") as container:
        yield container


@contextmanager
def _sms_container(tmp_path: Path, sms_url: str) -> Iterator[Container]:
    """The SMS world at 12:00 Beijing on DAY, its SMS provider posting to `sms_url`."""
    settings = load_settings(
        tmp_path / "home",
        channels={"sms": {"provider": "http_sms", "url": sms_url, "signature": "【测试】"}},
    )
    container = build(settings, clock=VirtualClock(datetime(2026, 3, 31, 4, tzinfo=UTC)))
    tables = {
        "customers": pa.table(
            {
                "customer_no": ["C4OK", "C4OK2"],
                "name": ["客户甲", "客户乙"],
                "risk_level": ["C4", "C4"],
                "risk_assessed_at": ["2026-01-05", "2026-01-05"],
                "investor_type": ["ordinary", "ordinary"],
                "consent_marketing": [True, True],
                "phone": ["13800000002", "13800000003"],
            }
        ),
        "products": pa.table(
            {"product_code": ["F002"], "name": ["稳健债券A"], "product_type": ["fund"], "risk_level": ["R2"]}
        ),
    }
    try:
        for table, data in tables.items():
            import_arrow(
                env=container,
                principal=SYSTEM,
                table=table,
                data=data,
                options=ImportOptions(business_date=DAY),
                source_name=f"{table}.test",
            )
        template = channels.parse_template(PROMO)
        channels.save_template(env=container, principal=SYSTEM, template=template)
        channels.activate_template(env=container, principal=SYSTEM, name="fund_promo")
        yield container
    finally:
        container.close()


def _walk(container: Container, end: date, **options: Any) -> dict[str, Any]:
    return simulate(
        env=container,
        journey=parse_journey(EVENING_PROMO),
        start=DAY,
        end=end,
        customers=["C4OK"],
        payload={"fund_code": "F002"},
        **options,
    )


def test_a_2230_marketing_sms_is_sent_at_the_end_of_quiet_hours_the_next_day(sms_world: Container) -> None:
    result = _walk(sms_world, end=date(2026, 4, 1))
    [path] = result["paths"]
    [effect] = path["effects"]
    assert (effect["status"], effect["at"]) == ("sent", "2026-04-01T08:00+08:00")
    assert path["status"] == "done"
    assert [s["at"] for s in path["steps"]] == ["2026-03-31T22:30+08:00"] * 2  # waited, then queued


def test_a_send_still_held_by_quiet_hours_at_the_end_shows_when_it_is_due(sms_world: Container) -> None:
    result = _walk(sms_world, end=DAY)  # the period ends at midnight, inside the quiet hours
    [effect] = result["paths"][0]["effects"]
    assert (effect["status"], effect["at"], effect["due_at"]) == ("pending", None, "2026-04-01T08:00+08:00")
    [walked] = result["customers"]
    assert walked["entered"]
    assert walked["why"] == ["send: send still pending — delayed: quiet hours until 08:00"]


def test_the_next_instant_is_the_retry_of_a_send_the_gateway_failed_and_then_it_goes_once(
    tmp_path: Path,
) -> None:
    with FakeGateway() as gateway, _sms_container(tmp_path, gateway.url_for("/sms")) as container:
        clock = container.clock
        assert isinstance(clock, VirtualClock)
        save_journey(env=container, principal=SYSTEM, journey=parse_journey(NOON_PROMO))
        publish(env=container, principal=SYSTEM, name="noon_promo")
        admit(env=container, name="noon_promo", customers=["C4OK"], payloads={"C4OK": {"fund_code": "F002"}})
        drain(lambda: tick(env=container), "tick")
        gateway.script("/sms", Reply(status=503, json={"error": "busy"}))  # a failure that may pass
        now = clock.now()
        assert dispatch(env=container) == 0
        with container.ops.begin() as connection:
            [run] = repo.runs_of_customer(connection, "C4OK")
            [effect] = reads.effect_times(connection, run.id)
        assert (effect["status"], effect["done_at"]) == ("pending", None)
        assert "503" in effect["reason"]
        retry_at = effect["due_at"]
        assert retry_at is not None
        assert retry_at > now

        assert next_instant(env=container, after=now) == retry_at

        clock.set(retry_at - timedelta(seconds=1))
        assert dispatch(env=container) == 0  # not due yet
        assert len(gateway.requests_to("/sms")) == 1
        clock.set(retry_at)
        assert drain(lambda: dispatch(env=container), "dispatch") == 1
        with container.ops.begin() as connection:
            [effect] = reads.effect_times(connection, run.id)
        assert (effect["status"], effect["done_at"], effect["due_at"]) == ("sent", retry_at, None)
        assert [r.json["phone"] for r in gateway.requests_to("/sms")] == ["13800000002"] * 2
        assert len(gateway.deliveries()) == 1  # the failed attempt delivered nothing: one message
        assert next_instant(env=container, after=clock.now()) is None  # nothing left to do


def test_a_walk_says_why_the_customer_did_not_enter(sms_world: Container) -> None:
    result = simulate(
        env=sms_world,
        journey=parse_journey(EVENING_PROMO),
        start=DAY,
        end=DAY,
        customers=["C4OK"],
        payload={},
    )
    assert result["entered"] == 0
    assert result["customers"] == [
        {
            "customer_no": "C4OK",
            "entered": False,
            "why": ["the entry payload lacks fund_code (give it with --payload)"],
        }
    ]


# Counts that add up, over the demo's journeys and a few more shapes -----------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, VirtualClock]]:
    yield from demo_world(
        SimpleNamespace(param="sqlite"),  # the simulation's sandbox is SQLite whatever the live store is
        tmp_path_factory.mktemp("simulate") / "home",
        lambda c: ensure_demo_journeys(env=c, principal=SYSTEM),
    )


FOLLOWUP = {
    "name": "followup",
    "title": "浏览跟进",
    "entry": {"type": "event", "event": "fund_detail_view"},
    "start": "wait",
    "nodes": [
        {"id": "wait", "type": "wait", "duration": "1h", "next": "bought"},
        {
            "id": "bought",
            "type": "wait_for_event",
            "event": "fund_subscribe",
            "timeout": "2d",
            "on_event": "done",
            "on_timeout": "nudge",
        },
        {"id": "nudge", "type": "action", "action": {"kind": "send", "channel": "log", "text": "还在等您"}},
        {"id": "done", "type": "exit"},
    ],
    "goal": {"event": "login", "within": "1d"},
    "exit_criteria": [{"event": "autoinvest_plan_create"}],
    "holdout_percent": 20,
    "reentry": {"mode": "after_exit"},
}


def _assert_counts_add_up(result: dict[str, Any], journey: JourneyDef) -> None:
    assert result["entered"] == sum(result["runs"].values())
    for node in result["nodes"]:
        assert node["entered"] == sum(node["outcomes"].values()) + node["waiting"], node
        assert "goal" not in node["outcomes"]  # a conversion is counted by how the run ended, once
    start = next(n for n in result["nodes"] if n["node"] == journey.start)
    assert start["entered"] == result["entered"]  # every run starts at the start node
    goal = result["goal"]
    assert goal["treated"]["runs"] + goal["holdout"]["runs"] == result["entered"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ipo_payment_reminder", None),
        ("dormant_wakeup", None),
        ("followup", FOLLOWUP),
        ("followup_short", dict(FOLLOWUP, name="followup_short", goal={"event": "fund_detail_view"})),
    ],
)
def test_entered_is_the_sum_of_outcomes_and_still_waiting(
    world: tuple[Container, VirtualClock], name: str, body: dict[str, Any] | None
) -> None:
    container, _ = world
    env = container
    journey = get_journey(env=env, name=name) if body is None else parse_journey(body)
    result = simulate(env=env, journey=journey, start=date(2026, 3, 24), end=date(2026, 3, 31))
    assert result["entered"] > 0
    _assert_counts_add_up(result, journey)
    if name == "ipo_payment_reminder":
        paid = next(n for n in result["nodes"] if n["node"] == "paid")
        assert paid["outcomes"].get("converted", 0) == result["runs"].get("converted", 0)


def test_the_demo_walk_says_who_enters_and_why_others_do_not(world: tuple[Container, VirtualClock]) -> None:
    container, _ = world
    env = container
    journey = get_journey(env=env, name="dormant_wakeup")
    context, members = current_members(env=container, name="dormant_customers")
    member = context.customer_numbers(members)[0]
    outsider = next(
        c
        for c in context.customer_numbers(context.universe)
        if c not in set(context.customer_numbers(members))
    )
    # As the README runs it: --from -30d, long before the demo's only tag snapshot.
    result = simulate(
        env=env,
        journey=journey,
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        customers=[member, outsider, "C9"],
    )
    assert result["started_on"] == "2026-03-31"
    assert result["notes"] == [
        "started on 2026-03-31, the first day with a tag snapshot (the journey reads tags)"
    ]
    walked = {w["customer_no"]: w for w in result["customers"]}
    assert walked[member]["entered"]
    assert walked[outsider] == {
        "customer_no": outsider,
        "entered": False,
        "why": ["not a member of segment dormant_customers now (the walk admits its current members)"],
    }
    assert walked["C9"]["why"] == [
        "customer C9 is not in the newest tag snapshot (unknown, or not computed yet)"
    ]
    assert result["entered"] == 1


def test_sample_paths_mask_customer_numbers_and_a_walk_shows_the_customer_it_was_given(
    world: tuple[Container, VirtualClock],
) -> None:
    """One rule (governance.masking): a simulation's sample only illustrates its counts, so its numbers are
    masked; a test walk is of customers the caller named, so their own paths show them whole."""
    container, _ = world
    env = container
    # the message repeats the customer number, as an advisor's note does: the sample must not print it either
    body = json.loads(
        json.dumps(FOLLOWUP, ensure_ascii=False).replace("还在等您", "还在等您 {{ customer_no }}")
    )
    journey = parse_journey(body)
    # every run in the sample (run ids are random: a few could all be still waiting or held out)
    result = simulate(env=env, journey=journey, start=date(2026, 3, 24), end=date(2026, 3, 31), sample=500)
    shown = [path["customer_no"] for path in result["paths"]]
    assert shown
    messages = [m["content"] for path in result["paths"] for m in path["messages"]]
    assert messages
    assert all(m.startswith("还在等您 ") for m in messages)
    viewers = sorted(
        set(
            events_between(container, ["fund_detail_view"], date(2026, 3, 24), date(2026, 3, 31))
            .to_pandas()["customer_no"]
            .dropna()
        )
    )
    assert set(shown) <= {mask_customer_no(c) for c in viewers}
    assert not set(shown) & set(viewers)
    printed = json.dumps(result["paths"], ensure_ascii=False)
    assert not [c for c in viewers if c in printed], "a sample path prints a whole customer number"
    assert {m.removeprefix("还在等您 ") for m in messages} <= set(shown)
    customer = next(c for c in viewers if mask_customer_no(c) == shown[0])
    walked = simulate(
        env=env, journey=journey, start=date(2026, 3, 24), end=date(2026, 3, 31), customers=[customer]
    )
    assert {path["customer_no"] for path in walked["paths"]} == {customer}


def test_a_simulation_started_over_http_runs_as_a_job_and_counts_as_the_function_does(
    world: tuple[Container, VirtualClock],
) -> None:
    container, _ = world
    journey = get_journey(env=container, name="dormant_wakeup")
    direct = simulate(env=container, journey=journey, start=date(2026, 3, 24), end=date(2026, 3, 31))
    with api_client(container) as client:
        started = client.post(
            "/api/v1/journeys/dormant_wakeup/simulate", json={"from": "2026-03-24", "to": "2026-03-31"}
        )
        assert started.status_code == 202, started.text
        job = started.json()
        assert (job["kind"], job["subject"]) == (
            "simulation",
            {"journey": "dormant_wakeup", "version": "newest"},
        )
        view = finished_job(client, job["id"])
        assert view["stage"] == "done", view
        assert view["progress"] == 1.0
        result = view["result"]
        assert (result["entered"], result["runs"], result["nodes"]) == (
            direct["entered"],
            direct["runs"],
            direct["nodes"],
        )
        # A test walk of one member: each step with its outcome, and nothing held back without a reason.
        member = direct["paths"][0]["customer_no"]
        context, members = current_members(env=container, name="dormant_customers")
        whole = context.customer_numbers(members)[0]
        walk = client.post(
            "/api/v1/journeys/dormant_wakeup/simulate",
            json={"from": "2026-03-24", "to": "2026-03-31", "customers": [whole], "sample": 1},
        ).json()
        walked = finished_job(client, walk["id"])["result"]
        assert walked["customers"][0]["customer_no"] == whole
        assert walked["customers"][0]["entered"] is True
        assert walked["paths"][0]["customer_no"] == whole
        assert walked["paths"][0]["steps"][0]["node"] == journey.start
        assert "*" in member  # the sample of a whole simulation is masked
        bad = client.post(
            "/api/v1/journeys/dormant_wakeup/simulate", json={"from": "2026-03-31", "to": "2026-03-01"}
        )
        assert bad.status_code == 400
        assert (
            client.post("/api/v1/journeys/nope/simulate", json={"from": "-7d", "to": "today"}).status_code
            == 404
        )


def test_a_caller_without_pii_view_gets_the_sample_messages_without_their_text() -> None:
    from touchpoint.journeys.simulate import MASKED_CONTENT, without_message_text

    result = {
        "entered": 1,
        "paths": [
            {
                "customer_no": "C10***01",
                "messages": [{"node": "n", "content": "张三您好，138 0013 8000"}],
                "steps": [],
            }
        ],
    }
    shown = without_message_text(result)
    assert shown["paths"][0]["messages"] == [{"node": "n", "content": MASKED_CONTENT}]
    assert (shown["entered"], shown["paths"][0]["customer_no"]) == (1, "C10***01")
    assert result["paths"][0]["messages"][0]["content"].startswith("张三")  # the original is left as it was
