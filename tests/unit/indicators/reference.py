"""An independent reading of indicator windows: pandas over exchange-calendars' XSHG sessions.

Nothing here calls Touchpoint's trading calendar or its window code, so a window computed both ways must
agree. The rules it encodes (docs/tags.md, *Windows*):

- `days` n, `month_to_date`, `all_time`: calendar business dates up to D.
- `trading_days` n: the n XSHG sessions ending with the last session on or before D. A flow row (trades,
  cash flows, events) dated on a closed day counts for the next session; a snapshot row (assets, holdings)
  dated on a closed day is left out. `dt` is then the session a row counts for.
- `snapshot`: each customer's rows of their latest date on or before D, no older than `max_age` sessions
  before the last session on or before D (default 5); a customer without such a row has no value.
- count, count_distinct and sum are 0 for a customer without rows when the source has a row between the
  window's first date and D; otherwise (and always in a snapshot window) no value.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import exchange_calendars
import pandas as pd

XSHG = exchange_calendars.get_calendar("XSHG")
FLOW_SOURCES = {"trades", "cash_flows", "events"}
ZERO_AGGREGATIONS = {"count", "count_distinct", "sum"}
DEFAULT_MAX_AGE = 5
TIE_COLUMN = {"trades": "trade_id", "cash_flows": "flow_id", "events": "event_id", "holdings": "product_code"}
ORDER_COLUMN = {"assets": "date", "holdings": "date"}


@lru_cache(maxsize=4096)
def is_session(day: date) -> bool:
    """True when the Shanghai exchange is open on `day`."""
    return bool(XSHG.is_session(pd.Timestamp(day)))


@lru_cache(maxsize=4096)
def session_on_or_after(day: date) -> date:
    """The session a flow row dated `day` counts for."""
    found: date = XSHG.date_to_session(pd.Timestamp(day), direction="next").date()
    return found


@lru_cache(maxsize=4096)
def session_on_or_before(day: date) -> date:
    """The last session on or before `day`."""
    found: date = XSHG.date_to_session(pd.Timestamp(day), direction="previous").date()
    return found


def sessions_ending(day: date, n: int) -> list[date]:
    """The n sessions ending with the last session on or before `day`, oldest first."""
    window = XSHG.sessions_window(pd.Timestamp(session_on_or_before(day)), -n)
    return [ts.date() for ts in window]


def window_rows(frame: pd.DataFrame, window: dict[str, Any], source: str, day: date) -> pd.DataFrame:
    """The rows a non-snapshot window reads, `dt` replaced by the date each row counts for."""
    dt = frame["dt"]
    kind = window["kind"]
    if kind == "trading_days":
        sessions = set(sessions_ending(day, window["n"]))
        # A flow row of a closed day counts for the next session; a snapshot row of a closed day is dropped.
        flow = source in FLOW_SOURCES
        counted = dt.map(session_on_or_after) if flow else dt.where(dt.map(is_session))
        keep = counted.isin(sessions)
        return frame[keep].assign(dt=counted[keep])
    first = first_date(window, source, day)
    keep = dt <= day if first is None else (dt >= first) & (dt <= day)
    return frame[keep]


def first_date(window: dict[str, Any], source: str, day: date) -> date | None:
    """The earliest business date a window reads rows of (None: from the beginning)."""
    kind = window["kind"]
    if kind == "days":
        return day - timedelta(days=window["n"] - 1)
    if kind == "month_to_date":
        return day.replace(day=1)
    if kind == "trading_days":
        start = sessions_ending(day, window["n"])[0]
        if source in FLOW_SOURCES:
            before: date = XSHG.previous_session(pd.Timestamp(start)).date()
            return before + timedelta(days=1)
        return start
    return None


def has_data(frame: pd.DataFrame, window: dict[str, Any], source: str, day: date) -> bool:
    """Whether the source holds any row from the window's first date to D (then no rows count as 0)."""
    first = first_date(window, source, day)
    dt = frame["dt"]
    keep = dt <= day if first is None else (dt >= first) & (dt <= day)
    return bool(keep.any())


def snapshot_rows(frame: pd.DataFrame, day: date, max_age: int = DEFAULT_MAX_AGE) -> pd.DataFrame:
    """Each customer's rows of their latest date on or before D within the staleness limit."""
    oldest = sessions_ending(day, max_age + 1)[0]
    rows = frame[(frame["dt"] >= oldest) & (frame["dt"] <= day)]
    latest = rows.groupby("customer_no")["dt"].transform("max")
    return rows[rows["dt"] == latest]


def aggregate(
    rows: pd.DataFrame, aggregation: str, column: str | None, source: str, day: date, *, empty_is_zero: bool
) -> object:
    """One customer's value over their rows (None for no value)."""
    if rows.empty:
        return 0 if empty_is_zero and aggregation in ZERO_AGGREGATIONS else None
    if aggregation in ("first", "last"):
        order = [ORDER_COLUMN.get(source, "time")] + ([TIE_COLUMN[source]] if source in TIE_COLUMN else [])
        rows = rows.sort_values(order)
    values = rows[column] if column else None
    found: dict[str, Any] = {
        "count": lambda: len(rows),
        "count_distinct": lambda: values.nunique(),
        "sum": lambda: values.sum(),
        "avg": lambda: values.mean(),
        "min": lambda: values.min(),
        "max": lambda: values.max(),
        "first": lambda: values.iloc[0],
        "last": lambda: values.iloc[-1],
        "days_since_first": lambda: (day - rows["dt"].min()).days,
        "days_since_last": lambda: (day - rows["dt"].max()).days,
    }
    return found[aggregation]()


def expected_values(
    frame: pd.DataFrame,
    *,
    customers: list[str],
    source: str,
    aggregation: str,
    column: str | None,
    window: dict[str, Any],
    day: date,
    keep: pd.Series | None = None,
) -> dict[str, object]:
    """Every customer's expected value; `keep` (aligned to `frame`) is the definition's filter."""
    if window["kind"] == "snapshot":
        max_age = window.get("max_age")
        read = snapshot_rows(frame, day, DEFAULT_MAX_AGE if max_age is None else max_age)
        zero = set(read["customer_no"])  # a customer the snapshot holds: no row passing the filter is 0
    else:
        read = window_rows(frame, window, source, day)
        zero = set(customers) if has_data(frame, window, source, day) else set()
    if keep is not None:
        read = read[keep.loc[read.index]]
    mine = dict(list(read.groupby("customer_no")))
    empty = read.iloc[0:0]
    return {
        c: aggregate(mine.get(c, empty), aggregation, column, source, day, empty_is_zero=c in zero)
        for c in customers
    }
