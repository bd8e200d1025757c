"""One day of app behaviour, with the drop-offs planted that funnels and journeys should find.

Fund funnel (per content session): content_view → fund_detail_view 60% → fund_compare 30% (where customers
stall) → fund_subscribe 55% → autoinvest_plan_create 45%. Recurring plans deduct weekly; 8% of deductions
fail. On IPO days active customers subscribe; 5% of subscribers win, 85% of winners pay before 16:00 on T+2
and the rest forfeit. Dormant customers (20%) open the app no more in the last 60 days (their recurring
deductions, a back-office matter, go on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from touchpoint.core.calendar import TradingCalendar
from touchpoint.demo.daily import TS, Portfolio
from touchpoint.demo.population import Population, Shelf, local_instant, rng_for

TOPICS = np.array(["基金定投", "打新", "市场早报", "理财", "行业研究"])
FUNNEL = [
    ("fund_detail_view", 0.60),
    ("fund_compare", 0.30),
    ("fund_subscribe", 0.55),
    ("autoinvest_plan_create", 0.45),
]
DORMANT_DAYS = 60


@dataclass
class EventBuffer:
    """Columns of the events being built for one day."""

    who: list[np.ndarray] = field(default_factory=list)
    seconds: list[np.ndarray] = field(default_factory=list)
    names: list[np.ndarray] = field(default_factory=list)
    props: list[list[str]] = field(default_factory=list)
    anon: list[np.ndarray] = field(default_factory=list)
    day_offset: list[np.ndarray] = field(default_factory=list)

    def add(
        self,
        who: np.ndarray,
        seconds: np.ndarray,
        name: str,
        props: list[dict[str, Any]] | None = None,
        anon: np.ndarray | None = None,
        day_offset: np.ndarray | None = None,
    ) -> None:
        """Append one event per customer index in `who`."""
        self.who.append(who)
        self.seconds.append(seconds)
        self.names.append(np.full(len(who), name, dtype=object))
        self.props.append([orjson.dumps(p).decode() for p in props] if props else ["{}"] * len(who))
        self.anon.append(anon if anon is not None else np.full(len(who), None, dtype=object))
        self.day_offset.append(day_offset if day_offset is not None else np.zeros(len(who), dtype=np.int64))


def events_table(
    seed: int,
    population: Population,
    shelf: Shelf,
    portfolio: Portfolio,
    calendar: TradingCalendar,
    day: date,
    day_index: int,
    end: date,
) -> pa.Table:
    """Every event of one calendar day (IPO follow-ups land on their own later days)."""
    rng = rng_for(seed, 8, day_index)
    buffer = EventBuffer()
    awake = ~population.dormant | ((end - day).days >= DORMANT_DAYS)
    sessions = _sessions(rng, buffer, population, awake, calendar.is_trading_day(day))
    _fund_funnel(rng, buffer, sessions, shelf)
    _deductions(rng, buffer, population, shelf, portfolio, calendar, day)
    _ipo_day(rng, buffer, population, awake, shelf, calendar, day, end)
    return _to_table(buffer, population, calendar, day)


def _sessions(
    rng: np.random.Generator, buffer: EventBuffer, population: Population, awake: np.ndarray, trading: bool
) -> tuple[np.ndarray, np.ndarray]:
    rate = population.activity * (0.45 if trading else 0.15)
    who = np.flatnonzero((rng.random(len(rate)) < rate) & awake)
    start = np.where(
        rng.random(len(who)) < 0.7,
        rng.uniform(9 * 3600, 15 * 3600, len(who)),
        rng.uniform(19 * 3600, 23 * 3600, len(who)),
    )
    anonymous = rng.random(len(who)) < 0.1
    anon_ids = np.char.add("dev-", population.customer_no[who])  # one phone per customer
    anon_col = blank_where(~anonymous, anon_ids)
    buffer.add(who[anonymous], start[anonymous], "$AppStart", anon=anon_col[anonymous])
    buffer.add(who[~anonymous], start[~anonymous], "$AppStart")
    buffer.add(who, start + 5, "login", anon=anon_col)
    reading = rng.random(len(who)) < 0.7
    topics = TOPICS[rng.integers(0, len(TOPICS), int(reading.sum()))]
    props = [
        {"article_id": f"art-{int(a)}", "topic": str(t)}
        for a, t in zip(rng.integers(1, 500, len(topics)), topics, strict=True)
    ]
    buffer.add(who[reading], start[reading] + 30, "content_view", props)
    return who[reading], start[reading] + 30


def _fund_funnel(
    rng: np.random.Generator, buffer: EventBuffer, sessions: tuple[np.ndarray, np.ndarray], shelf: Shelf
) -> None:
    who, at = sessions
    pick = rng.integers(0, len(shelf.funds), len(who))
    codes, types = shelf.funds[pick], shelf.fund_types[pick]
    for name, rate in FUNNEL:
        going = rng.random(len(who)) < rate
        who, at, codes, types = who[going], at[going], codes[going], types[going]
        at = at + rng.uniform(60, 1800, len(who))
        props: list[dict[str, Any]] = [
            {"fund_code": str(c), "fund_type": str(t)} for c, t in zip(codes, types, strict=True)
        ]
        if name in ("fund_subscribe", "autoinvest_plan_create"):
            amounts = rng.choice([500, 1000, 2000, 5000], len(who))
            props = [{**p, "amount": int(a)} for p, a in zip(props, amounts, strict=True)]
        buffer.add(who, np.minimum(at, 86_399), name, props)


def _deductions(
    rng: np.random.Generator,
    buffer: EventBuffer,
    population: Population,
    shelf: Shelf,
    portfolio: Portfolio,
    calendar: TradingCalendar,
    day: date,
) -> None:
    if not calendar.is_trading_day(day):
        return
    holders = np.flatnonzero(population.allocation[:, 2] > 0.35)
    due = holders[(holders + day.toordinal()) % 7 == 0]
    failed = rng.random(len(due)) < 0.08
    seconds = np.full(len(due), 10 * 3600.0)
    props = [
        {"plan_id": f"P{population.customer_no[i]}", "fund_code": str(portfolio.fund[i]), "amount": 1000}
        for i in due
    ]
    buffer.add(
        due[~failed],
        seconds[~failed],
        "autoinvest_deduction",
        [p for p, f in zip(props, failed, strict=True) if not f],
    )
    failed_props = [{**p, "reason": "insufficient_funds"} for p, f in zip(props, failed, strict=True) if f]
    buffer.add(due[failed], seconds[failed], "autoinvest_deduction_failed", failed_props)


def _ipo_day(
    rng: np.random.Generator,
    buffer: EventBuffer,
    population: Population,
    awake: np.ndarray,
    shelf: Shelf,
    calendar: TradingCalendar,
    day: date,
    end: date,
) -> None:
    for ipo in (i for i in shelf.ipos if i["subscribe_date"] == day):
        eligible = awake & (population.allocation[:, 1] * population.base_assets >= 10_000)
        who = np.flatnonzero(eligible & (rng.random(len(eligible)) < population.activity * 0.8))
        code = str(ipo["product_code"])
        buffer.add(
            who,
            rng.uniform(9.5 * 3600, 11.5 * 3600, len(who)),
            "ipo_subscribe",
            [{"product_code": code}] * len(who),
        )
        allotment = ipo["allotment_date"]
        assert isinstance(allotment, date)
        if allotment > end:
            continue
        _allotment(rng, buffer, who, ipo, (allotment - day).days)


def _allotment(
    rng: np.random.Generator, buffer: EventBuffer, subscribers: np.ndarray, ipo: dict[str, Any], offset: int
) -> None:
    winners = subscribers[rng.random(len(subscribers)) < 0.05]
    shares = 1000
    due = round(shares * float(ipo["issue_price"]), 2)
    props = [{"product_code": ipo["product_code"], "shares": shares, "amount_due": due}] * len(winners)
    shift = np.full(len(winners), offset, dtype=np.int64)
    buffer.add(winners, np.full(len(winners), 8.5 * 3600), "ipo_allotment", props, day_offset=shift)
    pays = rng.random(len(winners)) < 0.85
    paid_at = rng.uniform(9.5 * 3600, 15.9 * 3600, int(pays.sum()))
    buffer.add(
        winners[pays],
        paid_at,
        "ipo_payment",
        [p for p, ok in zip(props, pays, strict=True) if ok],
        day_offset=shift[pays],
    )
    forfeits = [p for p, ok in zip(props, pays, strict=True) if not ok]
    buffer.add(
        winners[~pays],
        np.full(int((~pays).sum()), 16 * 3600.0),
        "ipo_forfeit",
        forfeits,
        day_offset=shift[~pays],
    )


def _to_table(buffer: EventBuffer, population: Population, calendar: TradingCalendar, day: date) -> pa.Table:
    who = np.concatenate(buffer.who) if buffer.who else np.array([], dtype=np.int64)
    seconds = np.concatenate(buffer.seconds) if buffer.seconds else np.array([])
    offsets = np.concatenate(buffer.day_offset) if buffer.day_offset else np.array([], dtype=np.int64)
    anon = np.concatenate(buffer.anon) if buffer.anon else np.array([], dtype=object)
    customers = population.customer_no[who]
    logged_in = np.array([a is None for a in anon], dtype=bool)
    names = np.concatenate(buffer.names) if buffer.names else np.array([], dtype=object)
    is_anonymous_start = ~logged_in & (names == "$AppStart")
    micros = local_instant(calendar, day, seconds) + offsets * 86_400_000_000
    return pa.table(
        {
            "event_id": [f"demo-{day:%Y%m%d}-{n}" for n in range(len(who))],
            "event": pa.array(names, type=pa.string()),
            "customer_no": pa.array(blank_where(is_anonymous_start, customers), type=pa.string()),
            "distinct_id": pa.array(_choose(is_anonymous_start, anon, customers), type=pa.string()),
            "anonymous_id": pa.array(anon, type=pa.string()),
            "login_id": pa.array(blank_where(is_anonymous_start, customers), type=pa.string()),
            "time": pa.array(micros, type=TS),
            "properties": pa.array([p for chunk in buffer.props for p in chunk], type=pa.string()),
        }
    )


def blank_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`values` as objects, with None where `mask` is true."""
    out = values.astype(object)
    out[mask] = None
    return out


def _choose(mask: np.ndarray, when_true: np.ndarray, otherwise: np.ndarray) -> np.ndarray:
    out = otherwise.astype(object)
    out[mask] = when_true[mask]
    return out
