"""Storage: the operational store (SQLAlchemy) and the analytical store (Parquet queried through Ibis)."""

from touchpoint.store.analytical.catalog import AnalyticalStore, PartitionInfo, TableLayout
from touchpoint.store.analytical.files import ROW_GROUP_ROWS
from touchpoint.store.operational.db import OperationalStore

__all__ = ["ROW_GROUP_ROWS", "AnalyticalStore", "OperationalStore", "PartitionInfo", "TableLayout"]
