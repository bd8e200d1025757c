"""Breakdowns by attribute and tag, and saving a funnel step or a retention cell as a segment, on a small demo
brokerage; groups are checked against the tag and customers snapshots read with pandas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import exchange_calendars
import pandas as pd
import pytest
from typer.testing import CliRunner

from support import api_client
from touchpoint.analytics.events import events_between
from touchpoint.analytics.funnel import FunnelQuery, funnel, funnel_customers, save_funnel_segment
from touchpoint.analytics.retention import RetentionQuery, retention, retention_customers
from touchpoint.analytics.trend import event_trend
from touchpoint.bootstrap import Container, build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.segments.service import get_segment, members_of, uploaded_lists
from touchpoint.tags.layout import TAG_VALUES
from unit.analytics.funnel_reference import Step, reach_by_person, rows_of

END = date(2026, 3, 31)
START = date(2026, 3, 12)
STEPS = ["fund_detail_view", "fund_compare", "fund_subscribe"]
XSHG = exchange_calendars.get_calendar("XSHG")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, Path]]:
    home = tmp_path_factory.mktemp("breakdown") / "home"
    container = build(load_settings(home), clock=VirtualClock(datetime(2026, 3, 31, 8, tzinfo=UTC)))
    ensure_demo(
        env=container,
        principal=SYSTEM,
        params=DemoParams(customers=400, days=20, seed=5, end_date=END),
    )
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    yield container, home
    container.close()


def _query(**extra: object) -> FunnelQuery:
    steps = [{"event": s} for s in STEPS]
    return FunnelQuery.model_validate({"steps": steps, "window": "3d", "start": START, "end": END} | extra)


def _snapshot(container: Container, table: str, column: str) -> pd.Series:
    analytics = container.analytics
    day = analytics.latest_partition_on_or_before(table, END)
    frame = analytics.read_partition(table, day).to_pandas()
    return frame.set_index("customer_no")[column].astype(str)


@pytest.mark.parametrize(
    ("by", "table", "column"),
    [("tag:asset_tier", TAG_VALUES.name, "asset_tier"), ("attribute:risk_level", "customers", "risk_level")],
)
def test_funnel_groups_are_the_overall_funnel_split_by_the_snapshot(
    demo: tuple[Container, Path], by: str, table: str, column: str
) -> None:
    container, _ = demo
    env = container
    result = funnel(env=env, query=_query(by=by, top=3))
    labels = _snapshot(container, table, column)
    reached = [set(funnel_customers(env=env, query=_query(), step=k + 1, who="reached")) for k in range(3)]
    assert reached[0], "the demo should have fund viewers"
    named = [g for g in result["breakdown"] if g["group"] not in ("其他", "(无)")]
    assert len(named) == 3
    for group in named:
        members = set(labels[labels == group["group"]].index)
        assert [s["customers"] for s in group["steps"]] == [len(r & members) for r in reached]
    totals = [sum(g["steps"][k]["customers"] for g in result["breakdown"]) for k in range(3)]
    assert totals == [s["customers"] for s in result["steps"]]
    # The answer names what was asked, and lists the biggest groups first, 其他 (the rest) last.
    assert {k: result[k] for k in ("from", "to", "window", "mode", "by")} == {
        "from": START.isoformat(),
        "to": END.isoformat(),
        "window": "3d",
        "mode": "ordered",
        "by": by,
    }
    entered = [g["steps"][0]["customers"] for g in result["breakdown"] if g["group"] != "其他"]
    assert entered == sorted(entered, reverse=True)
    assert [g["group"] for g in result["breakdown"]].index("其他") == len(result["breakdown"]) - 1
    first = result["steps"][0]["customers"]
    assert [s["conversion_from_first"] for s in result["steps"]] == [
        round(s["customers"] / first, 4) for s in result["steps"]
    ]


def test_trend_by_tag_counts_each_groups_events(demo: tuple[Container, Path]) -> None:
    container, _ = demo
    env = container
    got = event_trend(env=env, event="login", start=START, end=END, unit="month", by="tag:lifecycle_stage")
    events = events_between(env, ["login"], START, END).select("person").to_pandas()
    labels = _snapshot(container, TAG_VALUES.name, "lifecycle_stage")
    want = events["person"].map(labels).fillna("(无)").value_counts().to_dict()
    have: dict[str, int] = {}
    for row in got["series"]:
        have[row["group"]] = have.get(row["group"], 0) + row["count"]
    assert have == want


def test_dropped_customers_saved_from_the_cli_become_a_static_segment(demo: tuple[Container, Path]) -> None:
    container, home = demo
    env = container
    counts = [s["customers"] for s in funnel(env=env, query=_query())["steps"]]
    dropped = funnel_customers(env=env, query=_query(), step=2, who="dropped")
    # Every chain of the demo's fund events, enumerated: people by the furthest step they reach.
    events = events_between(env, STEPS, START, END + timedelta(days=3)).to_pandas()
    rows = rows_of(events[["event_id", "event", "time"]].assign(distinct_id=events["person"]))
    furthest = reach_by_person(rows, [Step(s) for s in STEPS], "3d", START, END, "ordered")
    customers = set(events.loc[events["customer_no"].notna(), "person"])
    assert counts == [sum(1 for t in furthest.values() if len(t) > k) for k in range(len(STEPS))]
    assert dropped == sorted(p for p, t in furthest.items() if len(t) == 1 and p in customers)
    assert dropped, "the demo should have customers who viewed a fund and compared none"
    runner = CliRunner()
    args = ["--home", str(home), "analytics", "funnel", "--steps", ",".join(STEPS), "--window", "3d"]
    args += ["--from", START.isoformat(), "--to", END.isoformat(), "--save-segment", "fund_view_no_compare"]
    outcome = runner.invoke(app, [*args, "--step", "2", "--who", "dropped", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output)["size"] == len(dropped)
    _, members = members_of(env=env, name="fund_view_no_compare")
    assert len(members) == len(dropped)


def test_a_retention_cell_saved_over_http_holds_that_cells_customers(demo: tuple[Container, Path]) -> None:
    container, _ = demo
    env = container
    query = {"start_event": "login", "return_event": "login", "from": "2026-03-20", "to": "2026-03-22"}
    asked = {"start_event": "login", "return_event": "login", "periods": 3}
    asked |= {"start": date(2026, 3, 20), "end": date(2026, 3, 22)}
    cohort = retention(env=env, **asked)["cohorts"][0]  # type: ignore[arg-type]
    cell = retention_customers(
        env=env, query=RetentionQuery.model_validate(asked), cohort=date(2026, 3, 20), offset=2
    )
    logins = events_between(env, ["login"], date(2026, 3, 20), date(2026, 3, 22)).to_pandas()
    days = pd.to_datetime(logins["dt"]).dt.day
    on = {day: set(logins.loc[days == day, "person"]) for day in (20, 22)}
    everyone = on[20] & on[22]  # back two days later, customers or not
    assert cohort["retained"][1] == len(everyone)
    assert cell == sorted(everyone & set(logins.loc[logins["customer_no"].notna(), "person"]))
    assert cell, "the demo should have customers logging in on 03-20 and 03-22"
    with api_client(container) as client:
        saved = client.post(
            "/api/v1/analytics/retention/segment",
            json=query
            | {"periods": 3, "save": {"segment": "login_back_day2", "cohort": "2026-03-20", "offset": 2}},
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["size"] == len(cell)
        missing = client.post(
            "/api/v1/analytics/retention/segment",
            json=query | {"save": {"segment": "x", "cohort": "2026-03-25", "offset": 1}},
        )
        assert missing.status_code == 400
        assert "no cohort starts 2026-03-25" in missing.text
        funnel_saved = client.post(
            "/api/v1/analytics/funnel/segment",
            json={"steps": [{"event": s} for s in STEPS], "window": "3d", "from": str(START), "to": str(END),
                  "save": {"segment": "fund_subscribers", "step": 3, "who": "reached"}},
        )  # fmt: skip
        assert funnel_saved.status_code == 200, funnel_saved.text
        assert funnel_saved.json()["size"] == len(
            funnel_customers(env=env, query=_query(), step=3, who="reached")
        )


def test_a_saved_funnel_segment_is_titled_by_who_and_which_step(demo: tuple[Container, Path]) -> None:
    """Reached and dropped-off segments are told apart by their title; each holds exactly those customers."""
    env = demo[0]
    for who, verb, step in (("reached", "到达", 3), ("dropped", "流失于", 2)):
        saved = save_funnel_segment(
            env=env, principal=SYSTEM, query=_query(), step=step, who=who, name=f"funnel_{who}"
        )
        assert get_segment(env=env, name=f"funnel_{who}").title == f"漏斗{verb}第{step}步 {START}~{END}"
        assert saved["size"] == len(funnel_customers(env=env, query=_query(), step=step, who=who))
        # The list behind it is named after the funnel, as the list picker shows it.
        (kept,) = [x for x in uploaded_lists(env=env) if x["list"] == saved["upload"]["list"]]
        assert kept["name"] == f"funnel {' → '.join(STEPS)} {who} step {step}"
    named = save_funnel_segment(
        env=env,
        principal=SYSTEM,
        query=_query(),
        step=2,
        who="dropped",
        name="funnel_named",
        title="犹豫客户",
    )
    assert get_segment(env=env, name="funnel_named").title == "犹豫客户"
    assert named["size"] == saved["size"]


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"mode": "unordered", "steps": [{"event": "login"}, {"event": "login"}]}, "login repeats"),
        ({"mode": "strict", "exclusions": [{"event": "login"}]}, "drop the exclusions"),
        ({"exclusions": [{"event": "login", "after": 3, "before": 2}]}, r"exclusions\[0\]: after 3"),
        ({"by": "colour:red"}, "write NAME, property:NAME"),
    ],
)
def test_bad_funnel_options_are_refused(
    demo: tuple[Container, Path], change: dict[str, object], fault: str
) -> None:
    """Rules across fields are the query's own: a ValidationError (HTTP 400) naming the field, since the
    body itself fits the published schema."""
    with pytest.raises(ValidationError, match=fault) as refused:
        funnel(env=demo[0], query=_query(**change))
    assert refused.value.faults[0].loc[:2] == ("body", next(iter(change.keys() - {"mode"})))


@pytest.mark.parametrize(
    ("exclusion", "message", "index"),
    [
        ({"event": "login", "after": 2, "before": 2}, "exclusions[0]: after 2 and before 2 must be steps", 0),
        ({"event": "login", "after": 1, "before": 9}, "exclusions[1]: after 1 and before 9 must be steps", 1),
    ],
)
def test_an_exclusion_span_is_refused_by_its_place(
    demo: tuple[Container, Path], exclusion: dict[str, object], message: str, index: int
) -> None:
    """An exclusion between a step and itself, or past the last step, is refused naming which exclusion: the
    fault's place is the field and the exclusion's index, its message the whole sentence."""
    fine = {"event": "login", "after": 1, "before": 2}
    exclusions = [exclusion] if index == 0 else [fine, exclusion]
    with pytest.raises(ValidationError) as refused:
        funnel(env=demo[0], query=_query(exclusions=exclusions))
    expected = f"{message} 1..{len(STEPS)} with after < before"
    assert str(refused.value) == expected
    assert [(f.loc, f.msg) for f in refused.value.faults] == [(("body", "exclusions", index), expected)]
    with pytest.raises(ValidationError) as strict:
        funnel(env=demo[0], query=_query(mode="strict", exclusions=[fine]))
    whole = "a strict funnel already allows no other event between steps: drop the exclusions"
    assert (str(strict.value), strict.value.faults[0].msg) == (whole, whole)


def test_bad_breakdowns_and_measures_name_the_fault(demo: tuple[Container, Path]) -> None:
    env = demo[0]
    with pytest.raises(ValidationError, match="no such tag"):
        funnel(env=env, query=_query(by="tag:shoe_size"))
    with pytest.raises(ValidationError, match="has no such column"):
        event_trend(env=env, event="login", start=START, end=END, by="attribute:shoe")
    with pytest.raises(ValidationError, match="write sum:PROPERTY"):
        event_trend(env=env, event="login", start=START, end=END, measure="median:amount")
    with pytest.raises(ValidationError, match=r"\(2\.\. for drop-offs\)"):
        funnel_customers(env=env, query=_query(), step=1, who="dropped")


def test_events_cli_filters_measures_and_compares(demo: tuple[Container, Path]) -> None:
    container, home = demo
    env = container
    args = ["--home", str(home), "analytics", "events", "--event", "fund_subscribe", "--from", "2026-03-19"]
    args += [
        "--to",
        "2026-03-31",
        "--where",
        "amount>=2000",
        "--measure",
        "sum:amount",
        "--unit",
        "trading_day",
    ]
    outcome = CliRunner().invoke(app, [*args, "--compare-from", "2026-03-12", "--json"])
    assert outcome.exit_code == 0, outcome.output
    got = json.loads(outcome.output)
    subscribed = events_between(env, ["fund_subscribe"], date(2026, 3, 19), END)
    rows = subscribed.select("properties", "dt").to_pandas()
    amounts = pd.Series([json.loads(p).get("amount") for p in rows["properties"]], dtype=float)
    assert got["total"]["count"] == int((amounts >= 2000).sum()) > 0
    assert got["total"]["value"] == float(amounts[amounts >= 2000].sum())
    days = pd.to_datetime(rows.loc[(amounts >= 2000).to_numpy(), "dt"])
    sessions = {str(XSHG.date_to_session(d, direction="next").date()) for d in days}
    assert [r["date"] for r in got["series"]] == sorted(sessions)
    assert (got["comparison"]["from"], got["comparison"]["to"]) == ("2026-03-12", "2026-03-24")
    bad = CliRunner().invoke(app, [*args[:8], "--to", "2026-03-31", "--where", "amount~3"])
    assert bad.exit_code == 2
    assert "PROPERTY=VALUE" in bad.output
