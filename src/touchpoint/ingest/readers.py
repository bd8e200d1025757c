"""Reading import files into raw Arrow tables: CSV (UTF-8 or GBK), Parquet, JSON Lines.

Readers only parse; they never judge values. Rows the parser itself cannot read (a CSV line with the wrong
number of fields, a JSON line that is not an object) come back as row errors, with the file row number.
A CSV file is first read once whole, in chunks, to judge its encoding from every line (`encoding`) and to
find its blank lines; once pyarrow has parsed it, those and the line breaks kept in quoted values give the
line on which each row starts (`csvlines`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from touchpoint.core.errors import ValidationError
from touchpoint.ingest.csvlines import RecordLines, blank_lines, line_breaks, record_lines
from touchpoint.ingest.encoding import Encoding, EncodingJudge, encoding_named
from touchpoint.ingest.model import RowError

FileFormat = Literal["csv", "parquet", "jsonl"]
Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while a file is read."""

SCAN_BYTES = 4 << 20
"""How much of a CSV file is judged at a time, in whole lines (tests make it small to cross chunk edges)."""
_BLOCK_BYTES = 8 << 20
"""pyarrow's block: no CSV record may be longer."""
_EVENT_FIELDS = ("event_id", "event", "customer_no", "distinct_id", "login_id", "anonymous_id", "time")


@dataclass
class RawTable:
    """A parsed file: its columns as read, the file row number of each table row, and unreadable rows."""

    table: pa.Table
    row_numbers: np.ndarray
    unreadable: list[RowError] = field(default_factory=list)
    encoding: str | None = None
    header_lines: int = 0
    record_lines: RecordLines | None = None

    def line_of(self, row: int) -> int | None:
        """The file line on which table row `row` (1-based, header not counted) starts, for a CSV file."""
        return None if self.record_lines is None else self.record_lines.start_line(row)


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


def read_source(
    path: Path, fmt: FileFormat, progress: Progress | None = None, encoding: str | None = None
) -> RawTable:
    """Parse `path` as `fmt` into a RawTable; `encoding` forces a CSV file's text encoding (utf-8, gbk)."""
    forced = encoding_named(encoding)
    if not path.is_file():
        raise ValidationError(f"no such file: {path}")
    if fmt == "csv":
        return read_csv(path, progress, forced)
    readers = {"parquet": read_parquet, "jsonl": read_jsonl}
    return readers[fmt](path, progress)


def detect_encoding(text: bytes) -> Encoding:
    """The encoding of whole lines of text, judged as a CSV file's lines are (see `encoding`)."""
    judge = EncodingJudge("text")
    judge.feed(text, line_breaks(text), first_line=1)
    return judge.encoding()


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


def read_csv(path: Path, progress: Progress | None = None, encoding: str | None = None) -> RawTable:
    """Read every column as text; rows with the wrong number of fields become row errors.

    The encoding is judged from the whole file unless `encoding` forces one; a file in neither UTF-8 nor
    GBK/GB18030, or mixing them, is refused with a ValidationError naming the lines. Row errors and
    `RawTable.line_of` give the physical line where a row starts.
    """
    judging, parsing = _halves(progress, path.stat().st_size)
    detected, blank = _scan_csv(path, encoding_named(encoding), judging)
    table, header_breaks, skipped = _parse_csv(path, detected, parsing)
    rows = _rows_skipping(table.num_rows, sorted(s.number - 1 for s in skipped if s.number))
    breaks = _breaks_per_record(table, header_breaks, rows, skipped)
    lines = record_lines(breaks, blank) if breaks is not None else None
    unreadable = [
        RowError(row=s.number - 1, line=lines.start_line(s.number - 1) if lines else None, reason=s.reason)
        if s.number
        else RowError(row=0, reason=s.reason)
        for s in skipped
    ]
    return RawTable(
        table=table.rename_columns([_clean_name(n) for n in table.column_names]),
        row_numbers=rows,
        unreadable=unreadable,
        encoding=detected,
        header_lines=1,
        record_lines=lines,
    )


class _Skipped(NamedTuple):
    """A record the parser could not read: its number (the header is 1), why, and its line breaks."""

    number: int | None
    reason: str
    breaks: int


def _halves(progress: Progress | None, total: int) -> tuple[Progress | None, Progress | None]:
    """Progress for the judging pass (first half) and the parsing pass (second half) over one file."""
    if progress is None:
        return None, None
    report = progress
    return (
        lambda done, _total: report(done // 2, total),
        lambda done, _total: report((total + done) // 2, total),
    )


def _scan_csv(path: Path, forced: Encoding | None, progress: Progress | None) -> tuple[Encoding, list[int]]:
    """Judge the encoding from every line, and find the blank lines, a chunk at a time."""
    judge, blank, line = EncodingJudge(path.name, forced), [], 1
    done, total = 0, path.stat().st_size
    with path.open("rb") as handle:
        try:
            for chunk in _whole_line_chunks(handle):
                breaks = line_breaks(chunk)
                judge.feed(chunk, breaks, first_line=line)
                blank += blank_lines(chunk, breaks, first_line=line)
                line += breaks.size
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        except _OverlongLine:
            message = f"{path.name}: line {line} is longer than {_BLOCK_BYTES >> 20} MB"
            raise ValidationError(message) from None
    return judge.encoding(), blank


class _OverlongLine(Exception):
    """A line longer than the parser's block, which no record may be."""


def _whole_line_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file in chunks of about SCAN_BYTES that end at a line break (the last may not)."""
    carry = b""
    while block := handle.read(SCAN_BYTES):
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > _BLOCK_BYTES:
            raise _OverlongLine
        if cut:
            yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


def _parse_csv(
    path: Path, encoding: Encoding, progress: Progress | None
) -> tuple[pa.Table, int, list[_Skipped]]:
    """The table as the file names its columns, the line breaks inside the header, and the skipped rows."""
    names = _csv_header(path, encoding)
    skipped: list[_Skipped] = []

    def on_invalid(row: Any) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        skipped.append(_Skipped(row.number, reason, row.text.count("\n")))
        return "skip"

    total = path.stat().st_size
    with path.open("rb") as handle:
        try:
            table = pacsv.open_csv(
                _CountingReader(handle, total, progress),
                read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False, block_size=_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={variant: pa.string() for n in names for variant in (n, _clean_name(n))},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            ).read_all()
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:  # e.g. a record longer than a block
            raise ValidationError(f"{path.name} is not a readable CSV file: {exc}") from exc
    return table, sum(n.count("\n") for n in table.column_names), skipped


def _breaks_per_record(
    table: pa.Table, header_breaks: int, rows: np.ndarray, skipped: list[_Skipped]
) -> np.ndarray | None:
    """The line breaks inside each record (index 0 the header), which the parser keeps in quoted values;
    None when the parser did not number a skipped record."""
    if any(s.number is None for s in skipped):
        return None
    breaks = np.zeros(1 + table.num_rows + len(skipped), dtype=np.int64)
    breaks[0] = header_breaks
    in_rows = [counts for column in table.columns if (counts := _breaks_in_values(column)) is not None]
    if in_rows:
        breaks[rows] = np.sum(in_rows, axis=0)
    for s in skipped:
        breaks[int(s.number or 0) - 1] = s.breaks
    return breaks


def _breaks_in_values(column: pa.ChunkedArray) -> np.ndarray | None:
    """The line feeds in each value of a text column, counted in its data buffers; None when it has none."""
    feeds = [_feeds(chunk) for chunk in column.chunks]
    if not any(f.size for f in feeds):
        return None
    counts = []
    for chunk, in_chunk in zip(column.chunks, feeds, strict=True):
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        counts.append(np.diff(np.searchsorted(in_chunk, offsets)))
    return np.concatenate(counts)


def _feeds(chunk: pa.Array) -> np.ndarray:
    data = chunk.buffers()[2]
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A) if data else np.zeros(0, np.int64)


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
