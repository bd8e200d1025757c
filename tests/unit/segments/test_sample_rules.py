"""The sample rules the console's rule builder round-trips (tests/fixtures/segment_rules.json, also read by
web/src/features/segments/ruleTree.test.ts): each is a valid rule on the demo brokerage, and both evaluation
paths (bitmaps and SQL) select the same customers for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.segments.model import kind_of
from touchpoint.segments.service import preview

SAMPLES = Path(__file__).parents[2] / "fixtures" / "segment_rules.json"
RULES: list[Any] = json.loads(SAMPLES.read_text("utf-8"))


@pytest.fixture(scope="module")
def world(demo_brokerage: Container) -> Container:
    """The shared demo brokerage (read only here)."""
    return demo_brokerage


def test_the_samples_cover_every_kind_of_rule_node() -> None:
    kinds: set[str] = set()
    stack = list(RULES)
    while stack:
        node = stack.pop()
        kind = kind_of(node)
        if kind is not None:
            kinds.add(kind)
        if isinstance(node, dict):
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(node)
    assert kinds >= {"all", "any", "not", "tag", "indicator", "attribute", "event", "sequence", "segment"}


@pytest.mark.parametrize("rule", RULES, ids=[json.dumps(r, ensure_ascii=False)[:40] for r in RULES])
def test_each_sample_is_valid_and_both_paths_agree(world: Container, rule: Any) -> None:
    bitmap = preview(env=world, principal=SYSTEM, rule=rule, path="bitmap", sample=0)
    sql = preview(env=world, principal=SYSTEM, rule=rule, path="sql", sample=0)
    assert bitmap["count"] == sql["count"]
    assert 0 <= bitmap["count"] <= bitmap["base"]
