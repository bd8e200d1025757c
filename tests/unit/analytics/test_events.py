"""Events read with integer person codes (`coded_events_between`, `decode_persons`) name every event's person
exactly as `events_between` does through One ID: a customer number of the event's own first, else its id's
customer, else `~uid`, else the raw id; with and without a scope. The id map is fixed here so that every
case is present: devices of a customer, an anonymous person with two devices, unlinked ids, an event whose
own customer number differs from its id's, and a customer number that reads like an anonymous person."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroaring import FrozenBitMap

from support import examples, import_events
from touchpoint.analytics import events as events_module
from touchpoint.analytics.events import (
    Persons,
    code_persons,
    coded_events_between,
    decode_persons,
    events_between,
)
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock

ID_MAP = pa.table(
    {
        "id_value": ["C1", "d1", "C2", "d2", "d3", "k4"],
        "person_uid": pa.array([1, 1, 2, 3, 3, 4], pa.int64()),
        "customer_no": ["C1", "C1", "C2", None, None, "~3"],
    }
)
IDS = ["C1", "d1", "C2", "d2", "d3", "k4", "d9", "C3"]  # d9 and C3: One ID does not know them
OWN = [None, None, None, "C1", "C2", "C3"]  # the event's own customer number
DAY = date(2026, 3, 10)
BASE = datetime(2026, 3, 10, 2, tzinfo=UTC)


@contextmanager
def _stored(rows: list[tuple[str, str | None, int]]) -> Iterator[Container]:
    """A fresh store holding `rows` (distinct id, own customer number, minutes after BASE)."""
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=5)))
        try:
            frame = pd.DataFrame(
                {
                    "event_id": [f"e{i:03d}" for i in range(len(rows))],
                    "event": ["a"] * len(rows),
                    "distinct_id": [r[0] for r in rows],
                    "customer_no": pd.Series([r[1] for r in rows], dtype=object),
                    "time": pd.Series([BASE + timedelta(minutes=r[2]) for r in rows]),
                }
            )
            import_events(container, frame)
            yield container
        finally:
            container.close()


@pytest.fixture(autouse=True)
def _fixed_id_map(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "event_id_map", lambda env: ID_MAP)


def _by_text(container: Container, scope: FrozenBitMap | None) -> dict[str, tuple[str, bool]]:
    """event_id → (person, whether a customer) as `events_between` names them."""
    read = events_between(container, ["a"], DAY, DAY, scope=scope)
    table = read.select("event_id", "person", "customer_no").to_pyarrow().to_pylist()
    return {r["event_id"]: (r["person"], r["customer_no"] is not None) for r in table}


def _by_code(container: Container, scope: FrozenBitMap | None) -> dict[str, tuple[str, bool]]:
    """event_id → (person, whether the person is a customer) read through person codes."""
    table, coded = coded_events_between(container, ["a"], DAY, DAY, scope=scope)
    columns = ["event_id", "person_code", "person_name", "is_customer"]
    rows = table.select(*columns).to_pyarrow()
    people = decode_persons(coded, rows)
    ids = rows["event_id"].to_pylist()
    return {
        e: (str(people.names[c]), bool(people.is_customer[c]))
        for e, c in zip(ids, people.codes.tolist(), strict=True)
    }


events = st.lists(
    st.tuples(st.sampled_from(IDS), st.sampled_from(OWN), st.integers(0, 600)), min_size=1, max_size=25
)


@settings(max_examples=examples(60), deadline=None)
@given(rows=events, scoped=st.sampled_from([None, [1], [3], [1, 2, 4]]))
def test_person_codes_name_persons_as_events_between_does(
    rows: list[tuple[str, str | None, int]], scoped: list[int] | None
) -> None:
    scope = None if scoped is None else FrozenBitMap(scoped)
    with _stored(rows) as container:
        by_text = _by_text(container, scope)
        by_code = _by_code(container, scope)
    assert set(by_code) == set(by_text)  # the same events, scope and all
    for event_id, (person, _) in by_text.items():
        assert by_code[event_id][0] == person
    # A person is a customer when any of their events has a customer number (resolved or own).
    customers = {person for person, customer in by_text.values() if customer}
    assert {p for p, customer in by_code.values() if customer} == customers


def test_events_whose_person_is_not_their_ids_come_named_by_text() -> None:
    rows = [("d1", None, 0), ("d1", "C2", 1), ("d9", None, 2), ("C3", "C3", 3), ("d2", None, 4)]
    with _stored(rows) as container:
        table, coded = coded_events_between(container, ["a"], DAY, DAY)
        read = table.select("event_id", "person_code", "person_name").to_pyarrow().sort_by("event_id")
        got = _by_code(container, None)
    assert read["person_name"].to_pylist() == [None, "C2", "d9", "C3", None]
    assert read["person_code"].to_pylist()[0] == coded.names.get_loc("C1")
    assert {e: p for e, (p, _) in got.items()} == {
        "e000": "C1",
        "e001": "C2",
        "e002": "d9",
        "e003": "C3",
        "e004": "~3",
    }


def test_code_persons_names_each_id_by_customer_else_uid() -> None:
    made = code_persons(ID_MAP)
    codes = made.ids["person_code"].to_pylist()
    names = [made.names[c] for c in codes]
    assert names == ["C1", "C1", "C2", "~3", "~3", "~3"]
    assert codes[0] == codes[1]  # one code per name
    assert codes[3] == codes[4] == codes[5]
    assert made.names.is_unique


def test_code_persons_leaves_an_id_without_a_person_uncoded() -> None:
    ids = pa.table(
        {
            "id_value": ["x", "y"],
            "person_uid": pa.array([None, 7], pa.int64()),
            "customer_no": pa.array([None, None], pa.string()),
        }
    )
    made = code_persons(ids)
    assert made.ids["person_code"].to_pylist()[0] is None
    assert list(made.names) == ["~7"]


def test_decode_persons_gives_new_names_codes_after_one_ids() -> None:
    coded = Persons(ids=ID_MAP, names=pd.Index(["C1", "~3"]))
    rows = pa.table(
        {
            # the third row's own customer number C1 overrides its id's person ~3
            "person_code": pa.array([1, None, 1, 0, None], pa.int32()),
            "person_name": pa.array([None, "z", "C1", None, "z"], pa.string()),
            "is_customer": [False, False, True, False, False],
        }
    )
    people = decode_persons(coded, rows)
    assert people.codes.tolist() == [1, 2, 0, 0, 2]
    assert list(people.names) == ["C1", "~3", "z"]
    assert people.is_customer.tolist() == [True, False, False]


def test_persons_are_coded_once_per_id_map(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[pa.Table] = []
    real = events_module.code_persons
    monkeypatch.setattr(events_module, "code_persons", lambda ids: calls.append(ids) or real(ids))
    fresh = ID_MAP.slice(0)  # a map no other test has had coded
    monkeypatch.setattr(events_module, "event_id_map", lambda env: fresh)
    first = events_module.persons(None)  # type: ignore[arg-type]
    assert events_module.persons(None) is first  # type: ignore[arg-type]
    changed = ID_MAP.slice(0, 2)
    monkeypatch.setattr(events_module, "event_id_map", lambda env: changed)
    assert list(events_module.persons(None).names) == ["C1"]  # type: ignore[arg-type]
    assert len(calls) == 2
