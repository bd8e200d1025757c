"""Rules refused with the fault and its place; saved segments; the preview CLI and API on a small demo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support import api_client
from touchpoint.bootstrap import Container, build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ConflictError, ForbiddenError, ValidationError
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.segments.model import rule_schema
from touchpoint.segments.service import SegmentDef, mask_customer_no, preview, save_segment

END = date(2026, 3, 31)
AT = datetime(2026, 3, 31, 8, tzinfo=UTC)
RULE = {
    "all": [
        {"tag": "asset_tier", "in": ["高净值", "富裕", "大众"]},
        {"indicator": "login_days_30d", "op": ">=", "value": 1},
        {"not": {"attribute": "risk_level", "in": ["C1"]}},
        {"event": "fund_detail_view", "within": "7d"},
    ]
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, Path]]:
    home = tmp_path_factory.mktemp("seg") / "home"
    container = build(load_settings(home), clock=VirtualClock(AT))
    ensure_demo(
        env=container,
        principal=SYSTEM,
        params=DemoParams(customers=300, days=20, seed=9, end_date=END),
    )
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    yield container, home
    container.close()


@pytest.mark.parametrize(
    ("rule", "fault"),
    [
        (
            {"all": [{"tag": "asset_tier", "in": ["高净值"]}, {"tag": "nope", "exists": True}]},
            r"rule\.all\[1\]: unknown tag 'nope'",
        ),
        (
            {"any": [{"tag": "asset_tier", "in": ["土豪"]}]},
            r"rule\.any\[0\]: tag 'asset_tier' has no value '土豪'",
        ),
        ({"not": {"indicator": "nope", "op": ">", "value": 1}}, r"rule\.not: unknown indicator 'nope'"),
        ({"indicator": "last_topic_30d", "op": ">", "value": 1}, "is text"),
        ({"attribute": "shoe", "exists": True}, "unknown attribute 'shoe'"),
        ({"attribute": "gender", "op": ">", "value": "M"}, "> needs a number or date"),
        ({"attribute": "risk_level", "in": ["C9"]}, "has no value 'C9'"),
        (
            {"attribute": "branch_id", "op": "=", "value": 31.01},
            r"rule: attribute branch_id is text, not 31.01",
        ),
        (
            {"all": [{"attribute": "open_date", "op": ">=", "value": "2020.1.1"}]},
            r"rule\.all\[0\]: attribute open_date is a date",
        ),
        ({"event": "logni", "within": "7d"}, "unknown event"),
        ({"event": "login", "within": "7 days"}, "within"),
        ({"segment": "ghost"}, "unknown segment 'ghost'"),
        ({"list": "u1"}, "unknown list 'u1'"),
        ({"all": [{"indicatr": "x"}]}, r"rule\.all\[0\]: a rule node has one of the keys"),
        ({"tag": "asset_tier", "in": ["富裕"], "exists": True}, "exactly one of in, not_in, exists"),
    ],
)
def test_faulty_rules_are_refused_naming_the_place(
    demo: tuple[Container, Path], rule: dict[str, Any], fault: str
) -> None:
    container, _ = demo
    with pytest.raises(ValidationError, match=fault):
        preview(env=container, principal=SYSTEM, rule=rule, at=AT)


def test_saved_segments_nest_and_cycles_are_refused(demo: tuple[Container, Path]) -> None:
    container, _ = demo
    env = container
    save_segment(env=env, principal=SYSTEM, segment=SegmentDef(name="rich", title="富", rule=RULE["all"][0]))
    nested = {"all": [{"segment": "rich"}, {"indicator": "login_days_30d", "op": ">=", "value": 1}]}
    save_segment(env=env, principal=SYSTEM, segment=SegmentDef(name="rich_active", title="活跃", rule=nested))
    direct = preview(env=env, principal=SYSTEM, rule={"all": RULE["all"][:2]}, at=AT)
    assert (
        preview(env=env, principal=SYSTEM, rule={"segment": "rich_active"}, at=AT)["count"]
        == direct["count"]
        > 0
    )
    loop = {"any": [{"segment": "rich_active"}]}
    with pytest.raises(ValidationError, match="segment cycle rich_active → rich → rich_active"):
        save_segment(env=env, principal=SYSTEM, segment=SegmentDef(name="rich", title="富", rule=loop))


def test_preview_paths_agree_and_sample_is_masked(demo: tuple[Container, Path]) -> None:
    container, _ = demo
    fast = preview(env=container, principal=SYSTEM, rule=RULE, at=AT)
    slow = preview(env=container, principal=SYSTEM, rule=RULE, at=AT, path="sql")
    assert fast["count"] == slow["count"] > 0
    assert fast["sample"] == slow["sample"]
    assert all("***" in s for s in fast["sample"])
    assert fast["at"] == "2026-03-31T16:00:00+08:00"
    assert mask_customer_no("C1000123") == "C10***23"


def test_cli_preview_at_a_beijing_time(demo: tuple[Container, Path], tmp_path: Path) -> None:
    container, home = demo
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps(RULE, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "--home",
            str(home),
            "segment",
            "preview",
            "--rule",
            str(rule_file),
            "--at",
            "2026-03-31T16:00",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["count"] == preview(env=container, principal=SYSTEM, rule=RULE, at=AT)["count"]
    assert body["at"].startswith("2026-03-31T16:00:00+08:00")


def test_api_schema_preview_and_saved_segment(demo: tuple[Container, Path]) -> None:
    container, _ = demo
    with api_client(container) as client:
        assert client.get("/api/v1/segments/schema").json() == rule_schema()
        answer = client.post("/api/v1/segments/preview?at=2026-03-31T16:00:00", json=RULE)
        assert answer.status_code == 200, answer.text
        assert answer.json()["count"] == preview(env=container, principal=SYSTEM, rule=RULE, at=AT)["count"]
        bad = client.post("/api/v1/segments/preview", json={"tag": "nope", "exists": True})
        assert bad.status_code == 400
        assert "unknown tag 'nope'" in bad.text
        for path in ("bitmap", "sql"):  # a value of another type than the attribute's: 400 on both paths
            typed = client.post(
                f"/api/v1/segments/preview?path={path}",
                json={"attribute": "open_date", "op": ">=", "value": 20200101},
            )
            assert typed.status_code == 400, typed.text
            assert "attribute open_date is a date: write it as YYYY-MM-DD, not 20200101" in typed.text
        dated = {"attribute": "open_date", "op": ">=", "value": "2020-01-01"}
        counts = [
            client.post(f"/api/v1/segments/preview?path={p}", json=dated).json()["count"]
            for p in ("bitmap", "sql")
        ]
        assert counts[0] == counts[1] > 0
        saved = client.put("/api/v1/segments/engaged", json={"title": "活跃", "rule": RULE})
        assert saved.status_code == 200, saved.text
        assert client.get("/api/v1/segments/engaged").json()["title"] == "活跃"
        refused = client.put("/api/v1/segments/x", json={"rule": RULE, "kind": "weird"})
        assert refused.status_code == 422
        assert refused.json()["error"]["details"][0]["loc"][:2] == ["body", "kind"]


def test_refresh_keeps_snapshots_and_history(demo: tuple[Container, Path]) -> None:
    from touchpoint.segments.service import members_of, refresh_segment, refreshes_due, status

    container, _ = demo
    env = container
    save_segment(env=env, principal=SYSTEM, segment=SegmentDef(name="browsers", title="浏览", rule=RULE))
    assert "browsers" in refreshes_due(env=env)
    body = refresh_segment(env=env, principal=SYSTEM, name="browsers")
    expected = preview(env=env, principal=SYSTEM, rule=RULE, at=AT)["count"]
    assert body["size"] == expected
    assert body["history"] == [{"date": "2026-03-31", "size": expected}]
    assert body["last_error"] is None
    day, members = members_of(env=env, name="browsers")
    assert (day, len(members)) == (END, expected)
    assert "browsers" not in refreshes_due(env=env)
    assert status(env=env, name="browsers")["last_computed"] is not None


def test_a_failing_refresh_is_recorded_and_retried_with_back_off(
    demo: tuple[Container, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from touchpoint.segments import service
    from touchpoint.segments.service import refresh_segment, refreshes_due, status

    container, _ = demo
    env = container
    save_segment(env=env, principal=SYSTEM, segment=SegmentDef(name="fragile", title="f", rule=RULE))

    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("engine gone")

    monkeypatch.setattr(service, "evaluate", broken)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="engine gone"):
            refresh_segment(env=env, principal=SYSTEM, name="fragile")
    shown = status(env=env, name="fragile")
    assert shown["last_error"] == "engine gone"
    assert shown["retry_at"] == "2026-03-31T08:02:00+00:00"  # second attempt: 2 minutes of back-off
    assert "fragile" not in refreshes_due(env=env)  # waiting out the back-off, not dropped
    clock = container.clock
    assert isinstance(clock, VirtualClock)
    clock.advance(timedelta(minutes=3))
    assert "fragile" in refreshes_due(env=env)


def test_uploaded_list_becomes_a_static_segment_and_exports(
    demo: tuple[Container, Path], tmp_path: Path
) -> None:
    from touchpoint.segments.service import export_members, read_numbers, upload_list

    container, home = demo
    env = container
    numbers = read_numbers("customer_no,备注\nC1000001,a\nC1000002,b\nC9999999,c\n".encode("gbk"))
    assert numbers == ["C1000001", "C1000002", "C9999999"]
    uploaded = upload_list(env=env, principal=SYSTEM, name="vip.csv", numbers=numbers)
    assert uploaded["unknown"] == ["C9999999"]
    listed = preview(env=env, principal=SYSTEM, rule={"list": uploaded["list"]}, at=AT)
    assert listed["count"] == 2
    files = tmp_path / "vip.txt"
    files.write_text("C1000003\nC1000004\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--home", str(home), "segment", "upload", "vips", str(files), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["size"] == 2
    text = export_members(env=env, principal=SYSTEM, name="vips", attributes=["risk_level", "city"])
    lines = text.strip().splitlines()
    assert lines[0] == "customer_no,risk_level,city"
    assert [line.split(",")[0] for line in lines[1:]] == ["C1000003", "C1000004"]
    with pytest.raises(ValidationError, match="unknown attribute"):
        export_members(env=env, principal=SYSTEM, name="vips", attributes=["shoe"])


def test_a_large_export_waits_for_approval_and_is_used_once_by_its_maker(
    demo: tuple[Container, Path],
) -> None:
    from touchpoint.governance import Principal, approvals
    from touchpoint.governance.approvals import ApprovalPolicyUpdate, ApprovalRead
    from touchpoint.governance.permissions import ALL_PERMISSIONS
    from touchpoint.segments.service import export_members, refresh_segment

    container, _ = demo
    save_segment(
        env=container,
        principal=SYSTEM,
        segment=SegmentDef(
            name="cautious", title="保守", rule={"attribute": "risk_level", "in": ["C1", "C2"]}
        ),
    )
    maker = Principal(user="ops.chen", permissions=ALL_PERMISSIONS - {"approval:review"}, source="tests")
    other = Principal(user="ana.liu", permissions=ALL_PERMISSIONS - {"approval:review"}, source="tests")
    checker = Principal(user="comp.sun", permissions=frozenset({"approval:review"}), source="tests")

    def switch(required: bool, threshold: int | None = None) -> None:
        update = ApprovalPolicyUpdate(required=required, threshold=threshold)
        approvals.set_policy(
            container.ops, clock=container.clock, principal=SYSTEM, name="segment.export", update=update
        )

    refresh_segment(env=container, principal=SYSTEM, name="cautious")
    members = (
        len(export_members(env=container, principal=maker, name="cautious", attributes=[]).splitlines()) - 1
    )
    assert members > 2
    switch(True, threshold=members)  # exactly the threshold: no approval needed
    assert isinstance(export_members(env=container, principal=maker, name="cautious", attributes=[]), str)
    switch(True, threshold=members - 1)
    try:
        held = export_members(env=container, principal=maker, name="cautious", attributes=["city"])
        assert isinstance(held, ApprovalRead)
        assert held.payload["members"] == members
        with pytest.raises(ConflictError, match="pending; only an approved request"):
            export_members(
                env=container, principal=maker, name="cautious", attributes=["city"], approval=held.id
            )
        approvals.approve(
            container.ops,
            clock=container.clock,
            principal=checker,
            approval_id=held.id,
            reason="for the branch campaign",
            handlers=container.approval_handlers,
        )
        with pytest.raises(ForbiddenError, match="only they may use it"):
            export_members(
                env=container, principal=other, name="cautious", attributes=["city"], approval=held.id
            )
        with pytest.raises(ValidationError, match="approved the attributes"):
            export_members(
                env=container, principal=maker, name="cautious", attributes=["gender"], approval=held.id
            )
        text = export_members(
            env=container, principal=maker, name="cautious", attributes=["city"], approval=held.id
        )
        assert isinstance(text, str)
        assert len(text.splitlines()) == members + 1
        with pytest.raises(ConflictError, match="is used"):
            export_members(
                env=container, principal=maker, name="cautious", attributes=["city"], approval=held.id
            )
    finally:
        switch(False)


def test_a_list_cannot_replace_a_segment_a_live_journey_uses_while_its_change_needs_approval(
    demo: tuple[Container, Path],
) -> None:
    from touchpoint.governance import approvals
    from touchpoint.governance.approvals import ApprovalPolicyUpdate
    from touchpoint.journeys.service import parse_journey, publish, save_journey
    from touchpoint.segments.service import get_segment, save_list_segment

    container, _ = demo
    first = save_list_segment(
        env=container, principal=SYSTEM, name="vip_call", title="回访", numbers=["C1000001"], source="a.csv"
    )
    assert first["size"] == 1
    journey = {
        "name": "vip_call_care",
        "title": "回访关怀",
        "entry": {"type": "api"},
        "start": "note",
        "nodes": [
            {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}
        ],
        "exit_criteria": [{"segment": "vip_call"}],
    }
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(journey))
    publish(env=container, principal=SYSTEM, name="vip_call_care")
    rule = get_segment(env=container, name="vip_call").rule

    def switch(required: bool) -> None:
        update = ApprovalPolicyUpdate(required=required)
        approvals.set_policy(
            container.ops, clock=container.clock, principal=SYSTEM, name="segment.change", update=update
        )

    switch(True)
    try:
        with pytest.raises(ValidationError, match=r"'vip_call' cannot be replaced .* \(segment\.change\)"):
            save_list_segment(
                env=container,
                principal=SYSTEM,
                name="vip_call",
                title="回访",
                numbers=["C1000002", "C1000003"],
                source="b.csv",
            )
        assert get_segment(env=container, name="vip_call").rule == rule  # the live rule is kept
        unused = save_list_segment(
            env=container, principal=SYSTEM, name="vip_new", title="新", numbers=["C1000002"], source="b.csv"
        )
        assert unused["size"] == 1  # a segment no live journey uses is saved at once
    finally:
        switch(False)
    again = save_list_segment(
        env=container, principal=SYSTEM, name="vip_call", title="回访", numbers=["C1000002"], source="b.csv"
    )
    assert again["size"] == 1  # with the gate off, the list replaces it as before


def test_a_list_uploaded_over_http_is_listed_by_name_and_size_and_named_by_a_rule(
    demo: tuple[Container, Path],
) -> None:
    container, _ = demo
    with api_client(container) as client:
        body = "C1000005\nC1000006\nC1000006\nC8888888\n".encode("gbk")
        kept = client.post("/api/v1/lists", files={"file": ("回访名单.txt", body, "text/plain")})
        assert kept.status_code == 200, kept.text
        assert (kept.json()["rows"], kept.json()["unknown"]) == (3, ["C8888888"])
        listed = client.get("/api/v1/lists").json()
        mine = next(entry for entry in listed if entry["list"] == kept.json()["list"])
        assert (mine["name"], mine["rows"]) == ("回访名单.txt", 3)
        assert [entry["at"] for entry in listed] == sorted((entry["at"] for entry in listed), reverse=True)
        assert "C1000005" not in json.dumps(listed)  # the listing shows no customer number
        count = client.post("/api/v1/segments/preview", json={"list": kept.json()["list"]}).json()["count"]
        assert count == 2
        empty = client.post("/api/v1/lists", files={"file": ("空.txt", b"\n\n", "text/plain")})
        assert empty.status_code == 400
