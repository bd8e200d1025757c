"""Import history: every version of a table's dates that an import wrote — who, when, which file, how many
rows — and a date read as it stood right after one import (issue 13, fault 10).

The analytical store's manifest names the import run that wrote each partition version and keeps the
versions a later import replaced (for its retention); `import_runs` says who ran that import, when, and the
file's hash.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from touchpoint.core.errors import NotFoundError, UnauthorizedError
from touchpoint.governance import Principal
from touchpoint.ingest import repo
from touchpoint.ingest.service import ImportEnv, table_spec
from touchpoint.store import PartitionInfo


class ImportVersion(BaseModel):
    """One version of one date of a table, and the import that wrote it (None for other writers)."""

    table: str
    date: date
    version: int
    current: bool
    rows: int
    run_id: str | None
    actor: str | None
    source: str | None
    sha256: str | None
    imported_at: datetime | None
    """When the import finished (the business clock); the commit time when no import wrote it."""
    superseded_by: int | None
    """The table version that replaced it; None while it is current."""
    superseded_at: datetime | None
    file: str


def import_history(
    *, env: ImportEnv, principal: Principal, table: str, business_date: date | None = None
) -> list[ImportVersion]:
    """Every kept version of every date of `table` (or of one date), by date, oldest version first."""
    del principal  # metadata only: who imported what, never a customer's values
    spec = table_spec(table)
    manifest = env.analytics.manifest(spec.name)
    dates = [business_date] if business_date is not None else sorted(manifest.partitions)
    versions = [p for dt in dates for p in manifest.versions_of(dt)]
    with env.ops.begin() as connection:
        runs = repo.runs_by_id(connection, {p.origin for p in versions if p.origin})
    return [_version(spec.name, p, runs.get(p.origin or "")) for p in versions]


def read_as_of_import(
    *, env: ImportEnv, principal: Principal, table: str, business_date: date, run_id: str
) -> pa.Table | None:
    """Date `business_date` of `table` as it stood right after import `run_id` (None: no such date yet).

    NotFoundError when the run wrote nothing still on record; LookupError when that version is no longer
    kept (its retention passed)."""
    if not principal.sees_everything:
        raise UnauthorizedError(
            "reading an earlier version returns every customer's rows: the caller must see all"
        )
    spec = table_spec(table)
    version = env.analytics.version_written_by(spec.name, run_id)
    if version is None:
        raise NotFoundError(f"{spec.name}: import {run_id} wrote no version that is still on record")
    return env.analytics.read_partition(spec.name, business_date, as_of_version=version)


def _version(table: str, info: PartitionInfo, run: dict[str, Any] | None) -> ImportVersion:
    return ImportVersion(
        table=table,
        date=info.dt,
        version=info.version,
        current=info.superseded_by is None,
        superseded_by=info.superseded_by,
        rows=info.rows,
        run_id=info.origin,
        actor=run["actor"] if run else None,
        source=run["source_name"] if run else None,
        sha256=run["source_sha256"] if run else None,
        imported_at=(run["finished_at"] or run["started_at"]) if run else info.committed_at,
        superseded_at=info.superseded_at,
        file=info.file,
    )
