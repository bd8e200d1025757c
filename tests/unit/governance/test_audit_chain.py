"""The audit log is a hash chain: `verify` finds an entry that was edited, removed or moved, and says where.

The tampering is done the way an intruder with database access would: straight on the table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, insert, select, update

from support import examples
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM, Principal
from touchpoint.governance.accounts import create_user
from touchpoint.governance.audit import record, search, verify
from touchpoint.governance.model import AuditProblem, UserCreate
from touchpoint.store import OperationalStore
from touchpoint.store.operational.audit import GENESIS, entry_hash
from touchpoint.store.operational.db import MIGRATIONS_DIR
from touchpoint.store.operational.schema import audit_head, audit_log

ALICE = Principal(user="alice", source="api:10.0.0.7")
EDITED = "its content does not match its hash (the entry was edited)"
PREV = "its previous-hash does not name the entry before it (an entry removed or moved)"


def _missing(seq: int, after: int) -> str:
    return f"position {seq} follows {after}: entries are missing before it"


def _moved(seq: int, after: int) -> str:
    return f"position {seq} follows {after}: entries were moved"


def _head(head_seq: int, end: int) -> str:
    return (
        f"the head names entry {head_seq} but the log ends at {end}"
        " (entries removed from the end, or the head edited)"
    )


def _append(container: Container, count: int) -> None:
    """`count` entries through `record`, a second apart, each with its own target and content."""
    clock = container.clock
    assert isinstance(clock, VirtualClock)
    for i in range(count):
        clock.advance(timedelta(seconds=1))
        record(
            container.ops,
            clock=clock,
            principal=ALICE,
            action="segment.export",
            target_type="segment",
            target_id=f"s{i + 1}",
            after={"rows": i + 1, "note": "导出"},
        )


def _rows(connection: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in connection.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]


def _id_at(connection: Connection, seq: int) -> int:
    return int(connection.execute(select(audit_log.c.id).where(audit_log.c.seq == seq)).scalar_one())


def _edit(container: Container, seq: int) -> int:
    with container.ops.begin() as connection:
        entry_id = _id_at(connection, seq)
        connection.execute(
            update(audit_log).where(audit_log.c.id == entry_id).values(after={"rows": 999, "note": "改"})
        )
    return entry_id


def _delete(container: Container, seq: int) -> None:
    with container.ops.begin() as connection:
        connection.execute(delete(audit_log).where(audit_log.c.seq == seq))


MOVED_COLUMNS = (
    "seq",
    "at",
    "actor",
    "source",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)


def _swap(container: Container, first: int, second: int) -> tuple[int, int]:
    """Exchange everything but the id of the entries at two positions: the log now holds them in the other
    order, each entry intact. Returns the ids of the rows that held `first` and `second`."""
    with container.ops.begin() as connection:
        a, b = _id_at(connection, first), _id_at(connection, second)
        by_id = {r["id"]: r for r in _rows(connection)}
        # The seq column is unique: park one row out of the way first.
        connection.execute(update(audit_log).where(audit_log.c.id == a).values(seq=-1))
        connection.execute(
            update(audit_log).where(audit_log.c.id == b).values(**{k: by_id[a][k] for k in MOVED_COLUMNS})
        )
        connection.execute(
            update(audit_log).where(audit_log.c.id == a).values(**{k: by_id[b][k] for k in MOVED_COLUMNS})
        )
    return a, b


def _problems(container: Container) -> list[tuple[int | None, str]]:
    return [(p.seq, p.problem) for p in verify(container.ops).problems]


# ---- an intact chain ----------------------------------------------------------------------------------


def test_entries_written_through_the_services_form_an_intact_chain(container: Container) -> None:
    create_user(
        container,
        principal=SYSTEM,
        user=UserCreate(username="alice", roles=["analyst"], password="Blue-harbour-2718"),
    )
    _append(container, 3)

    found = verify(container.ops)

    assert (found.entries, found.ok, found.problems) == (4, True, [])
    with container.ops.begin() as connection:
        rows = _rows(connection)
        head = connection.execute(select(audit_head)).mappings().one()
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert [r["action"] for r in rows] == ["user.create", *["segment.export"] * 3]
    assert [r["prev_hash"] for r in rows] == [GENESIS, *[r["hash"] for r in rows[:-1]]]
    assert all(r["hash"] == entry_hash(r["prev_hash"], r) for r in rows)
    assert (head["seq"], head["hash"]) == (4, rows[-1]["hash"])
    assert [e.seq for e in search(container.ops, actor="alice")] == [4, 3, 2]


def test_an_empty_log_verifies(container: Container) -> None:
    assert verify(container.ops).model_dump() == {"entries": 0, "ok": True, "problems": []}


# ---- tampering ----------------------------------------------------------------------------------------


def test_an_edited_entry_is_reported_at_its_position(container: Container) -> None:
    _append(container, 5)
    entry_id = _edit(container, 3)

    found = verify(container.ops)

    assert (found.entries, found.ok) == (5, False)
    assert found.problems == [AuditProblem(seq=3, id=entry_id, problem=EDITED)]


@pytest.mark.parametrize("column", ["actor", "action", "target_id", "source", "at"])
def test_editing_any_chained_column_is_found(container: Container, column: str) -> None:
    _append(container, 3)
    with container.ops.begin() as connection:
        before = connection.execute(select(audit_log).where(audit_log.c.seq == 2)).mappings().one()
        changed = before[column] + timedelta(microseconds=1) if column == "at" else before[column] + "x"
        connection.execute(update(audit_log).where(audit_log.c.seq == 2).values({column: changed}))
    assert _problems(container) == [(2, EDITED)]


def test_a_removed_middle_entry_is_reported_at_the_next_position(container: Container) -> None:
    _append(container, 5)
    _delete(container, 3)

    found = verify(container.ops)

    assert (found.entries, found.ok) == (4, False)
    assert _problems(container) == [(4, _missing(4, 2)), (4, PREV)]


def test_removing_the_first_entry_is_reported_at_the_second(container: Container) -> None:
    _append(container, 3)
    _delete(container, 1)
    assert _problems(container) == [(2, _missing(2, 0)), (2, PREV)]


def test_removing_the_last_entry_is_reported_by_the_head(container: Container) -> None:
    _append(container, 5)
    _delete(container, 5)

    found = verify(container.ops)

    assert (found.entries, found.ok) == (4, False)
    assert found.problems == [AuditProblem(seq=None, id=None, problem=_head(5, 4))]


def test_an_edited_head_is_reported(container: Container) -> None:
    _append(container, 2)
    with container.ops.begin() as connection:
        connection.execute(update(audit_head).values(hash="f" * 64))
    assert _problems(container) == [(None, _head(2, 2))]


def test_two_neighbours_swapped_are_reported_at_their_positions(container: Container) -> None:
    _append(container, 5)
    a, b = _swap(container, 2, 3)

    problems = verify(container.ops).problems

    # The row that held position 2 now holds entry 3, which follows entry 1; then entry 2 follows entry 3.
    assert [(p.seq, p.id, p.problem) for p in problems[:4]] == [
        (3, a, _missing(3, 1)),
        (3, a, PREV),
        (2, b, _moved(2, 3)),
        (2, b, PREV),
    ]
    assert EDITED not in {p.problem for p in problems}


def test_two_distant_entries_swapped_are_reported_at_their_positions(container: Container) -> None:
    _append(container, 6)
    a, b = _swap(container, 2, 5)

    problems = verify(container.ops).problems

    by_row = {(p.seq, p.id, p.problem) for p in problems}
    assert {(5, a, _missing(5, 1)), (5, a, PREV), (2, b, _moved(2, 4)), (2, b, PREV)} <= by_row
    assert EDITED not in {p.problem for p in problems}


def _insert_unchained(container: Container) -> int:
    """A row added straight to the table, without a position or hashes."""
    with container.ops.begin() as connection:
        key = connection.execute(
            insert(audit_log).values(
                at=container.clock.now(),
                actor="mallory",
                action="user.create",
                target_type="user",
                target_id="mallory",
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


UNCHAINED = "the entry has no position (written outside the chain)"


def test_an_entry_written_outside_the_chain_is_reported_alone(container: Container) -> None:
    _append(container, 2)
    entry_id = _insert_unchained(container)

    found = verify(container.ops)

    # Nothing was removed and the head still names the last chained entry: the one problem is the stray row.
    assert (found.entries, found.ok) == (3, False)
    assert found.problems == [AuditProblem(seq=None, id=entry_id, problem=UNCHAINED)]


def test_entries_appended_after_a_stray_row_are_not_blamed_for_it(container: Container) -> None:
    _append(container, 2)
    entry_id = _insert_unchained(container)
    _append(container, 2)

    found = verify(container.ops)

    with container.ops.begin() as connection:
        assert [r["seq"] for r in _rows(connection)] == [1, 2, None, 3, 4]
    assert found.problems == [AuditProblem(seq=None, id=entry_id, problem=UNCHAINED)]


# ---- any single tampering is found where it happened -------------------------------------------------


def _clear(container: Container) -> None:
    with container.ops.begin() as connection:
        connection.execute(delete(audit_log))
        connection.execute(delete(audit_head))


@st.composite
def _tamperings(draw: st.DrawFn) -> tuple[int, str, int, int]:
    count = draw(st.integers(min_value=1, max_value=8))
    kind = draw(
        st.sampled_from(["none", "edit", "delete", "swap"] if count > 1 else ["none", "edit", "delete"])
    )
    first = draw(st.integers(min_value=1, max_value=count))
    second = (
        draw(st.integers(min_value=1, max_value=count).filter(lambda s: s != first)) if kind == "swap" else 0
    )
    return count, kind, first, second


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=_tamperings())
def test_any_single_tampering_is_reported_where_it_happened(
    container: Container, case: tuple[int, str, int, int]
) -> None:
    count, kind, first, second = case
    _clear(container)
    _append(container, count)
    assert verify(container.ops).ok

    if kind == "edit":
        _edit(container, first)
    elif kind == "delete":
        _delete(container, first)
    elif kind == "swap":
        _swap(container, first, second)
    found = verify(container.ops)

    seqs = {p.seq for p in found.problems}
    if kind == "none":
        assert (found.entries, found.ok, found.problems) == (count, True, [])
    elif kind == "edit":
        assert (found.entries, found.ok) == (count, False)
        assert seqs == {first}
        assert [p.problem for p in found.problems] == [EDITED]
    elif kind == "delete":
        assert (found.entries, found.ok) == (count - 1, False)
        # The entry after the removed one is where the chain breaks; removing the last leaves only the head.
        assert seqs == ({None} if first == count else {first + 1})
    else:
        assert (found.entries, found.ok) == (count, False)
        assert {first, second} <= seqs
        assert EDITED not in {p.problem for p in found.problems}


# ---- the migration chains entries written before it --------------------------------------------------


def _alembic(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@pytest.fixture
def store_before_the_chain(database_url: str) -> Iterator[OperationalStore]:
    """An operational store migrated only up to the revision before the audit chain (0009)."""
    store = OperationalStore(database_url)
    with store.engine.begin() as connection:
        command.upgrade(_alembic(connection), "0009_effect_leases")
    yield store
    store.dispose()


def test_the_migration_chains_entries_written_before_it(
    store_before_the_chain: OperationalStore, clock: VirtualClock
) -> None:
    store = store_before_the_chain
    old = [
        {
            "at": clock.advance(timedelta(minutes=i + 1)),
            "actor": actor,
            "action": "segment.save",
            "target_type": "segment",
            "target_id": f"s{i}",
            "before": None if i == 0 else {"rule": i - 1},
            "after": {"rule": i, "name": "高净值"},
        }
        for i, actor in enumerate(["os:ops", "os:ops", "system"])
    ]
    with store.begin() as connection:
        for entry in old:
            connection.execute(insert(audit_log).values(**entry))

    store.upgrade()

    assert store.current_revision() == store.head_revision()
    found = verify(store)
    assert (found.entries, found.ok, found.problems) == (3, True, [])
    with store.begin() as connection:
        rows = _rows(connection)
        head = connection.execute(select(audit_head)).mappings().one()
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert [r["target_id"] for r in rows] == ["s0", "s1", "s2"]
    assert [r["source"] for r in rows] == [None, None, None]
    assert [r["prev_hash"] for r in rows] == [GENESIS, rows[0]["hash"], rows[1]["hash"]]
    assert (head["seq"], head["hash"]) == (3, rows[2]["hash"])

    # New entries continue the chain, and the old ones are now covered by it.
    record(store, clock=clock, principal=ALICE, action="user.create", target_type="user", target_id="bob")
    assert verify(store).model_dump() == {"entries": 4, "ok": True, "problems": []}
    with store.begin() as connection:
        connection.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="mallory"))
    assert [(p.seq, p.problem) for p in verify(store).problems] == [(2, EDITED)]


def test_the_migration_on_an_empty_log_leaves_an_empty_chain(
    store_before_the_chain: OperationalStore,
) -> None:
    store_before_the_chain.upgrade()
    assert verify(store_before_the_chain).model_dump() == {"entries": 0, "ok": True, "problems": []}
    with store_before_the_chain.begin() as connection:
        head = connection.execute(select(audit_head)).mappings().one()
    assert (head["seq"], head["hash"]) == (0, GENESIS)
