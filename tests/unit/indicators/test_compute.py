"""Indicator values against a brute-force pandas computation on the same rows."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, compute_indicators, save_indicator
from touchpoint.indicators.compile import window_bounds
from touchpoint.ingest import ImportOptions, import_arrow

CAL = TradingCalendar()
DAY = date(2026, 3, 31)
CUSTOMERS = ["C1", "C2", "C3", "C4"]
WINDOWS = [
    {"kind": "days", "n": 7},
    {"kind": "trading_days", "n": 5},
    {"kind": "month_to_date"},
    {"kind": "all_time"},
]
AGGREGATIONS = [
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "first",
    "last",
    "days_since_first",
    "days_since_last",
]


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    options = ImportOptions(business_date=day, force=True)
    import_arrow(
        env=container.import_env, principal=SYSTEM, table=table, data=data, options=options, source_name=table
    )


def _customers(container: Container) -> None:
    _load(
        container, "customers", pa.table({"customer_no": CUSTOMERS, "open_date": [date(2020, 1, 1)] * 4}), DAY
    )


def _definitions() -> list[IndicatorDef]:
    found = []
    for w, window in enumerate(WINDOWS):
        for aggregation in AGGREGATIONS:
            column = None if aggregation in ("count", "days_since_first", "days_since_last") else "amount"
            if aggregation == "count_distinct":
                column = "product_code"
            found.append(
                IndicatorDef(
                    name=f"{aggregation}_{w}",
                    title=aggregation,
                    source="trades",
                    aggregation=aggregation,
                    column=column,
                    window=window,
                    filters=[{"column": "side", "op": "in", "value": ["buy", "sell"]}],
                )
            )
    return found


def _expected(trades: pd.DataFrame, definition: IndicatorDef) -> dict[str, object]:
    start, end = window_bounds(definition.window, DAY, CAL, sorted(trades["dt"].unique()))
    rows = trades[(trades["dt"] <= end) & (trades["side"].isin(["buy", "sell"]))]
    if start is not None:
        rows = rows[rows["dt"] >= start]
    out: dict[str, object] = {}
    for customer in CUSTOMERS:
        mine = rows[rows["customer_no"] == customer].sort_values("time")
        out[customer] = _aggregate(mine, definition.aggregation)
    return out


def _aggregate(rows: pd.DataFrame, aggregation: str) -> object:
    if rows.empty:
        return 0 if aggregation in ("count", "count_distinct", "sum") else None
    return {
        "count": lambda: len(rows),
        "count_distinct": lambda: rows["product_code"].nunique(),
        "sum": lambda: rows["amount"].sum(),
        "avg": lambda: rows["amount"].mean(),
        "min": lambda: rows["amount"].min(),
        "max": lambda: rows["amount"].max(),
        "first": lambda: rows["amount"].iloc[0],
        "last": lambda: rows["amount"].iloc[-1],
        "days_since_first": lambda: (DAY - rows["dt"].min()).days,
        "days_since_last": lambda: (DAY - rows["dt"].max()).days,
    }[aggregation]()


trade_rows = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.integers(0, 50),
        st.integers(0, 86_399),
        st.sampled_from(["buy", "sell", "subscribe"]),
        st.sampled_from(["600000", "000001", "110000"]),
        st.integers(1, 10_000),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda r: (r[1], r[2]),
)


@settings(max_examples=15, deadline=None)
@given(rows=trade_rows)
def test_every_aggregation_and_window_matches_pandas(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(datetime(2026, 4, 1, tzinfo=UTC)))
        try:
            _check_against_pandas(container, rows)
        finally:
            container.close()


def _check_against_pandas(container: Container, rows: list[tuple]) -> None:  # type: ignore[type-arg]
    _customers(container)
    start = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 2026-04-01 00:00 Beijing: offsets count back from here
    frame = pd.DataFrame(
        [
            {
                "trade_id": f"T{i}",
                "customer_no": c,
                "time": start - timedelta(days=d, seconds=s + 1),
                "side": side,
                "product_code": p,
                "amount": float(a),
            }
            for i, (c, d, s, side, p, a) in enumerate(rows)
        ]
    )
    _load(container, "trades", pa.Table.from_pandas(frame, preserve_index=False), None)
    frame["dt"] = frame["time"].dt.tz_convert("Asia/Shanghai").dt.date
    definitions = _definitions()
    table = compute_indicators(env=container.indicator_env, day=DAY, definitions=definitions).to_pandas()
    table = table.set_index("customer_no")
    for definition in definitions:
        expected = _expected(frame, definition)
        for customer in CUSTOMERS:
            got = table.loc[customer, definition.name]
            want = expected[customer]
            if want is None:
                assert pd.isna(got), (definition.name, customer, got)
            else:
                assert got == pytest.approx(want), (definition.name, customer, got, want)


def test_snapshot_window_reads_the_latest_date_on_or_before(sqlite_container: Container) -> None:
    _customers(sqlite_container)
    for day, assets in ((date(2026, 3, 27), 100.0), (date(2026, 3, 30), 200.0), (date(2026, 4, 1), 999.0)):
        _load(
            sqlite_container,
            "assets",
            pa.table({"customer_no": ["C1"], "date": [day], "total_assets": [assets]}),
        )
    definition = IndicatorDef(
        name="total_assets",
        title="总资产",
        source="assets",
        aggregation="sum",
        column="total_assets",
        window={"kind": "snapshot"},
    )
    table = compute_indicators(
        env=sqlite_container.indicator_env, day=DAY, definitions=[definition]
    ).to_pandas()
    values = dict(zip(table["customer_no"], table["total_assets"], strict=True))
    assert values["C1"] == 200.0  # 2026-03-31 has no row: the snapshot of the 30th, never the future
    assert values["C2"] == 0.0


def test_events_of_anonymous_ids_count_for_the_linked_customer(sqlite_container: Container) -> None:
    from touchpoint.identity.graph import Graph
    from touchpoint.identity.model import Identifier

    _customers(sqlite_container)
    at = datetime(2026, 3, 30, 2, 0, tzinfo=UTC)
    events = pa.table(
        {
            "event_id": ["e1", "e2", "e3"],
            "event": ["fund_detail_view"] * 3,
            "distinct_id": ["dev-9", "C1", "dev-x"],
            "time": [at, at, at],
            "properties": ['{"fund_type": "equity"}', '{"fund_type": "bond"}', "{}"],
        }
    )
    _load(sqlite_container, "events", events)
    with sqlite_container.ops.begin() as connection:
        Graph(connection, now=at, source="test").bind(
            Identifier("anonymous_id", "dev-9"), Identifier("customer_no", "C1"), "one_to_one"
        )
    views = IndicatorDef(
        name="views",
        title="v",
        source="events",
        event="fund_detail_view",
        aggregation="count",
        window={"kind": "days", "n": 7},
    )
    equity = IndicatorDef(
        name="equity_views",
        title="e",
        source="events",
        event="fund_detail_view",
        aggregation="count",
        window={"kind": "days", "n": 7},
        filters=[{"property": "fund_type", "op": "=", "value": "equity"}],
    )
    table = compute_indicators(
        env=sqlite_container.indicator_env, day=DAY, definitions=[views, equity]
    ).to_pandas()
    c1 = table[table["customer_no"] == "C1"].iloc[0]
    assert (c1["views"], c1["equity_views"]) == (2, 1)


def test_definitions_naming_unknown_things_are_refused(sqlite_container: Container) -> None:
    env = sqlite_container.indicator_env
    bad_column = IndicatorDef(
        name="x",
        title="x",
        source="trades",
        aggregation="sum",
        column="amout",
        window={"kind": "days", "n": 3},
    )
    with pytest.raises(ValidationError, match="unknown column 'amout' of trades"):
        save_indicator(env=env, principal=SYSTEM, definition=bad_column)
    _load(
        sqlite_container,
        "events",
        pa.table(
            {
                "event_id": ["e1"],
                "event": ["login"],
                "distinct_id": ["C1"],
                "time": [datetime(2026, 3, 30, tzinfo=UTC)],
            }
        ),
    )
    bad_event = IndicatorDef(
        name="y",
        title="y",
        source="events",
        event="logni",
        aggregation="count",
        window={"kind": "days", "n": 3},
    )
    with pytest.raises(ValidationError, match="unknown event 'logni'"):
        save_indicator(env=env, principal=SYSTEM, definition=bad_event)
    with pytest.raises(ValueError, match="needs a column"):
        IndicatorDef(name="z", title="z", source="trades", aggregation="sum", window={"kind": "days", "n": 3})


def test_derived_indicators_follow_their_formula_in_dependency_order(sqlite_container: Container) -> None:
    _customers(sqlite_container)
    _load(
        sqlite_container,
        "holdings",
        pa.table(
            {
                "customer_no": ["C1", "C1", "C2"],
                "date": [DAY] * 3,
                "product_code": ["600000", "110000", "600000"],
                "market_value": [300.0, 100.0, 50.0],
            }
        ),
    )
    snapshot = {"kind": "snapshot"}
    total = IndicatorDef(
        name="hold_total",
        title="t",
        source="holdings",
        aggregation="sum",
        column="market_value",
        window=snapshot,
    )
    top = IndicatorDef(
        name="hold_top",
        title="m",
        source="holdings",
        aggregation="max",
        column="market_value",
        window=snapshot,
    )
    # Listed before the formula it reads: evaluation order comes from the formulas, not the list.
    percent = IndicatorDef(
        name="top_percent", title="p", source="derived", aggregation="formula", formula="share * 100"
    )
    share = IndicatorDef(
        name="share", title="s", source="derived", aggregation="formula", formula="hold_top / hold_total"
    )
    table = compute_indicators(
        env=sqlite_container.indicator_env, day=DAY, definitions=[percent, total, top, share]
    ).to_pandas()
    values = table.set_index("customer_no")
    assert values.loc["C1", "share"] == pytest.approx(0.75)
    assert values.loc["C1", "top_percent"] == pytest.approx(75.0)
    assert values.loc["C2", "share"] == pytest.approx(1.0)
    assert pd.isna(values.loc["C3", "share"])  # no holdings: 0 ÷ 0 is no value, not an error


def test_formulas_naming_unknown_indicators_or_closing_a_cycle_are_refused(
    sqlite_container: Container,
) -> None:
    env = sqlite_container.indicator_env

    def derived(name: str, formula: str) -> IndicatorDef:
        return IndicatorDef(name=name, title=name, source="derived", aggregation="formula", formula=formula)

    with pytest.raises(ValidationError, match="unknown indicator 'nope'"):
        save_indicator(env=env, principal=SYSTEM, definition=derived("a", "nope + 1"))
    base = IndicatorDef(
        name="trades_7d", title="t", source="trades", aggregation="count", window={"kind": "days", "n": 7}
    )
    save_indicator(env=env, principal=SYSTEM, definition=base)
    save_indicator(env=env, principal=SYSTEM, definition=derived("a", "trades_7d * 2"))
    save_indicator(env=env, principal=SYSTEM, definition=derived("b", "a + 1"))
    with pytest.raises(ValidationError, match=r"cycle (a → b → a|b → a → b)"):
        save_indicator(env=env, principal=SYSTEM, definition=derived("a", "b / 2"))
    with pytest.raises(ValueError, match="cycle c → c"):
        derived("c", "c + 1")
    with pytest.raises(ValueError, match="Call is not allowed"):
        derived("d", "__import__('os')")
    with pytest.raises(ValueError, match="needs a window"):
        IndicatorDef(name="e", title="e", source="trades", aggregation="count")
