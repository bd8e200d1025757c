"""The demo brokerage's customers and product shelf (vectorised, deterministic for a seed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.calendar import TradingCalendar

BRANCHES = [
    ("上海", "上海", "上海浦东营业部"),
    ("上海", "上海", "上海徐汇营业部"),
    ("北京", "北京", "北京金融街营业部"),
    ("北京", "北京", "北京中关村营业部"),
    ("广东", "深圳", "深圳福田营业部"),
    ("广东", "广州", "广州天河营业部"),
    ("浙江", "杭州", "杭州钱江新城营业部"),
    ("江苏", "南京", "南京新街口营业部"),
    ("江苏", "苏州", "苏州工业园区营业部"),
    ("四川", "成都", "成都天府营业部"),
    ("湖北", "武汉", "武汉中南营业部"),
    ("福建", "厦门", "厦门思明营业部"),
]
ADVISORS_PER_BRANCH = 4
RISK_LEVELS = np.array(["C1", "C2", "C3", "C4", "C5"])
RISK_WEIGHTS = [0.08, 0.27, 0.35, 0.22, 0.08]
FUND_TYPES = [("money", "R1"), ("bond", "R2"), ("hybrid", "R3"), ("equity", "R4"), ("index", "R3")]
STOCK_NAMES = ["科技", "医药", "银行", "能源", "消费", "电子", "汽车", "地产", "材料", "传媒"]


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per (seed, stage, chunk), so chunking never changes the data."""
    return np.random.default_rng([seed, *stream])


def name_pool(seed: int, size: int = 3000) -> np.ndarray:
    """Chinese names from Faker zh_CN, made once and sampled with numpy (Faker is slow per call)."""
    from faker import Faker

    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    return np.array([faker.name() for _ in range(size)])


@dataclass
class Population:
    """Per-customer traits the daily generators draw on (index i is customer i)."""

    customer_no: np.ndarray
    base_assets: np.ndarray
    activity: np.ndarray
    trade_rate: np.ndarray
    dormant: np.ndarray
    margin: np.ndarray
    allocation: np.ndarray
    open_date: np.ndarray


def make_population(seed: int, count: int, end: date) -> Population:
    """The hidden traits of every customer."""
    rng = rng_for(seed, 1)
    allocation = rng.dirichlet([3.0, 2.5, 2.0, 1.0], count)
    days_open = np.where(
        rng.random(count) < 0.03, rng.integers(1, 30, count), rng.integers(30, 15 * 365, count)
    )
    return Population(
        customer_no=np.char.add("C", (1_000_000 + np.arange(count)).astype(str)),
        base_assets=np.exp(rng.normal(11.3, 1.9, count)).round(2),
        activity=np.clip(rng.beta(2.0, 3.0, count), 0.02, 0.95),
        trade_rate=rng.gamma(1.2, 0.06, count),
        dormant=rng.random(count) < 0.20,
        margin=rng.random(count) < 0.05,
        allocation=allocation,
        open_date=np.array([end.toordinal()] * count) - days_open,
    )


def master_as_of(master: pa.Table, day: date) -> pa.Table:
    """The customer master as it stood on an earlier day: the customers opened by then, with no risk
    assessment yet where theirs came later."""
    opened = master.filter(pc.less_equal(master["open_date"], pa.scalar(day, pa.date32())))
    later = pc.greater(opened["risk_assessed_at"], pa.scalar(day, pa.date32()))
    assessed = pc.if_else(later, pa.scalar(None, pa.date32()), opened["risk_assessed_at"])
    return opened.set_column(opened.schema.get_field_index("risk_assessed_at"), "risk_assessed_at", assessed)


def customers_table(seed: int, population: Population, end: date) -> pa.Table:
    """The customer master as the core system would export it."""
    count = len(population.customer_no)
    rng = rng_for(seed, 2)
    names = name_pool(seed)[rng.integers(0, 3000, count)]
    branch = rng.integers(0, len(BRANCHES), count)
    ages = rng.integers(20, 80, count)
    assessed_days_ago = np.where(
        rng.random(count) < 0.15, rng.integers(731, 1500, count), rng.integers(1, 700, count)
    )
    return pa.table(
        {
            "customer_no": population.customer_no,
            "name": names,
            "gender": np.where(rng.random(count) < 0.55, "M", "F"),
            "birth_date": _dates(end.toordinal() - ages * 365 - rng.integers(0, 365, count)),
            "phone": np.char.add("13", rng.integers(100_000_000, 999_999_999, count).astype(str)),
            "city": np.array([b[1] for b in BRANCHES])[branch],
            "province": np.array([b[0] for b in BRANCHES])[branch],
            "branch_id": np.char.add("B", (branch + 1).astype(str)),
            "advisor_id": np.char.add(
                np.char.add("A", (branch + 1).astype(str)),
                np.char.add("-", rng.integers(1, 5, count).astype(str)),
            ),
            "open_date": _dates(population.open_date),
            "risk_level": RISK_LEVELS[rng.choice(5, count, p=RISK_WEIGHTS)],
            "risk_assessed_at": _dates(end.toordinal() - assessed_days_ago),
            "investor_type": np.where(rng.random(count) < 0.03, "professional", "ordinary"),
            "consent_marketing": rng.random(count) < 0.8,
            "wechat_openid": pa.array(
                np.char.add("oWx", rng.integers(10**9, 10**10, count).astype(str)),
                mask=rng.random(count) >= 0.6,
            ),
        }
    )


def _dates(ordinals: np.ndarray) -> pa.Array:
    return pa.array([date.fromordinal(int(o)) for o in ordinals], type=pa.date32())


@dataclass
class Shelf:
    """The product shelf and, for IPOs, their calendar."""

    table: pa.Table
    stocks: np.ndarray
    funds: np.ndarray
    fund_types: np.ndarray
    ipos: list[dict[str, object]]


def make_shelf(seed: int, calendar: TradingCalendar, sessions: list[date]) -> Shelf:
    """Stocks, funds of R1–R5, bonds, wealth products, and an IPO every few trading days."""
    rng = rng_for(seed, 3)
    rows: list[dict[str, object]] = []
    for i in range(50):
        code = f"{600000 + i * 7}" if i % 2 == 0 else f"{i * 11 + 1:06d}"
        rows.append(
            {
                "product_code": code,
                "name": f"{STOCK_NAMES[i % 10]}{'股份集团控科'[i % 5]}{i}",
                "product_type": "stock",
                "risk_level": "R3",
                "exchange": "SH" if i % 2 == 0 else "SZ",
            }
        )
    for i in range(40):
        fund_type, risk = FUND_TYPES[i % 5]
        risk = "R5" if fund_type == "equity" and i % 10 == 3 else risk
        rows.append(
            {
                "product_code": f"{110000 + i * 3:06d}",
                "name": f"华泰{['货币', '纯债', '混合', '成长', '沪深300'][i % 5]}{i}号",
                "product_type": "fund",
                "risk_level": risk,
                "fund_type": fund_type,
            }
        )
    for i in range(5):
        rows.append(
            {
                "product_code": f"019{i:03d}",
                "name": f"国债{i + 1}期",
                "product_type": "bond",
                "risk_level": "R1",
            }
        )
        rows.append(
            {
                "product_code": f"WM{i:04d}",
                "name": f"稳健理财{i + 1}号",
                "product_type": "wealth",
                "risk_level": "R2",
            }
        )
    ipos = _ipo_calendar(rng, calendar, sessions)
    rows.extend(ipos)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = pa.Table.from_pylist([{key: row.get(key) for key in columns} for row in rows])
    stocks = np.array([r["product_code"] for r in rows if r["product_type"] == "stock"])
    funds = np.array([r["product_code"] for r in rows if r["product_type"] == "fund"])
    fund_types = np.array([r["fund_type"] for r in rows if r["product_type"] == "fund"])
    return Shelf(table=table, stocks=stocks, funds=funds, fund_types=fund_types, ipos=ipos)


def _ipo_calendar(
    rng: np.random.Generator, calendar: TradingCalendar, sessions: list[date]
) -> list[dict[str, object]]:
    ipos: list[dict[str, object]] = []
    index = int(rng.integers(0, 3))
    while index < len(sessions):
        day = sessions[index]
        allot = calendar.add_trading_days(day, 2)
        ipos.append(
            {
                "product_code": f"732{len(ipos):03d}",
                "name": f"新股{len(ipos) + 1}号",
                "product_type": "ipo",
                "risk_level": "R3",
                "exchange": "SH",
                "issue_price": float(np.round(rng.uniform(8, 60), 2)),
                "subscribe_date": day,
                "allotment_date": allot,
                "pay_deadline": calendar.to_utc(allot, time(16, 0)),
                "listing_date": calendar.add_trading_days(day, 8),
            }
        )
        index += int(rng.integers(3, 6))
    return ipos


def local_instant(calendar: TradingCalendar, day: date, seconds: np.ndarray) -> np.ndarray:
    """UTC microseconds of local wall-clock `seconds` after midnight on `day` (vectorised)."""
    midnight = calendar.to_utc(day)
    base = int((midnight - datetime(1970, 1, 1, tzinfo=midnight.tzinfo)).total_seconds() * 1_000_000)
    return base + (seconds * 1_000_000).astype(np.int64)
