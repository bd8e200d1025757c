"""Both evaluation paths against each other and against a brute-force pandas evaluation, on random rules."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import examples
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, save_indicator
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.service import context_at, read_rule
from touchpoint.segments.sql import evaluate_sql
from touchpoint.tags.model import TagDef
from touchpoint.tags.service import compute, save_tag

DAY = date(2026, 3, 31)
AT = datetime(2026, 3, 31, 7, 0, tzinfo=UTC)  # 15:00 Beijing
CUSTOMERS = [f"C{i}" for i in range(1, 13)]
EVENTS = ["login", "fund_detail_view", "fund_subscribe"]
CAL = TradingCalendar()


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    options = ImportOptions(business_date=day, force=True)
    import_arrow(env=container, principal=SYSTEM, table=table, data=data, options=options, source_name=table)


def _events() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    count = 400
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(count)],
            "event": rng.choice(EVENTS, count),
            "customer_no": rng.choice(CUSTOMERS[:10], count),  # C11 and C12 never do anything
            "time": [AT - timedelta(minutes=int(m)) for m in rng.integers(-600, 40 * 1440, count)],
        }
    )
    frame["distinct_id"] = frame["customer_no"]
    frame["properties"] = [json.dumps({"fund_type": t}) for t in rng.choice(["equity", "bond"], count)]
    return frame


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, pd.DataFrame]]:
    home = tmp_path_factory.mktemp("segments")
    container = build(load_settings(home), clock=VirtualClock(AT))
    rng = np.random.default_rng(2)
    customers = pa.table(
        {
            "customer_no": CUSTOMERS,
            "risk_level": [*rng.choice(["C1", "C2", "C3", "C4", "C5"], len(CUSTOMERS)).tolist()[:-1], None],
            "gender": rng.choice(["M", "F"], len(CUSTOMERS)),
        }
    )
    _load(container, "customers", customers, DAY)
    assets = [float(a) for a in rng.choice([0, 5_000, 50_000, 700_000, 7_000_000], len(CUSTOMERS))]
    _load(
        container,
        "assets",
        pa.table({"customer_no": CUSTOMERS[:-1], "date": [DAY] * 11, "total_assets": assets[:-1]}),
    )
    events = _events()
    _load(container, "events", pa.Table.from_pandas(events, preserve_index=False))
    env = container
    save_indicator(
        env=env,
        principal=SYSTEM,
        definition=IndicatorDef(
            name="total_assets",
            title="t",
            source="assets",
            aggregation="sum",
            column="total_assets",
            window={"kind": "snapshot"},
        ),
    )
    save_indicator(
        env=env,
        principal=SYSTEM,
        definition=IndicatorDef(
            name="logins_30d",
            title="l",
            source="events",
            event="login",
            aggregation="count",
            window={"kind": "days", "n": 30},
        ),
    )
    tier = TagDef(
        name="tier",
        title="t",
        category="资产",
        kind="rule",
        rules=[
            {"when": {"indicator": "total_assets", "op": ">=", "value": 6_000_000}, "value": "高净值"},
            {"when": {"indicator": "total_assets", "op": ">=", "value": 10_000}, "value": "大众"},
            {"when": {"indicator": "total_assets", "op": ">", "value": 0}, "value": "长尾"},
        ],
    )
    save_tag(env=env, principal=SYSTEM, tag=tier)
    compute(env=env, principal=SYSTEM, day=DAY)
    yield container, events
    container.close()


tags = st.one_of(
    st.lists(st.sampled_from(["高净值", "大众", "长尾"]), min_size=1, max_size=2).map(
        lambda v: {"tag": "tier", "in": v}
    ),
    st.lists(st.sampled_from(["高净值", "大众", "长尾"]), min_size=1, max_size=2).map(
        lambda v: {"tag": "tier", "not_in": v}
    ),
    st.booleans().map(lambda b: {"tag": "tier", "exists": b}),
)
indicators = st.one_of(
    st.tuples(st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), st.sampled_from([0, 5_000, 50_000])).map(
        lambda t: {"indicator": "total_assets", "op": t[0], "value": t[1]}
    ),
    st.tuples(st.integers(0, 4), st.integers(0, 4)).map(
        lambda t: {"indicator": "logins_30d", "op": "between", "value": [t[0], t[0] + t[1]]}
    ),
)
attributes = st.one_of(
    st.lists(st.sampled_from(["C1", "C2", "C3", "C4", "C5"]), min_size=1, max_size=3).map(
        lambda v: {"attribute": "risk_level", "in": v}
    ),
    st.sampled_from(["M", "F"]).map(lambda g: {"attribute": "gender", "op": "=", "value": g}),
    st.booleans().map(lambda b: {"attribute": "risk_level", "exists": b}),
)
windows = st.sampled_from(["7d", "30d", "12h", "3td", "10td"])
events = st.tuples(
    st.sampled_from(EVENTS),
    st.sampled_from([[], [{"property": "fund_type", "op": "=", "value": "equity"}]]),
    st.sampled_from(["=", ">=", "<"]),
    st.integers(0, 3),
    windows,
).map(lambda t: {"event": t[0], "where": t[1], "count": {"op": t[2], "value": t[3]}, "within": t[4]})
sequences = st.tuples(
    st.lists(st.sampled_from(EVENTS), min_size=2, max_size=3), st.sampled_from(["2h", "1d", "3d"]), windows
).map(lambda t: {"sequence": [{"event": e} for e in t[0]], "gap": t[1], "within": t[2]})
leaves = st.one_of(tags, indicators, attributes, events, sequences)
rules = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c})
        | st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c})
        | inner.map(lambda c: {"not": c})
    ),
    max_leaves=5,
)


class BruteForce:
    """The documented semantics, computed plainly on the raw rows with pandas and itertools."""

    def __init__(self, container: Container, events: pd.DataFrame) -> None:
        analytics = container.analytics
        self.tags = analytics.read_partition("tag_values", DAY).to_pandas().set_index("customer_no")
        self.values = analytics.read_partition("indicator_values", DAY).to_pandas().set_index("customer_no")
        self.customers = analytics.read_partition("customers", DAY).to_pandas().set_index("customer_no")
        self.everyone = set(self.tags.index)
        self.events = events.assign(fund_type=[json.loads(p)["fund_type"] for p in events["properties"]])

    def members(self, rule: dict[str, Any]) -> set[str]:
        if "all" in rule:
            return set.intersection(*(self.members(r) for r in rule["all"]))
        if "any" in rule:
            return set.union(*(self.members(r) for r in rule["any"]))
        if "not" in rule:
            return self.everyone - self.members(rule["not"])
        return {c for c in self.everyone if self.holds(rule, c)}

    def holds(self, rule: dict[str, Any], customer: str) -> bool:
        if "tag" in rule:
            value = self.tags.loc[customer, rule["tag"]]
            present = value is not None and not pd.isna(value)
            if "exists" in rule:
                return present == rule["exists"]
            return present and ((value in rule["in"]) if "in" in rule else (value not in rule["not_in"]))
        if "indicator" in rule:
            return _compare(self.values.loc[customer, rule["indicator"]], rule["op"], rule["value"])
        if "attribute" in rule:
            value = self.customers.loc[customer, rule["attribute"]]
            present = value is not None and not pd.isna(value)
            if "exists" in rule:
                return present == rule["exists"]
            if "in" in rule:
                return present and value in rule["in"]
            return present and _compare(value, rule["op"], rule["value"])
        if "event" in rule:
            rows = self.inside(rule["within"])
            rows = rows[(rows["customer_no"] == customer) & (rows["event"] == rule["event"])]
            if rule["where"]:
                rows = rows[rows["fund_type"] == "equity"]
            return _compare(len(rows), rule["count"]["op"], rule["count"]["value"])
        return self.did_sequence(rule, customer)

    def inside(self, within: str) -> pd.DataFrame:
        events = self.events[self.events["time"] <= AT]
        if within.endswith("td"):
            today = CAL.business_date(AT)
            last = today if CAL.is_trading_day(today) else CAL.previous_trading_day(today)
            first = CAL.add_trading_days(last, -(int(within[:-2]) - 1))
            local = events["time"].dt.tz_convert("Asia/Shanghai").dt.date
            return events[local >= first]
        span = timedelta(days=int(within[:-1])) if within.endswith("d") else timedelta(hours=int(within[:-1]))
        return events[events["time"] > AT - span]

    def did_sequence(self, rule: dict[str, Any], customer: str) -> bool:
        rows = self.inside(rule["within"])
        rows = rows[rows["customer_no"] == customer]
        gap = timedelta(days=int(rule["gap"][:-1])) if rule["gap"].endswith("d") else timedelta(hours=2)
        steps = [rows[rows["event"] == s["event"]] for s in rule["sequence"]]
        for chain in itertools.product(*(list(s.itertuples()) for s in steps)):
            ids = [e.event_id for e in chain]
            if len(set(ids)) < len(ids):
                continue
            if all(timedelta(0) <= b.time - a.time <= gap for a, b in itertools.pairwise(chain)):
                return True
        return False


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if value is None or pd.isna(value):
        return False
    if op == "between":
        return bool(wanted[0] <= value <= wanted[1])
    return bool(
        {
            "=": value == wanted,
            "!=": value != wanted,
            ">": value > wanted,
            ">=": value >= wanted,
            "<": value < wanted,
            "<=": value <= wanted,
        }[op]
    )


@settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rule=rules)
def test_bitmap_sql_and_brute_force_agree(
    world: tuple[Container, pd.DataFrame], rule: dict[str, Any]
) -> None:
    container, events = world
    context = context_at(env=container, at=AT)
    parsed = read_rule(rule)
    uid_of = context.uid_of
    want = {uid_of[c] for c in BruteForce(container, events).members(rule)}
    assert set(evaluate(parsed, context)) == want, rule
    assert set(evaluate_sql(parsed, context)) == want, rule
