"""Getting data in: batch import of the brokerage's core-system tables and historical events."""

from touchpoint.ingest.model import TABLES, ImportReport, RowError, TableSpec, analytical_layouts
from touchpoint.ingest.service import (
    ImportEnv,
    ImportOptions,
    ImportRejected,
    clear_analytical_data,
    data_status,
    import_arrow,
    import_file,
    table_spec,
)

__all__ = [
    "TABLES",
    "ImportEnv",
    "ImportOptions",
    "ImportRejected",
    "ImportReport",
    "RowError",
    "TableSpec",
    "analytical_layouts",
    "clear_analytical_data",
    "data_status",
    "import_arrow",
    "import_file",
    "table_spec",
]
