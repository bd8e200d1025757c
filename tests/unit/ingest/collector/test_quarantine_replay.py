"""Quarantined events come back in only through an operator's recorded override: listed, replayed by id or by
reason, re-checked as on arrival with the age limit lifted, admitted once, acknowledged once durable, and
kept (with the new reason) when another check still fails."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pyroaring import FrozenBitMap
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from support import api_client
from touchpoint.api.app import create_app
from touchpoint.bootstrap import Container
from touchpoint.cli.collector import app as collector_cli
from touchpoint.core.errors import UnauthorizedError
from touchpoint.governance import SYSTEM, Principal, local_administrator
from touchpoint.ingest.collector import quarantine
from touchpoint.ingest.collector.model import Batch
from touchpoint.ingest.collector.service import CollectorUnavailable, collect, record_rejected_batch
from touchpoint.store.operational.schema import audit_log, event_quarantine

RUNNER = CliRunner()
MAX_AGE = timedelta(days=30)  # the collector's default `collector_max_age_days`


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _cli(container: Container, *args: str, code: int = 0) -> Any:
    obj = SimpleNamespace(container=container, principal=local_administrator(getpass.getuser()))
    result = RUNNER.invoke(collector_cli, list(args), obj=obj)
    assert result.exit_code == code, (result.output, result.exception)
    return json.loads(result.output) if "--json" in args and code == 0 else result.output


def _log(container: Container) -> list[dict[str, Any]]:
    return [r.payload for r in container.log.read_after(0, 10_000)]


def _rows(container: Container) -> list[dict[str, Any]]:
    with container.ops.begin() as connection:
        return [dict(r) for r in connection.execute(select(event_quarantine).order_by("id")).mappings()]


def _audit(container: Container) -> list[dict[str, Any]]:
    with container.ops.begin() as connection:
        query = select(audit_log).where(audit_log.c.action == "collector.quarantine.replay")
        return [dict(r) for r in connection.execute(query.order_by(audit_log.c.id)).mappings()]


def _late_world(container: Container) -> datetime:
    """Four too-old events from three SDKs (one with a second fault), one from the future, one bad name."""
    now = container.clock.now()
    old = now - timedelta(days=40)
    env = container
    native = [
        {"event_id": "allot-1", "event": "ipo_allotment", "customer_no": "C1", "time": _ms(old)},
        {"event_id": {"not": "an id"}, "event": "ipo_refund", "customer_no": "C2", "time": _ms(old)},
        {"event_id": "f-1", "event": "fund_buy", "customer_no": "C1", "time": _ms(now + timedelta(hours=2))},
    ]
    collect(env=env, batch=Batch(source="native", project="branch_feed", messages=native))
    sensors = [
        {"type": "track", "event": "login", "distinct_id": "C7", "time": _ms(old), "properties": {}},
        {"type": "track", "event": "bad name", "distinct_id": "C7", "time": _ms(now), "properties": {}},
    ]
    collect(env=env, batch=Batch(source="sensors", project="proj_a", messages=sensors))
    segment = [{"type": "track", "event": "Signed In", "userId": "C3", "messageId": "m1"}]
    segment[0]["timestamp"] = old.isoformat()
    collect(env=env, batch=Batch(source="segment", project="wk", key="wk", messages=segment))
    return old


def test_replay_by_reason_admits_once_and_keeps_what_still_fails(container: Container) -> None:
    old = _late_world(container)
    listed = _cli(container, "quarantine", "--reason", "too_old", "--limit", "50", "--json")
    assert sorted(r["source"] for r in listed) == ["native", "native", "segment", "sensors"]
    assert {r["reason"] for r in listed} == {"too_old"}
    assert _log(container) == []

    report = _cli(
        container,
        "quarantine",
        "--reason",
        "too_old",
        "--replay",
        "all",
        "--why",
        "branch feed late",
        "--json",
    )
    assert (report["admitted"], report["duplicates"], report["quarantined"], report["not_found"]) == (
        3,
        0,
        1,
        0,
    )
    stored = {(e["event"], e["project"], e["time"]) for e in _log(container)}
    assert stored == {
        ("ipo_allotment", "branch_feed", _ms(old)),
        ("login", "proj_a", _ms(old)),
        ("Signed In", "wk", _ms(old)),
    }
    assert sorted((r["reason"], r["source"]) for r in _rows(container)) == [
        ("bad_id", "native"),
        ("bad_name", "sensors"),
        ("in_future", "native"),
    ]
    audit = _audit(container)
    assert len(audit) == 4
    assert {a["actor"] for a in audit} == {f"os:{getpass.getuser()}"}  # the CLI names the OS user
    assert {a["after"]["why"] for a in audit} == {"branch feed late"}
    assert sorted(a["after"]["outcome"] for a in audit) == ["admitted"] * 3 + ["quarantined"]
    assert {a["before"]["reason"] for a in audit} == {"too_old"}
    assert {a["at"] for a in audit} == {container.clock.now()}

    head = container.log.head()
    again = _cli(
        container, "quarantine", "--reason", "too_old", "--replay", "all", "--why", "twice", "--json"
    )
    assert (again["admitted"], again["quarantined"]) == (0, 0)
    assert container.log.head() == head


def test_replay_by_id_twice_admits_once(container: Container) -> None:
    _late_world(container)
    rows = {r["reason"]: r["id"] for r in _rows(container) if r["reason"] != "too_old"}
    too_old = [r["id"] for r in _rows(container) if r["reason"] == "too_old"]
    first = _cli(container, "quarantine", "--replay", str(too_old[0]), "--why", "ticket 42", "--json")
    assert [o["outcome"] for o in first["outcomes"]] == ["admitted"]
    second = _cli(container, "quarantine", "--replay", str(too_old[0]), "--why", "ticket 42", "--json")
    assert [o["outcome"] for o in second["outcomes"]] == ["not_found"]
    assert len(_log(container)) == 1
    # A message that came ahead of the clock is judged as on arrival: the override lifts only the age limit.
    future = _cli(container, "quarantine", "--replay", str(rows["in_future"]), "--why", "try", "--json")
    assert [(o["outcome"], o["reason"]) for o in future["outcomes"]] == [("quarantined", "in_future")]
    assert len(_log(container)) == 1


def test_a_crash_between_the_log_and_the_quarantine_repeats_nothing(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    _late_world(container)
    real = quarantine._settle

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(quarantine, "_settle", crash)
    _cli(container, "quarantine", "--reason", "too_old", "--replay", "all", "--why", "x", code=1)
    assert len(_log(container)) == 3  # durable in the log, still in the quarantine
    assert sum(r["reason"] == "too_old" for r in _rows(container)) == 4
    monkeypatch.setattr(quarantine, "_settle", real)
    report = _cli(container, "quarantine", "--reason", "too_old", "--replay", "all", "--why", "x", "--json")
    assert (report["admitted"], report["duplicates"], report["quarantined"]) == (3, 3, 1)
    names = sorted(e["event"] for e in _log(container))
    assert names == ["Signed In", "ipo_allotment", "login"]  # the keyless Sensors event too, once


def test_nothing_is_released_when_the_log_cannot_take_it(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    _late_world(container)
    before = _rows(container)

    def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(container.log, "append", unavailable)
    with pytest.raises(CollectorUnavailable):
        quarantine.replay_quarantine(env=container, principal=SYSTEM, why="x", reason="too_old")
    assert _rows(container) == before
    assert _audit(container) == []


def test_rows_without_a_message_stay_as_they_are(container: Container) -> None:
    legacy = {"type": "track", "event": "old_style", "distinct_id": "C5", "properties": {}}
    legacy["time"] = _ms(container.clock.now() - timedelta(days=60))
    at = container.clock.now()
    with container.ops.begin() as connection:
        connection.execute(
            insert(event_quarantine),
            [
                {"received_at": at, "source": "sensors", "reason": "too_old", "detail": "d",
                 "payload": orjson.dumps(legacy).decode()},
                {"received_at": at, "source": "sensors", "reason": "bad_crc", "detail": "d",
                 "payload": "data=abc&crc=1"},
            ],
        )  # fmt: skip
    record_rejected_batch(
        env=container, source="segment", reason="bad_json", detail="no batch", raw=b'{"b": 1}'
    )
    ids = [str(r["id"]) for r in _rows(container)]
    replays = [arg for i in ids for arg in ("--replay", i)]
    report = _cli(container, "quarantine", *replays, "--why", "y", "--json")
    assert [o["outcome"] for o in report["outcomes"]] == ["admitted", "not_replayable", "not_replayable"]
    assert [e["event"] for e in _log(container)] == ["old_style"]
    assert (_rows(container)[0]["reason"], _rows(container)[0]["payload"]) == ("bad_crc", "data=abc&crc=1")
    assert [r["reason"] for r in _rows(container)] == ["bad_crc", "bad_json"]


def test_a_reused_row_id_is_not_taken_for_a_duplicate(container: Container) -> None:
    """SQLite gives a deleted newest row's id to the next row: a keyless event there must still come in."""
    old = container.clock.now() - timedelta(days=40)
    for name in ("first_late", "second_late"):
        message = {"type": "track", "event": name, "distinct_id": "C8", "time": _ms(old), "properties": {}}
        collect(
            env=container,
            batch=Batch(source="sensors", project="default", messages=[message]),
        )
        (row,) = _rows(container)
        report = quarantine.replay_quarantine(env=container, principal=SYSTEM, why="late", ids=[row["id"]])
        assert (report.admitted, report.duplicates) == (1, 0)
    assert sorted(e["event"] for e in _log(container)) == ["first_late", "second_late"]


def test_a_caller_with_a_branch_scope_cannot_replay_or_read(container: Container) -> None:
    _late_world(container)
    branch = Principal(user="branch-7", scope=FrozenBitMap([1, 2]))
    with pytest.raises(UnauthorizedError):
        quarantine.replay_quarantine(env=container, principal=branch, why="x", reason="too_old")
    with pytest.raises(UnauthorizedError):
        quarantine.list_quarantine(env=container, principal=branch)
    assert _log(container) == []


def test_replay_needs_a_why_and_one_selection(container: Container) -> None:
    _late_world(container)
    assert "--why" in _cli(container, "quarantine", "--replay", "all", "--reason", "too_old", code=2)
    _cli(container, "quarantine", "--replay", "all", "--why", "x", code=2)
    _cli(container, "quarantine", "--replay", "1", "--reason", "too_old", "--why", "x", code=2)
    _cli(container, "quarantine", "--replay", "one", "--why", "x", code=2)
    assert _log(container) == []


# ---- over HTTP -------------------------------------------------------------------------------------------


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with api_client(container) as test_client:
        yield test_client


def test_list_and_replay_over_http(client: TestClient, container: Container) -> None:
    old = _late_world(container)
    page = client.get("/api/v1/collector/quarantine", params={"reason": "too_old"})
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 4
    native = next(i for i in body["items"] if i["payload"].get("event") == "ipo_allotment")
    assert native["context"]["project"] == "branch_feed"
    assert all("key" not in item["context"] for item in body["items"])  # write keys are not shown
    assert native["replayable"] is True

    bad = client.post("/api/v1/collector/quarantine/replay", json={"ids": [native["id"]], "why": ""})
    assert bad.status_code == 422
    both = client.post(
        "/api/v1/collector/quarantine/replay", json={"ids": [native["id"]], "reason": "too_old", "why": "x"}
    )
    assert both.status_code == 400
    assert both.json()["error"]["code"] == "invalid"

    done = client.post("/api/v1/collector/quarantine/replay", json={"ids": [native["id"]], "why": "call"})
    assert done.status_code == 200, done.text
    assert done.json()["outcomes"] == [
        {"id": native["id"], "outcome": "admitted", "event_id": done.json()["outcomes"][0]["event_id"],
         "reason": None, "detail": None},
    ]  # fmt: skip
    assert [(e["event"], e["time"]) for e in _log(container)] == [("ipo_allotment", _ms(old))]
    assert client.get("/api/v1/collector/quarantine", params={"reason": "too_old"}).json()["total"] == 3
    assert "/api/v1/collector/quarantine/replay" in client.get("/openapi.json").json()["paths"]


def test_collector_only_processes_do_not_serve_the_replay(container: Container) -> None:
    with TestClient(create_app(container, collector_only=True)) as collector:
        response = collector.post(
            "/api/v1/collector/quarantine/replay", json={"reason": "too_old", "why": "x"}
        )
        assert response.status_code == 404


# ---- the rule over many arrivals ---------------------------------------------------------------------------


ARRIVAL = st.fixed_dictionaries(
    {
        # Milliseconds past the age limit: <= 0 is inside the window, > 0 is too old.
        "past_limit_ms": st.one_of(st.integers(-5, 5), st.integers(-(10**9), 10**10)),
        "key": st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
        "bad_id": st.booleans(),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(arrivals=st.lists(ARRIVAL, min_size=1, max_size=8))
@example(
    arrivals=[
        {"past_limit_ms": 0, "key": "a", "bad_id": False},
        {"past_limit_ms": 1, "key": "a", "bad_id": False},
    ]
)
@example(arrivals=[{"past_limit_ms": 1, "key": None, "bad_id": False}] * 2)
@example(arrivals=[{"past_limit_ms": 1, "key": "b", "bad_id": True}])
def test_every_arrival_ends_in_the_log_once_or_in_the_quarantine(
    container: Container, arrivals: list[dict[str, Any]]
) -> None:
    run = uuid.uuid4().hex[:8]  # the store is shared by the examples: each tells its own events apart
    now = container.clock.now()
    messages = []
    for i, arrival in enumerate(arrivals):
        key = f"{run}-{arrival['key']}" if arrival["key"] else None
        message: dict[str, Any] = {
            "event": "late_event",
            "customer_no": f"{run}-{i}",
            "time": _ms(now - MAX_AGE) - arrival["past_limit_ms"],
            "properties": {"run": run, "i": i},
        }
        if arrival["bad_id"]:
            message["event_id"] = ["not", "an", "id"]
        elif key:
            message["event_id"] = key
        messages.append(message)
    collect(env=container, batch=Batch(source="native", project="p", messages=messages))
    # Brute force of the arrival checks: too old past the limit (checked first), else a bad id.
    too_old = [i for i, a in enumerate(arrivals) if a["past_limit_ms"] > 0]
    bad_in_window = [i for i, a in enumerate(arrivals) if a["bad_id"] and i not in too_old]
    mine = [r for r in _rows(container) if f'"{run}"' in r["payload"]]
    assert sorted(r["reason"] for r in mine) == sorted(
        ["too_old"] * len(too_old) + ["bad_id"] * len(bad_in_window)
    )
    assume(mine)

    ids = [r["id"] for r in mine]
    for _ in range(2):
        quarantine.replay_quarantine(env=container, principal=SYSTEM, why="prop", ids=ids)

    # Brute force: a keyed event is in the log once per key, a keyless one once per arrival; a bad id stays.
    def logged_key(i: int) -> str:
        key = arrivals[i]["key"]
        return f"key:{key}" if key else f"arrival:{i}"

    expected = {logged_key(i): 1 for i in range(len(arrivals)) if not arrivals[i]["bad_id"]}
    logged: dict[str, int] = {}
    for event in _log(container):
        if event["properties"].get("run") == run:
            i = int(event["properties"]["i"])
            logged[logged_key(i)] = logged.get(logged_key(i), 0) + 1
    assert logged == expected
    still = sorted(r["reason"] for r in _rows(container) if f'"{run}"' in r["payload"])
    assert still == ["bad_id"] * sum(a["bad_id"] for a in arrivals)
