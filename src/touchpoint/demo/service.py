"""Generating the demo brokerage through the same import path as real data."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

import pyarrow as pa

from touchpoint.core.progress import StageProgress
from touchpoint.demo.behaviour import events_table
from touchpoint.demo.daily import (
    Portfolio,
    assets_table,
    cash_flows_table,
    holdings_table,
    make_portfolio,
    trades_table,
)
from touchpoint.demo.model import REPLAY_DAYS, DemoParams, DemoSummary
from touchpoint.demo.population import Population, customers_table, make_population, make_shelf, master_as_of
from touchpoint.demo.servicing import (
    allotments_table,
    cash_events,
    deductions_table,
    plans_table,
    servicing_rows,
)
from touchpoint.governance import Principal
from touchpoint.ingest import ImportEnv, ImportOptions, import_arrow


def demo_end_date(env: ImportEnv, params: DemoParams) -> date:
    """The last trading day on or before the requested end (default: today's business date)."""
    end = params.end_date or env.calendar.business_date(env.clock.now())
    return end if env.calendar.is_trading_day(end) else env.calendar.previous_trading_day(end)


def generate_demo(
    *, env: ImportEnv, principal: Principal, params: DemoParams, progress: StageProgress | None = None
) -> DemoSummary:
    """Generate and import customers, products, daily assets and holdings, trades, cash flows and events."""
    started = time.perf_counter()
    report = progress or (lambda _stage, _done, _total: None)
    end = demo_end_date(env, params)
    days = [end - timedelta(days=n) for n in range(params.days - 1, -1, -1)]
    sessions = [d for d in days if env.calendar.is_trading_day(d)]
    population = make_population(params.seed, params.customers, end)
    shelf = make_shelf(params.seed, env.calendar, sessions)
    portfolio = make_portfolio(params.seed, population, shelf)

    def load(table: str, data: pa.Table, business_date: date | None = None) -> int:
        options = ImportOptions(business_date=business_date, replace=business_date is not None)
        return import_arrow(
            env=env, principal=principal, table=table, data=data, options=options, source_name=f"demo:{table}"
        ).rows_imported

    report("profiles", 0, 2)
    master = customers_table(params.seed, population, end)
    # On a trading day: the replay computes its first tags on the session on or before its first day, and
    # that needs this master (a weekend start put the master a day after that session: no snapshot).
    replayed_from = env.calendar.on_or_before(end - timedelta(days=REPLAY_DAYS))
    if replayed_from > days[0]:
        # The master as exported when the replayed days begin: the tags of those days are computed from it.
        load("customers", master_as_of(master, replayed_from), replayed_from)
    counts = {"customers": load("customers", master, end)}
    counts["products"] = load("products", shelf.table, end)
    report("profiles", 2, 2)
    totals = dict.fromkeys(("assets", "holdings", "trades", "cash_flows", "events"), 0)
    servicing: list[pa.Table] = []
    for index, day in enumerate(days):
        if env.calendar.is_trading_day(day):
            totals["assets"] += load("assets", assets_table(params.seed, population, day, index))
            totals["holdings"] += load(
                "holdings", holdings_table(params.seed, population, portfolio, day, index)
            )
            totals["trades"] += load(
                "trades", trades_table(params.seed, population, portfolio, env.calendar, day, index)
            )
            flows = cash_flows_table(params.seed, population, env.calendar, day, index)
            totals["cash_flows"] += load("cash_flows", flows)
            totals["events"] += load("events", cash_events(flows))
        events = events_table(params.seed, population, shelf, portfolio, env.calendar, day, index, end)
        totals["events"] += load("events", events)
        servicing.append(servicing_rows(events))
        report("daily data", index + 1, len(days))
    counts |= _load_servicing(load, pa.concat_tables(servicing), population, portfolio, env, end)
    return DemoSummary(
        **counts, **totals, first_date=days[0], last_date=end, seconds=round(time.perf_counter() - started, 2)
    )


def _load_servicing(
    load: Callable[..., int],
    servicing: pa.Table,
    population: Population,
    portfolio: Portfolio,
    env: ImportEnv,
    end: date,
) -> dict[str, int]:
    """IPO allotments, auto-invest debits and plans, drawn from the events so that the two agree."""
    deductions = deductions_table(servicing, env.calendar)
    return {
        "ipo_allotments": load("ipo_allotments", allotments_table(servicing, env.calendar)),
        "autoinvest_deductions": load("autoinvest_deductions", deductions),
        "autoinvest_plans": load(
            "autoinvest_plans", plans_table(population, portfolio, deductions, env.calendar, end), end
        ),
    }
