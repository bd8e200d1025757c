"""经营概览 (the console's home): KPI figures, trends, data freshness and the calendar horizon, per caller."""

from touchpoint.overview.model import OverviewRead
from touchpoint.overview.service import freshness, overview

__all__ = ["OverviewRead", "freshness", "overview"]
