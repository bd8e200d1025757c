"""Helpers shared by the test suites (importable as `support`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def postgres_schema_url(base: str) -> Iterator[str]:
    """A URL into a fresh schema of the PostgreSQL database at `base`, dropped afterwards."""
    url = make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def import_events(container: Any, frame: Any) -> None:
    """Load a pandas frame of events into a test container's analytical store, as a historical import."""
    import pyarrow as pa

    from touchpoint.governance import SYSTEM
    from touchpoint.ingest import ImportOptions, import_arrow

    import_arrow(
        env=container.import_env,
        principal=SYSTEM,
        table="events",
        data=pa.Table.from_pandas(frame, preserve_index=False),
        options=ImportOptions(force=True),
        source_name="events",
    )
