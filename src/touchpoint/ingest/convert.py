"""Turning raw columns into typed ones, row by row accountable.

Each converter takes the column as read and returns the typed column (null where a value is bad) and the
positions of the bad values. The vectorised Arrow path handles clean columns; only a column that fails it is
walked value by value, to say exactly which rows are wrong and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.ingest.model import ARROW_TYPES, ColumnSpec, Kind

TRUE_WORDS = ("true", "t", "1", "y", "yes", "是")
FALSE_WORDS = ("false", "f", "0", "n", "no", "否")
_OFFSET = r"(Z|z|[+-]\d{2}:?\d{2})$"
_EPOCH_MS = re.compile(r"^\d{10,16}$")


@dataclass
class Converted:
    """A typed column and the reason for each bad position."""

    values: pa.Array
    bad: dict[int, str]


def convert_column(
    column: pa.ChunkedArray | pa.Array, spec: ColumnSpec, tz: ZoneInfo, naive_ok: bool
) -> Converted:
    """Convert one raw column to the kind `spec` declares."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    target = ARROW_TYPES[spec.kind]
    if spec.kind is Kind.BOOL:
        return _to_bool(array)
    if spec.kind is Kind.TIMESTAMP:
        return _to_timestamp(array, tz, naive_ok)
    if spec.kind is Kind.JSON:
        return _to_json(array)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        text = _clean_text(array)
        if spec.kind is Kind.STRING:
            return Converted(pc.cast(text, pa.string()), {})
        if spec.kind is Kind.DATE:
            text = _normalise_date_text(text)
        return _cast_or_walk(text, target, _PARSERS[spec.kind])
    if spec.kind is Kind.STRING:
        return Converted(pc.cast(array, pa.string()), {})
    return _cast_or_walk(array, target, _PARSERS[spec.kind])


def _clean_text(array: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(pc.cast(array, pa.string()))
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _cast_or_walk(array: pa.Array, target: pa.DataType, parse: Callable[[Any], Any]) -> Converted:
    try:
        return Converted(pc.cast(array, target), {})
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _walk(array.to_pylist(), target, parse)


def _walk(values: list[Any], target: pa.DataType, parse: Callable[[Any], Any]) -> Converted:
    out: list[Any] = []
    bad: dict[int, str] = {}
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(parse(value))
        except (ValueError, TypeError, OverflowError) as exc:
            bad[i] = str(exc)
            out.append(None)
    return Converted(pa.array(out, type=target), bad)


def _parse_int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError("not a whole number")
    return int(text)


def _parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        raise ValueError("not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return number


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    text = re.sub(r"^(\d{4}-\d{2}-\d{2})[ T].*$", r"\1", text)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("not a date (expected YYYY-MM-DD)") from None


_PARSERS: dict[Kind, Callable[[Any], Any]] = {
    Kind.INT: _parse_int,
    Kind.FLOAT: _parse_float,
    Kind.DATE: _parse_date,
}


def _normalise_date_text(text: pa.Array) -> pa.Array:
    text = pc.replace_substring(text, "/", "-")
    text = pc.replace_substring_regex(text, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    return pc.replace_substring_regex(text, r"^(\d{4}-\d{2}-\d{2})[ T].*$", r"\1")


def _to_bool(array: pa.Array) -> Converted:
    if pa.types.is_boolean(array.type):
        return Converted(array, {})
    words = pc.utf8_lower(_clean_text(pc.cast(array, pa.string())))
    is_true = pc.is_in(words, value_set=pa.array(TRUE_WORDS))
    is_false = pc.is_in(words, value_set=pa.array(FALSE_WORDS))
    known = pc.or_(is_true, is_false)
    values = pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
    bad_positions = np.flatnonzero(
        pc.and_(pc.is_valid(words), pc.invert(known)).to_numpy(zero_copy_only=False)
    )
    reason = f"not a yes/no value (expected one of {', '.join(TRUE_WORDS + FALSE_WORDS)})"
    return Converted(values, {int(i): reason for i in bad_positions})


def _to_json(array: pa.Array) -> Converted:
    text = _clean_text(pc.cast(array, pa.string()))
    is_object = pc.starts_with(text, "{")
    bad_positions = np.flatnonzero(
        pc.and_(pc.is_valid(text), pc.invert(is_object)).to_numpy(zero_copy_only=False)
    )
    values = pc.if_else(is_object, text, pa.scalar(None, pa.string()))
    return Converted(values, {int(i): "properties must be a JSON object" for i in bad_positions})


def _to_timestamp(array: pa.Array, tz: ZoneInfo, naive_ok: bool) -> Converted:
    target = ARROW_TYPES[Kind.TIMESTAMP]
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            if not naive_ok:
                return _walk(array.to_pylist(), target, _timestamp_parser(tz, naive_ok))
            array = pc.assume_timezone(array, timezone=str(tz))
        return Converted(pc.cast(array, target), {})
    if pa.types.is_integer(array.type):
        return Converted(pc.cast(pc.multiply(array, 1000), pa.int64()).cast(target), {})
    text = _clean_text(array)
    fast = _timestamp_fast_path(text, tz, naive_ok)
    if fast is not None:
        return Converted(fast, {})
    return _walk(text.to_pylist(), target, _timestamp_parser(tz, naive_ok))


def _timestamp_fast_path(text: pa.Array, tz: ZoneInfo, naive_ok: bool) -> pa.Array | None:
    target = ARROW_TYPES[Kind.TIMESTAMP]
    present = pc.sum(pc.is_valid(text)).as_py() or 0
    with_offset = pc.sum(pc.match_substring_regex(text, _OFFSET)).as_py() or 0
    epochs = pc.sum(pc.match_substring_regex(text, _EPOCH_MS.pattern)).as_py() or 0
    try:
        if epochs == present:
            millis = pc.cast(text, pa.int64())
            return pc.cast(pc.multiply(millis, 1000), pa.int64()).cast(target)
        if with_offset == present:
            return pc.cast(pc.replace_substring(text, "/", "-"), target)
        if with_offset == 0 and epochs == 0 and naive_ok:
            naive = pc.cast(pc.replace_substring(text, "/", "-"), pa.timestamp("us"))
            return pc.cast(pc.assume_timezone(naive, timezone=str(tz)), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def _timestamp_parser(tz: ZoneInfo, naive_ok: bool) -> Callable[[Any], datetime]:
    def parse(value: Any) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            text = str(value).strip()
            if _EPOCH_MS.fullmatch(text):
                return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
            try:
                parsed = datetime.fromisoformat(text.replace("/", "-"))
            except ValueError:
                raise ValueError(
                    "not a time (expected ISO 8601, e.g. 2026-01-05T09:30:00+08:00, or epoch ms)"
                ) from None
        if parsed.tzinfo is None:
            if not naive_ok:
                raise ValueError("time has no UTC offset (add +08:00 or Z, or send epoch milliseconds)")
            parsed = parsed.replace(tzinfo=tz)
        return parsed.astimezone(UTC)

    return parse
