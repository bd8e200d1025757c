from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.pool import QueuePool

from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.store.operational.meta import get_value, set_value
from touchpoint.store.operational.schema import declared_name, metadata

COMPARED = {"include_name": declared_name}  # partitions are part of their partitioned table


def test_migrations_build_exactly_the_declared_schema(container: Container) -> None:
    assert container.ops.current_revision() == container.ops.head_revision()
    with container.ops.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection, opts=COMPARED), metadata) == []


def test_upgrade_is_idempotent(container: Container) -> None:
    container.ops.upgrade()
    assert container.ops.current_revision() == container.ops.head_revision()


def test_meta_values_round_trip(container: Container) -> None:
    now = container.clock.now()
    with container.ops.begin() as connection:
        set_value(connection, "k", {"a": [1, 2]}, now=now)
        set_value(connection, "k", {"a": [3]}, now=now)
    with container.ops.begin() as connection:
        assert get_value(connection, "k") == {"a": [3]}
        assert get_value(connection, "missing") is None


def test_sqlite_runs_in_wal_mode(sqlite_container: Container) -> None:
    with sqlite_container.ops.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_postgresql_pool_is_sized_by_the_settings(database_url: str, tmp_path: Path) -> None:
    """`database_pool_size` and `database_max_overflow` bound each process's PostgreSQL connections (a
    deployment of many processes must stay under the server's max_connections); SQLite opens as before."""
    settings = load_settings(tmp_path / "home", database_url=database_url, database_pool_size=3)
    container = build(settings.model_copy(update={"database_max_overflow": 1}))
    try:
        pool = container.ops.engine.pool
        if container.ops.dialect == "postgresql":
            assert isinstance(pool, QueuePool)
            assert (pool.size(), pool._max_overflow) == (3, 1)
        with container.ops.begin() as connection:
            assert connection.execute(select(1)).scalar_one() == 1
    finally:
        container.close()
