"""Snapshot windows read each customer's latest row within a staleness limit; a missing row is no value.

A partial or holiday assets file must not turn every customer it leaves out into a customer with 0 assets.
Expected values come from `reference` (pandas over exchange-calendars' sessions).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from support import examples
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, Window, compute_indicators
from touchpoint.ingest import ImportOptions, import_arrow

from .reference import expected_values

DAY = date(2026, 3, 31)
CUSTOMERS = ["C1", "C2", "C3", "C4"]
SNAPSHOT = Window(kind="snapshot")


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    import_arrow(
        env=container,
        principal=SYSTEM,
        table=table,
        data=data,
        options=ImportOptions(business_date=day, force=True),
        source_name=table,
    )


def _customers(container: Container, day: date = DAY) -> None:
    _load(container, "customers", pa.table({"customer_no": CUSTOMERS}), day)


def _assets(container: Container, rows: list[tuple[str, date, float]]) -> None:
    customers, days, values = zip(*rows, strict=True)
    _load(
        container,
        "assets",
        pa.table({"customer_no": list(customers), "date": list(days), "total_assets": list(values)}),
    )


def _holdings(container: Container, rows: list[tuple[str, date, str, float]]) -> None:
    customers, days, products, values = zip(*rows, strict=True)
    columns = {"customer_no": customers, "date": days, "product_code": products, "market_value": values}
    _load(container, "holdings", pa.table({k: list(v) for k, v in columns.items()}))


def _snapshot(name: str, aggregation: str, column: str | None, **window: Any) -> IndicatorDef:
    return IndicatorDef(
        name=name,
        title=name,
        source="assets",
        aggregation=aggregation,  # type: ignore[arg-type]
        column=column,
        window={"kind": "snapshot", **window},
    )


def _values(container: Container, day: date, definitions: list[IndicatorDef]) -> pd.DataFrame:
    table = compute_indicators(env=container, day=day, definitions=definitions)
    return table.to_pandas().set_index("customer_no")


def test_a_partial_newest_feed_keeps_each_customers_latest_value(sqlite_container: Container) -> None:
    _customers(sqlite_container)
    full = [
        ("C1", date(2026, 3, 27), 100.0),
        ("C2", date(2026, 3, 27), 20_000.0),
        ("C3", date(2026, 3, 27), 7e6),
    ]
    partial = [("C1", date(2026, 3, 30), 150.0), ("C1", DAY, 200.0)]
    _assets(sqlite_container, [*full, *partial, ("C2", date(2026, 4, 1), 999.0)])
    values = _values(
        sqlite_container,
        DAY,
        [_snapshot("total_assets", "sum", "total_assets"), _snapshot("rows", "count", None)],
    )
    assert values.loc["C1", "total_assets"] == 200.0
    # The newest files hold C1 only: C2 and C3 keep Friday's figures, never 0 and never 04-01's.
    assert values.loc["C2", "total_assets"] == 20_000.0
    assert values.loc["C3", "total_assets"] == 7e6
    # C4 has no assets row at all: no value, not 0 (neither the sum nor the count).
    assert pd.isna(values.loc["C4", "total_assets"])
    assert pd.isna(values.loc["C4", "rows"])
    assert values["rows"].drop("C4").tolist() == [1, 1, 1]


# (customer, days before D (negative: after D), total assets)
AssetRow = tuple[str, int, int]
asset_rows = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.integers(-2, 16), st.integers(0, 1_000_000)),
    max_size=30,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=examples(20), deadline=None)
@given(
    day=st.sampled_from([DAY, date(2025, 10, 8), date(2025, 10, 9), date(2025, 10, 13), date(2026, 3, 29)]),
    max_age=st.one_of(st.none(), st.integers(0, 7)),
    rows=asset_rows,
)
# 2026-03-31 with the default 5: the oldest accepted date is the session 5 before D (03-24); 03-23 is stale.
@example(day=DAY, max_age=None, rows=[("C1", 7, 100), ("C2", 8, 200), ("C3", 0, 0), ("C3", 1, 5)])
# 0 on a closed D: the last session (09-30) and the closure after it count, the session before does not.
@example(day=date(2025, 10, 8), max_age=0, rows=[("C1", 8, 1), ("C2", 9, 2), ("C3", 5, 3), ("C4", 0, 4)])
@example(day=date(2025, 10, 9), max_age=1, rows=[("C1", 9, 1), ("C1", 3, 2), ("C2", 10, 3), ("C3", -1, 4)])
def test_snapshot_values_match_the_latest_row_within_the_limit(
    day: date, max_age: int | None, rows: list[AssetRow]
) -> None:
    window = {} if max_age is None else {"max_age": max_age}
    definitions = [
        _snapshot(f"assets_{a}", a, None if a == "count" else "total_assets", **window)
        for a in ("sum", "count", "avg", "last")
    ]
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(datetime(2026, 4, 2, tzinfo=UTC)))
        try:
            _customers(container, day)
            if rows:
                _assets(container, [(c, day - timedelta(days=d), float(v)) for c, d, v in rows])
            values = _values(container, day, definitions)
        finally:
            container.close()
    frame = pd.DataFrame(
        [{"customer_no": c, "date": day - timedelta(days=d), "total_assets": float(v)} for c, d, v in rows],
        columns=["customer_no", "date", "total_assets"],
    )
    frame["dt"] = frame["date"]
    for definition in definitions:
        assert definition.window is not None
        expected = expected_values(
            frame,
            customers=CUSTOMERS,
            source="assets",
            aggregation=definition.aggregation,
            column=definition.column,
            window=definition.window.model_dump(),
            day=day,
        )
        for customer in CUSTOMERS:
            got, want = values.loc[customer, definition.name], expected[customer]
            if want is None:
                assert pd.isna(got), (definition.name, customer, got)
            else:
                assert got == pytest.approx(want), (definition.name, customer, got, want)


def test_holdings_are_the_customers_latest_positions_then_filtered(sqlite_container: Container) -> None:
    _customers(sqlite_container)
    rows = [
        ("C1", date(2026, 3, 30), "110000", 500.0),  # C1 sold the fund on 03-31: it is not held any more
        ("C1", date(2026, 3, 30), "600000", 100.0),
        ("C1", DAY, "600000", 300.0),
        ("C2", date(2026, 3, 27), "110000", 40.0),  # the newest holdings file left C2 out
        ("C3", DAY, "600000", 10.0),
    ]
    _holdings(sqlite_container, rows)
    fund = [{"column": "product_code", "op": "=", "value": "110000"}]
    definitions = [
        IndicatorDef(
            name="holding_value",
            title="v",
            source="holdings",
            aggregation="sum",
            column="market_value",
            window={"kind": "snapshot"},
        ),
        IndicatorDef(
            name="fund_value",
            title="f",
            source="holdings",
            aggregation="sum",
            column="market_value",
            window={"kind": "snapshot"},
            filters=fund,
        ),
        IndicatorDef(
            name="fund_count",
            title="c",
            source="holdings",
            aggregation="count",
            window={"kind": "snapshot"},
            filters=fund,
        ),
    ]
    values = _values(sqlite_container, DAY, definitions)[["holding_value", "fund_value", "fund_count"]]
    assert values.loc["C1"].tolist() == [300.0, 0.0, 0]  # positions of 03-31; no fund among them
    assert values.loc["C2"].tolist() == [40.0, 40.0, 1]
    assert values.loc["C3"].tolist() == [10.0, 0.0, 0]
    assert values.loc["C4"].isna().all()


def test_a_customer_in_the_days_assets_but_not_its_holdings_sold_everything(
    sqlite_container: Container,
) -> None:
    """A holdings file lists positions only: the daily assets feed says who was in that day's files."""
    _customers(sqlite_container)
    before = date(2026, 3, 30)
    holdings = [
        ("C1", before, "110000", 500.0),  # C1 sold out on 03-31: in 03-31's assets, absent from its holdings
        ("C2", before, "110000", 40.0),  # C2 is in neither 03-31 file (a partial feed): its 03-30 positions
        ("C3", DAY, "600000", 10.0),
    ]
    _holdings(sqlite_container, holdings)
    _assets(
        sqlite_container, [("C1", before, 600.0), ("C2", before, 50.0), ("C1", DAY, 700.0), ("C3", DAY, 9.0)]
    )
    definitions = [
        IndicatorDef(
            name=name, title=name, source="holdings", aggregation=agg, column=column, window=SNAPSHOT
        )  # type: ignore[arg-type]
        for name, agg, column in (
            ("holding_count", "count", None),
            ("holding_value", "sum", "market_value"),
            ("holding_top", "max", "market_value"),
        )
    ]
    # With the roll call too, a filter picks among the latest positions: C3 holds no fund.
    definitions.append(
        IndicatorDef(
            name="fund_value",
            title="f",
            source="holdings",
            aggregation="sum",
            column="market_value",
            window=SNAPSHOT,
            filters=[{"column": "product_code", "op": "=", "value": "110000"}],
        )
    )
    values = _values(sqlite_container, DAY, definitions)
    assert values.loc[["C1", "C2", "C3"], "fund_value"].tolist() == [0.0, 40.0, 0.0]
    assert values.loc["C1", ["holding_count", "holding_value"]].tolist() == [0, 0.0]
    assert pd.isna(values.loc["C1", "holding_top"])
    assert values.loc["C2", ["holding_count", "holding_value", "holding_top"]].tolist() == [1, 40.0, 40.0]
    assert values.loc["C3", ["holding_count", "holding_value", "holding_top"]].tolist() == [1, 10.0, 10.0]
    assert values.loc["C4", ["holding_count", "holding_value", "holding_top"]].isna().all()
    # Alone in its pass, an indicator reads what it read beside the others.
    alone = _values(sqlite_container, DAY, definitions[:1])["holding_count"]
    pd.testing.assert_series_equal(alone, values["holding_count"])
    # Assets of 04-01 (and of Saturday 04-04) arrive before that day's holdings: they prove nothing yet.
    _assets(sqlite_container, [("C1", date(2026, 4, 1), 700.0), ("C3", date(2026, 4, 1), 9.0)])
    _assets(sqlite_container, [("C3", date(2026, 4, 4), 9.0)])
    for day in (date(2026, 4, 1), date(2026, 4, 4)):
        late = _values(sqlite_container, day, definitions)
        assert late.loc["C3", ["holding_count", "holding_value"]].tolist() == [1, 10.0], day
        assert late.loc["C1", ["holding_count", "holding_value"]].tolist() == [0, 0.0], day


def test_days_since_a_customers_latest_snapshot_row(sqlite_container: Container) -> None:
    """One snapshot indicator alone in its pass: the days from each customer's own latest row to D."""
    _customers(sqlite_container)
    _assets(
        sqlite_container, [("C1", date(2026, 3, 27), 1.0), ("C1", date(2026, 3, 20), 2.0), ("C2", DAY, 3.0)]
    )
    values = _values(sqlite_container, DAY, [_snapshot("age", "days_since_last", None)])
    assert values.loc[["C1", "C2"], "age"].tolist() == [4, 0]  # Friday 03-27 to Tuesday 03-31
    assert values.loc[["C3", "C4"], "age"].isna().all()


def test_an_events_snapshot_counts_the_events_of_anonymous_ids_through_one_id(
    sqlite_container: Container,
) -> None:
    """A snapshot of events reads each customer's latest day of events, an anonymous id's for its customer."""
    from touchpoint.identity.graph import Graph
    from touchpoint.identity.model import Identifier

    _customers(sqlite_container)
    monday, tuesday = datetime(2026, 3, 30, 2, 0, tzinfo=UTC), datetime(2026, 3, 31, 2, 0, tzinfo=UTC)
    events = {
        "event_id": ["e1", "e2", "e3", "e4", "e5", "e6", "e7"],
        "event": ["login"] * 7,
        "distinct_id": ["C1", "dev-9", "dev-9", "C2", "dev-x", "dev-z", "dev-z"],
        # dev-z is no id One ID knows, but its events say whose they are.
        "customer_no": ["C1", None, None, "C2", None, "C3", "C3"],
        "time": [monday, tuesday, tuesday, monday, tuesday, monday, tuesday],
        "properties": ["{}"] * 7,
    }
    _load(sqlite_container, "events", pa.table(events))
    with sqlite_container.ops.begin() as connection:
        Graph(connection, now=monday, source="test").bind(
            Identifier("anonymous_id", "dev-9"), Identifier("customer_no", "C1"), "one_to_one"
        )
    logins = IndicatorDef(
        name="last_day_logins",
        title="l",
        source="events",
        event="login",
        aggregation="count",
        window=SNAPSHOT,
    )
    values = _values(sqlite_container, DAY, [logins])
    # C1's latest day is Tuesday, through dev-9 (2 events); C2's is Monday; dev-x is nobody's.
    assert values.loc[["C1", "C2", "C3"], "last_day_logins"].tolist() == [2, 1, 1]
    assert pd.isna(values.loc["C4", "last_day_logins"])


def test_max_age_belongs_to_snapshot_windows() -> None:
    with pytest.raises(ValueError, match="max_age applies to snapshot windows"):
        Window(kind="days", n=3, max_age=2)
