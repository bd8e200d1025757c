"""Passes' results (at most one row per customer each) are put beside the customer they belong to, by number,
on the engine: one row per customer of the population, none lost."""

from __future__ import annotations

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.indicators.service import side_by_side

NUMBERS = [f"C{i}" for i in range(8)]


@settings(max_examples=100, deadline=None)
@given(
    customers=st.lists(st.sampled_from(NUMBERS), unique=True),
    found=st.lists(st.dictionaries(st.sampled_from(NUMBERS), st.integers(-5, 5)), min_size=1, max_size=3),
)
def test_each_value_lands_beside_its_customer(customers: list[str], found: list[dict[str, int]]) -> None:
    population = pa.table(
        {"customer_no": pa.array(customers, pa.string()), "uid": list(range(len(customers)))}
    )
    parts = [
        pa.table(
            {"customer_no": pa.array(list(f), pa.string()), f"v{k}": pa.array(list(f.values()), pa.int64())}
        )
        for k, f in enumerate(found)
    ]
    got = side_by_side(ibis.memtable(population), [ibis.memtable(p) for p in parts]).to_pyarrow()
    assert got.column_names == ["customer_no", "uid", *(f"v{k}" for k in range(len(found)))]
    for row in got.to_pylist():
        for k, f in enumerate(found):
            assert row[f"v{k}"] == f.get(row["customer_no"])  # None where the pass did not find them
    assert sorted(got["customer_no"].to_pylist()) == sorted(customers)
