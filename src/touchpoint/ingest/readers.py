"""Reading import files into raw Arrow tables: CSV (UTF-8 or GBK), Parquet, JSON Lines.

Readers only parse; they never judge values. Rows the parser itself cannot read (a CSV line with the wrong
number of fields, a JSON line that is not an object) come back as row errors, with the file row number.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from touchpoint.core.errors import ValidationError
from touchpoint.ingest.model import RowError

FileFormat = Literal["csv", "parquet", "jsonl"]
Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while a file is read."""

_SNIFF_BYTES = 4 << 20
_EVENT_FIELDS = ("event_id", "event", "customer_no", "distinct_id", "login_id", "anonymous_id", "time")


@dataclass
class RawTable:
    """A parsed file: its columns as read, the file row number of each table row, and unreadable rows."""

    table: pa.Table
    row_numbers: np.ndarray
    unreadable: list[RowError] = field(default_factory=list)
    encoding: str | None = None
    header_lines: int = 0


def detect_format(path: Path, declared: str | None = None) -> FileFormat:
    """The file format from `declared` or the file name (.csv, .parquet, .jsonl/.json/.ndjson)."""
    name = (declared or path.suffix.lstrip(".")).lower()
    formats: dict[str, FileFormat] = {
        "csv": "csv",
        "txt": "csv",
        "parquet": "parquet",
        "pq": "parquet",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "jsonl",
    }
    if name not in formats:
        raise ValidationError(f"cannot tell the format of {path.name!r}: use .csv, .parquet or .jsonl")
    return formats[name]


def read_source(path: Path, fmt: FileFormat, progress: Progress | None = None) -> RawTable:
    """Parse `path` as `fmt` into a RawTable."""
    if not path.is_file():
        raise ValidationError(f"no such file: {path}")
    readers = {"csv": read_csv, "parquet": read_parquet, "jsonl": read_jsonl}
    return readers[fmt](path, progress)


def detect_encoding(sample: bytes) -> str:
    """`utf-8` when the sample decodes as UTF-8 (a cut multi-byte tail allowed), else GB18030 (⊇ GBK)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


class _CountingReader(io.RawIOBase):
    """A file wrapper that reports how many bytes have been read."""

    def __init__(self, handle: BinaryIO, total: int, progress: Progress | None) -> None:
        self._handle = handle
        self._total = total
        self._done = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        self._done += len(data)
        if self._progress is not None:
            self._progress(self._done, self._total)
        return len(data)


def read_csv(path: Path, progress: Progress | None = None) -> RawTable:
    """Read every column as text; rows with the wrong number of fields become row errors."""
    with path.open("rb") as handle:
        encoding = detect_encoding(handle.read(_SNIFF_BYTES))
    names = _csv_header(path, encoding)
    skipped: list[tuple[int | None, str]] = []

    def on_invalid(row: Any) -> str:
        skipped.append((row.number, f"expected {row.expected_columns} fields, found {row.actual_columns}"))
        return "skip"

    total = path.stat().st_size
    with path.open("rb") as handle:
        reader = pacsv.open_csv(
            _CountingReader(handle, total, progress),
            read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={variant: pa.string() for n in names for variant in (n, _clean_name(n))},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        table = reader.read_all()
    table = table.rename_columns([_clean_name(n) for n in table.column_names])
    unreadable = [RowError(row=(n - 1) if n else 0, line=n, reason=reason) for n, reason in skipped]
    rows = _rows_skipping(table.num_rows, sorted(e.row for e in unreadable))
    return RawTable(table=table, row_numbers=rows, unreadable=unreadable, encoding=encoding, header_lines=1)


def _csv_header(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as handle:
        head = handle.read(1 << 16).decode(encoding, errors="replace")
    first = next(csv.reader(io.StringIO(head)), [])
    names = [_clean_name(n) for n in first]
    if not names or all(not n for n in names):
        raise ValidationError(f"{path.name}: the first line must be a header naming the columns")
    return first


def _clean_name(name: str) -> str:
    return name.lstrip("\ufeff").strip()


def _rows_skipping(count: int, skipped_rows: list[int]) -> np.ndarray:
    """File row numbers of `count` parsed rows, given the row numbers the parser skipped."""
    rows = np.arange(1, count + 1, dtype=np.int64)
    for skipped in skipped_rows:
        rows[rows >= skipped] += 1
    return rows


def read_parquet(path: Path, progress: Progress | None = None) -> RawTable:
    """Read a Parquet file with its own types."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"{path.name} is not a readable Parquet file: {exc}") from exc
    if progress is not None:
        progress(1, 1)
    table = table.rename_columns([_clean_name(n) for n in table.column_names])
    return RawTable(table=table, row_numbers=np.arange(1, table.num_rows + 1, dtype=np.int64))


def read_jsonl(path: Path, progress: Progress | None = None) -> RawTable:
    """Read one JSON event per line; fields outside the event schema are kept inside `properties`."""
    columns: dict[str, list[Any]] = {name: [] for name in (*_EVENT_FIELDS, "properties")}
    row_numbers: list[int] = []
    unreadable: list[RowError] = []
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            done += len(line)
            if progress is not None and number % 50_000 == 0:
                progress(done, total)
            if not line.strip():
                continue
            record = _parse_json_object(line, number, unreadable)
            if record is None:
                continue
            _append_event(columns, record)
            row_numbers.append(number)
    if progress is not None:
        progress(total, total)
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in columns.items()})
    return RawTable(
        table=table,
        row_numbers=np.asarray(row_numbers, dtype=np.int64),
        unreadable=unreadable,
        encoding="utf-8",
    )


def _parse_json_object(line: bytes, number: int, unreadable: list[RowError]) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        unreadable.append(RowError(row=number, reason=f"not valid JSON: {exc}"))
        return None
    if not isinstance(record, dict):
        unreadable.append(RowError(row=number, reason="each line must be a JSON object"))
        return None
    return record


def _append_event(columns: dict[str, list[Any]], record: dict[str, Any]) -> None:
    properties = record.get("properties")
    extras = {k: v for k, v in record.items() if k not in _EVENT_FIELDS and k != "properties"}
    if isinstance(properties, dict) and extras:
        properties = {**extras, **properties}
    elif properties is None and extras:
        properties = extras
    for name in _EVENT_FIELDS:
        value = record.get(name)
        columns[name].append(None if value is None else _as_text(value))
    columns["properties"].append(None if properties is None else orjson.dumps(properties).decode())


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return orjson.dumps(value).decode()
