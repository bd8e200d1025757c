"""Pure Arrow operations the store uses to combine partitions."""

from __future__ import annotations

from collections.abc import Sequence

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
    """Split a table into one table per distinct value of `column` (the column itself is dropped)."""
    if table.num_rows == 0:
        return {}
    values = pc.unique(table[column]).to_pylist()
    parts = {}
    for value in values:
        mask = pc.equal(table[column], pa.scalar(value, table.schema.field(column).type))
        parts[value] = table.filter(mask).drop_columns([column])
    return parts
