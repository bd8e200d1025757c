"""Canonical tables filled from an existing data warehouse (a Hive metastore), by a mapping file.

A brokerage's warehouse already holds customers, assets and trades, one date partition a day. The mapping
file (`warehouse.toml`) names, for each canonical table, the warehouse table, its date partition column and
how the canonical columns are found in it. `sync_warehouse` reads each new partition through Spark and
imports it through the same checks as a file (`import_file`): types, allowed values, keys unique across the
whole table, every version kept and audited. Nothing the import checks is bypassed, so a number computed over
warehouse data means what it means over imported files.

Which partitions a sync reads: those after the last one synced, and the last `recheck` ones again (a
warehouse often reruns yesterday). A partition read again whose rows have not changed is recognised by its
content and changes nothing (`already_imported`).
"""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from touchpoint.core.errors import ValidationError, pydantic_faults
from touchpoint.core.progress import StageProgress
from touchpoint.governance import Principal
from touchpoint.ingest.model import ATTRIBUTES_COLUMN, TABLES, ImportReport, TableSpec
from touchpoint.ingest.service import ImportEnv, ImportOptions, ImportRejected, import_file
from touchpoint.store.backends.hive import IDENTIFIER
from touchpoint.store.operational import meta

STATE_KEY = "warehouse.synced."
"""meta_values key prefix: the last partition synced per canonical table, with the source it came from."""


class WarehouseSource(Protocol):
    """What a sync reads (store/backends/hive.py reads it through Spark's catalog)."""

    def columns(self, table: str) -> dict[str, bool]:
        """Column name → is it a partition column; LookupError when the table does not exist."""
        ...

    def partitions(self, table: str, column: str) -> list[str]:
        """The distinct values of `column`, as text."""
        ...

    def read(self, table: str, select: Sequence[tuple[str, str]], column: str, value: str) -> pa.Table:
        """The rows whose `column` is `value`, each (source column, name) of `select` read as `name`."""
        ...


class MappedTable(BaseModel):
    """One canonical table read from one warehouse table."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="the warehouse table, `database.table`")
    partition: str = Field(description="its date partition column (one partition a business day)")
    partition_format: str = Field(
        default="%Y-%m-%d", description="how a partition value writes its date (strptime), e.g. %Y%m%d"
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="canonical column = warehouse column; a canonical column not listed is read from the "
        "warehouse column of the same name, when there is one",
    )
    replace: bool | None = Field(
        default=None,
        description="a partition is the complete content of the dates it holds (default: yes for snapshot "
        "and dated tables, no for tables dated by time, whose rows may arrive in a later partition)",
    )

    @field_validator("source")
    @classmethod
    def _plain_table(cls, value: str) -> str:
        if not all(IDENTIFIER.match(part) for part in value.split(".")) or value.count(".") > 1:
            raise ValueError(f"{value!r} is not `database.table` (letters, digits, _)")
        return value

    @field_validator("partition")
    @classmethod
    def _plain_column(cls, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a column name (letters, digits, _)")
        return value

    @field_validator("columns")
    @classmethod
    def _plain_columns(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [source for source in value.values() if not IDENTIFIER.match(source)]
        if bad:
            raise ValueError(f"not column names (letters, digits, _): {', '.join(map(repr, bad))}")
        return value

    def business_date(self, value: str) -> date:
        """The date a partition value stands for; ValueError when it does not read as one."""
        # A partition names a business day, not an instant: no zone applies.
        return datetime.strptime(value, self.partition_format).date()  # noqa: DTZ007


class WarehouseMap(BaseModel):
    """The mapping file: canonical table name → where it is read from."""

    model_config = ConfigDict(extra="forbid")

    tables: dict[str, MappedTable] = Field(default_factory=dict)
    recheck: int = Field(
        default=1, ge=0, le=31, description="partitions already synced that each sync reads again"
    )

    @field_validator("tables")
    @classmethod
    def _canonical(cls, value: dict[str, MappedTable]) -> dict[str, MappedTable]:
        for name, mapped in value.items():
            if name not in TABLES:
                mappable = ", ".join(t for t in TABLES if t != "events")
                raise ValueError(f"unknown canonical table {name!r}; mappable: {mappable}")
            if name == "events":
                raise ValueError(
                    "events are not synced from a warehouse: an event's time needs its UTC offset, which a "
                    "Hive timestamp does not keep (import them as JSON Lines, or send them to the collector)"
                )
            spec = TABLES[name]
            unknown = sorted(set(mapped.columns) - set(spec.column_names))
            if unknown:
                known = ", ".join(spec.column_names)
                raise ValueError(f"{name}: no canonical columns {unknown}; it has {known}")
        return value


class ColumnPlan(BaseModel):
    """How one mapped table's columns are read, checked against the warehouse table."""

    table: str
    source: str
    select: list[tuple[str, str]] = Field(description="(warehouse column, canonical column)")
    missing_required: list[str] = Field(description="required canonical columns the warehouse table lacks")
    date_from_partition: bool = Field(description="the `date` column is the partition's date")
    unmapped: list[str] = Field(description="warehouse columns nothing reads")


class PartitionResult(BaseModel):
    """What one warehouse partition's import did."""

    value: str
    business_date: date | None = None
    status: str
    rows: int = 0
    run_id: str | None = None
    problem: str | None = None


class TableSync(BaseModel):
    """One canonical table's sync."""

    table: str
    source: str
    partitions: list[PartitionResult] = Field(default_factory=list)
    last_synced: str | None = None

    @property
    def failed(self) -> bool:
        """Whether a partition was refused or unreadable (a value that is no date is skipped, no failure)."""
        return any(p.status in STOPPING for p in self.partitions)


def load_warehouse_map(path: Path) -> WarehouseMap:
    """The mapping file at `path`; a ValidationError names the file and what in it is wrong."""
    if not path.exists():
        raise ValidationError(f"no warehouse mapping file at {path} (docs/ingest.md: warehouse tables)")
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: not valid TOML: {exc}") from None
    try:
        return WarehouseMap.model_validate(raw)
    except PydanticError as exc:
        raise ValidationError(f"{path}: {pydantic_faults(exc, root='file')}") from None


def plan_columns(name: str, mapped: MappedTable, source: WarehouseSource) -> ColumnPlan:
    """Which warehouse column each canonical column is read from; a ValidationError names a warehouse table
    or column that is not there."""
    spec = TABLES[name]
    try:
        available = source.columns(mapped.source)
    except LookupError as absent:
        raise ValidationError(f"{name}: {absent}; check source under [tables.{name}]") from None
    if mapped.partition not in available:
        raise ValidationError(f"{name}: {mapped.source} has no partition column {mapped.partition!r}")
    wanted = [*spec.column_names]
    select: list[tuple[str, str]] = []
    missing: list[str] = []
    for column in wanted:
        found = mapped.columns.get(column, column if column in available else None)
        if found is not None and found not in available:
            raise ValidationError(f"{name}: {mapped.source} has no column {found!r} (mapped to {column})")
        if found is not None:
            select.append((found, column))
        elif spec.column(column).required and not _from_partition(spec, column):
            missing.append(column)
    date_from_partition = _from_partition(spec, "date") and not any(c == "date" for _, c in select)
    read = {src for src, _ in select} | {mapped.partition}
    unmapped = sorted(c for c in available if c not in read and c != ATTRIBUTES_COLUMN)
    return ColumnPlan(
        table=name,
        source=mapped.source,
        select=select,
        missing_required=missing,
        date_from_partition=date_from_partition,
        unmapped=unmapped,
    )


def _from_partition(spec: TableSpec, column: str) -> bool:
    """A dated table's `date` may be the partition's date when the warehouse table has no such column."""
    return spec.partition_by == "date" and column == "date"


def sync_warehouse(
    *,
    env: ImportEnv,
    principal: Principal,
    mapping: WarehouseMap,
    source: WarehouseSource,
    tables: Sequence[str] | None = None,
    since: date | None = None,
    progress: StageProgress | None = None,
) -> list[TableSync]:
    """Import the warehouse partitions not yet synced (and the last `recheck` again) into each mapped table,
    oldest first; with `since`, every partition from that date on.

    Every table's columns and partitions are checked before anything is imported, so a mapping fault stops
    the sync before it has changed anything. A partition that is refused (by the import, or because it is
    empty or holds rows of other dates) or cannot be read stops its table: later partitions wait for it to be
    fixed (their rows may correct it). Other tables go on."""
    names = list(tables) if tables else list(mapping.tables)
    unknown = [n for n in names if n not in mapping.tables]
    if unknown:
        raise ValidationError(f"not in the warehouse mapping: {', '.join(unknown)}")
    planned = [plan_table(name, mapping.tables[name], source) for name in names]
    return [_sync_table(env, principal, table, source, mapping.recheck, since, progress) for table in planned]


class PlannedTable(BaseModel):
    """One mapped table checked against the warehouse: its columns and its dated partitions."""

    name: str
    mapped: MappedTable
    plan: ColumnPlan
    dated: list[tuple[str, date]]
    skipped: list[PartitionResult]


def plan_table(
    name: str, mapped: MappedTable, source: WarehouseSource, plan: ColumnPlan | None = None
) -> PlannedTable:
    """Check one mapped table: its columns (`plan`, when the caller has it already; a required one nothing
    provides is named) and partitions (two values naming one business day are refused: a partition must be a
    day, or each would replace the other's rows)."""
    plan = plan or plan_columns(name, mapped, source)
    if plan.missing_required:
        raise ValidationError(
            f"{name}: {mapped.source} has no column for {', '.join(plan.missing_required)}; map them in "
            f"[tables.{name}.columns]"
        )
    dated, skipped = dated_partitions(mapped, source.partitions(mapped.source, mapped.partition))
    days: dict[date, str] = {}
    for value, day in dated:
        if day in days:
            raise ValidationError(
                f"{name}: {mapped.partition}={days[day]!r} and {mapped.partition}={value!r} are both "
                f"{day} in the format {mapped.partition_format}; a partition must be one business day"
            )
        days[day] = value
    return PlannedTable(name=name, mapped=mapped, plan=plan, dated=dated, skipped=skipped)


def _sync_table(
    env: ImportEnv,
    principal: Principal,
    table: PlannedTable,
    source: WarehouseSource,
    recheck: int,
    since: date | None,
    progress: StageProgress | None,
) -> TableSync:
    name, mapped = table.name, table.mapped
    last = _last_synced(env, name, mapped)
    result = TableSync(table=name, source=mapped.source, last_synced=last[0] if last else None)
    result.partitions.extend(table.skipped)
    todo = _to_read(table.dated, last[1] if last else None, recheck, since)
    for done, (value, day) in enumerate(todo):
        if progress:
            progress(name, done, len(todo))
        outcome = _sync_partition(env, principal, table, source, value, day)
        result.partitions.append(outcome)
        if outcome.status in STOPPING:
            break
        if last is None or day >= last[1]:
            last = (value, day)
            result.last_synced = value
            _remember(env, name, mapped, value, day)
    if progress:
        progress(name, len(todo), len(todo))
    return result


STOPPING = ("rejected", "failed")
"""Partition outcomes that stop their table's sync."""


def dated_partitions(
    mapped: MappedTable, values: list[str]
) -> tuple[list[tuple[str, date]], list[PartitionResult]]:
    """The partitions whose values read as dates, oldest first; the others, reported as skipped."""
    dated: list[tuple[str, date]] = []
    skipped: list[PartitionResult] = []
    for value in values:
        try:
            dated.append((value, mapped.business_date(value)))
        except ValueError:
            problem = f"{mapped.partition}={value!r} is not a date in the format {mapped.partition_format}"
            skipped.append(PartitionResult(value=value, status="skipped", problem=problem))
    return sorted(dated, key=lambda pair: pair[1]), skipped


def _to_read(
    dated: list[tuple[str, date]], last_day: date | None, recheck: int, since: date | None
) -> list[tuple[str, date]]:
    if since is not None:
        return [(v, d) for v, d in dated if d >= since]
    if last_day is None:
        return dated
    synced = [pair for pair in dated if pair[1] <= last_day]
    return (synced[-recheck:] if recheck else []) + [pair for pair in dated if pair[1] > last_day]


def _sync_partition(
    env: ImportEnv,
    principal: Principal,
    table: PlannedTable,
    source: WarehouseSource,
    value: str,
    day: date,
) -> PartitionResult:
    name, mapped, plan = table.name, table.mapped, table.plan
    spec = TABLES[name]
    try:
        rows = source.read(mapped.source, plan.select, mapped.partition, value)
    except Exception as exc:  # the warehouse's fault (a file gone, a type Spark cannot read): say which
        problem = f"reading {mapped.source} {mapped.partition}={value!r} failed: {type(exc).__name__}: {exc}"
        return PartitionResult(value=value, business_date=day, status="failed", problem=problem[:2000])
    if rows.num_rows == 0:
        problem = "the partition has no rows (a warehouse job not finished, or failed?); nothing was imported"
        return PartitionResult(value=value, business_date=day, status="rejected", problem=problem)
    if plan.date_from_partition:
        rows = rows.append_column("date", pa.array([day] * rows.num_rows, pa.date32()))
    replace = mapped.replace if mapped.replace is not None else spec.partition_by != "time"
    if replace and spec.partition_by == "date":
        stray = _other_dates(rows, day)
        if stray:
            return PartitionResult(value=value, business_date=day, status="rejected", problem=stray)
    options = ImportOptions(business_date=day if spec.partition_by == "snapshot" else None, replace=replace)
    with tempfile.TemporaryDirectory(prefix="warehouse-") as staging:
        path = Path(staging) / f"{name}-{value}.parquet"
        # In key order, so that the same rows make the same file: a partition read again unchanged is then
        # recognised by its content and imports nothing.
        pq.write_table(_in_key_order(rows, spec), path)
        try:
            report = import_file(
                env=env,
                principal=principal,
                table=name,
                path=path,
                options=options,
                file_format="parquet",
                source_name=f"{mapped.source}/{mapped.partition}={value}",
            )
        except ImportRejected as rejected:
            return _result(value, day, rejected.report, str(rejected))
    return _result(value, day, report, None)


def _other_dates(rows: pa.Table, day: date) -> str | None:
    """Why a partition that replaces its dates may not: rows dated other than the partition's day would
    replace those whole days with themselves alone."""
    dates = rows["date"].cast(pa.date32())
    other = pc.filter(dates, pc.not_equal(dates, pa.scalar(day, pa.date32())))
    if len(other) == 0:
        return None
    shown = sorted({d.isoformat() for d in other.to_pylist() if d is not None})[:3]
    return (
        f"{len(other)} row(s) dated other than the partition's day {day} ({', '.join(shown)}): they would "
        "replace those days; set replace = false under the table to merge them by key instead"
    )


def _in_key_order(rows: pa.Table, spec: TableSpec) -> pa.Table:
    keys = [k for k in spec.key if k in rows.column_names]
    if not keys:
        return rows
    order = pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in keys])
    return rows.take(order)


def _result(value: str, day: date, report: ImportReport, problem: str | None) -> PartitionResult:
    return PartitionResult(
        value=value,
        business_date=day,
        status=report.status,
        rows=report.rows_imported,
        run_id=report.run_id,
        problem=problem,
    )


def _last_synced(env: ImportEnv, name: str, mapped: MappedTable) -> tuple[str, date] | None:
    """The last partition synced from this table's current source, and its day (a remapped table starts
    over; the day is kept, so a changed partition_format does not lose the place)."""
    with env.ops.begin() as connection:
        state = meta.get_value(connection, STATE_KEY + name)
    if not isinstance(state, dict) or state.get("source") != mapped.source:
        return None
    value, day = state.get("partition"), state.get("date")
    if not isinstance(value, str) or not isinstance(day, str):
        return None
    return value, date.fromisoformat(day)


def _remember(env: ImportEnv, name: str, mapped: MappedTable, value: str, day: date) -> None:
    state = {"source": mapped.source, "partition": value, "date": day.isoformat()}
    with env.ops.begin() as connection:
        meta.set_value(connection, STATE_KEY + name, state, now=env.clock.now())
