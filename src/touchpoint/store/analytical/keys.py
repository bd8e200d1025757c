"""Where a table's keys live: the partitions holding any of a set of keys, found by reading key columns only.

A table whose key is unique across all its partitions (a trade whose corrected time moves it to another
Beijing day) must find a re-sent key's old row wherever it is. Partitions whose recorded key range cannot
hold any of the keys are skipped without opening them; the others are scanned for their key columns alone,
in parallel, so a million-row table answers in a fraction of a second (docs/ingest.md gives the figure).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from touchpoint.store.analytical.manifest import PartitionInfo
from touchpoint.store.analytical.merge import KeyBound


def sorted_first_keys(keys: pa.Table) -> list[KeyBound] | None:
    """The distinct values of the first key column in order, when its type allows range pruning."""
    first = keys.column(0)
    if not (pa.types.is_string(first.type) or pa.types.is_integer(first.type)):
        return None
    values = pc.unique(first.combine_chunks())
    return values.take(pc.sort_indices(values)).to_pylist()  # type: ignore[no-any-return]


def may_hold(info: PartitionInfo, first_keys: list[KeyBound] | None) -> bool:
    """False only when the partition's recorded key range holds none of `first_keys` (sorted)."""
    if first_keys is None or info.key_min is None or info.key_max is None:
        return True
    if not first_keys:
        return False
    if type(info.key_min) is not type(first_keys[0]):  # a range recorded for another key type proves nothing
        return True
    position = bisect_left(first_keys, info.key_min)
    return position < len(first_keys) and first_keys[position] <= info.key_max  # type: ignore[operator]


def partitions_holding(
    table_dir: Path, candidates: Sequence[PartitionInfo], keys: pa.Table, partition_column: str
) -> set[date]:
    """The dates of the candidate partitions whose files hold at least one row of `keys` (key columns)."""
    if not candidates or keys.num_rows == 0:
        return set()
    names = keys.column_names
    hive = ds.partitioning(pa.schema([(partition_column, pa.date32())]), flavor="hive")
    dataset = ds.dataset(
        [str(table_dir / p.file) for p in candidates],
        format="parquet",
        partitioning=hive,
        partition_base_dir=str(table_dir),
    )
    first = keys.column(0).combine_chunks()
    found = dataset.to_table(columns=[*names, partition_column], filter=pc.field(names[0]).isin(first))
    if len(names) > 1:  # the first column narrowed the scan; the whole key decides
        found = found.join(keys, keys=names, join_type="left semi")
    return set(pc.unique(found[partition_column]).to_pylist())
