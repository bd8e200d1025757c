"""TGI and overlaps against plain set arithmetic; lookalike finds a planted group; jobs over HTTP."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from support import api_client, finished_job
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.insight import lookalike as lookalike_module
from touchpoint.insight.lookalike import lookalike
from touchpoint.insight.profile import overlap, tgi_profile
from touchpoint.segments.service import (
    SegmentDef,
    current_members,
    refresh_segment,
    save_segment,
    upload_list,
)

END = date(2026, 3, 31)
AT = datetime(2026, 3, 31, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    container = build(load_settings(tmp_path_factory.mktemp("insight")), clock=VirtualClock(AT))
    params = DemoParams(customers=1500, days=30, seed=13, end_date=END)
    ensure_demo(env=container, principal=SYSTEM, params=params)
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    env = container
    for name, rule in (
        ("recurring", {"tag": "recurring_investor", "in": ["是"]}),
        ("rich", {"tag": "asset_tier", "in": ["高净值", "富裕"]}),
        ("active", {"indicator": "login_days_30d", "op": ">=", "value": 4}),
    ):
        save_segment(env=env, principal=SYSTEM, segment=SegmentDef(name=name, title=name, rule=rule))
    yield container
    container.close()


def test_tgi_matches_shares_counted_by_pandas(demo: Container) -> None:
    tags = demo.analytics.read_partition("tag_values", END).to_pandas()
    body = tgi_profile(env=demo, segment="rich", tags=["lifecycle_stage", "risk_level"])
    members = tags[tags["asset_tier"].isin(["高净值", "富裕"])]
    assert body["segment_size"] == len(members)
    for profile in body["tags"]:
        tag = profile["tag"]
        for row in profile["values"]:
            segment_share = (members[tag] == row["value"]).mean()
            base_share = (tags[tag] == row["value"]).mean()
            assert row["segment_share"] == pytest.approx(segment_share, abs=1e-4)
            assert row["tgi"] == pytest.approx(segment_share / base_share * 100, abs=0.1)
    distances = [p["distance"] for p in body["tags"]]
    assert distances == sorted(distances, reverse=True)


def test_tgi_against_another_segment_and_indicator_summary(demo: Container) -> None:
    body = tgi_profile(
        env=demo, segment="rich", against="active", tags=["asset_tier"], indicators=["total_assets"]
    )
    values = demo.analytics.read_partition("indicator_values", END).to_pandas()
    tags = demo.analytics.read_partition("tag_values", END).to_pandas()
    active = values[values["login_days_30d"] >= 4]
    assert body["base_size"] == len(active)
    rich = values[tags["asset_tier"].isin(["高净值", "富裕"]).to_numpy()]
    assert body["indicators"][0]["segment"]["median"] == pytest.approx(rich["total_assets"].median())
    with pytest.raises(ValidationError, match="unknown tag"):
        tgi_profile(env=demo, segment="rich", tags=["nope"])


def test_overlap_regions_are_set_arithmetic(demo: Container) -> None:
    tags = demo.analytics.read_partition("tag_values", END).to_pandas().set_index("customer_no")
    values = demo.analytics.read_partition("indicator_values", END).to_pandas().set_index("customer_no")
    sets = {
        "recurring": set(tags.index[tags["recurring_investor"] == "是"]),
        "rich": set(tags.index[tags["asset_tier"].isin(["高净值", "富裕"])]),
        "active": set(values.index[values["login_days_30d"] >= 4]),
    }
    body = overlap(env=demo, segments=list(sets))
    for region in body["regions"]:
        inside = set.intersection(*(sets[n] for n in region["segments"]))
        others = [sets[n] for n in sets if n not in region["segments"]]
        exactly = inside - set.union(*others) if others else inside
        assert (region["intersection"], region["exactly"]) == (len(inside), len(exactly))
    with pytest.raises(ValidationError, match="2 to 4"):
        overlap(env=demo, segments=["rich"])


def test_lookalike_finds_the_planted_recurring_investors(demo: Container) -> None:
    result = lookalike(env=demo, principal=SYSTEM, seed="recurring", target="recurring_like", top=100)
    assert result["auc_holdout"] > 0.75  # the demo plants them among fund-heavy portfolios
    assert result["size"] == 100
    assert not any("recurring_investor" in f or "autoinvest" in f for f in result["features"])
    tags = demo.analytics.read_partition("tag_values", END).to_pandas()
    chosen = set(demo.analytics.read_partition("segment_members", END).to_pandas()["segment"])
    assert "recurring_like" in chosen
    again = lookalike(env=demo, principal=SYSTEM, seed="recurring", target="recurring_like", top=50)
    assert again["size"] == 50  # a rerun replaces the frozen list
    assert len(tags) == 1500


def test_lookalike_recalls_the_hidden_half_of_a_planted_group(demo: Container) -> None:
    # The planted group: the demo's recurring investors (定投客户), told apart by their plan's deductions.
    # The seed is a random half of them, as an uploaded list whose rule reads no tag or indicator, so the
    # model may use every feature; the hidden half is what a lookalike of that seed should bring back.
    tags = demo.analytics.read_partition("tag_values", END).to_pandas()
    planted = sorted(tags.loc[tags["recurring_investor"] == "是", "customer_no"])
    seed = sorted(random.Random(13).sample(planted, len(planted) // 2))
    hidden = set(planted) - set(seed)
    env = demo
    uploaded = upload_list(env=env, principal=SYSTEM, name="planted half", numbers=seed)
    definition = SegmentDef(
        name="planted_half", title="planted", kind="static", rule={"list": uploaded["list"]}
    )
    save_segment(env=env, principal=SYSTEM, segment=definition)
    refresh_segment(env=env, principal=SYSTEM, name="planted_half")
    result = lookalike(
        env=env, principal=SYSTEM, seed="planted_half", target="planted_found", top=len(hidden)
    )
    found = _numbers(demo, "planted_found")
    assert (result["seed_size"], result["size"], len(found)) == (len(seed), len(hidden), len(hidden))
    assert not found & set(seed)  # never a seed member
    # An ideal ranking returns exactly the hidden half (their trait separates them from everyone else); the
    # model scores customers it was trained on as non-members, which may cost a few, never more than 5 %.
    recall = len(found & hidden) / len(hidden)
    assert recall >= 0.95, (recall, len(hidden))


def _numbers(container: Container, segment: str) -> set[str]:
    """A segment's current members as customer numbers."""
    context, members = current_members(env=container, name=segment)
    numbers = context.base.to_pandas().set_index("uid")["customer_no"]
    return {str(numbers[int(uid)]) for uid in members.to_array()}


def test_lookalike_job_over_http(demo: Container) -> None:
    with api_client(demo) as client:
        started = client.post("/api/v1/segments/recurring/lookalike", json={"target": "via_api", "top": 30})
        assert started.status_code == 202
        view = finished_job(client, started.json()["id"])
        assert view["stage"] == "done", view
        assert view["result"]["size"] == 30  # type: ignore[index]
        assert client.get("/api/v1/segments/via_api").json()["size"] == 30
        assert client.get("/api/v1/jobs/nope").status_code == 404
        # Refused up front, before a job starts: neither top nor min_score.
        missing = client.post("/api/v1/segments/recurring/lookalike", json={"target": "x"})
        assert missing.status_code == 400
        assert "exactly one of top" in missing.json()["error"]["message"]


def test_a_job_cancelled_over_http_stops_and_saves_nothing(
    demo: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job is held while it loads its seed until the cancel has arrived, so the outcome is one, not a race.
    loading, cancelled = threading.Event(), threading.Event()
    load = lookalike_module.current_members

    def held_load(**kwargs: object) -> object:
        loading.set()
        assert cancelled.wait(30), "the test never cancelled the job"
        return load(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lookalike_module, "current_members", held_load)
    with api_client(demo) as client:
        job = client.post("/api/v1/segments/recurring/lookalike", json={"target": "never", "top": 5}).json()
        assert loading.wait(30)
        answer = client.delete(f"/api/v1/jobs/{job['id']}")
        cancelled.set()
        assert (answer.status_code, answer.json()["stage"]) == (200, "loading")
        view = finished_job(client, job["id"])
        assert (view["stage"], view["result"]) == ("cancelled", None)
        assert view["error"] == f"lookalike {job['id']} cancelled during loading"
        assert client.get("/api/v1/segments/never").status_code == 404


def test_a_cancelled_job_stops_at_its_next_stage_and_saves_nothing(demo: Container) -> None:
    from touchpoint.core.jobs import Job, run_in_background
    from touchpoint.insight.lookalike import lookalike_job
    from touchpoint.segments.service import list_segments

    job = lookalike_job(SYSTEM, "recurring", "stopped")
    job.cancel.set()

    def work(running: Job) -> object:
        return lookalike(env=demo, principal=SYSTEM, seed="recurring", target="stopped", top=10, job=running)

    run_in_background(work, job).join(30)
    assert job.stage == "cancelled"
    assert "cancelled" in str(job.error)
    assert "stopped" not in list_segments(env=demo)


def test_a_job_is_shown_to_the_user_who_started_it_only(demo: Container) -> None:
    with api_client(demo) as client, api_client(demo) as other:
        job = client.post(
            "/api/v1/segments/recurring/lookalike", json={"target": "mine_only", "top": 5}
        ).json()
        assert (job["kind"], job["subject"]) == ("lookalike", {"seed": "recurring", "target": "mine_only"})
        assert other.get(f"/api/v1/jobs/{job['id']}").status_code == 404
        assert other.delete(f"/api/v1/jobs/{job['id']}").status_code == 404
        assert finished_job(client, job["id"])["stage"] == "done"


def test_a_lookalike_may_not_replace_a_segment_a_live_journey_uses_while_its_change_needs_approval(
    demo: Container,
) -> None:
    from touchpoint.governance import approvals
    from touchpoint.governance.approvals import ApprovalPolicyUpdate
    from touchpoint.journeys.service import parse_journey, publish, save_journey

    journey = {
        "name": "rich_care",
        "title": "富裕关怀",
        "entry": {"type": "api"},
        "start": "note",
        "nodes": [
            {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}
        ],
        "exit_criteria": [{"segment": "rich"}],
    }
    save_journey(env=demo, principal=SYSTEM, journey=parse_journey(journey))
    publish(env=demo, principal=SYSTEM, name="rich_care")

    def switch(required: bool) -> None:
        update = ApprovalPolicyUpdate(required=required)
        approvals.set_policy(
            demo.ops, clock=demo.clock, principal=SYSTEM, name="segment.change", update=update
        )

    switch(True)
    try:
        with pytest.raises(ValidationError, match=r"\(segment\.change\)"):
            lookalike(env=demo, principal=SYSTEM, seed="recurring", target="rich", top=10)
        with api_client(demo) as client:
            refused = client.post("/api/v1/segments/recurring/lookalike", json={"target": "rich", "top": 10})
        assert refused.status_code == 400
        assert "segment.change" in refused.json()["error"]["message"]
        assert demo.registry.get("segment", "rich").body["rule"] == {
            "tag": "asset_tier",
            "in": ["高净值", "富裕"],
        }
    finally:
        switch(False)
