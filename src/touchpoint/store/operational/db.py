"""Opening the operational store and keeping its schema current."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from touchpoint.store.analytical.files import exclusive_lock

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# PostgreSQL advisory lock key of schema migrations ("tpmigrat" as a 64-bit integer).
MIGRATION_LOCK = int.from_bytes(b"tpmigrat", "big") - 2**63


class OperationalStore:
    """A SQLAlchemy engine on the operational database, with the schema managed by Alembic."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 10) -> None:
        self.url = url
        self.engine = _create_engine(url, pool_size=pool_size, max_overflow=max_overflow)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for status output."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success and rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent). On PostgreSQL the processes of a deployment
        starting together after an upgrade take turns (an advisory lock held until the migration commits):
        the first migrates, the others find the schema at the head; on SQLite, by a lock file."""
        with self._sqlite_turn(), self.engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(_alembic_config(connection), "head")

    def _sqlite_turn(self) -> AbstractContextManager[None]:
        """SQLite runs a migration's DDL outside a transaction, so processes of one data directory take
        turns by a lock file beside the database."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return nullcontext()
        return exclusive_lock(Path(f"{database}.migrate.lock"))

    def current_revision(self) -> str | None:
        """The migration the database is at, or None for an empty database."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest migration shipped with this version of Touchpoint."""
        return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _alembic_config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _create_engine(url: str, *, pool_size: int, max_overflow: int) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; FULL sync makes a commit durable before it returns.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
