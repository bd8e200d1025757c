"""Validation of a parsed file against its canonical table: pure, no I/O.

File-level problems (unknown table, a missing key column) raise ValidationError before any row is looked at.
Row-level problems are collected for every row — bad type, missing value, unknown enum value, duplicate key —
and the caller decides whether to reject the file or import the good rows.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.errors import ValidationError
from touchpoint.ingest.convert import convert_column
from touchpoint.ingest.model import ARROW_TYPES, ATTRIBUTES_COLUMN, ColumnSpec, RowError, TableSpec
from touchpoint.ingest.readers import RawTable

PARTITION_COLUMN = "dt"
EVENT_NAME = re.compile(r"^[$A-Za-z_][A-Za-z0-9_$]{0,99}$")


@dataclass
class Outcome:
    """The typed rows that passed, the file rows that did not, and why."""

    valid: pa.Table
    bad_positions: np.ndarray
    errors: list[RowError]
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class _Problems:
    """Row problems keyed by table position, turned into RowErrors with file row numbers at the end."""

    rows: np.ndarray
    line_of: Callable[[int], int | None] | None = None
    by_position: dict[int, list[RowError]] = field(default_factory=lambda: defaultdict(list))

    def add(self, position: int, column: str | None, value: object, reason: str) -> None:
        shown = None if value is None else str(value)[:80]
        self.by_position[position].append(
            RowError(
                row=int(self.rows[position]),
                line=self.line_of(int(self.rows[position])) if self.line_of else None,
                column=column,
                value=shown,
                reason=reason,
            )
        )

    def add_many(self, positions: np.ndarray, column: str, values: pa.Array | None, reason: str) -> None:
        shown = (
            values.take(pa.array(positions)).to_pylist() if values is not None else [None] * len(positions)
        )
        for position, value in zip(positions.tolist(), shown, strict=True):
            self.add(position, column, value, reason)


def check_columns(spec: TableSpec, columns: list[str], business_date: date | None) -> None:
    """Refuse a file that lacks a column every row needs, naming it."""
    present = set(columns)
    missing = [
        c.name
        for c in spec.columns
        if c.required and c.name not in present and not _derivable(spec, c.name, present, business_date)
    ]
    if missing:
        raise ValidationError(
            f"{spec.name}: missing required column(s) {', '.join(missing)}; the file has {', '.join(columns)}"
        )
    if spec.partition_by == "snapshot" and business_date is None:
        raise ValidationError(f"{spec.name} is a daily snapshot: give its business date (--date YYYY-MM-DD)")


def _derivable(spec: TableSpec, name: str, present: set[str], business_date: date | None) -> bool:
    if name == "date" and spec.partition_by == "date":
        return business_date is not None
    if spec.name == "events" and name == "event_id":
        return True
    if spec.name == "events" and name == "distinct_id":
        return "customer_no" in present
    return False


def validate(raw: RawTable, spec: TableSpec, *, business_date: date | None, tz: ZoneInfo) -> Outcome:
    """Type, check and partition every row of `raw` as rows of `spec`."""
    table = raw.table
    check_columns(spec, table.column_names, business_date)
    problems = _Problems(rows=raw.row_numbers, line_of=raw.line_of)
    typed = _typed_columns(table, spec, business_date, tz, problems)
    if spec.name == "events":
        _complete_events(typed, problems)
    _check_values(spec, typed, problems)
    _check_duplicate_keys(spec, typed, problems)
    typed[PARTITION_COLUMN] = _partition(spec, typed, business_date, tz)
    extras = [n for n in table.column_names if n not in spec.column_names and n != PARTITION_COLUMN]
    if spec.keeps_attributes:
        typed[ATTRIBUTES_COLUMN] = _attributes(table, extras)
    full = pa.table(typed)
    bad = np.array(sorted(problems.by_position), dtype=np.int64)
    keep = np.ones(full.num_rows, dtype=bool)
    keep[bad] = False
    errors = [e for pos in sorted(problems.by_position) for e in problems.by_position[pos]]
    return Outcome(valid=full.filter(pa.array(keep)), bad_positions=bad, errors=errors, extra_columns=extras)


def _typed_columns(
    table: pa.Table, spec: TableSpec, business_date: date | None, tz: ZoneInfo, problems: _Problems
) -> dict[str, pa.Array]:
    typed: dict[str, pa.Array] = {}
    for column in spec.columns:
        if column.name in table.column_names:
            converted = convert_column(table[column.name], column, tz, spec.naive_time_allowed)
            raw_values = table[column.name].combine_chunks()
            for position, reason in converted.bad.items():
                problems.add(position, column.name, raw_values[position].as_py(), reason)
            typed[column.name] = converted.values
        elif column.name == "date" and business_date is not None:
            typed[column.name] = pa.array([business_date] * table.num_rows, type=pa.date32())
        else:
            typed[column.name] = pa.nulls(table.num_rows, _arrow_type(column))
    return typed


def _arrow_type(column: ColumnSpec) -> pa.DataType:
    return ARROW_TYPES[column.kind]


def _complete_events(typed: dict[str, pa.Array], problems: _Problems) -> None:
    typed["distinct_id"] = pc.coalesce(typed["distinct_id"], typed["customer_no"])
    typed["source"] = pc.coalesce(typed["source"], pa.scalar("import"))
    names = typed["event"]
    valid_name = pc.match_substring_regex(names, EVENT_NAME.pattern)
    wrong = np.flatnonzero(pc.and_(pc.is_valid(names), pc.invert(valid_name)).to_numpy(zero_copy_only=False))
    problems.add_many(wrong, "event", names, "event name must be letters, digits, _ or $ (at most 100)")
    typed["event_id"] = pc.coalesce(typed["event_id"], _derived_event_ids(typed))


def _derived_event_ids(typed: dict[str, pa.Array]) -> pa.Array:
    # A stable id from the event's content makes re-importing the same history idempotent.
    parts = zip(
        typed["event"].to_pylist(),
        typed["distinct_id"].to_pylist(),
        pc.cast(typed["time"], pa.int64()).to_pylist(),
        typed["properties"].to_pylist(),
        strict=True,
    )
    ids = [hashlib.sha256(orjson.dumps(list(p))).hexdigest()[:32] for p in parts]
    return pa.array(ids, type=pa.string())


def _check_values(spec: TableSpec, typed: dict[str, pa.Array], problems: _Problems) -> None:
    for column in spec.columns:
        values = typed[column.name]
        already_bad = set(problems.by_position)
        if column.required:
            missing = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))
            missing = np.array([p for p in missing if p not in already_bad], dtype=np.int64)
            problems.add_many(missing, column.name, None, "a value is required")
        if column.choices is not None:
            typed[column.name] = _check_choices(column, values, problems)
        if column.min_value is not None:
            below = pc.less(values, pa.scalar(column.min_value, values.type))
            positions = np.flatnonzero(pc.fill_null(below, False).to_numpy(zero_copy_only=False))
            problems.add_many(positions, column.name, values, f"must be at least {column.min_value:g}")


def _check_choices(column: ColumnSpec, values: pa.Array, problems: _Problems) -> pa.Array:
    choices = pa.array(column.choices)
    known = pc.is_in(values, value_set=choices)
    if column.aliases and not pc.all(pc.fill_null(known, True)).as_py():
        values = _apply_aliases(values, known, column)
        known = pc.is_in(values, value_set=choices)
    unknown = np.flatnonzero(pc.and_(pc.is_valid(values), pc.invert(known)).to_numpy(zero_copy_only=False))
    expected = ", ".join(column.choices or ())
    problems.add_many(unknown, column.name, values, f"unknown value (expected one of {expected})")
    return values


def _apply_aliases(values: pa.Array, known: pa.Array, column: ColumnSpec) -> pa.Array:
    lookup = column.aliases
    mapped = [
        v if ok or v is None else lookup.get(v, lookup.get(v.lower(), v))
        for v, ok in zip(values.to_pylist(), known.to_pylist(), strict=True)
    ]
    return pa.array(mapped, type=pa.string())


def _check_duplicate_keys(spec: TableSpec, typed: dict[str, pa.Array], problems: _Problems) -> None:
    keys = pa.table({name: typed[name] for name in spec.key})
    counts = keys.group_by(list(spec.key)).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts["count_all"], 1))
    if duplicated.num_rows == 0:
        return
    positions = keys.append_column("_pos", pa.array(np.arange(keys.num_rows, dtype=np.int64)))
    groups = positions.join(duplicated.select(list(spec.key)), keys=list(spec.key), join_type="inner")
    grouped = groups.group_by(list(spec.key)).aggregate([("_pos", "list")])
    label = "/".join(spec.key)
    for group in grouped["_pos_list"].to_pylist():
        group = sorted(group)
        rows = ", ".join(str(int(problems.rows[p])) for p in group[:5])
        for position in group:
            problems.add(
                position, label, _key_text(typed, spec.key, position), f"duplicate key (rows {rows})"
            )


def _key_text(typed: dict[str, pa.Array], key: tuple[str, ...], position: int) -> str:
    return "/".join(str(typed[name][position].as_py()) for name in key)


def _partition(
    spec: TableSpec, typed: dict[str, pa.Array], business_date: date | None, tz: ZoneInfo
) -> pa.Array:
    count = len(typed[spec.key[0]])
    if spec.partition_by == "snapshot":
        return pa.array([business_date] * count, type=pa.date32())
    if spec.partition_by == "date":
        return typed["date"]
    local = pc.local_timestamp(typed["time"].cast(pa.timestamp("us", tz=str(tz))))
    return pc.cast(local, pa.date32())


def _attributes(table: pa.Table, extras: list[str]) -> pa.Array:
    if not extras:
        return pa.nulls(table.num_rows, pa.string())
    columns = {name: table[name].to_pylist() for name in extras}
    out = []
    for i in range(table.num_rows):
        values = {name: columns[name][i] for name in extras if columns[name][i] is not None}
        out.append(orjson.dumps(values, default=str).decode() if values else None)
    return pa.array(out, type=pa.string())
