"""Binding the ids of imported history: each partition's pairs, and several partitions to a transaction."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.identity import service
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import ANONYMOUS, Identifier
from touchpoint.identity.observe import imported_pairs
from touchpoint.identity.service import link_business_ids, sync_imported_events
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.store.operational.schema import identity_links, identity_log

texts = st.sampled_from([None, "", "d1", "d2", "C1", "C2"])
rows = st.lists(st.tuples(texts, texts, texts, st.sampled_from([None, "import", "sensors"])), max_size=30)


def reference_pairs(table: pa.Table) -> list[tuple[str, str]]:
    """The pairs as the per-row Python reading of them had it."""
    return sorted(
        {
            (r["anonymous_id"], r["login_id"] or r["customer_no"])
            for r in table.to_pylist()
            if r["source"] == "import" and r["anonymous_id"] and (r["login_id"] or r["customer_no"])
        }
    )


@settings(max_examples=200, deadline=None)
@given(rows=rows)
def test_pairs_of_a_partition_as_read_row_by_row(rows: list[tuple[str | None, ...]]) -> None:
    names = ["anonymous_id", "login_id", "customer_no", "source"]
    table = pa.table({name: pa.array([r[n] for r in rows], pa.string()) for n, name in enumerate(names)})
    assert imported_pairs(table) == reference_pairs(table)


CUSTOMERS = ["C1", "C2", "C4"]
DAYS = [
    [("d1", "C1"), ("d2", "C1"), ("k1", "C1")],
    [("d1", "C2"), ("k1", "C2"), ("C3", "C3"), ("d3", "C3")],
    [("k1", "C3"), ("k1", "C4"), ("d4", "C4"), ("null", "C2")],
]


def _import(container: Container) -> None:
    link_business_ids(env=container, customers=[{"customer_no": c} for c in CUSTOMERS])
    start = datetime(2026, 2, 20, 2, 0, tzinfo=UTC)
    for day, pairs in enumerate(DAYS):
        data = pa.table(
            {
                "event_id": [f"e{day}-{n}" for n in range(len(pairs))],
                "event": ["login"] * len(pairs),
                "distinct_id": [login for _, login in pairs],
                "login_id": [login for _, login in pairs],
                "anonymous_id": [anonymous for anonymous, _ in pairs],
                "time": pa.array([start + timedelta(days=day)] * len(pairs), pa.timestamp("us", "UTC")),
            }
        )
        options = ImportOptions(force=True)
        import_arrow(
            env=container, principal=SYSTEM, table="events", data=data, options=options, source_name=f"d{day}"
        )


def _graph(container: Container) -> tuple[list[list[str]], Counter[str]]:
    with container.ops.begin() as connection:
        people: dict[int, list[str]] = {}
        for id_type, value, uid in connection.execute(select(identity_links.c[:3])):
            people.setdefault(uid, []).append(f"{id_type}:{value}")
        kinds = Counter(a for (a,) in connection.execute(select(identity_log.c.action)))
    return sorted(sorted(p) for p in people.values()), kinds


@pytest.mark.parametrize("batch_pairs", [2, 50_000])
def test_partitions_bound_in_order_as_pair_by_pair(
    container: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, batch_pairs: int
) -> None:
    """Whether several partitions share a transaction or not, the graph is that of binding every
    partition's sorted pairs one by one, in date order; a second sync finds nothing new."""
    _import(container)
    monkeypatch.setattr(service, "IMPORT_BATCH_PAIRS", batch_pairs)
    assert sync_imported_events(env=container, analytics=container.analytics) == sum(len(d) for d in DAYS)
    assert sync_imported_events(env=container, analytics=container.analytics) == 0
    reference = build(load_settings(tmp_path / "reference"), clock=container.clock)
    try:
        link_business_ids(env=reference, customers=[{"customer_no": c} for c in CUSTOMERS])
        with reference.ops.begin() as connection:
            graph = Graph(connection, now=container.clock.now(), source="import")
            for day in DAYS:
                for anonymous, login in sorted(day):
                    graph.bind(
                        Identifier(ANONYMOUS, anonymous), Identifier("customer_no", login), "many_to_one"
                    )
        assert _graph(container) == _graph(reference)
    finally:
        reference.close()
