"""A key unique across the whole table (issue 13, fault 5) and every named version kept (fault 10).

The expected state comes from a brute-force pandas model of the same sequence of writes: a re-sent key
replaces its old row wherever it lives; a replaced date holds exactly what was given. Every commit must then
be readable as of its version, equal to the model's state after that write.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from touchpoint.store import AnalyticalStore, TableLayout
from touchpoint.store.analytical import catalog as catalog_module
from touchpoint.store.analytical import files as files_module
from touchpoint.store.backends.duckdb import DuckDBBackend

LAYOUT = TableLayout(
    name="facts",
    schema=pa.schema([("k", pa.string()), ("v", pa.int64())]),
    key=("k",),
    key_scope="table",
    keep_history=True,
)
DATES = [date(2024, 11, 29), date(2024, 11, 30), date(2024, 12, 1), date(2024, 12, 2)]
D1, D2, D3 = DATES[:3]

Row = tuple[str, int, date]
Write = tuple[str, date | None, list[Row]]
"""("upsert", None, rows) or ("replace", the date, rows all on that date)."""


def _store(root: Path, retention: timedelta = catalog_module.HISTORY_RETENTION) -> AnalyticalStore:
    return AnalyticalStore(root, [LAYOUT], DuckDBBackend(), history_retention=retention)


def _arrow(rows: list[Row]) -> pa.Table:
    keys, values, dts = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "k": pa.array(keys, pa.string()),
            "v": pa.array(values, pa.int64()),
            "dt": pa.array(dts, pa.date32()),
        }
    )


def _apply(store: AnalyticalStore, write: Write, origin: str) -> None:
    kind, day, rows = write
    if kind == "upsert":
        store.upsert("facts", _arrow(rows), origin=origin)
    else:
        assert day is not None
        store.replace_partitions("facts", {day: _arrow(rows).drop_columns(["dt"])}, origin=origin)


def _model_after(model: pd.DataFrame, write: Write) -> pd.DataFrame:
    """The brute-force answer: every key once, where and as its latest write put it."""
    kind, day, rows = write
    batch = pd.DataFrame(rows, columns=["k", "v", "dt"]).drop_duplicates("k", keep="last")
    survivors = model[~model["k"].isin(batch["k"])]
    if kind == "replace":
        survivors = survivors[survivors["dt"] != day]
    return pd.concat([survivors, batch], ignore_index=True)


def _stored(store: AnalyticalStore) -> pd.DataFrame:
    return store.table("facts").to_pyarrow().to_pandas()


def _as_set(frame: pd.DataFrame) -> set[tuple[str, int, date]]:
    return {(r.k, int(r.v), r.dt) for r in frame.itertuples()}


keys = st.sampled_from("abcdef")
rows = st.lists(st.tuples(keys, st.integers(0, 99), st.sampled_from(DATES)), max_size=8)
upserts = st.builds(lambda r: ("upsert", None, r), rows)
replaces = st.sampled_from(DATES).flatmap(
    lambda day: st.lists(st.tuples(keys, st.integers(0, 99)), max_size=4, unique_by=lambda r: r[0]).map(
        lambda pairs: ("replace", day, [(k, v, day) for k, v in pairs])
    )
)
writes = st.lists(st.one_of(upserts, replaces), min_size=1, max_size=7)


@settings(max_examples=60, deadline=None)
@given(writes=writes)
@example(writes=[("upsert", None, [("a", 1, D1)]), ("upsert", None, [("a", 2, D2)])])  # moved; D1 emptied
@example(  # moved to another day and back
    writes=[
        ("upsert", None, [("a", 1, D1), ("b", 1, D1)]),
        ("upsert", None, [("a", 2, D2)]),
        ("upsert", None, [("a", 3, D1)]),
    ]
)
@example(writes=[("upsert", None, [("a", 1, D1), ("a", 2, D2)])])  # one batch names a key twice: last wins
@example(  # the batch also writes the key's old date: the old row must still go
    writes=[
        ("upsert", None, [("a", 1, D1), ("b", 1, D1)]),
        ("upsert", None, [("a", 2, D2), ("b", 2, D1)]),
    ]
)
@example(writes=[("upsert", None, [("a", 1, D1)]), ("replace", D2, [("a", 5, D2)])])  # replace moves a key
@example(writes=[("upsert", None, [("a", 1, D1), ("b", 2, D3)]), ("replace", D1, [])])  # a date emptied
def test_every_key_once_with_its_latest_values_and_every_version_readable(
    tmp_path_factory: pytest.TempPathFactory, writes: list[Write]
) -> None:
    store = _store(tmp_path_factory.mktemp("keys"))
    model = pd.DataFrame(
        {"k": pd.Series(dtype=str), "v": pd.Series(dtype=int), "dt": pd.Series(dtype=object)}
    )
    states: dict[int, pd.DataFrame] = {}
    created_at: dict[date, int] = {}
    for number, write in enumerate(writes):
        _apply(store, write, origin=f"run{number}")
        model = _model_after(model, write)
        version = store.manifest("facts").version
        states[version] = model
        # a write creates the dates its rows land on (a key named twice lands on its last date only)
        landed = {k: day for k, _, day in write[2]}
        for day in [write[1]] if write[0] == "replace" else landed.values():
            assert day is not None
            created_at.setdefault(day, version)

    stored = _stored(store)
    assert stored["k"].is_unique, stored
    assert _as_set(stored) == _as_set(model)
    manifest = store.manifest("facts")
    assert {p.dt: p.rows for p in manifest.partitions.values()} == {
        day: int((model["dt"] == day).sum()) for day in created_at
    }
    for version, state in states.items():
        for day in DATES:
            as_of = store.read_partition("facts", day, as_of_version=version)
            if day not in created_at or created_at[day] > version:
                assert as_of is None
                continue
            assert as_of is not None
            expected = state[state["dt"] == day]
            assert sorted(zip(as_of["k"].to_pylist(), as_of["v"].to_pylist(), strict=True)) == sorted(
                zip(expected["k"], expected["v"].astype(int), strict=True)
            ), (version, day)


def test_each_version_names_its_writer_and_the_history_lists_them(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.upsert("facts", _arrow([("a", 1, D1), ("b", 1, D1)]), origin="run-1")
    store.upsert("facts", _arrow([("a", 2, D2)]), origin="run-2")
    versions = store.partition_versions("facts", D1)
    assert [(p.version, p.origin, p.rows, p.superseded_by) for p in versions] == [
        (1, "run-1", 2, 2),
        (2, "run-2", 1, None),
    ]
    assert store.version_written_by("facts", "run-1") == 1
    assert store.version_written_by("facts", "run-2") == 2
    assert store.version_written_by("facts", "run-3") is None


def test_unnamed_writers_leave_no_history(tmp_path: Path) -> None:
    # The event compactor rewrites today's partition every few seconds; keeping each pass would never end.
    store = _store(tmp_path)
    store.upsert("facts", _arrow([("a", 1, D1)]))
    store.upsert("facts", _arrow([("a", 2, D1)]), origin="run-2")
    store.upsert("facts", _arrow([("a", 3, D1)]))
    assert [p.origin for p in store.partition_versions("facts", D1)] == ["run-2", None]
    with pytest.raises(LookupError, match="no longer kept"):
        store.read_partition("facts", D1, as_of_version=1)
    kept = store.read_partition("facts", D1, as_of_version=2)
    assert kept is not None
    assert kept["v"].to_pylist() == [2]


def test_history_files_outlive_the_grace_period_until_their_retention_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "GARBAGE_GRACE_SECONDS", -1)  # collect every unnamed file at once
    store = _store(tmp_path / "kept")
    for value in (1, 2, 3):
        store.upsert("facts", _arrow([("a", value, D1)]), origin=f"run-{value}")
    first = store.read_partition("facts", D1, as_of_version=1)
    assert first is not None
    assert first["v"].to_pylist() == [1]

    short = _store(tmp_path / "expiring", retention=timedelta(0))
    for value in (1, 2, 3):
        short.upsert("facts", _arrow([("a", value, D1)]), origin=f"run-{value}")
    # with no retention only the version the last commit replaced is still named
    assert [p.version for p in short.partition_versions("facts", D1)] == [2, 3]
    with pytest.raises(LookupError):
        short.read_partition("facts", D1, as_of_version=1)
    assert len(list((tmp_path / "expiring" / "facts").glob("dt=*/*.parquet"))) == 2


def test_a_manifest_written_before_versions_were_recorded_still_works(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.upsert("facts", _arrow([("a", 1, D1), ("b", 1, D2)]))
    path = tmp_path / "facts" / "_manifest.json"
    body = orjson.loads(path.read_bytes())
    legacy: dict[str, Any] = {
        "version": body["version"],
        "partitions": {
            dt: {k: p[k] for k in ("rows", "file", "bytes")} for dt, p in body["partitions"].items()
        },
    }
    path.write_bytes(orjson.dumps(legacy))
    store.upsert("facts", _arrow([("a", 2, D3)]), origin="run-2")  # no key ranges recorded: a scan finds a
    assert _as_set(_stored(store)) == {("b", 1, D2), ("a", 2, D3)}


# ---- crash safety: a correction that moves keys commits every date it touches, or none --------------


def _moved_state(tmp_path: Path) -> AnalyticalStore:
    store = _store(tmp_path)
    store.upsert("facts", _arrow([("a", 1, D1), ("b", 1, D1), ("c", 1, D2)]), origin="run-1")
    return store


def _fail_on_call(number: int, real: Any) -> Any:
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == number:
            raise OSError("disk full")
        return real(*args, **kwargs)

    return failing


@pytest.mark.parametrize(
    ("target", "call"),
    [
        ("write_parquet_atomic", 1),
        ("write_parquet_atomic", 2),
        ("write_parquet_atomic", 3),
        ("write_bytes_atomic", 1),
    ],
)
def test_a_crash_while_moving_keys_leaves_the_previous_version_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, call: int
) -> None:
    store = _moved_state(tmp_path)
    before = _as_set(_stored(store))
    # a correction moves a to D2 and c to D3: D1 loses a, D2 loses c and gains a, D3 gains c (three files)
    monkeypatch.setattr(catalog_module, target, _fail_on_call(call, getattr(files_module, target)))
    with pytest.raises(OSError, match="disk full"):
        store.upsert("facts", _arrow([("a", 2, D2), ("c", 2, D3)]), origin="run-2")
    monkeypatch.undo()
    reopened = _store(tmp_path)
    assert _as_set(_stored(reopened)) == before
    assert reopened.manifest("facts").version == 1
    reopened.upsert("facts", _arrow([("a", 2, D2), ("c", 2, D3)]), origin="run-3")
    assert _as_set(_stored(reopened)) == {("a", 2, D2), ("b", 1, D1), ("c", 2, D3)}


def test_a_write_within_its_partitions_leaves_other_days_unread(tmp_path: Path) -> None:
    """The event compactor's mode: only the days written are searched (it never moves a key)."""
    store = _store(tmp_path)
    store.upsert("facts", _arrow([("a", 1, D1), ("b", 2, D2)]))
    store.upsert("facts", _arrow([("b", 3, D2), ("c", 4, D3)]), within_partitions=True)
    rows = store.table("facts").to_pyarrow().sort_by("k").to_pylist()
    assert [(r["k"], r["v"], r["dt"]) for r in rows] == [("a", 1, D1), ("b", 3, D2), ("c", 4, D3)]
    store.upsert("facts", _arrow([("b", 5, D1)]), within_partitions=True)
    rows = store.table("facts").to_pyarrow().sort_by([("k", "ascending"), ("dt", "ascending")]).to_pylist()
    assert [(r["k"], r["v"]) for r in rows] == [("a", 1), ("b", 5), ("b", 3), ("c", 4)]  # D2 was not read
