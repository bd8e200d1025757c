"""The demo's servicing tables, drawn from the same behaviour as its events so the two agree: IPO allotments
(中签) with their payment or forfeit, auto-invest plans and their debits (定投计划与扣款), and the bank
transfers as `cash_in` / `cash_out` events for the event-driven MOT rules."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.calendar import TradingCalendar
from touchpoint.demo.daily import TS, Portfolio
from touchpoint.demo.population import Population

SERVICING_EVENTS = (
    "ipo_allotment",
    "ipo_payment",
    "ipo_forfeit",
    "autoinvest_deduction",
    "autoinvest_deduction_failed",
)
PLAN_AMOUNT = 1000.0
TERMINATED_AT = 3


def plan_id(customer_no: str) -> str:
    """The demo's one auto-invest plan per fund holder."""
    return f"P{customer_no}"


def cash_events(flows: pa.Table) -> pa.Table:
    """One `cash_in` or `cash_out` event per bank transfer, at its time, with its amount."""
    names = pc.if_else(pc.equal(flows["direction"], "in"), "cash_in", "cash_out")
    props = [
        orjson.dumps({"flow_id": f, "amount": a}).decode()
        for f, a in zip(flows["flow_id"].to_pylist(), flows["amount"].to_pylist(), strict=True)
    ]
    customers = flows["customer_no"].cast(pa.string())
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise("demo-cash-", flows["flow_id"].cast(pa.string()), ""),
            "event": names,
            "customer_no": customers,
            "distinct_id": customers,
            "anonymous_id": pa.nulls(flows.num_rows, pa.string()),
            "login_id": customers,
            "time": flows["time"].cast(TS),
            "properties": pa.array(props, pa.string()),
        }
    )


def servicing_rows(events: pa.Table) -> pa.Table:
    """The events the servicing tables are drawn from (kept while the days are generated)."""
    return events.filter(pc.is_in(events["event"], pa.array(SERVICING_EVENTS)))


def allotments_table(events: pa.Table, calendar: TradingCalendar) -> pa.Table:
    """Each win with its shares and amount due on its T+2, paid (with the time) or forfeited."""
    rows = events.to_pylist()
    settled = {}
    for row in rows:
        if row["event"] in ("ipo_payment", "ipo_forfeit"):
            code = orjson.loads(row["properties"])["product_code"]
            settled[(row["customer_no"], code)] = (row["event"], row["time"])
    out = []
    for row in rows:
        if row["event"] != "ipo_allotment":
            continue
        props = orjson.loads(row["properties"])
        outcome, at = settled.get((row["customer_no"], props["product_code"]), (None, None))
        out.append(
            {
                "customer_no": row["customer_no"],
                "product_code": props["product_code"],
                "date": calendar.business_date(row["time"]),
                "shares": float(props["shares"]),
                "amount_due": float(props["amount_due"]),
                "status": {"ipo_payment": "paid", "ipo_forfeit": "forfeited"}.get(str(outcome), "allotted"),
                "paid_at": at if outcome == "ipo_payment" else None,
            }
        )
    schema = pa.schema(
        [
            ("customer_no", pa.string()),
            ("product_code", pa.string()),
            ("date", pa.date32()),
            ("shares", pa.float64()),
            ("amount_due", pa.float64()),
            ("status", pa.string()),
            ("paid_at", TS),
        ]
    )
    return pa.Table.from_pylist(out, schema=schema)


def deductions_table(events: pa.Table, calendar: TradingCalendar) -> pa.Table:
    """Every debit attempt with its outcome."""
    out = []
    for row in events.to_pylist():
        if row["event"] not in ("autoinvest_deduction", "autoinvest_deduction_failed"):
            continue
        props = orjson.loads(row["properties"])
        failed = row["event"] == "autoinvest_deduction_failed"
        day = calendar.business_date(row["time"])
        out.append(
            {
                "deduction_id": f"D{row['customer_no']}-{day:%Y%m%d}",
                "plan_id": plan_id(row["customer_no"]),
                "customer_no": row["customer_no"],
                "date": day,
                "amount": float(props["amount"]),
                "status": "failed" if failed else "success",
                "reason": props.get("reason"),
            }
        )
    return pa.Table.from_pylist(out) if out else _empty_deductions()


def _empty_deductions() -> pa.Table:
    return pa.table(
        {
            "deduction_id": pa.array([], pa.string()),
            "plan_id": pa.array([], pa.string()),
            "customer_no": pa.array([], pa.string()),
            "date": pa.array([], pa.date32()),
            "amount": pa.array([], pa.float64()),
            "status": pa.array([], pa.string()),
        }
    )


def plans_table(
    population: Population, portfolio: Portfolio, deductions: pa.Table, calendar: TradingCalendar, end: date
) -> pa.Table:
    """One plan per fund holder (the customers whose debits the events show), its defaults so far and its
    next debit day; three defaults end it."""
    holders = np.flatnonzero(population.allocation[:, 2] > 0.35)
    failed = deductions.filter(pc.equal(deductions["status"], "failed"))
    defaults: dict[str, int] = {}
    for customer in failed["customer_no"].to_pylist():
        defaults[customer] = defaults.get(customer, 0) + 1
    rows = []
    for i in holders:
        customer = str(population.customer_no[i])
        count = defaults.get(customer, 0)
        rows.append(
            {
                "plan_id": plan_id(customer),
                "customer_no": customer,
                "product_code": str(portfolio.fund[i]),
                "amount": PLAN_AMOUNT,
                "frequency": "weekly",
                "start_date": date.fromordinal(int(population.open_date[i])),
                "next_debit_date": _next_debit(int(i), calendar, end),
                "status": "terminated" if count >= TERMINATED_AT else "active",
                "default_count": count,
            }
        )
    return pa.Table.from_pylist(rows)


def _next_debit(index: int, calendar: TradingCalendar, end: date) -> date | None:
    """The demo debits a holder on the trading days whose ordinal shares the holder's index modulo 7 (a
    holder whose day is a weekend has none)."""
    for n in range(1, 22):
        day = end + timedelta(days=n)
        if (index + day.toordinal()) % 7 == 0 and calendar.is_trading_day(day):
            return day
    return None
