"""Import use cases: a file or an Arrow table into a canonical table, all-or-nothing by default."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import Clock
from touchpoint.core.errors import ValidationError
from touchpoint.core.ids import file_sha256, new_id
from touchpoint.core.progress import StageProgress
from touchpoint.governance import Principal, record_operation
from touchpoint.ingest import repo
from touchpoint.ingest.model import MAX_REPORTED_ERRORS, TABLES, ImportReport, RowError, TableSpec
from touchpoint.ingest.readers import RawTable, detect_format, read_source
from touchpoint.ingest.validate import PARTITION_COLUMN, Outcome, validate
from touchpoint.store import AnalyticalStore, OperationalStore
from touchpoint.store.analytical.merge import split_by_partition, upsert_by_key
from touchpoint.store.operational import dead_letters


class ImportRejected(ValidationError):
    """The file was refused whole; `report` lists every row error."""

    def __init__(self, report: ImportReport) -> None:
        first = "; ".join(e.describe() for e in report.errors[:3])
        more = f" … and {report.error_count - 3} more" if report.error_count > 3 else ""
        super().__init__(f"{report.table}: file rejected, {report.error_count} problem(s): {first}{more}")
        self.report = report


class ImportEnv(Protocol):
    """What an import writes to and reads time from (the composition root's container provides it)."""

    ops: OperationalStore
    analytics: AnalyticalStore
    clock: Clock
    calendar: TradingCalendar
    rejects_dir: Path


@dataclass(frozen=True)
class ImportOptions:
    """How to treat a file: its business date, bad rows, and whether it replaces what its dates hold."""

    business_date: date | None = None
    skip_bad_rows: bool = False
    replace: bool = False
    force: bool = False
    encoding: str | None = None
    """A CSV file's text encoding (utf-8, gbk); None judges it from the whole file."""

    def fingerprint(self) -> dict[str, Any]:
        """The options that make two imports of one file the same import."""
        return {"replace": self.replace} | ({"encoding": self.encoding} if self.encoding else {})


def table_spec(name: str) -> TableSpec:
    """The canonical table called `name`, or a ValidationError listing the known ones."""
    if name not in TABLES:
        raise ValidationError(f"unknown table {name!r}; known tables: {', '.join(TABLES)}")
    return TABLES[name]


def import_file(
    *,
    env: ImportEnv,
    principal: Principal,
    table: str,
    path: Path,
    options: ImportOptions,
    file_format: str | None = None,
    source_name: str | None = None,
    progress: StageProgress | None = None,
) -> ImportReport:
    """Import a CSV, Parquet or JSON Lines file into `table`; re-importing the same file changes nothing."""
    spec = table_spec(table)
    fmt = detect_format(path, file_format)
    sha = file_sha256(path)
    business_date = _business_date(spec, options, env)
    if not options.force:
        previous = _previous_import(env, spec, sha, business_date, options)
        if previous is not None:
            return previous
    raw = read_source(
        path,
        fmt,
        (lambda done, total: progress("read", done, total)) if progress else None,
        encoding=options.encoding,
    )
    return _import_raw(
        env=env,
        principal=principal,
        spec=spec,
        raw=raw,
        source_name=source_name or path.name,
        sha=sha,
        business_date=business_date,
        options=options,
        progress=progress,
    )


def import_arrow(
    *,
    env: ImportEnv,
    principal: Principal,
    table: str,
    data: pa.Table,
    options: ImportOptions,
    source_name: str,
) -> ImportReport:
    """Import rows already in memory (the demo brokerage, other systems) through the same checks."""
    spec = table_spec(table)
    raw = RawTable(table=data, row_numbers=np.arange(1, data.num_rows + 1, dtype=np.int64))
    return _import_raw(
        env=env,
        principal=principal,
        spec=spec,
        raw=raw,
        source_name=source_name,
        sha=new_id("mem"),
        business_date=_business_date(spec, options, env),
        options=options,
        progress=None,
    )


def _business_date(spec: TableSpec, options: ImportOptions, env: ImportEnv) -> date | None:
    if options.business_date is not None or spec.partition_by != "snapshot":
        return options.business_date
    return env.calendar.business_date(env.clock.now())


def _previous_import(
    env: ImportEnv, spec: TableSpec, sha: str, business_date: date | None, options: ImportOptions
) -> ImportReport | None:
    with env.ops.begin() as connection:
        runs = repo.completed_runs_of_file(
            connection,
            table=spec.name,
            sha256=sha,
            business_date=business_date,
            options=options.fingerprint(),
        )
    # Only a file whose rows are still the current version is a no-op; an older file re-sent after a
    # correction is applied again, since the sender means it (docs/ingest.md).
    run = next((r for r in runs if _still_current(env.analytics, spec.name, r)), None)
    if run is None:
        return None
    report = ImportReport.model_validate(run["report"])
    nothing: dict[str, Any] = {"rows_read": 0, "rows_imported": 0, "rows_rejected": 0, "error_count": 0}
    nothing |= {"errors": [], "errors_by_reason": {}, "partitions": [], "reject_file": None}
    return report.model_copy(update=nothing | {"status": "already_imported"})


def _still_current(analytics: AnalyticalStore, table: str, run: dict[str, Any]) -> bool:
    """True when every partition the run wrote still holds the version it wrote (no write replaced it)."""
    written = ImportReport.model_validate(run["report"]).partitions
    current = analytics.manifest(table).partitions
    return all(dt in current and current[dt].origin == run["id"] for dt in written)


def _import_raw(
    *,
    env: ImportEnv,
    principal: Principal,
    spec: TableSpec,
    raw: RawTable,
    source_name: str,
    sha: str,
    business_date: date | None,
    options: ImportOptions,
    progress: StageProgress | None,
) -> ImportReport:
    run_id = new_id("imp")
    with env.ops.begin() as connection:
        repo.start_run(
            connection,
            run_id=run_id,
            table=spec.name,
            source_name=source_name,
            sha256=sha,
            business_date=business_date,
            options=options.fingerprint(),
            actor=principal.user,
            started_at=env.clock.now(),
        )
    try:
        report = _check_and_write(env, spec, raw, run_id, source_name, business_date, options, progress)
    except ImportRejected as rejected:
        _finish(env, principal, rejected.report, status="rejected")
        raise
    except Exception as exc:
        failed = ImportReport(run_id=run_id, table=spec.name, source=source_name, status="rejected")
        failed.errors = [RowError(row=0, reason=f"import failed: {exc}")]
        _finish(env, principal, failed, status="failed")
        raise
    _finish(env, principal, report, status=report.status)
    return report


def _check_and_write(
    env: ImportEnv,
    spec: TableSpec,
    raw: RawTable,
    run_id: str,
    source_name: str,
    business_date: date | None,
    options: ImportOptions,
    progress: StageProgress | None,
) -> ImportReport:
    if progress:
        progress("check", 0, 1)
    outcome = validate(raw, spec, business_date=business_date, tz=env.calendar.tz)
    if progress:
        progress("check", 1, 1)
    errors = sorted([*raw.unreadable, *outcome.errors], key=lambda e: e.row)
    rejected_rows = len(raw.unreadable) + len(outcome.bad_positions)
    report = ImportReport(
        run_id=run_id,
        table=spec.name,
        source=source_name,
        status="imported",
        business_date=business_date,
        rows_read=raw.table.num_rows + len(raw.unreadable),
        rows_rejected=rejected_rows,
        errors=errors[:MAX_REPORTED_ERRORS],
        error_count=len(errors),
        errors_by_reason=dict(Counter(_reason_label(e) for e in errors)),
        encoding=raw.encoding,
        extra_columns=outcome.extra_columns,
    )
    if errors and not options.skip_bad_rows:
        report.status = "rejected"
        raise ImportRejected(report)
    if errors:
        report.reject_file = str(_write_rejects(env.rejects_dir, run_id, spec.name, raw, outcome))
        report.status = "imported_with_rejects"
    if progress:
        progress("write", 0, 1)
    report.partitions = _write(env.analytics, spec, outcome.valid, business_date, options.replace, run_id)
    report.rows_imported = outcome.valid.num_rows
    if progress:
        progress("write", 1, 1)
    return report


def _reason_label(error: RowError) -> str:
    reason = error.reason.split(" (")[0]
    return f"{error.column}: {reason}" if error.column else reason


def _write(
    analytics: AnalyticalStore,
    spec: TableSpec,
    valid: pa.Table,
    business_date: date | None,
    replace: bool,
    run_id: str,
) -> list[date]:
    """Write the rows; every partition version written names the run. Returns the dates rewritten, including
    those that only lost a row a correction moved to another date."""
    if spec.partition_by == "snapshot":
        assert business_date is not None
        snapshot = valid.drop_columns([PARTITION_COLUMN])
        if not replace:
            base_date = analytics.latest_partition_on_or_before(spec.name, business_date)
            base = analytics.read_partition(spec.name, base_date) if base_date else None
            snapshot = upsert_by_key(base, snapshot, spec.key)
        written = analytics.replace_partitions(spec.name, {business_date: snapshot}, origin=run_id)
    elif replace:
        parts = {_as_date(dt): t for dt, t in split_by_partition(valid, PARTITION_COLUMN).items()}
        written = analytics.replace_partitions(spec.name, parts, origin=run_id)
    else:
        written = analytics.upsert(spec.name, valid, origin=run_id)
    return [p.dt for p in written]


def _as_date(value: object) -> date:
    assert isinstance(value, date)
    return value


def _write_rejects(rejects_dir: Path, run_id: str, table: str, raw: RawTable, outcome: Outcome) -> Path:
    rejects_dir.mkdir(parents=True, exist_ok=True)
    path = rejects_dir / f"{run_id}-{table}.csv"
    reasons: dict[int, list[str]] = {}
    for error in [*raw.unreadable, *outcome.errors]:
        reasons.setdefault(error.row, []).append(error.describe())
    bad = raw.table.take(pa.array(outcome.bad_positions, type=pa.int64()))
    bad_rows = (
        raw.row_numbers[outcome.bad_positions] if len(outcome.bad_positions) else np.array([], np.int64)
    )
    text = bad.cast(pa.schema([pa.field(n, pa.string()) for n in bad.column_names]))
    text = text.append_column("_row", pa.array(bad_rows, type=pa.int64()))
    text = text.append_column("_errors", pa.array(["; ".join(reasons.get(int(r), [])) for r in bad_rows]))
    unreadable = pa.table(
        {
            **{n: pa.nulls(len(raw.unreadable), pa.string()) for n in bad.column_names},
            "_row": pa.array([e.row for e in raw.unreadable], type=pa.int64()),
            "_errors": pa.array([e.describe() for e in raw.unreadable], type=pa.string()),
        }
    )
    pacsv.write_csv(pa.concat_tables([text, unreadable]).sort_by("_row"), path)
    return path


def _finish(env: ImportEnv, principal: Principal, report: ImportReport, *, status: str) -> None:
    body = report.model_dump(mode="json")
    with env.ops.begin() as connection:
        repo.finish_run(
            connection, run_id=report.run_id, status=status, report=body, finished_at=env.clock.now()
        )
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action=f"import.{status}",
            target_type="table",
            target_id=report.table,
            after={k: body[k] for k in ("run_id", "source", "rows_imported", "rows_rejected", "partitions")},
        )


def data_status(*, analytics: AnalyticalStore, ops: OperationalStore, recent: int = 10) -> dict[str, Any]:
    """Row counts per table and date, and the newest import runs."""
    tables: dict[str, Any] = {}
    for name in TABLES:
        partitions = analytics.partitions(name)
        tables[name] = {
            "rows": sum(p.rows for p in partitions),
            "latest_rows": partitions[-1].rows if partitions else 0,
            "first_date": partitions[0].dt.isoformat() if partitions else None,
            "last_date": partitions[-1].dt.isoformat() if partitions else None,
            "dates": {p.dt.isoformat(): p.rows for p in partitions},
        }
    with ops.begin() as connection:
        runs = repo.recent_runs(connection, limit=recent)
        dead = dead_letters.counts(connection)
    return {
        "tables": tables,
        "dead_letters": {
            "unresolved": sum(n for by in dead.values() for s, n in by.items() if s != dead_letters.RESOLVED),
            "by_consumer": dead,
        },
        "recent_imports": [
            {
                k: run[k]
                for k in ("id", "table_name", "source_name", "status", "rows_imported", "rows_rejected")
            }
            | {"started_at": run["started_at"].isoformat()}
            for run in runs
        ],
    }


def import_freshness(*, ops: OperationalStore) -> list[dict[str, Any]]:
    """The newest import of each table: status, start and end, and what went wrong when it did not import."""
    with ops.begin() as connection:
        runs = repo.latest_per_table(connection)
    return [
        {
            "table_name": run["table_name"],
            "status": run["status"],
            "started_at": run["started_at"].isoformat(),
            "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
            "error": _run_error(run),
        }
        for run in runs
    ]


def _run_error(run: dict[str, Any]) -> str | None:
    """The first reason a rejected or failed import gives, with how many rows had one."""
    if run["status"] not in ("rejected", "failed"):
        return None
    errors = (run["report"] or {}).get("errors") or []
    if not errors:
        return str(run["status"])
    first = str(errors[0].get("reason", ""))
    return first if len(errors) == 1 else f"{first} (+{len(errors) - 1} more)"


def clear_analytical_data(*, env: ImportEnv, principal: Principal) -> int:
    """Delete every imported table from the analytical store; the same files may then be imported anew."""
    root = env.analytics.root
    if root.exists():
        shutil.rmtree(root)
    with env.ops.begin() as connection:
        superseded = repo.supersede_completed(connection)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="import.clear_all",
            target_type="analytical_store",
            target_id=str(root),
            before={"completed_runs": superseded},
        )
    return superseded
