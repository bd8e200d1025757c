"""The overview's answer shape (the console's home page is typed from it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Figures(BaseModel):
    """The KPI cards; a figure without data behind it is null (shown as “—”), never zero."""

    customers: int | None = Field(description="customers in the newest customers snapshot, within the scope")
    active_customers_7d: int = Field(description="customers with at least one event in the last 7 days")
    total_aum: float | None = Field(description="total assets (元) on the newest assets snapshot")
    aum_date: str | None = Field(description="the date of that snapshot")
    net_inflow_30d: float | None = Field(description="deposits minus withdrawals over 30 days (元)")
    events_today: int
    live_journeys: int
    open_tasks: int = Field(description="open advisor tasks of the customers in the caller's scope")


class TrendDay(BaseModel):
    """One day of the 30-day trend."""

    date: str
    events: int
    active_customers: int
    total_assets: float | None = Field(description="null: no assets snapshot that day")
    net_inflow: float | None = Field(description="null: no cash flows imported for that day")


class FreshnessItem(BaseModel):
    """The last run of one import, computation or segment refresh."""

    kind: Literal["import", "computation", "segment"]
    name: str
    status: str
    at: str | None
    error: str | None


class CalendarHorizon(BaseModel):
    """How far ahead exchange closures are known, and whether the next year's must be configured now."""

    exchange: str
    holidays_recorded_until: str
    days_left: int
    next_year: int
    next_year_configured: bool
    warning: bool


class OverviewRead(BaseModel):
    """经营概览: figures, trends, freshness and the calendar horizon as the caller may see them."""

    as_of: str
    scoped: bool
    figures: Figures
    trend: list[TrendDay]
    freshness: list[FreshnessItem]
    calendar: CalendarHorizon
