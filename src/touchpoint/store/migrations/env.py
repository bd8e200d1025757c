"""Alembic environment: runs on the connection the OperationalStore hands in."""

from __future__ import annotations

from alembic import context

from touchpoint.store.operational.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through touchpoint (OperationalStore.upgrade), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
