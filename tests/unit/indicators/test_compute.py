"""Indicator values against a brute-force pandas computation on the same rows.

Expected windows come from `reference` (pandas over exchange-calendars' XSHG sessions), never from the
project's own calendar or `window_bounds`.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from support import examples
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, compute_indicators, save_indicator
from touchpoint.ingest import ImportOptions, import_arrow

from .reference import expected_values

BEIJING = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 31)
CUSTOMERS = ["C1", "C2", "C3", "C4"]
WINDOWS: list[dict[str, Any]] = [
    {"kind": "days", "n": 7},
    {"kind": "trading_days", "n": 1},
    {"kind": "trading_days", "n": 5},
    {"kind": "trading_days", "n": 20},
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
# Business dates around closures: National Day 2025-10-01..08, weekends, New Year 2026.
DAYS = [
    DAY,
    date(2025, 10, 9),
    date(2025, 10, 8),
    date(2025, 10, 10),
    date(2025, 10, 12),
    date(2025, 10, 13),
    date(2025, 9, 30),
    date(2026, 1, 5),
]


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    options = ImportOptions(business_date=day, force=True)
    import_arrow(env=container, principal=SYSTEM, table=table, data=data, options=options, source_name=table)


def _customers(container: Container, day: date = DAY) -> None:
    _load(
        container, "customers", pa.table({"customer_no": CUSTOMERS, "open_date": [date(2020, 1, 1)] * 4}), day
    )


def _beijing(day: date, second: int) -> datetime:
    """`second` seconds after Beijing midnight of `day`, in UTC."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    return (midnight + timedelta(seconds=second)).astimezone(UTC)


# Indicators of one source are computed in one pass whatever their windows and filters, so the
# definitions mix filters: each must still see only its own rows.
FILTERS: list[list[dict[str, Any]]] = [
    [{"column": "side", "op": "in", "value": ["buy", "sell"]}],
    [],
    [{"column": "side", "op": "=", "value": "subscribe"}],
]


def _kept(frame: pd.DataFrame, filters: list[dict[str, Any]]) -> pd.Series:
    """The rows a definition's filters keep, computed by pandas."""
    keep = pd.Series(True, index=frame.index)
    for f in filters:
        values = f["value"] if f["op"] == "in" else [f["value"]]
        keep &= frame[f["column"]].isin(values)
    return keep


def _definitions() -> list[IndicatorDef]:
    found = []
    for w, window in enumerate(WINDOWS):
        for a, aggregation in enumerate(AGGREGATIONS):
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
                    filters=FILTERS[(w + a) % len(FILTERS)],
                )
            )
    return found


# (customer, days before D (negative: after D), second of the Beijing day, side, product, amount)
TradeRow = tuple[str, int, int, str, str, int]
trade_rows = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.integers(-2, 45),
        # Few distinct seconds, so that trades often share an instant; 0 and 86,399 are the day's edges.
        st.one_of(st.sampled_from([0, 1, 34_200, 86_399]), st.integers(0, 86_399)),
        st.sampled_from(["buy", "sell", "subscribe"]),
        st.sampled_from(["600000", "000001", "110000"]),
        st.integers(1, 10_000),
    ),
    min_size=1,
    max_size=40,
)
NATIONAL_DAY_ROWS: list[TradeRow] = [
    *[("C1", k, 36_000, "subscribe" if k % 3 else "buy", "110000", 100 + k) for k in range(0, 12)],
    ("C2", 0, 0, "buy", "600000", 10),  # two trades at one instant: ties break by trade id
    ("C2", 0, 0, "sell", "000001", 20),
    ("C2", 3, 50_000, "buy", "600000", 30),  # a fund order on a holiday counts for 10-09
    ("C3", -1, 0, "buy", "600000", 40),  # exactly the next midnight: not in D's windows
    ("C3", 0, 86_399, "sell", "600000", 50),
    ("C4", 9, 86_399, "buy", "000001", 60),  # 09-30, the last session before the closure
]
WINDOW_START_ROWS: list[TradeRow] = [
    ("C1", 6, 0, "buy", "600000", 1),  # 03-25 00:00, the exact start of D's 5-trading-day window
    ("C1", 7, 86_399, "buy", "600000", 2),  # 03-24 23:59:59, the second before it
    ("C2", 4, 0, "buy", "600000", 3),  # Saturday 03-28 rolls onto Monday 03-30
    ("C2", 4, 0, "sell", "000001", 4),
    ("C3", -1, 0, "sell", "000001", 5),
    ("C3", 0, 0, "sell", "000001", 6),
]


@settings(max_examples=examples(15), deadline=None)
@given(day=st.sampled_from(DAYS), rows=trade_rows)
@example(day=date(2025, 10, 9), rows=NATIONAL_DAY_ROWS)
@example(day=date(2025, 10, 8), rows=NATIONAL_DAY_ROWS)
@example(day=DAY, rows=WINDOW_START_ROWS)
def test_every_aggregation_and_window_matches_pandas(day: date, rows: list[TradeRow]) -> None:
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(datetime(2026, 4, 1, tzinfo=UTC)))
        try:
            _check_against_pandas(container, day, rows)
        finally:
            container.close()


def _check_against_pandas(container: Container, day: date, rows: list[TradeRow]) -> None:
    _customers(container, day)
    frame = pd.DataFrame(
        [
            {
                "trade_id": f"T{i:03d}",
                "customer_no": c,
                "time": _beijing(day - timedelta(days=d), s),
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
    table = compute_indicators(env=container, day=day, definitions=definitions).to_pandas()
    table = table.set_index("customer_no")
    for definition in definitions:
        assert definition.window is not None
        expected = expected_values(
            frame,
            customers=CUSTOMERS,
            source="trades",
            aggregation=definition.aggregation,
            column=definition.column,
            window=definition.window.model_dump(),
            day=day,
            keep=_kept(frame, [f.model_dump() for f in definition.filters]),
        )
        for customer in CUSTOMERS:
            got = table.loc[customer, definition.name]
            want = expected[customer]
            if want is None:
                assert pd.isna(got), (definition.name, customer, got)
            else:
                assert got == pytest.approx(want), (definition.name, customer, got, want)


def test_a_window_with_no_partition_of_its_source_has_no_value_not_zero(
    sqlite_container: Container,
) -> None:
    _customers(sqlite_container)
    trade = {"trade_id": ["T1"], "customer_no": ["C1"], "side": ["buy"], "product_code": ["600000"]}
    # Sunday 03-01: in a trading-day window it counts for Monday 03-02, the 22nd session before 03-31.
    _load(sqlite_container, "trades", pa.table({**trade, "time": [_beijing(date(2026, 3, 1), 36_000)]}))
    windows: dict[str, dict[str, Any]] = {
        "days_7": {"kind": "days", "n": 7},
        "days_31": {"kind": "days", "n": 31},
        "td_21": {"kind": "trading_days", "n": 21},
        "td_22": {"kind": "trading_days", "n": 22},
    }
    counts = [
        IndicatorDef(name=name, title=name, source="trades", aggregation="count", window=window)
        for name, window in windows.items()
    ]
    table = compute_indicators(env=sqlite_container, day=DAY, definitions=counts).to_pandas()
    values = table.set_index("customer_no")
    # The trades feed holds nothing in these windows: that is missing data, not "no trades".
    assert values[["days_7", "td_21"]].isna().all().all()
    # These reach back to the feed's data, so a customer without trades has 0.
    for name in ("days_31", "td_22"):
        assert values[name].to_dict() == {"C1": 1, "C2": 0, "C3": 0, "C4": 0}, name


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
    table = compute_indicators(env=sqlite_container, day=DAY, definitions=[views, equity]).to_pandas()
    c1 = table[table["customer_no"] == "C1"].iloc[0]
    assert (c1["views"], c1["equity_views"]) == (2, 1)


def test_an_indicator_of_every_event_beside_one_of_a_named_event(sqlite_container: Container) -> None:
    """One pass reads a source's events for all its indicators: naming no event still counts every one."""
    _customers(sqlite_container)
    at = datetime(2026, 3, 30, 2, 0, tzinfo=UTC)
    events = pa.table(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "event": ["login", "fund_detail_view", "content_view", "login"],
            "distinct_id": ["C1", "C1", "C1", "C2"],
            "customer_no": ["C1", "C1", "C1", "C2"],
            "time": [at] * 4,
            "properties": ["{}"] * 4,
        }
    )
    _load(sqlite_container, "events", events)
    window = {"kind": "days", "n": 7}
    every = IndicatorDef(name="events_7d", title="e", source="events", aggregation="count", window=window)
    logins = IndicatorDef(
        name="logins_7d", title="l", source="events", event="login", aggregation="count", window=window
    )
    table = compute_indicators(env=sqlite_container, day=DAY, definitions=[logins, every]).to_pandas()
    got = table.set_index("customer_no")[["events_7d", "logins_7d"]].to_dict("index")
    assert got["C1"] == {"events_7d": 3, "logins_7d": 1}
    assert got["C2"] == {"events_7d": 1, "logins_7d": 1}
    assert got["C3"] == {"events_7d": 0, "logins_7d": 0}


def test_event_property_indicators_read_each_property_as_its_json_type(sqlite_container: Container) -> None:
    """Text properties are counted and ordered as text, numbers summed; another JSON type is no value."""
    _customers(sqlite_container)
    props = [
        ("C1", 1, {"fund_code": "F2", "fund_type": "bond", "amount": 100}),
        ("C1", 2, {"fund_code": "F1", "fund_type": "equity", "amount": 2.5}),
        ("C1", 3, {"fund_code": "F2", "fund_type": "money", "amount": "5"}),  # text: not a number
        ("C2", 1, {"fund_type": "equity", "amount": 7}),  # no fund code
    ]
    _load(sqlite_container, "events", _property_events("fund_detail_view", props))
    wanted = {
        "funds": ("count_distinct", "properties.fund_code"),
        "first_type": ("first", "properties.fund_type"),
        "last_type": ("last", "properties.fund_type"),
        "amount": ("sum", "properties.amount"),
    }
    got = _property_indicators(sqlite_container, wanted)
    rows = got.set_index("customer_no")[list(wanted)].to_dict("index")
    assert rows["C1"] == {"funds": 2, "first_type": "bond", "last_type": "money", "amount": 102.5}
    assert rows["C2"] == {"funds": 0, "first_type": "equity", "last_type": "equity", "amount": 7.0}


def test_event_property_values_of_any_scalar_json_type_are_counted_and_kept_as_text(
    sqlite_container: Container,
) -> None:
    """A fund code sent as a number is still a code: distinct counts, first, last and value read every
    scalar JSON type (an integer as its digits, a boolean as true/false); null, arrays and objects are
    no value. First and last are the first and last event's value, as for any column."""
    _customers(sqlite_container)
    props = [
        ("C1", 1, {"code": 110011, "flag": True}),
        ("C1", 2, {"code": "110011"}),  # the same code as text: one distinct value
        ("C1", 3, {"code": None}),
        ("C1", 4, {"code": [1]}),
        ("C1", 5, {"code": 2.5, "flag": False}),
        ("C2", 1, {"code": 600519}),
        ("C2", 2, {"code": {"a": 1}}),
        ("C3", 1, {"code": None}),
    ]
    _load(sqlite_container, "events", _property_events("trade_view", props))
    wanted = {
        "codes": ("count_distinct", "properties.code"),
        "first_code": ("first", "properties.code"),
        "last_code": ("last", "properties.code"),
        "first_flag": ("first", "properties.flag"),
        "last_flag": ("last", "properties.flag"),
    }
    got = _property_indicators(sqlite_container, wanted)
    rows = got.set_index("customer_no")[list(wanted)].astype(object)
    table = rows.where(rows.notna(), None).to_dict("index")
    assert table["C1"] == {
        "codes": 2,
        "first_code": "110011",
        "last_code": "2.5",
        "first_flag": "true",
        "last_flag": "false",
    }
    assert table["C2"] == {
        "codes": 1,
        "first_code": "600519",
        "last_code": None,  # the last event's code is an object
        "first_flag": None,
        "last_flag": None,
    }
    assert table["C3"] == {
        "codes": 0,
        "first_code": None,
        "last_code": None,
        "first_flag": None,
        "last_flag": None,
    }


def test_customer_indicators_read_the_snapshot_on_or_before_the_date(sqlite_container: Container) -> None:
    """One customers file is the snapshot, however old: never two files' rows, never no value for its age."""
    march_20 = date(2026, 3, 20)
    for day, level in ((march_20, "C2"), (DAY, "C5")):
        customers = {
            "customer_no": ["C1"],
            "risk_level": [level],
            "consent_marketing": [level == "C5"],
            "open_date": [date(2020, 1, 1)],
        }
        _load(sqlite_container, "customers", pa.table(customers), day)

    def of_customers(name: str, aggregation: str, column: str | None = None) -> IndicatorDef:
        return IndicatorDef(
            name=name,
            title=name,
            source="customers",
            aggregation=aggregation,  # type: ignore[arg-type]
            column=column,
            window={"kind": "snapshot"},
        )

    definitions = [
        of_customers("rows", "count"),
        of_customers("level", "last", "risk_level"),
        of_customers("consent", "last", "consent_marketing"),  # yes/no is a number like any non-text value
        of_customers("first_level", "first", "risk_level"),
        of_customers("tenure", "days_since_first", "open_date"),
    ]
    on_31 = compute_indicators(env=sqlite_container, day=DAY, definitions=definitions).to_pandas()
    assert on_31[["rows", "level", "consent"]].to_dict("records") == [
        {"rows": 1, "level": "C5", "consent": 1.0}
    ]
    assert on_31["consent"].dtype == "float64"
    assert on_31["rows"].dtype == "int64"
    assert on_31["first_level"].tolist() == ["C5"]
    assert on_31["tenure"].tolist() == [(DAY - date(2020, 1, 1)).days]  # from the column, not the file's date
    # 03-30: the newest file on or before it is 03-20's, six sessions old, and it is still the snapshot.
    on_30 = compute_indicators(
        env=sqlite_container, day=date(2026, 3, 30), definitions=definitions
    ).to_pandas()
    assert on_30[["rows", "level", "consent"]].to_dict("records") == [
        {"rows": 1, "level": "C2", "consent": 0.0}
    ]


# A missing amount passes no comparison (SQL's NULL), only `exists: false`.
FILTER_OPS: list[tuple[str, Any, Any]] = [
    ("=", 30.0, lambda a: a is not None and a == 30),
    ("!=", 30.0, lambda a: a is not None and a != 30),
    (">", 30.0, lambda a: a is not None and a > 30),
    (">=", 30.0, lambda a: a is not None and a >= 30),
    ("<", 30.0, lambda a: a is not None and a < 30),
    ("<=", 30.0, lambda a: a is not None and a <= 30),
    ("in", [10.0, 40.0], lambda a: a in (10, 40)),
    ("not_in", [10.0, 40.0], lambda a: a is not None and a not in (10, 40)),
    ("exists", True, lambda a: a is not None),
    ("exists", None, lambda a: a is not None),
    ("exists", False, lambda a: a is None),
]


def test_every_filter_operator_keeps_the_rows_pandas_keeps(sqlite_container: Container) -> None:
    """A filter on a source column, each operator beside the others in one pass."""
    _customers(sqlite_container)
    amounts: dict[str, list[int | None]] = {"C1": [10, 20, 30, 40, None], "C2": [30, 30, 50], "C3": [None, 5]}
    rows = [(c, a) for c, listed in amounts.items() for a in listed]
    trades = pa.table(
        {
            "trade_id": [f"T{i}" for i in range(len(rows))],
            "customer_no": [c for c, _ in rows],
            "time": [_beijing(DAY, 36_000 + i) for i in range(len(rows))],
            "side": ["buy"] * len(rows),
            "product_code": ["600000"] * len(rows),
            "amount": pa.array([None if a is None else float(a) for _, a in rows], pa.float64()),
        }
    )
    _load(sqlite_container, "trades", trades)
    definitions = [
        IndicatorDef(
            name=f"op_{i}",
            title=op,
            source="trades",
            aggregation="count",
            window={"kind": "days", "n": 7},
            filters=[{"column": "amount", "op": op, "value": value}],
        )
        for i, (op, value, _) in enumerate(FILTER_OPS)
    ]
    table = compute_indicators(env=sqlite_container, day=DAY, definitions=definitions).to_pandas()
    got = table.set_index("customer_no")
    for i, (op, value, keeps) in enumerate(FILTER_OPS):
        for customer in CUSTOMERS:
            want = sum(1 for a in amounts.get(customer, []) if keeps(a))
            assert got.loc[customer, f"op_{i}"] == want, (op, value, customer)
        assert got[f"op_{i}"].dtype == "int64"  # a count is a whole number, stored as one


def test_a_value_indicator_reads_a_row_its_filters_keep(sqlite_container: Container) -> None:
    _customers(sqlite_container)
    rows = [
        ("C1", "buy", "600000"),
        ("C1", "buy", "600001"),
        ("C1", "sell", "000001"),
        ("C2", "buy", "600000"),
    ]
    trades = pa.table(
        {
            "trade_id": [f"T{i}" for i in range(len(rows))],
            "customer_no": [c for c, _, _ in rows],
            "time": [_beijing(DAY, 36_000 + i) for i in range(len(rows))],
            "side": [side for _, side, _ in rows],
            "product_code": [code for _, _, code in rows],
        }
    )
    _load(sqlite_container, "trades", trades)
    sold = IndicatorDef(
        name="sold",
        title="s",
        source="trades",
        aggregation="value",
        column="product_code",
        window={"kind": "days", "n": 7},
        filters=[{"column": "side", "op": "=", "value": "sell"}],
    )
    # `dt` names the date each row counts on (its trading day in a trading-day window).
    since = IndicatorDef(
        name="since",
        title="d",
        source="trades",
        aggregation="days_since_last",
        column="dt",
        window={"kind": "trading_days", "n": 5},
    )
    found = compute_indicators(env=sqlite_container, day=DAY, definitions=[sold, since])
    got = found.to_pandas().set_index("customer_no")
    assert got.loc[["C1", "C2"], "since"].tolist() == [0, 0]
    assert got.loc["C1", "sold"] == "000001"
    assert got.loc[["C2", "C3"], "sold"].isna().all()


def test_definitions_naming_unknown_things_are_refused(sqlite_container: Container) -> None:
    env = sqlite_container
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
    # Only a zero divisor is no value: one of 1 divides like any other.
    unit = IndicatorDef(
        name="unit", title="u", source="derived", aggregation="formula", formula="hold_total / 1.0"
    )
    table = compute_indicators(
        env=sqlite_container, day=DAY, definitions=[percent, total, top, share, unit]
    ).to_pandas()
    values = table.set_index("customer_no")
    assert values.loc["C1", "unit"] == pytest.approx(400.0)
    assert values.loc["C1", "share"] == pytest.approx(0.75)
    assert values.loc["C1", "top_percent"] == pytest.approx(75.0)
    assert values.loc["C2", "share"] == pytest.approx(1.0)
    assert pd.isna(values.loc["C3", "share"])  # no holdings: 0 ÷ 0 is no value, not an error


def test_formulas_naming_unknown_indicators_or_closing_a_cycle_are_refused(
    sqlite_container: Container,
) -> None:
    env = sqlite_container

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


def test_a_value_indicator_of_an_event_property_keeps_it_as_text(sqlite_container: Container) -> None:
    """`value` reads a property as text, as distinct counts do: a code sent as a number is its digits, a
    code sent as text stays text (read as a number, the first would be 110011.0 and the second nothing)."""
    _customers(sqlite_container)
    props = [("C1", 1, {"code": 110011}), ("C2", 1, {"code": "F7"}), ("C3", 1, {"other": 1})]
    _load(sqlite_container, "events", _property_events("trade_view", props))
    got = _property_indicators(sqlite_container, {"code": ("value", "properties.code")})
    codes = got.set_index("customer_no")["code"].astype(object)
    assert codes.loc[["C1", "C2"]].tolist() == ["110011", "F7"]
    assert codes.loc[["C3", "C4"]].isna().all()


def _property_events(event: str, props: list[tuple[str, int, dict[str, Any]]]) -> pa.Table:
    """Events named `event`, one per (customer, minute after 03-30 10:00 Beijing, properties)."""
    at = datetime(2026, 3, 30, 2, 0, tzinfo=UTC)
    return pa.table(
        {
            "event_id": [f"e{i}" for i in range(len(props))],
            "event": [event] * len(props),
            "distinct_id": [c for c, _, _ in props],
            "customer_no": [c for c, _, _ in props],
            "time": [at + timedelta(minutes=m) for _, m, _ in props],
            "properties": [json.dumps(p) for _, _, p in props],
        }
    )


def _property_indicators(container: Container, wanted: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Seven-day event indicators named by `wanted` (name → aggregation, column), computed on DAY."""
    window = {"kind": "days", "n": 7}
    definitions = [
        IndicatorDef(name=n, title=n, source="events", aggregation=a, column=c, window=window)  # type: ignore[arg-type]
        for n, (a, c) in wanted.items()
    ]
    return compute_indicators(env=container, day=DAY, definitions=definitions).to_pandas()
