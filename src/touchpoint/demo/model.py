"""What the demo brokerage is asked for, and what it produced."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

REPLAY_DAYS = 20
"""The last days of the demo's history replayed through its journeys and MOT rules (demo/history.py)."""


class DemoParams(BaseModel):
    """The size and seed of a demo brokerage; the same parameters give the same brokerage."""

    customers: int = Field(default=5000, ge=10)
    days: int = Field(default=90, ge=5, description="calendar days of history up to the end date")
    seed: int = 7
    end_date: date | None = Field(default=None, description="last business date (default: today's)")


class DemoSummary(BaseModel):
    """Rows generated per table and the date range."""

    customers: int
    products: int
    assets: int
    holdings: int
    trades: int
    cash_flows: int
    ipo_allotments: int = 0
    autoinvest_plans: int = 0
    autoinvest_deductions: int = 0
    events: int
    first_date: date
    last_date: date
    seconds: float

    def lines(self) -> list[str]:
        """A printable summary."""
        return [
            f"customers   {self.customers:>12,}",
            f"products    {self.products:>12,}",
            f"trades      {self.trades:>12,}",
            f"cash_flows  {self.cash_flows:>12,}",
            f"allotments  {self.ipo_allotments:>12,}",
            f"plans       {self.autoinvest_plans:>12,}",
            f"debits      {self.autoinvest_deductions:>12,}",
            f"assets      {self.assets:>12,}",
            f"holdings    {self.holdings:>12,}",
            f"events      {self.events:>12,}",
            f"date range  {self.first_date} … {self.last_date}",
            f"generated in {self.seconds:.1f} s",
        ]
