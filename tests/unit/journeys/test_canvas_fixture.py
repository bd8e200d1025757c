"""The journey definitions the console's canvas round-trips (tests/fixtures/journeys.json, read by
web/src/features/journeys/graph.test.ts): every shipped journey as its YAML file writes it and as the engine
stores and answers it, plus one journey of every node, action and entry shape. The fixture is checked to be
current: a shipped journey that changes fails here until the fixture is written again with
TOUCHPOINT_WRITE_FIXTURES=1."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from touchpoint.journeys.service import parse_journey

SHIPPED = Path(__file__).parents[3] / "src" / "touchpoint" / "demo" / "journeys"
FIXTURE = Path(__file__).parents[2] / "fixtures" / "journeys.json"

EVERY_SHAPE: dict[str, Any] = {
    "name": "every_shape",
    "title": "每种节点 every shape",
    "entry": {"type": "api", "required": ["product_code"]},
    "start": "at_ten",
    "nodes": [
        {"id": "at_ten", "type": "wait", "until_time": "10:00", "trading_day": True, "next": "deadline"},
        {
            "id": "deadline",
            "type": "wait",
            "until_field": "payload.pay_deadline",
            "offset": "-4h",
            "next": "ab",
        },
        {
            "id": "ab",
            "type": "ab_split",
            "variants": [
                {"name": "A", "weight": 1, "next": "tag"},
                {"name": "B", "weight": 3, "next": "attr"},
            ],
        },
        {
            "id": "tag",
            "type": "action",
            "action": {"kind": "set_tag", "tag": "vip", "value": "是"},
            "next": "hook",
        },
        {
            "id": "attr",
            "type": "action",
            "action": {"kind": "set_attribute", "attribute": "note", "value": {"a": [1, 2]}},
            "next": "hook",
        },
        {"id": "hook", "type": "action", "action": {"kind": "webhook", "url": "https://crm.example/hook"}},
        {"id": "end", "type": "exit", "title": "结束"},
    ],
    "exit_criteria": [{"segment": "dormant_customers"}, {"event": "account_close", "where": []}],
    "reentry": {"mode": "interval", "interval": "30d"},
    "caps": {"total": 1000, "per_day": 100},
    "priority": 5,
    "holdout_percent": 10,
    "layout": {"entry": {"x": 0, "y": -100}, "at_ten": {"x": 0, "y": 0}},
}


def _fixture() -> list[dict[str, Any]]:
    written = [
        (path.stem, yaml.safe_load(path.read_text("utf-8"))) for path in sorted(SHIPPED.glob("*.yaml"))
    ]
    written.append(("every_shape", EVERY_SHAPE))
    return [
        {
            "name": name,
            "written": body,
            "stored": parse_journey(body).model_dump(mode="json", by_alias=True, exclude_defaults=False),
        }
        for name, body in written
    ]


def test_the_canvas_fixture_holds_every_shipped_journey_as_written_and_as_stored() -> None:
    expected = _fixture()
    if os.environ.get("TOUCHPOINT_WRITE_FIXTURES"):
        FIXTURE.write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", "utf-8")
    current = json.loads(FIXTURE.read_text("utf-8"))
    assert current == expected, "write it again: TOUCHPOINT_WRITE_FIXTURES=1 pytest " + __file__


def test_the_fixture_has_every_node_action_and_entry_kind() -> None:
    stored = [item["stored"] for item in _fixture()]
    node_types = {n["type"] for j in stored for n in j["nodes"]}
    actions = {n["action"]["kind"] for j in stored for n in j["nodes"] if n["type"] == "action"}
    entries = {j["entry"]["type"] for j in stored}
    assert node_types == {"wait", "wait_for_event", "split", "ab_split", "action", "exit"}
    assert actions == {"send", "set_tag", "set_attribute", "webhook", "advisor_task"}
    assert entries == {"segment", "event", "api"}
