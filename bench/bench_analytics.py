"""Behaviour analytics over 20,000,000 demo-shaped events: a funnel, a retention table and a grouped trend.

Synthesises 90 Beijing days of app events shaped like the demo brokerage's (`touchpoint.demo.behaviour`: the
same event names, properties and distinct ids — customer numbers for logged-in events, `dev-…` device ids
for anonymous app starts), imports them a day at a time through `import_arrow` (the checks and the Parquet
layout the collector's compactor and historical imports produce), imports the customers snapshot and links
every id to One ID as the worker does (`sync_customers`, `sync_imported_events`). Customers, funds, IPOs
and every rate are the demo's, except that app sessions come at the demo's rates times a multiplier (a
Poisson number per customer and day) chosen so that `--customers` customers make `--events` events.
Then times, over the first 30 days of the data:

- funnel: login → fund_detail_view → fund_compare → fund_subscribe, ordered, 7-day window;
- retention: login → login, day unit, 30 periods;
- trend: content_view per day, grouped by its `topic` property.

The peer beside each is DuckDB's plain `SELECT distinct_id, count(*) … WHERE dt BETWEEN … GROUP BY
distinct_id` over the same events Parquet files and date range: one pass over the range, the floor for any
per-customer analysis of it. Each is run 3 times: the first run is the cold figure (new views, the event
names and the id map not yet seen; the files are in the OS page cache either way), the best is the warm one.
The ratio analysis ÷ scan is the figure. `--profile` runs one more funnel under cProfile and lists the
top entries by own time, and by cumulative time within touchpoint/analytics, pandas and ibis.
With `--engine spark` the analyses and the peer's count run on Spark in local mode (the peer reads the same
files with Spark's own reader), and the Spark JVM's peak memory is printed beside this process's.
Run: `python bench/bench_analytics.py [--events N] [--customers N] [--runs N] [--engine duckdb|spark]
[--profile] [--smoke] [--json]`
(20M events on
2 CPUs: about 7 minutes, 4 of them One ID binding the anonymous ids; peak RSS about 4 GiB, in retention).
"""

from __future__ import annotations

import cProfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

import _harness as h
from touchpoint.analytics.funnel import FunnelQuery, FunnelStep, funnel
from touchpoint.analytics.retention import retention
from touchpoint.analytics.trend import event_trend
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import VirtualClock
from touchpoint.demo.behaviour import DORMANT_DAYS, FUNNEL, TOPICS
from touchpoint.demo.daily import TS, make_portfolio
from touchpoint.demo.population import customers_table, local_instant, make_population, make_shelf
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import sync_customers, sync_imported_events
from touchpoint.ingest import ImportOptions, import_arrow

SEED = 7
END = date(2026, 3, 31)
DAYS = 90
FIRST = END - timedelta(days=DAYS - 1)
RANGE = (FIRST, FIRST + timedelta(days=29))  # the queries' 30 days; retention's returns run 30 days beyond
NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)
FUNNEL_STEPS = ["login", "fund_detail_view", "fund_compare", "fund_subscribe"]
TREND_EVENT, TREND_BY = "content_view", "topic"
AMOUNTS = [500, 1000, 2000, 5000]
ARTICLES = 499  # article ids art-1 … art-499, as the demo draws them
WITH_AMOUNT = ("fund_subscribe", "autoinvest_plan_create")
NAMES = [
    "$AppStart",
    "login",
    "content_view",
    *(name for name, _ in FUNNEL),
    "autoinvest_deduction",
    "autoinvest_deduction_failed",
    "ipo_subscribe",
    "ipo_allotment",
    "ipo_payment",
    "ipo_forfeit",
]
CODE = {name: i for i, name in enumerate(NAMES)}
NO_TEXT = pa.scalar(None, pa.string())


def session_events() -> float:
    """Expected events per app session in the demo: start, login, 70% read content, then the fund funnel."""
    chain, reach = 1.0, 1.0
    for _, rate in FUNNEL:
        reach *= rate
        chain += reach
    return 2 + 0.7 * chain


def _json(values: list[dict[str, Any]]) -> pa.Array:
    return pa.array([orjson.dumps(v).decode() for v in values], pa.string())


@dataclass
class Brokerage:
    """The demo's population and shelf, with every property text the events can carry prepared once."""

    calendar: TradingCalendar
    customer_no: pa.Array
    device: pa.Array
    activity: np.ndarray
    dormant: np.ndarray
    holder_fund: np.ndarray
    ipo_eligible: np.ndarray
    ipos: list[dict[str, Any]]
    content_props: pa.Array
    fund_props: pa.Array
    fund_amount_props: pa.Array
    deduction_props: pa.Array
    failed_props: pa.Array
    holders: np.ndarray
    scale: float = 1.0

    def awake(self, day: date) -> np.ndarray:
        """Who opens the app on `day`: dormant customers stop in the last 60 days, as in the demo."""
        result: np.ndarray = ~self.dormant | ((END - day).days >= DORMANT_DAYS)
        return result


def make_brokerage(calendar: TradingCalendar, customers: int) -> tuple[Brokerage, pa.Table]:
    """The demo's people, funds and IPO calendar for `customers` customers, and its customers table."""
    days = [FIRST + timedelta(days=n) for n in range(DAYS)]
    population = make_population(SEED, customers, END)
    shelf = make_shelf(SEED, calendar, [d for d in days if calendar.is_trading_day(d)])
    portfolio = make_portfolio(SEED, population, shelf)
    funds = [str(c) for c in shelf.funds]
    kinds = [str(t) for t in shelf.fund_types]
    fund_index = {code: i for i, code in enumerate(funds)}
    numbers = pa.array(population.customer_no, pa.string())
    brokerage = Brokerage(
        calendar=calendar,
        customer_no=numbers,
        device=pc.binary_join_element_wise("dev-", numbers, ""),  # one phone per customer
        activity=population.activity,
        dormant=population.dormant,
        holder_fund=np.array([fund_index[str(c)] for c in portfolio.fund], dtype=np.int64),
        ipo_eligible=population.allocation[:, 1] * population.base_assets >= 10_000,
        ipos=shelf.ipos,
        content_props=_json(
            [{"article_id": f"art-{a}", "topic": str(t)} for a in range(1, ARTICLES + 1) for t in TOPICS]
        ),
        fund_props=_json([{"fund_code": c, "fund_type": t} for c, t in zip(funds, kinds, strict=True)]),
        fund_amount_props=_json(
            [
                {"fund_code": c, "fund_type": t, "amount": a}
                for c, t in zip(funds, kinds, strict=True)
                for a in AMOUNTS
            ]
        ),
        deduction_props=_json([{"fund_code": c, "amount": 1000} for c in funds]),
        failed_props=_json([{"fund_code": c, "amount": 1000, "reason": "insufficient_funds"} for c in funds]),
        holders=np.flatnonzero(population.allocation[:, 2] > 0.35),
    )
    return brokerage, customers_table(SEED, population, END)


def calibrate(brokerage: Brokerage, events: int) -> float:
    """The session-rate multiplier that makes the 90 days hold about `events` events in all.

    Recurring deductions and IPO subscriptions follow the demo's rates unscaled; app sessions (a Poisson
    number per customer and day, at the demo's rate times the multiplier) make up the rest.
    """
    fixed = 0.0
    session_weight = 0.0
    ipo_days = {ipo["subscribe_date"]: ipo for ipo in brokerage.ipos}
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        awake = brokerage.awake(day)
        trading = brokerage.calendar.is_trading_day(day)
        session_weight += float(brokerage.activity[awake].sum()) * (0.45 if trading else 0.15)
        if trading:
            fixed += float(((brokerage.holders + day.toordinal()) % 7 == 0).sum())
        if day in ipo_days:
            subscribers = float(brokerage.activity[awake & brokerage.ipo_eligible].sum()) * 0.8
            follow_up = 0.1 if ipo_days[day]["allotment_date"] <= END else 0.0
            fixed += subscribers * (1 + follow_up)
    return max(events - fixed, 0.0) / (session_weight * session_events())


@dataclass
class DayBuffer:
    """The events of one Beijing day, as columns of customer index, local seconds, name and properties."""

    who: list[np.ndarray] = field(default_factory=list)
    seconds: list[np.ndarray] = field(default_factory=list)
    codes: list[np.ndarray] = field(default_factory=list)
    props: list[pa.Array] = field(default_factory=list)
    device_id: list[np.ndarray] = field(default_factory=list)
    device_distinct: list[np.ndarray] = field(default_factory=list)

    def add(
        self,
        who: np.ndarray,
        seconds: np.ndarray,
        name: str,
        props: pa.Array | None = None,
        device_id: np.ndarray | None = None,
        device_distinct: np.ndarray | None = None,
    ) -> None:
        """One event per customer index in `who`; `device_id` rows carry the anonymous id too, and
        `device_distinct` rows are anonymous (their distinct id is the device id, no customer number)."""
        count = len(who)
        self.who.append(who)
        self.seconds.append(np.minimum(seconds, 86_399.0))
        self.codes.append(np.full(count, CODE[name], dtype=np.int64))
        self.props.append(props if props is not None else pa.array(["{}"] * count, pa.string()))
        self.device_id.append(device_id if device_id is not None else np.zeros(count, dtype=bool))
        self.device_distinct.append(
            device_distinct if device_distinct is not None else np.zeros(count, dtype=bool)
        )

    def extend(self, other: DayBuffer) -> None:
        """Take in events generated earlier for this day (IPO allotments)."""
        for name in ("who", "seconds", "codes", "props", "device_id", "device_distinct"):
            getattr(self, name).extend(getattr(other, name))


def day_events(brokerage: Brokerage, index: int, pending: dict[date, DayBuffer]) -> pa.Table:
    """Every event of the `index`-th day, vectorised; IPO follow-ups for later days go into `pending`."""
    day = FIRST + timedelta(days=index)
    rng = np.random.default_rng([SEED, 100, index])
    buffer = DayBuffer()
    trading = brokerage.calendar.is_trading_day(day)
    rate = brokerage.activity * (0.45 if trading else 0.15) * brokerage.scale
    counts = rng.poisson(np.where(brokerage.awake(day), rate, 0.0))
    who = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    start = np.where(
        rng.random(len(who)) < 0.7,
        rng.uniform(9 * 3600, 15 * 3600, len(who)),
        rng.uniform(19 * 3600, 23 * 3600, len(who)),
    )
    anonymous = rng.random(len(who)) < 0.1
    buffer.add(who, start, "$AppStart", device_id=anonymous, device_distinct=anonymous)
    buffer.add(who, start + 5, "login", device_id=anonymous)
    reading = rng.random(len(who)) < 0.7
    who, at = who[reading], start[reading] + 30
    article = rng.integers(0, ARTICLES, len(who))
    topic = rng.integers(0, len(TOPICS), len(who))
    buffer.add(who, at, "content_view", brokerage.content_props.take(article * len(TOPICS) + topic))
    fund = rng.integers(0, len(brokerage.fund_props), len(who))
    for name, step_rate in FUNNEL:
        going = rng.random(len(who)) < step_rate
        who, at, fund = who[going], at[going], fund[going]
        at = at + rng.uniform(60, 1800, len(who))
        if name in WITH_AMOUNT:
            props = brokerage.fund_amount_props.take(
                fund * len(AMOUNTS) + rng.integers(0, len(AMOUNTS), len(who))
            )
        else:
            props = brokerage.fund_props.take(fund)
        buffer.add(who, at, name, props)
    if trading:
        _deductions(rng, buffer, brokerage, day)
    for ipo in (i for i in brokerage.ipos if i["subscribe_date"] == day):
        _ipo(rng, buffer, brokerage, day, ipo, pending)
    if day in pending:
        buffer.extend(pending.pop(day))
    return _to_table(buffer, brokerage, day)


def _deductions(rng: np.random.Generator, buffer: DayBuffer, brokerage: Brokerage, day: date) -> None:
    due = brokerage.holders[(brokerage.holders + day.toordinal()) % 7 == 0]
    failed = rng.random(len(due)) < 0.08
    at = np.full(len(due), 10 * 3600.0)
    fund = brokerage.holder_fund[due]
    buffer.add(
        due[~failed], at[~failed], "autoinvest_deduction", brokerage.deduction_props.take(fund[~failed])
    )
    buffer.add(
        due[failed], at[failed], "autoinvest_deduction_failed", brokerage.failed_props.take(fund[failed])
    )


def _ipo(
    rng: np.random.Generator,
    buffer: DayBuffer,
    brokerage: Brokerage,
    day: date,
    ipo: dict[str, Any],
    pending: dict[date, DayBuffer],
) -> None:
    eligible = brokerage.awake(day) & brokerage.ipo_eligible
    who = np.flatnonzero(eligible & (rng.random(len(eligible)) < brokerage.activity * 0.8))
    code = str(ipo["product_code"])
    subscribe = _json([{"product_code": code}])
    at = rng.uniform(9.5 * 3600, 11.5 * 3600, len(who))
    buffer.add(who, at, "ipo_subscribe", subscribe.take(np.zeros(len(who), dtype=np.int64)))
    allotment: date = ipo["allotment_date"]
    if allotment > END:
        return
    winners = who[rng.random(len(who)) < 0.05]
    due = round(1000 * float(ipo["issue_price"]), 2)
    allotted = _json([{"product_code": code, "shares": 1000, "amount_due": due}])
    later = pending.setdefault(allotment, DayBuffer())
    same = np.zeros(len(winners), dtype=np.int64)
    later.add(winners, np.full(len(winners), 8.5 * 3600), "ipo_allotment", allotted.take(same))
    pays = rng.random(len(winners)) < 0.85
    paid_at = rng.uniform(9.5 * 3600, 15.9 * 3600, int(pays.sum()))
    later.add(winners[pays], paid_at, "ipo_payment", allotted.take(same[pays]))
    forfeit_at = np.full(int((~pays).sum()), 16 * 3600.0)
    later.add(winners[~pays], forfeit_at, "ipo_forfeit", allotted.take(same[~pays]))


def _to_table(buffer: DayBuffer, brokerage: Brokerage, day: date) -> pa.Table:
    who = pa.array(np.concatenate(buffer.who))
    seconds = np.concatenate(buffer.seconds)
    device_id = pa.array(np.concatenate(buffer.device_id))
    device_distinct = pa.array(np.concatenate(buffer.device_distinct))
    numbers = brokerage.customer_no.take(who)
    devices = brokerage.device.take(who)
    customer = pc.if_else(device_distinct, NO_TEXT, numbers)
    serial = pc.cast(pa.array(np.arange(len(who), dtype=np.int64)), pa.string())
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise(f"demo-{day:%Y%m%d}-", serial, ""),
            "event": pa.array(NAMES, pa.string()).take(pa.array(np.concatenate(buffer.codes))),
            "customer_no": customer,
            "distinct_id": pc.if_else(device_distinct, devices, numbers),
            "anonymous_id": pc.if_else(device_id, devices, NO_TEXT),
            "login_id": customer,
            "time": pa.array(local_instant(brokerage.calendar, day, seconds), TS),
            "properties": pa.concat_arrays(buffer.props),
        }
    )


def synthesise(bench: h.Bench, container: Container, events: int, customers: int) -> dict[str, Any]:
    """Import the customers and about `events` events over 90 days, then link every id to One ID.

    Returns the seconds each stage took, the events written and the ids One ID linked.
    """
    with h.Stopwatch() as watch:
        brokerage, customers_data = make_brokerage(container.calendar, customers)
        brokerage.scale = calibrate(brokerage, events)
        import_arrow(
            env=container,
            principal=SYSTEM,
            table="customers",
            data=customers_data,
            options=ImportOptions(business_date=END, replace=True, force=True),
            source_name="bench:customers",
        )
    bench.say(
        f"{customers:,} customers imported in {watch.seconds:.1f} s; "
        f"session rate × {brokerage.scale:.2f} of the demo's"
    )
    written = 0
    pending: dict[date, DayBuffer] = {}
    with h.Stopwatch() as importing, bench.progress() as progress:
        task = progress.add_task("events", total=DAYS, note="")
        for index in range(DAYS):
            table = day_events(brokerage, index, pending)
            report = import_arrow(
                env=container,
                principal=SYSTEM,
                table="events",
                data=table,
                options=ImportOptions(replace=True, force=True),
                source_name=f"bench:events:{index}",
            )
            assert report.partitions == [FIRST + timedelta(days=index)], report.summary()
            written += report.rows_imported
            progress.update(task, advance=1, note=f"{written:,} events")
    bench.say(f"{written:,} events imported in {importing.seconds:.1f} s")
    with h.Stopwatch() as watch:
        linked = sync_customers(env=container, analytics=container.analytics)
    bench.say(f"One ID: {linked:,} customer ids linked in {watch.seconds:.1f} s")
    with (
        bench.status("One ID: linking anonymous ids from the imported events (as the worker does)"),
        h.Stopwatch() as linking,
    ):
        bound = sync_imported_events(env=container, analytics=container.analytics)
    bench.say(f"One ID: {bound:,} anonymous → login pairs bound in {linking.seconds:.1f} s")
    return {
        "events": written,
        "import_seconds": round(importing.seconds, 2),
        "customer_ids_linked": linked,
        "pairs_bound": bound,
        "link_seconds": round(linking.seconds, 2),
        "pairs_bound_per_second": round(bound / linking.seconds) if linking.seconds else None,
    }


def scan(files: list[str], container: Container) -> Any:
    """The peer: the engine counting each distinct id's events in the queries' date range — DuckDB on a new
    connection, or the container's Spark session over the same files."""
    if container.settings.engine == "spark":
        return spark_scan(files, h.spark_session_of(container))
    connection = duckdb.connect()
    source = f"read_parquet({files!r}, hive_partitioning = true)"
    sql = (
        f"SELECT distinct_id, count(*) AS events FROM {source} "
        f"WHERE dt BETWEEN DATE '{RANGE[0]}' AND DATE '{RANGE[1]}' GROUP BY distinct_id"
    )
    return lambda: connection.sql(sql).to_arrow_table()


def spark_scan(files: list[str], session: Any) -> Any:
    """The same count on Spark: its own read of the Hive-partitioned files, grouped in the JVM."""
    base = str(Path(files[0]).parents[1])

    def count() -> pa.Table:
        frame = session.read.option("basePath", base).parquet(*files)
        found = frame.where(frame.dt.between(RANGE[0], RANGE[1])).groupBy("distinct_id").count()
        return found.toArrow()

    return count


def events_in_files(files: list[str]) -> int:
    """Every event the store's Parquet files hold, counted by DuckDB: the import's count must agree."""
    [(count,)] = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchall()
    return int(count)


def analyses(container: Container) -> dict[str, Any]:
    """The three analyses under test, each a call of the service as the API makes it."""
    env = container
    start, end = RANGE
    query = FunnelQuery(
        steps=[FunnelStep(event=name) for name in FUNNEL_STEPS], window="7d", start=start, end=end
    )
    return {
        "funnel": lambda: funnel(env=env, query=query),
        "retention": lambda: retention(
            env=env, start_event="login", return_event="login", start=start, end=end, periods=30, unit="day"
        ),
        "trend": lambda: event_trend(
            env=env, event=TREND_EVENT, start=start, end=end, unit="day", by=TREND_BY
        ),
    }


def summary(name: str, result: dict[str, Any]) -> str:
    """A few numbers from an analysis' answer, to see that it found the planted behaviour."""
    if name == "funnel":
        return " → ".join(f"{s['event']} {s['customers']:,}" for s in result["steps"])
    if name == "retention":
        cohorts = result["cohorts"]
        first: dict[str, Any] = cohorts[0] if cohorts else {"size": 0, "retained": [0]}
        day1 = first["retained"][0] / first["size"] if first["size"] else 0.0
        return f"{len(cohorts)} cohorts, first {first['size']:,} customers, day-1 retention {day1:.1%}"
    groups = {row["group"] for row in result["series"]}
    return f"{len(result['series'])} rows over {len(groups)} groups of {TREND_BY}"


def counts(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The counts of an analysis' answer that a smoke run checks."""
    if name == "funnel":
        return {"step_customers": [s["customers"] for s in result["steps"]]}
    if name == "retention":
        return {"cohorts": len(result["cohorts"]), "cohort_sizes": sum(c["size"] for c in result["cohorts"])}
    return {"rows": len(result["series"]), "groups": len({row["group"] for row in result["series"]})}


def run(bench: h.Bench, home: Path, events: int, customers: int) -> dict[str, Any]:
    """Synthesise the events in `home`, time each analysis beside the scan; print and return the figures."""
    runs, profile = bench.args.runs, bench.args.profile
    engine = bench.args.engine
    container = build(load_settings(home, **h.engine_settings(engine)), clock=VirtualClock(NOW))
    figures: dict[str, Any] = {
        "engine": engine,
        "events_requested": events,
        "customers": customers,
        "days": DAYS,
        "range": [RANGE[0].isoformat(), RANGE[1].isoformat()],
        "runs": runs,
    }
    try:
        figures |= synthesise(bench, container, events, customers)
        files = [str(p) for p in container.analytics.files("events")]
        figures["events_in_files"] = events_in_files(files)
        for name, work in analyses(container).items():
            with bench.status(f"timing {name} ({runs} runs) and the scan beside it"):
                timed = h.measure(work, runs)
                peer = h.measure(scan(files, container), runs)
            figures[name] = line(bench, name, timed, peer)
        figures["max_rss_bytes"] = h.lifetime_peak_rss()
        figures["jvm_peak_rss_bytes"] = h.jvm_peak_rss(container)
        jvm = figures["jvm_peak_rss_bytes"]
        spark = f", Spark JVM {jvm / h.GiB:.2f} GiB" if jvm is not None else ""
        bench.say(f"peak RSS of the whole run {figures['max_rss_bytes'] / h.GiB:.2f} GiB{spark}")
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(analyses(container)["funnel"])
            rows = h.top_entries(
                profiler, top=10, entry="funnel", ours=("touchpoint/analytics/", "/pandas/", "/ibis/")
            )
            figures["funnel_profile"] = rows
            h.print_profile(
                bench, "(touchpoint/analytics, pandas, ibis by cumulative time)", rows, what="funnel"
            )
    finally:
        container.close()
    return figures


def line(bench: h.Bench, name: str, timed: h.Timing[Any], peer: h.Timing[Any]) -> dict[str, Any]:
    """Print one analysis' line (its times, the scan's, the ratios) and return the same figures."""
    ratio, cold_ratio = timed.min / peer.min, timed.first / peer.first
    peak = f"{timed.peak_rss_bytes / h.GiB:.2f} GiB" if timed.peak_rss_bytes is not None else "n/a"
    bench.say(
        f"{name:<9} cold {timed.first:7.2f} s  warm {timed.min:7.2f} s  peak RSS {peak} | scan cold "
        f"{peer.first:5.2f} s warm {peer.min:5.2f} s | ratio warm {ratio:6.1f}×, "
        f"cold {cold_ratio:6.1f}× | {summary(name, timed.result)}"
    )
    return {
        "cold_seconds": round(timed.first, 4),
        "warm_seconds": round(timed.min, 4),
        "peak_rss_bytes": timed.peak_rss_bytes,
        "scan_cold_seconds": round(peer.first, 4),
        "scan_warm_seconds": round(peer.min, 4),
        "scan_ids": peer.result.num_rows,
        "ratio_warm": round(ratio, 2),
        "ratio_cold": round(cold_ratio, 2),
        "result": summary(name, timed.result),
        **counts(name, timed.result),
    }


def main() -> None:
    """Parse the options, run the benchmark in a throwaway data directory, print the figures (or JSON)."""
    parser = h.parser(__doc__)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: one per 100 events")
    parser.add_argument("--runs", type=int, default=3, help="runs of each analysis: the first is cold")
    parser.add_argument("--profile", action="store_true", help="profile one more funnel with cProfile")
    h.add_engine_option(parser)
    bench = h.start("bench_analytics", parser, smoke={"events": 20_000, "customers": 200, "runs": 2})
    args = bench.args
    customers = args.customers or max(args.events // 100, 1000)
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as home:
        figures = run(bench, Path(home), args.events, customers)
    bench.report(figures)


if __name__ == "__main__":
    main()
