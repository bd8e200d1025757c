"""Trading-day windows mean XSHG trading days: rows on closed days, checked against exchange-calendars.

The expected values come from `reference` (pandas over exchange-calendars' sessions): snapshot rows dated
on a closed day are left out, flow rows dated on a closed day count for the next trading day.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from support import examples
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, compute_indicators
from touchpoint.ingest import ImportOptions, import_arrow

from .reference import expected_values, is_session, sessions_ending

BEIJING = ZoneInfo("Asia/Shanghai")
CUSTOMERS = ["C1", "C2", "C3"]
NATIONAL_DAY = [date(2025, 10, d) for d in range(1, 9)]
ASSET_AGGREGATIONS = ["avg", "count", "sum", "min", "max", "first", "last", "count_distinct"]
TRADE_AGGREGATIONS = ["count", "count_distinct", "sum", "days_since_first", "days_since_last", "last"]


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    import_arrow(
        env=container,
        principal=SYSTEM,
        table=table,
        data=data,
        options=ImportOptions(business_date=day, force=True),
        source_name=table,
    )


def _beijing(day: date, second: int) -> datetime:
    midnight = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    return (midnight + timedelta(seconds=second)).astimezone(UTC)


def _customers(container: Container, day: date) -> None:
    _load(container, "customers", pa.table({"customer_no": CUSTOMERS}), day)


def _definition(name: str, source: str, aggregation: str, column: str | None, n: int) -> IndicatorDef:
    return IndicatorDef(
        name=name,
        title=name,
        source=source,  # type: ignore[arg-type]
        aggregation=aggregation,  # type: ignore[arg-type]
        column=column,
        window={"kind": "trading_days", "n": n},
    )


def _asset_column(aggregation: str) -> str:
    return "dt" if aggregation == "count_distinct" else "total_assets"


def _trade_column(aggregation: str) -> str | None:
    return {"count_distinct": "dt", "sum": "amount", "last": "amount"}.get(aggregation)


def _compare(table: pd.DataFrame, definition: IndicatorDef, expected: dict[str, object]) -> None:
    for customer in CUSTOMERS:
        got, want = table.loc[customer, definition.name], expected[customer]
        if want is None:
            assert pd.isna(got), (definition.name, customer, got)
        else:
            assert got == pytest.approx(want), (definition.name, customer, got, want)


# (customer, days before D (negative: after D), value); assets are one row per customer and date.
AssetRow = tuple[str, int, int]
# (customer, days before D, second of the Beijing day, amount)
TradeRow = tuple[str, int, int, int]
asset_rows = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.integers(-2, 45), st.integers(0, 1_000_000)),
    max_size=60,
    unique_by=lambda r: (r[0], r[1]),
)
trade_rows = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.integers(-2, 45),
        st.one_of(st.sampled_from([0, 86_399]), st.integers(0, 86_399)),
        st.integers(1, 10_000),
    ),
    max_size=40,
)
EVERY_DAY_C1 = [("C1", k, 700_000 + 1_000 * k) for k in range(0, 40)]  # calendar-day rows, closures too
HOLIDAY_ORDERS = [("C2", k, 36_000, 100 * k) for k in (0, 2, 5, 9, 10, 13)]  # 10-09, holidays, 09-30 …


@settings(max_examples=examples(20), deadline=None)
@given(
    day=st.dates(date(2025, 9, 15), date(2026, 3, 31)),
    n=st.integers(1, 25),
    assets=asset_rows,
    trades=trade_rows,
)
@example(day=date(2025, 10, 9), n=20, assets=EVERY_DAY_C1, trades=HOLIDAY_ORDERS)
@example(day=date(2025, 10, 9), n=1, assets=EVERY_DAY_C1, trades=HOLIDAY_ORDERS)
@example(day=date(2025, 10, 8), n=5, assets=EVERY_DAY_C1, trades=HOLIDAY_ORDERS)
@example(day=date(2025, 10, 12), n=2, assets=EVERY_DAY_C1, trades=HOLIDAY_ORDERS)
def test_trading_day_windows_match_exchange_calendars(
    day: date, n: int, assets: list[AssetRow], trades: list[TradeRow]
) -> None:
    # Rows on closed days are the point: every example holds at least one.
    closed = {day - timedelta(days=d) for _, d, _ in assets} | {
        day - timedelta(days=d) for _, d, _, _ in trades
    }
    assume(any(not is_session(d) for d in closed))
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(datetime(2026, 4, 2, tzinfo=UTC)))
        try:
            _check_trading_days(container, day, n, assets, trades)
        finally:
            container.close()


def _check_trading_days(
    container: Container, day: date, n: int, assets: list[AssetRow], trades: list[TradeRow]
) -> None:
    _customers(container, day)
    asset_frame = pd.DataFrame(
        [{"customer_no": c, "date": day - timedelta(days=d), "total_assets": float(v)} for c, d, v in assets],
        columns=["customer_no", "date", "total_assets"],
    )
    trade_frame = pd.DataFrame(
        [
            {
                "trade_id": f"T{i:03d}",
                "customer_no": c,
                "time": _beijing(day - timedelta(days=d), s),
                "product_code": "110000",
                "side": "subscribe",
                "amount": float(a),
            }
            for i, (c, d, s, a) in enumerate(trades)
        ],
        columns=["trade_id", "customer_no", "time", "product_code", "side", "amount"],
    )
    if len(asset_frame):
        _load(container, "assets", pa.Table.from_pandas(asset_frame, preserve_index=False))
    if len(trade_frame):
        _load(container, "trades", pa.Table.from_pandas(trade_frame, preserve_index=False))
    asset_frame["dt"] = asset_frame["date"]
    trade_frame["dt"] = pd.to_datetime(trade_frame["time"], utc=True).dt.tz_convert(BEIJING).dt.date
    definitions = [
        _definition(f"assets_{a}", "assets", a, _asset_column(a), n) for a in ASSET_AGGREGATIONS
    ] + [_definition(f"trades_{a}", "trades", a, _trade_column(a), n) for a in TRADE_AGGREGATIONS]
    table = compute_indicators(env=container, day=day, definitions=definitions).to_pandas()
    table = table.set_index("customer_no")
    for definition in definitions:
        frame = asset_frame if definition.source == "assets" else trade_frame
        expected = expected_values(
            frame,
            customers=CUSTOMERS,
            source=definition.source,
            aggregation=definition.aggregation,
            column=definition.column,
            window={"kind": "trading_days", "n": n},
            day=day,
        )
        _compare(table, definition, expected)


def test_twenty_trading_days_across_national_day(sqlite_container: Container) -> None:
    """The issue's two figures: a 20-day average over calendar rows and a holiday fund order."""
    day = date(2025, 10, 9)
    _customers(sqlite_container, day)
    calendar_days = [day - timedelta(days=k) for k in range(0, 40)]
    values = [700_000.0 + 1_000.0 * k for k in range(0, 40)]
    _load(
        sqlite_container,
        "assets",
        pa.table({"customer_no": ["C1"] * 40, "date": calendar_days, "total_assets": values}),
    )
    orders = [date(2025, 9, 29), date(2025, 9, 30), date(2025, 10, 3), date(2025, 10, 6), day]
    _load(
        sqlite_container,
        "trades",
        pa.table(
            {
                "trade_id": [f"T{i}" for i in range(len(orders))],
                "customer_no": ["C1"] * len(orders),
                "time": [_beijing(d, 36_000) for d in orders],
                "product_code": ["110000"] * len(orders),
                "side": ["subscribe"] * len(orders),
            }
        ),
    )
    average = _definition("avg_assets_20td", "assets", "avg", "total_assets", 20)
    trade_days = _definition("trade_days_20td", "trades", "count_distinct", "dt", 20)
    table = compute_indicators(env=sqlite_container, day=day, definitions=[average, trade_days]).to_pandas()
    c1 = table.set_index("customer_no").loc["C1"]
    sessions = sessions_ending(day, 20)
    by_day = dict(zip(calendar_days, values, strict=True))
    assert c1["avg_assets_20td"] == pytest.approx(sum(by_day[d] for d in sessions) / 20)
    # The old reading averaged every calendar row from the window's first session on, closures included.
    calendar_rows = [v for d, v in by_day.items() if sessions[0] <= d <= day]
    assert c1["avg_assets_20td"] != pytest.approx(sum(calendar_rows) / len(calendar_rows))
    # 09-29, 09-30 and 10-09: the holiday orders of 10-03 and 10-06 are processed on 10-09.
    assert c1["trade_days_20td"] == 3


@pytest.mark.parametrize(
    ("day", "n", "edges", "counted"),
    [
        # 5 sessions ending Tue 03-31 start Wed 03-25; Tue 03-24 is a session, so its last second is out.
        (date(2026, 3, 31), 5, [(date(2026, 3, 24), 86_399), (date(2026, 3, 25), 0)], 1),
        # The next midnight belongs to the next day, in any window ending on D.
        (date(2026, 3, 31), 5, [(date(2026, 3, 31), 86_399), (date(2026, 4, 1), 0)], 1),
        # 2 sessions ending Mon 10-13 start Fri 10-10; the weekend's events count for Monday.
        (
            date(2025, 10, 13),
            2,
            [(date(2025, 10, 9), 86_399), (date(2025, 10, 10), 0), (date(2025, 10, 12), 0)],
            2,
        ),
        # 1 session ending 10-09: the whole closure rolls onto it, the last session before it does not.
        (
            date(2025, 10, 9),
            1,
            [(date(2025, 9, 30), 86_399), (date(2025, 10, 1), 0), (date(2025, 10, 8), 86_399)],
            2,
        ),
        # D on a closed day: the window ends at the last session (09-30); holiday events wait for 10-09.
        (
            date(2025, 10, 5),
            1,
            [(date(2025, 9, 30), 0), (date(2025, 10, 2), 0), (date(2025, 10, 5), 86_399)],
            1,
        ),
    ],
)
def test_events_at_the_edges_of_a_trading_day_window(
    sqlite_container: Container, day: date, n: int, edges: list[tuple[date, int]], counted: int
) -> None:
    _customers(sqlite_container, day)
    times = [_beijing(d, s) for d, s in edges]
    _load(
        sqlite_container,
        "events",
        pa.table(
            {
                "event_id": [f"e{i}" for i in range(len(times))],
                "event": ["login"] * len(times),
                "distinct_id": ["C1"] * len(times),
                "time": times,
            }
        ),
    )
    logins = IndicatorDef(
        name="logins",
        title="logins",
        source="events",
        event="login",
        aggregation="count",
        window={"kind": "trading_days", "n": n},
    )
    table = compute_indicators(env=sqlite_container, day=day, definitions=[logins]).to_pandas()
    got = table.set_index("customer_no").loc["C1", "logins"]
    frame = pd.DataFrame(
        {"customer_no": ["C1"] * len(times), "time": times, "event_id": [f"e{i}" for i in range(len(times))]}
    )
    frame["dt"] = [t.astimezone(BEIJING).date() for t in times]
    want = expected_values(
        frame,
        customers=["C1"],
        source="events",
        aggregation="count",
        column=None,
        window={"kind": "trading_days", "n": n},
        day=day,
    )["C1"]
    assert (got, want) == (counted, counted)
