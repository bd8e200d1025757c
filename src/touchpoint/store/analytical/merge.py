"""Pure Arrow operations the store uses to combine partitions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def upsert_by_key(existing: pa.Table | None, incoming: pa.Table, key: Sequence[str]) -> pa.Table:
    """Rows of `existing` whose key is not in `incoming`, followed by all of `incoming`."""
    if existing is None or existing.num_rows == 0:
        return incoming
    if incoming.num_rows == 0:
        return existing
    existing = align_schema(existing, incoming.schema)
    keys = incoming.select(list(key))
    kept = existing.join(keys, keys=list(key), join_type="left anti", use_threads=True)
    kept = kept.select(incoming.schema.names)
    return pa.concat_tables([align_schema(kept, incoming.schema), incoming])


def align_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder, cast and fill columns so `table` matches `schema` (missing columns become nulls)."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(pc.cast(table[field.name], field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def split_by_partition(table: pa.Table, column: str) -> dict[object, pa.Table]:
    """Split a table into one table per distinct value of `column` (the column itself is dropped).

    Rows keep their order within each part. One stable sort and zero-copy slices, rather than one filter
    pass over the whole table per value (a year of dates made that the slowest step of a large write)."""
    if table.num_rows == 0:
        return {}
    ordered = table.take(pc.sort_indices(table[column]))
    runs = pc.run_end_encode(ordered[column].combine_chunks())
    parts: dict[object, pa.Table] = {}
    start = 0
    for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
        parts[value] = ordered.slice(start, end - start).drop_columns([column])
        start = end
    return parts


def last_by_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """`table` with one row per key, the last occurrence winning (a batch naming a key twice means the
    later one)."""
    if table.num_rows < 2:
        return table
    positions = pa.array(np.arange(table.num_rows, dtype=np.int64))
    indexed = table.select(list(key)).append_column("_position", positions)
    last = indexed.group_by(list(key), use_threads=False).aggregate([("_position", "max")])
    if last.num_rows == table.num_rows:
        return table
    return table.take(pa.array(np.sort(last["_position_max"].to_numpy())))  # in the batch's order


def drop_keys(table: pa.Table, keys: pa.Table, key: Sequence[str]) -> pa.Table:
    """Rows of `table` whose key is not among the rows of `keys` (a table of the key columns)."""
    if table.num_rows == 0 or keys.num_rows == 0:
        return table
    kept = table.join(keys.select(list(key)), keys=list(key), join_type="left anti", use_threads=True)
    return kept.select(table.column_names).cast(table.schema)


KeyBound = str | int


def key_range(table: pa.Table, column: str) -> tuple[KeyBound, KeyBound] | None:
    """The smallest and largest value of a string or integer key column, or None when it cannot be told.

    A partition's range lets a writer skip partitions that cannot hold a key (most trade ids grow with time).
    """
    values = table[column]
    if table.num_rows == 0 or not (pa.types.is_string(values.type) or pa.types.is_integer(values.type)):
        return None
    bounds = pc.min_max(values).as_py()
    if bounds["min"] is None or bounds["max"] is None:
        return None
    return bounds["min"], bounds["max"]
