"""经营概览: the figures a brokerage's staff open the console for, within the caller's scope.

Every figure is read from the data as it stands: a day without an imported snapshot has no value (None), never
zero; events are counted per Beijing day through One ID, as every analysis counts them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import pyarrow as pa
from ibis.expr.types import Table

from touchpoint.analytics.events import events_between, today
from touchpoint.governance import Principal
from touchpoint.identity.scopes import scope_numbers
from touchpoint.ingest.service import import_freshness
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.service import list_journeys
from touchpoint.segments.service import list_segments
from touchpoint.segments.service import status as segment_status
from touchpoint.tags.service import recent_compute_runs
from touchpoint.tasks.service import count_open_tasks

TREND_DAYS = 30
ACTIVE_DAYS = 7
LIVE = "live"


def overview(*, env: JourneyEnv, principal: Principal) -> dict[str, Any]:
    """The home page: KPI figures, 30-day trends, the freshness of every import, computation and segment
    refresh, and the trading calendar's horizon."""
    day = today(env)
    first = day - timedelta(days=TREND_DAYS - 1)
    numbers = _scope_table(env, principal)
    trend = _trend(env, principal, first, day, numbers)
    return {
        "as_of": day.isoformat(),
        "scoped": principal.scope is not None,
        "figures": _figures(env, principal, day, numbers, trend),
        "trend": trend,
        "freshness": freshness(env=env),
        "calendar": _calendar(env, day),
    }


def _scope_table(env: JourneyEnv, principal: Principal) -> Table | None:
    """The caller's customer numbers as a table to join (None: no limit)."""
    if principal.scope is None:
        return None
    numbers = scope_numbers(env, principal.scope)
    return ibis.memtable(pa.table({"scope_customer_no": pa.array(numbers, pa.string())}))


def _within(table: Table, numbers: Table | None) -> Table:
    if numbers is None:
        return table
    return table.semi_join(numbers, table.customer_no == numbers.scope_customer_no)


def _figures(
    env: JourneyEnv, principal: Principal, day: date, numbers: Table | None, trend: list[dict[str, Any]]
) -> dict[str, Any]:
    assets_day, aum = _latest_sum(env, "assets", "total_assets", numbers)
    flows = [t["net_inflow"] for t in trend if t["net_inflow"] is not None]
    return {
        "customers": _customer_count(env, numbers),
        "active_customers_7d": _active_customers(env, principal, day - timedelta(days=ACTIVE_DAYS - 1), day),
        "total_aum": aum,
        "aum_date": assets_day,
        "net_inflow_30d": round(sum(flows), 2) if flows else None,
        "events_today": trend[-1]["events"] if trend else 0,
        "live_journeys": sum(1 for j in list_journeys(env=env) if j["status"] == LIVE),
        "open_tasks": count_open_tasks(env=env, principal=principal),
    }


def _customer_count(env: JourneyEnv, numbers: Table | None) -> int | None:
    partitions = env.analytics.partitions("customers")
    if not partitions:
        return None
    customers = env.analytics.table("customers")
    latest = customers.filter(customers.dt == partitions[-1].dt)
    return int(_within(latest, numbers).count().execute())


def _latest_sum(
    env: JourneyEnv, name: str, column: str, numbers: Table | None
) -> tuple[str | None, float | None]:
    partitions = env.analytics.partitions(name)
    if not partitions:
        return None, None
    table = env.analytics.table(name)
    latest = _within(table.filter(table.dt == partitions[-1].dt), numbers)
    total = latest[column].sum().execute()
    return partitions[-1].dt.isoformat(), None if total is None else round(float(total), 2)


def _active_customers(env: JourneyEnv, principal: Principal, first: date, last: date) -> int:
    if not env.analytics.partitions("events"):
        return 0
    events = events_between(env, None, first, last, scope=principal.scope)
    return int(events.filter(events.customer_no.notnull()).customer_no.nunique().execute())


def _trend(
    env: JourneyEnv, principal: Principal, first: date, last: date, numbers: Table | None
) -> list[dict[str, Any]]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    events = _daily_events(env, principal, first, last)
    assets = _daily_sum(env, "assets", "total_assets", first, last, numbers)
    inflow = _daily_net_inflow(env, first, last, numbers)
    return [
        {
            "date": d.isoformat(),
            "events": events.get(d, (0, 0))[0],
            "active_customers": events.get(d, (0, 0))[1],
            "total_assets": assets.get(d),
            "net_inflow": inflow.get(d),
        }
        for d in days
    ]


def _daily_events(
    env: JourneyEnv, principal: Principal, first: date, last: date
) -> dict[date, tuple[int, int]]:
    if not env.analytics.partitions("events"):
        return {}
    events = events_between(env, None, first, last, scope=principal.scope)
    per_day = events.group_by("dt").aggregate(events=events.count(), active=events.customer_no.nunique())
    rows = per_day.to_pyarrow().to_pylist()
    return {r["dt"]: (int(r["events"]), int(r["active"])) for r in rows}


def _daily_sum(
    env: JourneyEnv, name: str, column: str, first: date, last: date, numbers: Table | None
) -> dict[date, float]:
    """A column's total per snapshot date; a date without a snapshot is absent (no value, not zero)."""
    if not env.analytics.partitions(name):
        return {}
    table = env.analytics.table(name)
    chosen = _within(table.filter(table.dt >= first, table.dt <= last), numbers)
    per_day = chosen.group_by("dt").aggregate(total=chosen[column].sum())
    return {r["dt"]: round(float(r["total"] or 0), 2) for r in per_day.to_pyarrow().to_pylist()}


def _daily_net_inflow(env: JourneyEnv, first: date, last: date, numbers: Table | None) -> dict[date, float]:
    """Deposits minus withdrawals per day of imported cash flows; a day with none imported is absent."""
    if not env.analytics.partitions("cash_flows"):
        return {}
    flows = env.analytics.table("cash_flows")
    chosen = _within(flows.filter(flows.dt >= first, flows.dt <= last), numbers)
    signed = ibis.cases((chosen.direction == "in", chosen.amount), else_=-chosen.amount)
    per_day = chosen.group_by("dt").aggregate(net=signed.sum())
    imported = {p.dt for p in env.analytics.partitions("cash_flows")}
    found = {r["dt"]: round(float(r["net"] or 0), 2) for r in per_day.to_pyarrow().to_pylist()}
    # A day whose partition was imported but holds none of the caller's customers is a real zero.
    return {d: found.get(d, 0.0) for d in imported if first <= d <= last}


def freshness(*, env: JourneyEnv) -> list[dict[str, Any]]:
    """The newest import of each table, the newest computation and each saved segment's last refresh, with
    their state and error (a failure is listed with what went wrong)."""
    items = [
        {
            "kind": "import",
            "name": run["table_name"],
            "status": run["status"],
            "at": run["finished_at"] or run["started_at"],
            "error": run["error"],
        }
        for run in import_freshness(ops=env.ops)
    ]
    runs = recent_compute_runs(env=env, limit=1)
    if runs:
        run = runs[0]
        items.append(
            {
                "kind": "computation",
                "name": run["business_date"],
                "status": run["status"],
                "at": run["finished_at"] or run["started_at"],
                "error": run.get("error"),
            }
        )
    for name in list_segments(env=env):
        state = segment_status(env=env, name=name)
        failed = state["last_error"] is not None
        items.append(
            {
                "kind": "segment",
                "name": name,
                "status": "failed" if failed else ("succeeded" if state["last_computed"] else "never"),
                "at": state["last_computed"],
                "error": state["last_error"],
            }
        )
    return items


def _calendar(env: JourneyEnv, day: date) -> dict[str, Any]:
    horizon = env.calendar.horizon(day)
    return {
        "exchange": env.calendar.exchange,
        "holidays_recorded_until": horizon.recorded_until.isoformat(),
        "days_left": horizon.days_left,
        "next_year": horizon.next_year,
        "next_year_configured": horizon.next_year_configured,
        "warning": horizon.warning,
    }
