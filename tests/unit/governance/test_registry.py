"""One definitions registry (issue 15 item 5): every kind through the same verbs, a whole configuration as a
directory — export, plan with a diff, apply in one transaction or as one approval request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from touchpoint.bootstrap import Container, build
from touchpoint.channels.model import TemplateDef
from touchpoint.channels.service import save_template
from touchpoint.config import load_settings
from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError
from touchpoint.governance import SYSTEM, Principal, approvals
from touchpoint.governance.approvals import ApprovalPolicyUpdate
from touchpoint.governance.permissions import ALL_PERMISSIONS
from touchpoint.governance.registry import read_directory, write_directory
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.moments.service import install_library
from touchpoint.segments.service import SegmentDef, save_segment
from touchpoint.tags.definitions_io import apply_import, default_library

MAKER = Principal(user="data.wu", permissions=ALL_PERMISSIONS - {"approval:review"}, source="tests")
CHECKER = Principal(user="comp.sun", permissions=frozenset({"approval:review"}), source="tests")
RISKY = {"attribute": "risk_level", "op": "=", "value": "C5"}


def _template(name: str = "notice", body: str = "您好") -> dict[str, Any]:
    return {"name": name, "title": name, "channel": "log", "classification": "service", "body": body}


def _journey(name: str = "care", template: str = "notice", exit_segment: str | None = None) -> dict[str, Any]:
    journey: dict[str, Any] = {
        "name": name,
        "title": name,
        "entry": {"type": "api"},
        "start": "send",
        "nodes": [
            {
                "id": "send",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "template": template},
            }
        ],
    }
    if exit_segment:
        journey["exit_criteria"] = [{"segment": exit_segment}]
    return journey


def _configure(container: Container) -> None:
    """One definition of every kind, saved through each domain's own use case."""
    apply_import(registry=container.registry, principal=SYSTEM, text=default_library())
    save_segment(
        env=container, principal=SYSTEM, segment=SegmentDef(name="risky", title="高风险", rule=RISKY)
    )
    save_template(env=container, principal=SYSTEM, template=TemplateDef.model_validate(_template()))
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(_journey()))
    install_library(registry=container.registry, principal=SYSTEM)  # the MOT rules (one reads indicators)
    container.registry.save(SYSTEM, "channel_policy", "default", {"quiet_start": "20:30:00"})


def _require(container: Container, action: str) -> None:
    approvals.set_policy(
        container.ops,
        clock=container.clock,
        principal=SYSTEM,
        name=action,
        update=ApprovalPolicyUpdate(required=True),
    )


def _approve(container: Container, approval_id: int) -> approvals.ApprovalRead:
    return approvals.approve(
        container.ops,
        clock=container.clock,
        principal=CHECKER,
        approval_id=approval_id,
        reason="reviewed",
        handlers=container.approval_handlers,
    )


@pytest.fixture
def second(tmp_path: Path) -> Any:
    """Another, empty installation (the brokerage's production beside its test system)."""
    other = build(load_settings(tmp_path / "second"))
    yield other
    other.close()


def test_a_directory_carries_the_whole_configuration_to_another_installation(
    container: Container, second: Container, tmp_path: Path
) -> None:
    _configure(container)
    folder = tmp_path / "config"
    exported = container.registry.export()
    assert write_directory(folder, exported) == (sum(len(b) for b in exported.values()), 0)
    kinds = {"indicator", "tag", "segment", "template", "channel_policy", "mot_rule", "journey"}
    assert {p.name for p in folder.iterdir()} == kinds
    plan = container.registry.plan(read_directory(folder))
    assert plan.changes == 0
    assert {i.action for i in plan.items} == {"unchanged"}

    done = second.registry.apply(SYSTEM, read_directory(folder))
    assert done.applied
    assert done.changes == len(done.items) == len(plan.items)
    assert [i.kind for i in done.items] == sorted(
        (i.kind for i in done.items), key=container.registry.kinds.index
    )  # dependency order: indicators before the tags that read them, templates before journeys
    assert second.registry.export() == exported
    assert second.registry.plan(read_directory(folder)).changes == 0


def test_plan_shows_the_diff_and_apply_writes_only_the_changes(container: Container, tmp_path: Path) -> None:
    _configure(container)
    folder = tmp_path / "config"
    write_directory(folder, container.registry.export())
    notice = folder / "template" / "notice.yaml"
    notice.write_text(notice.read_text(encoding="utf-8").replace("body: 您好", "body: 您好，请查收"))
    plan = container.registry.plan(read_directory(folder))
    [change] = [i for i in plan.items if i.action != "unchanged"]
    assert (change.kind, change.name, change.action, change.live_version) == (
        "template",
        "notice",
        "update",
        1,
    )
    assert "-body: 您好\n+body: 您好，请查收\n" in change.diff
    container.registry.apply(SYSTEM, read_directory(folder))
    history = container.registry.history("template", "notice")
    assert [v.version for v in history] == [1, 2]
    assert history[-1].body["body"] == "您好，请查收"
    assert container.registry.get("template", "notice", version=1).body["body"] == "您好"
    assert container.registry.apply(SYSTEM, read_directory(folder)).changes == 0


def test_a_bundle_may_reference_what_it_brings_and_a_faulty_one_writes_nothing(
    second: Container,
) -> None:
    bundle = {
        "segment": {
            "risky": {"title": "高风险", "rule": RISKY},
            "risky_again": {"title": "又一个", "rule": {"segment": "risky"}},
        },
        "template": {"notice": _template()},
        "journey": {"care": _journey(exit_segment="risky_again")},
    }
    assert second.registry.plan(bundle).changes == 4
    faulty = {**bundle, "journey": {"care": _journey(template="nowhere")}}
    with pytest.raises(ValidationError, match="nowhere"):
        second.registry.apply(SYSTEM, faulty)
    assert second.registry.export() == {k: {} for k in second.registry.kinds}
    assert second.registry.apply(SYSTEM, bundle).applied
    assert sorted(second.registry.list("segment")) == ["risky", "risky_again"]


def test_a_held_apply_takes_effect_on_approval_and_a_stale_one_is_refused(container: Container) -> None:
    _configure(container)
    _require(container, "definitions.apply")
    changed = {"template": {"notice": _template(body="第二版")}}
    held = container.registry.apply(MAKER, changed)
    assert not held.applied
    assert held.pending_approval is not None
    assert "+body: 第二版" in held.pending_approval.diff
    assert container.registry.get("template", "notice").body["body"] == "您好"
    done = _approve(container, held.pending_approval.id)
    assert done.result == {"versions": {"template/notice": 2}}
    latest = container.registry.get("template", "notice")
    assert (latest.body["body"], latest.actor) == ("第二版", "data.wu")  # written as its maker asked

    stale = container.registry.apply(MAKER, {"template": {"notice": _template(body="第三版")}})
    assert stale.pending_approval is not None
    save_template(
        env=container, principal=SYSTEM, template=TemplateDef.model_validate(_template(body="抢先"))
    )
    with pytest.raises(ConflictError, match="changed since the request"):
        _approve(container, stale.pending_approval.id)
    assert container.registry.get("template", "notice").body["body"] == "抢先"


def test_changing_a_segment_a_live_journey_uses_needs_approval(container: Container) -> None:
    _configure(container)
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(_journey(exit_segment="risky")))
    from touchpoint.channels.service import activate_template

    activate_template(env=container, principal=SYSTEM, name="notice")
    publish(env=container, principal=SYSTEM, name="care")
    _require(container, "segment.change")
    stricter = {"title": "高风险", "rule": {"attribute": "risk_level", "in": ["C4", "C5"]}}
    held = container.registry.save(MAKER, "segment", "risky", stricter)
    assert held.pending_approval is not None
    assert held.version is None
    assert container.registry.get("segment", "risky").body["rule"] == RISKY
    _approve(container, held.pending_approval.id)
    assert container.registry.get("segment", "risky").body["rule"] == stricter["rule"]
    retitled = container.registry.save(MAKER, "segment", "risky", {**stricter, "title": "高风险客户"})
    assert retitled.changed
    assert retitled.version == 3
    unused = container.registry.save(MAKER, "segment", "calm", {"title": "稳健", "rule": RISKY})
    assert unused.changed
    assert unused.version == 1
    with pytest.raises(ValidationError, match="used by a live journey"):
        container.registry.delete(MAKER, "segment", "risky")
    again = container.registry.save(MAKER, "segment", "risky", {"title": "高风险", "rule": RISKY})
    assert again.pending_approval is not None
    container.registry.save(MAKER, "segment", "risky", {**stricter, "title": "改名"})
    with pytest.raises(ConflictError, match=r"segment risky changed since the request \(version 3 → 4\)"):
        _approve(container, again.pending_approval.id)


def test_applying_a_directory_holds_a_live_journeys_segment_even_when_apply_needs_no_approval(
    container: Container,
) -> None:
    _configure(container)
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(_journey(exit_segment="risky")))
    from touchpoint.channels.service import activate_template

    activate_template(env=container, principal=SYSTEM, name="notice")
    publish(env=container, principal=SYSTEM, name="care")
    _require(container, "segment.change")  # definitions.apply stays off
    stricter = {"title": "高风险", "rule": {"attribute": "risk_level", "in": ["C4", "C5"]}}
    directory = {"segment": {"risky": stricter}, "template": {"notice": _template(body="新版")}}

    done = container.registry.apply(MAKER, directory)

    assert not done.applied
    assert done.pending_approval is not None
    assert done.pending_approval.action == "segment.change"
    assert "segment/risky need(s) segment.change" in done.pending_approval.summary
    assert container.registry.get("segment", "risky").body["rule"] == RISKY  # nothing written yet
    assert container.registry.get("template", "notice").body["body"] == "您好"
    _approve(container, done.pending_approval.id)
    assert container.registry.get("segment", "risky").body["rule"] == stricter["rule"]
    assert container.registry.get("template", "notice").body["body"] == "新版"
    calm = container.registry.apply(MAKER, {"segment": {"calm": {"title": "稳健", "rule": RISKY}}})
    assert calm.applied  # a segment no live journey uses is written at once


def test_an_export_mirrors_the_registry_and_needs_an_existing_parent(
    tmp_path: Path, container: Container
) -> None:
    _configure(container)
    folder = tmp_path / "config"
    write_directory(folder, container.registry.export())
    (folder / "segment" / "retired.yaml").write_text("name: retired\n", encoding="utf-8")
    (folder / "segment" / "notes.txt").write_text("kept: not a definition file\n", encoding="utf-8")
    _, removed = write_directory(folder, container.registry.export())
    assert removed == 1
    assert sorted(p.name for p in (folder / "segment").iterdir()) == ["notes.txt", "risky.yaml"]
    with pytest.raises(ValidationError, match="does not exist; create it first"):
        write_directory(tmp_path / "missing" / "config", {})
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match="is a file"):
        write_directory(tmp_path / "plain", {})


def test_directory_and_kind_faults_are_named(tmp_path: Path, container: Container) -> None:
    (tmp_path / "tag").mkdir()
    (tmp_path / "tag" / "a.yaml").write_text("name: b\ntitle: x\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"tag/a.yaml: the file names 'a' but its body names 'b'"):
        read_directory(tmp_path)
    (tmp_path / "tag" / "a.yaml").write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"tag/a\.yaml: a definition is a mapping"):
        read_directory(tmp_path)
    (tmp_path / "tag" / "a.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"tag/a\.yaml: not valid UTF-8 YAML"):
        read_directory(tmp_path)
    with pytest.raises(NotFoundError, match="no definition kind 'widget'"):
        container.registry.plan({"widget": {"a": {}}})
    with pytest.raises(ValidationError, match="tag broken"):
        container.registry.plan({"tag": {"broken": {"title": "b", "kind": "weird"}}})
    with pytest.raises(NotFoundError, match="no journey named 'ghost'"):
        container.registry.history("journey", "ghost")
