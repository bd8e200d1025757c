"""Upgrading a database that an earlier release created: every earlier migration, then the newest, with data.

A brokerage upgrades Touchpoint over a database that holds years of audit entries and journeys in flight.
Each test builds the schema of an earlier revision (Alembic, exactly as that release left it), writes rows as
that release would have, upgrades to the head and checks that the schema is the declared one and the rows are
still there and still mean the same — on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from touchpoint.governance.audit import verify
from touchpoint.store.operational.db import OperationalStore, _alembic_config
from touchpoint.store.operational.schema import declared_name, metadata

AT = datetime(2026, 3, 2, 1, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("migrations_run_in_full")

COMPARED = {"include_name": declared_name}  # partitions are part of their partitioned table


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(_alembic_config(None))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


REVISIONS = _revisions()


def _at_revision(url: str, revision: str) -> OperationalStore:
    store = OperationalStore(url)
    with store.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)
    return store


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_every_earlier_revision_upgrades_to_the_declared_schema(database_url: str, revision: str) -> None:
    store = _at_revision(database_url, revision)
    try:
        with store.engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO meta_values (key, value, updated_at) VALUES (:k, :v, :at)"),
                {"k": "kept", "v": '{"from": "' + revision + '"}', "at": AT.replace(tzinfo=None)},
            )
        store.upgrade()
        assert store.current_revision() == REVISIONS[-1]
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection, opts=COMPARED), metadata) == []
            query = sa.text("SELECT value FROM meta_values WHERE key = 'kept'")
            kept = connection.execute(query).scalar_one()
        assert revision in kept
    finally:
        store.dispose()


def test_audit_entries_of_a_release_before_the_chain_are_chained_on_upgrade(database_url: str) -> None:
    """0010 added the audit log's hash chain: entries written before it must verify after the upgrade."""
    before_chain = REVISIONS[REVISIONS.index("0010_governance") - 1]
    store = _at_revision(database_url, before_chain)
    try:
        insert = sa.text(
            "INSERT INTO audit_log (at, actor, action, target_type, target_id, before, after) "
            "VALUES (:at, :actor, :action, 'segment', :target, NULL, :after)"
        )
        with store.engine.begin() as connection:
            for i in range(5):
                row = {"at": AT.replace(tzinfo=None), "actor": f"ops{i}", "action": "save", "target": f"s{i}"}
                connection.execute(insert, {**row, "after": '{"v": ' + str(i) + "}"})
        store.upgrade()
        report = verify(store)
        assert report.entries == 5
        assert report.problems == []
        assert report.ok
        with store.engine.connect() as connection:
            actors = connection.execute(sa.text("SELECT actor FROM audit_log ORDER BY seq")).scalars().all()
        assert actors == [f"ops{i}" for i in range(5)]
    finally:
        store.dispose()


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    """After an upgrade every process of a deployment starts at once and each brings the schema up to date:
    on PostgreSQL they take turns, so none fails on a table another is creating (SQLite: one writer)."""
    from concurrent.futures import ThreadPoolExecutor

    stores = [OperationalStore(database_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            list(pool.map(lambda store: store.upgrade(), stores))
        assert {store.current_revision() for store in stores} == {REVISIONS[-1]}
    finally:
        for store in stores:
            store.dispose()
