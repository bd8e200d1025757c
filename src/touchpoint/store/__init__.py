"""Storage: the operational store (SQLAlchemy) and the analytical store (Parquet queried through Ibis)."""

from touchpoint.store.analytical.catalog import AnalyticalStore, PartitionInfo, TableLayout
from touchpoint.store.operational.db import OperationalStore

__all__ = ["AnalyticalStore", "OperationalStore", "PartitionInfo", "TableLayout"]
