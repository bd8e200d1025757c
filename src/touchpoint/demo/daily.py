"""One trading day of the demo brokerage's business data: assets, holdings, trades, cash flows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from touchpoint.core.calendar import TradingCalendar
from touchpoint.demo.population import Population, Shelf, local_instant, rng_for

TS = pa.timestamp("us", tz="UTC")
CHANNELS = np.array(["app", "app", "app", "web", "counter", "phone"])


@dataclass
class Portfolio:
    """Which products each customer holds (fixed over the demo window)."""

    stock: np.ndarray
    fund: np.ndarray
    price: dict[str, float]


def make_portfolio(seed: int, population: Population, shelf: Shelf) -> Portfolio:
    """One stock and one fund per customer, with a price per product."""
    rng = rng_for(seed, 4)
    count = len(population.customer_no)
    codes = [str(c) for c in shelf.table["product_code"].to_pylist()]
    price = {code: float(np.round(rng.uniform(2, 80), 2)) for code in codes}
    return Portfolio(
        stock=shelf.stocks[rng.integers(0, len(shelf.stocks), count)],
        fund=shelf.funds[rng.integers(0, len(shelf.funds), count)],
        price=price,
    )


def total_assets_on(seed: int, population: Population, day_index: int) -> np.ndarray:
    """Total assets on a day: each customer's own daily trend from their base, plus day-to-day noise."""
    rng = rng_for(seed, 5, day_index)
    drift = rng.normal(0.0, 0.012, len(population.base_assets))
    # Some customers grow, some drain away: a ±10 % move over a month is common, as in a real book.
    rates = rng_for(seed, 9).normal(0.0003, 0.003, len(population.base_assets))
    trend = np.exp(rates * day_index + drift)
    return np.round(population.base_assets * trend, 2)


def assets_table(seed: int, population: Population, day: date, day_index: int) -> pa.Table:
    """Daily assets; components add up to the total."""
    total = total_assets_on(seed, population, day_index)
    parts = np.round(population.allocation * total[:, None], 2)
    parts[:, 0] = total - parts[:, 1:].sum(axis=1)
    return pa.table(
        {
            "customer_no": population.customer_no,
            "date": pa.array([day] * len(total), type=pa.date32()),
            "total_assets": total,
            "cash": parts[:, 0],
            "stock_value": parts[:, 1],
            "fund_value": parts[:, 2],
            "bond_value": parts[:, 3],
            "margin_debt": np.where(population.margin, np.round(parts[:, 1] * 0.3, 2), 0.0),
        }
    )


def holdings_table(
    seed: int, population: Population, portfolio: Portfolio, day: date, day_index: int
) -> pa.Table:
    """Daily holdings consistent with the asset components (one stock, one fund per holder)."""
    total = total_assets_on(seed, population, day_index)
    stock_value = np.round(population.allocation[:, 1] * total, 2)
    fund_value = np.round(population.allocation[:, 2] * total, 2)
    codes = np.concatenate([portfolio.stock, portfolio.fund])
    values = np.concatenate([stock_value, fund_value])
    prices = np.array([portfolio.price[str(c)] for c in codes])
    keep = values >= 1.0
    return pa.table(
        {
            "customer_no": np.concatenate([population.customer_no] * 2)[keep],
            "date": pa.array([day] * int(keep.sum()), type=pa.date32()),
            "product_code": codes[keep],
            "quantity": np.round(values / prices, 2)[keep],
            "market_value": values[keep],
            "cost": np.round(values / _performance(seed, len(population.customer_no)), 2)[keep],
        }
    )


def _performance(seed: int, count: int) -> np.ndarray:
    """Market value over cost of each customer's stock and fund positions (a per-customer P&L)."""
    factors = rng_for(seed, 10).lognormal(0.0, 0.15, (2, count))
    return np.concatenate([factors[0], factors[1]])


def trades_table(
    seed: int,
    population: Population,
    portfolio: Portfolio,
    calendar: TradingCalendar,
    day: date,
    day_index: int,
) -> pa.Table:
    """Stock buys and sells and fund subscriptions and redemptions during trading hours."""
    rng = rng_for(seed, 6, day_index)
    count = len(population.customer_no)
    trading = rng.random(count) < population.trade_rate
    who = np.flatnonzero(trading)
    is_fund = rng.random(len(who)) < 0.3
    side = np.where(
        is_fund,
        np.where(rng.random(len(who)) < 0.7, "subscribe", "redeem"),
        np.where(rng.random(len(who)) < 0.55, "buy", "sell"),
    )
    product = np.where(is_fund, portfolio.fund[who], portfolio.stock[who])
    amount = np.round(
        np.minimum(population.base_assets[who] * rng.uniform(0.01, 0.2, len(who)), 2e6) + 100, 2
    )
    prices = np.array([portfolio.price[str(c)] for c in product])
    seconds = _trading_seconds(rng, len(who))
    return pa.table(
        {
            "trade_id": np.char.add(f"T{day:%Y%m%d}-", np.arange(len(who)).astype(str)),
            "customer_no": population.customer_no[who],
            "time": pa.array(local_instant(calendar, day, seconds), type=TS),
            "product_code": product,
            "side": side,
            "quantity": np.round(amount / prices, 2),
            "amount": amount,
            "channel": CHANNELS[rng.integers(0, len(CHANNELS), len(who))],
        }
    )


def cash_flows_table(
    seed: int, population: Population, calendar: TradingCalendar, day: date, day_index: int
) -> pa.Table:
    """Bank-securities transfers; about one inflow in ten is large (≥ 100,000)."""
    rng = rng_for(seed, 7, day_index)
    who = np.flatnonzero(rng.random(len(population.customer_no)) < 0.02)
    inflow = rng.random(len(who)) < 0.6
    large = inflow & (rng.random(len(who)) < 0.1)
    amount = np.where(large, rng.uniform(100_000, 800_000, len(who)), rng.uniform(500, 50_000, len(who)))
    return pa.table(
        {
            "flow_id": np.char.add(f"F{day:%Y%m%d}-", np.arange(len(who)).astype(str)),
            "customer_no": population.customer_no[who],
            "time": pa.array(local_instant(calendar, day, _trading_seconds(rng, len(who))), type=TS),
            "direction": np.where(inflow, "in", "out"),
            "amount": np.round(amount, 2),
        }
    )


def _trading_seconds(rng: np.random.Generator, size: int) -> np.ndarray:
    """Seconds after midnight inside 09:30–11:30 or 13:00–15:00."""
    morning = rng.random(size) < 0.55
    return np.where(
        morning, rng.uniform(9.5 * 3600, 11.5 * 3600, size), rng.uniform(13 * 3600, 15 * 3600, size)
    )
