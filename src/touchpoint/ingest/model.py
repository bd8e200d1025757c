"""The canonical import tables (DESIGN.md §4) and the shape of an import report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, Field

from touchpoint.store.analytical.catalog import TableLayout

ATTRIBUTES_COLUMN = "attributes"


class Kind(StrEnum):
    """The value kinds an import column can hold."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOL = "bool"
    JSON = "json"


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.STRING: pa.string(),
    Kind.INT: pa.int64(),
    Kind.FLOAT: pa.float64(),
    Kind.DATE: pa.date32(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.BOOL: pa.bool_(),
    Kind.JSON: pa.string(),
}


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column: its kind, whether every row needs it, and its allowed values."""

    name: str
    kind: Kind = Kind.STRING
    required: bool = False
    choices: tuple[str, ...] | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    min_value: float | None = None


PartitionBy = Literal["snapshot", "date", "time"]


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns, key and where its `dt` partition comes from.

    `partition_by`: `snapshot` — the whole file is the state on the business date given with `--date`;
    `date` — each row's `date` column; `time` — the brokerage-local date of each row's `time` column.
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    partition_by: PartitionBy
    description: str
    keeps_attributes: bool = True
    naive_time_allowed: bool = True

    def column(self, name: str) -> ColumnSpec:
        """The spec of one column by name."""
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Canonical column names in order."""
        return tuple(c.name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        """The stored schema: canonical columns, then the attributes of extra columns."""
        fields = [pa.field(c.name, ARROW_TYPES[c.kind]) for c in self.columns]
        if self.keeps_attributes:
            fields.append(pa.field(ATTRIBUTES_COLUMN, pa.string()))
        return pa.schema(fields)


RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
PRODUCT_RISKS = ("R1", "R2", "R3", "R4", "R5")
PRODUCT_TYPES = ("stock", "fund", "bond", "wealth", "ipo", "convertible_bond", "etf", "option", "other")
TRADE_SIDES = (
    "buy",
    "sell",
    "subscribe",
    "redeem",
    "autoinvest",
    "ipo_subscribe",
    "ipo_pay",
    "dividend",
)
GENDER_ALIASES = {"男": "M", "女": "F", "male": "M", "female": "F", "m": "M", "f": "F", "u": "U"}


def _money(name: str, required: bool = False) -> ColumnSpec:
    return ColumnSpec(name, Kind.FLOAT, required=required)


CUSTOMERS = TableSpec(
    name="customers",
    description="Customer master (客户资料): one row per customer, a snapshot per business date",
    partition_by="snapshot",
    key=("customer_no",),
    columns=(
        ColumnSpec("customer_no", required=True),
        ColumnSpec("name"),
        ColumnSpec("gender", choices=("M", "F", "U"), aliases=GENDER_ALIASES),
        ColumnSpec("birth_date", Kind.DATE),
        ColumnSpec("phone"),
        ColumnSpec("city"),
        ColumnSpec("province"),
        ColumnSpec("branch_id"),
        ColumnSpec("advisor_id"),
        ColumnSpec("open_date", Kind.DATE),
        ColumnSpec("risk_level", choices=RISK_LEVELS, aliases={c.lower(): c for c in RISK_LEVELS}),
        ColumnSpec("risk_assessed_at", Kind.DATE),
        ColumnSpec("investor_type", choices=("ordinary", "professional")),
        ColumnSpec("consent_marketing", Kind.BOOL),
        ColumnSpec("wechat_openid"),
    ),
)

PRODUCTS = TableSpec(
    name="products",
    description="Product shelf (产品): stocks, funds, bonds, wealth products, IPOs; a snapshot per date",
    partition_by="snapshot",
    key=("product_code",),
    columns=(
        ColumnSpec("product_code", required=True),
        ColumnSpec("name", required=True),
        ColumnSpec("product_type", required=True, choices=PRODUCT_TYPES),
        ColumnSpec("risk_level", choices=PRODUCT_RISKS, aliases={r.lower(): r for r in PRODUCT_RISKS}),
        ColumnSpec("fund_type"),
        ColumnSpec("exchange"),
        ColumnSpec("issue_price", Kind.FLOAT, min_value=0),
        ColumnSpec("subscribe_date", Kind.DATE),
        ColumnSpec("allotment_date", Kind.DATE),
        ColumnSpec("pay_deadline", Kind.TIMESTAMP),
        ColumnSpec("listing_date", Kind.DATE),
    ),
)

ASSETS = TableSpec(
    name="assets",
    description="Daily assets (日资产): one row per customer per date",
    partition_by="date",
    key=("customer_no", "date"),
    columns=(
        ColumnSpec("customer_no", required=True),
        ColumnSpec("date", Kind.DATE, required=True),
        _money("total_assets", required=True),
        _money("cash"),
        _money("stock_value"),
        _money("fund_value"),
        _money("bond_value"),
        _money("margin_debt"),
    ),
)

HOLDINGS = TableSpec(
    name="holdings",
    description="Daily holdings (日持仓): one row per customer, date and product",
    partition_by="date",
    key=("customer_no", "date", "product_code"),
    columns=(
        ColumnSpec("customer_no", required=True),
        ColumnSpec("date", Kind.DATE, required=True),
        ColumnSpec("product_code", required=True),
        ColumnSpec("quantity", Kind.FLOAT),
        _money("market_value"),
        _money("cost"),
    ),
)

TRADES = TableSpec(
    name="trades",
    description="Trades and orders filled (成交): one row per trade",
    partition_by="time",
    key=("trade_id",),
    columns=(
        ColumnSpec("trade_id", required=True),
        ColumnSpec("customer_no", required=True),
        ColumnSpec("time", Kind.TIMESTAMP, required=True),
        ColumnSpec("product_code", required=True),
        ColumnSpec("side", required=True, choices=TRADE_SIDES),
        # The side says the direction; a negative quantity or amount is an export fault, not a sell.
        ColumnSpec("quantity", Kind.FLOAT, min_value=0),
        ColumnSpec("amount", Kind.FLOAT, min_value=0),
        ColumnSpec("channel"),
    ),
)

CASH_FLOWS = TableSpec(
    name="cash_flows",
    description="Bank-securities transfers (银证转账): one row per flow",
    partition_by="time",
    key=("flow_id",),
    columns=(
        ColumnSpec("flow_id", required=True),
        ColumnSpec("customer_no", required=True),
        ColumnSpec("time", Kind.TIMESTAMP, required=True),
        ColumnSpec("direction", required=True, choices=("in", "out")),
        ColumnSpec("amount", Kind.FLOAT, required=True, min_value=0),
    ),
)

IPO_ALLOTMENTS = TableSpec(
    name="ipo_allotments",
    description="IPO and new-bond allotments (中签): one row per customer and product, on its T+2",
    partition_by="date",
    key=("customer_no", "product_code"),
    columns=(
        ColumnSpec("customer_no", required=True),
        ColumnSpec("product_code", required=True),
        ColumnSpec("date", Kind.DATE, required=True),
        ColumnSpec("shares", Kind.FLOAT, required=True, min_value=0),
        _money("amount_due", required=True),
        ColumnSpec("status", required=True, choices=("allotted", "paid", "forfeited")),
        ColumnSpec("paid_at", Kind.TIMESTAMP),
    ),
)

AUTOINVEST_PLANS = TableSpec(
    name="autoinvest_plans",
    description="Auto-invest plans (基金定投计划): one row per plan, a snapshot per business date",
    partition_by="snapshot",
    key=("plan_id",),
    columns=(
        ColumnSpec("plan_id", required=True),
        ColumnSpec("customer_no", required=True),
        ColumnSpec("product_code", required=True),
        ColumnSpec("amount", Kind.FLOAT, required=True, min_value=0),
        ColumnSpec("frequency", choices=("weekly", "biweekly", "monthly")),
        ColumnSpec("start_date", Kind.DATE),
        ColumnSpec("next_debit_date", Kind.DATE),
        ColumnSpec("status", required=True, choices=("active", "paused", "terminated")),
        ColumnSpec("default_count", Kind.INT, min_value=0),
    ),
)

AUTOINVEST_DEDUCTIONS = TableSpec(
    name="autoinvest_deductions",
    description="Auto-invest debits (定投扣款): one row per debit attempt, on its date",
    partition_by="date",
    key=("deduction_id",),
    columns=(
        ColumnSpec("deduction_id", required=True),
        ColumnSpec("plan_id", required=True),
        ColumnSpec("customer_no", required=True),
        ColumnSpec("date", Kind.DATE, required=True),
        _money("amount", required=True),
        ColumnSpec("status", required=True, choices=("success", "failed")),
        ColumnSpec("reason"),
    ),
)

EVENTS = TableSpec(
    name="events",
    description="Behavioural events (行为事件): historical loads; the collector appends the live ones",
    partition_by="time",
    key=("event_id",),
    keeps_attributes=False,
    naive_time_allowed=False,
    columns=(
        ColumnSpec("event_id", required=True),
        ColumnSpec("event", required=True),
        ColumnSpec("distinct_id", required=True),
        ColumnSpec("customer_no"),
        ColumnSpec("login_id"),
        ColumnSpec("anonymous_id"),
        ColumnSpec("time", Kind.TIMESTAMP, required=True),
        ColumnSpec("properties", Kind.JSON),
        ColumnSpec("source"),
        ColumnSpec("project"),
    ),
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        CUSTOMERS,
        PRODUCTS,
        ASSETS,
        HOLDINGS,
        TRADES,
        CASH_FLOWS,
        IPO_ALLOTMENTS,
        AUTOINVEST_PLANS,
        AUTOINVEST_DEDUCTIONS,
        EVENTS,
    )
}


class RowError(BaseModel):
    """One problem with one row: which row (1-based, header not counted), which column, and why."""

    row: int
    line: int | None = None
    column: str | None = None
    value: str | None = None
    reason: str

    def describe(self) -> str:
        """A one-line message a data engineer can act on."""
        where = f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        where += f", column {self.column}" if self.column else ""
        shown = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}: {self.reason}{shown}"


ImportStatus = Literal["imported", "imported_with_rejects", "rejected", "already_imported"]
MAX_REPORTED_ERRORS = 200


class ImportReport(BaseModel):
    """What an import did, or why it refused to."""

    run_id: str
    table: str
    source: str
    status: ImportStatus
    business_date: date | None = None
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = Field(default_factory=list)
    error_count: int = 0
    errors_by_reason: dict[str, int] = Field(default_factory=dict)
    partitions: list[date] = Field(default_factory=list)
    reject_file: str | None = None
    encoding: str | None = None
    extra_columns: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.table}: {self.status} — read {self.rows_read}, imported {self.rows_imported}, "
            f"rejected {self.rows_rejected} ({len(self.partitions)} partitions)"
        )


def partition_dates_label(dates: list[date]) -> str:
    """`2026-01-02 … 2026-03-31` for a report."""
    if not dates:
        return "-"
    return dates[0].isoformat() if len(dates) == 1 else f"{min(dates)} … {max(dates)}"


def analytical_layouts() -> list[TableLayout]:
    """How each canonical table is laid out in the analytical store: every import's versions kept; a fact
    whose date comes from its time (a correction may move it to another day) has one row in the whole
    table."""
    return [
        TableLayout(
            name=s.name,
            schema=s.arrow_schema(),
            key=s.key,
            key_scope="table" if s.partition_by == "time" else "partition",
            keep_history=True,
        )
        for s in TABLES.values()
    ]


# --- The shape of GET /status (api/routes/status.py): where the stores are and what data they hold. ---


class OperationalStoreStatus(BaseModel):
    """The operational store: its URL (password hidden), dialect and schema revision."""

    url: str
    dialect: str
    revision: str | None


class AnalyticalStoreStatus(BaseModel):
    """The analytical store: its folder and query engine."""

    path: str
    engine: str


class CalendarStatus(BaseModel):
    """The trading calendar in use, and how far its holidays are known."""

    exchange: str
    holidays_recorded_until: str


class TableStatus(BaseModel):
    """One canonical table: rows in all and on the newest date, and rows per date."""

    rows: int
    latest_rows: int
    first_date: str | None
    last_date: str | None
    dates: dict[str, int]


class ImportRunStatus(BaseModel):
    """One recent import run."""

    id: str
    table_name: str
    source_name: str | None
    status: str
    rows_imported: int | None
    rows_rejected: int | None
    started_at: str


class DeadLettersStatus(BaseModel):
    """Event-log records consumers could not process (see `touchpoint collector dead-letters`)."""

    unresolved: int = 0
    by_consumer: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="consumer → status (open, retrying, resolved) → letters"
    )


class StatusRead(BaseModel):
    """Data directory, store URLs, row counts per table and date, recent imports."""

    home: str
    config_file: str | None
    operational_store: OperationalStoreStatus
    analytical_store: AnalyticalStoreStatus
    event_log: str
    timezone: str
    calendar: CalendarStatus
    tables: dict[str, TableStatus]
    recent_imports: list[ImportRunStatus]
    dead_letters: DeadLettersStatus = Field(default_factory=DeadLettersStatus)
