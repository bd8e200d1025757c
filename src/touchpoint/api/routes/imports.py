"""Batch import over HTTP: the same use case as `touchpoint import`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile

from touchpoint.api.days import DayQuery, resolve_day
from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.ingest import ImportOptions, ImportReport, import_file, table_spec

router = APIRouter(tags=["import"])
MAX_NAME = 60  # characters: 240 bytes of UTF-8 at most, under every file system's 255


@router.post("/import/{table}", dependencies=[needs("import:run")], responses=errors(400, 409))
def import_upload(
    table: str,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK), Parquet, or JSON Lines for events")],
    c: Annotated[Container, Depends(container)],
    caller: Annotated[Principal, Depends(principal)],
    business_date: DayQuery = None,
    file_format: Annotated[str | None, Query(alias="format", description="csv, parquet or jsonl")] = None,
    encoding: Annotated[
        str | None, Query(description="a CSV file's encoding: utf-8 or gbk (default: judged from the file)")
    ] = None,
    skip_bad_rows: bool = False,
    replace: bool = False,
    force: bool = False,
) -> ImportReport:
    """Import an uploaded file into a canonical table; a file with bad rows is refused whole unless told."""
    table_spec(table)
    name = upload_name(file.filename, file_format)
    with tempfile.TemporaryDirectory(dir=_upload_dir(c)) as tmp:
        path = Path(tmp) / name
        _save_upload(file, path, c.settings.max_upload_mb)
        options = ImportOptions(
            business_date=resolve_day(c, business_date),
            skip_bad_rows=skip_bad_rows,
            replace=replace,
            force=force,
            encoding=encoding,
        )
        return import_file(
            env=c,
            principal=caller,
            table=table,
            path=path,
            options=options,
            file_format=file_format,
            source_name=name,
        )


def upload_name(filename: str | None, file_format: str | None) -> str:
    """A file name safe to create in the upload folder, keeping the sender's name (its suffix tells the
    format) where it can: no folders, no control characters, not `.` or `..`, at most MAX_NAME characters."""
    base = Path((filename or "").replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '/\\:*?"<>|')
    if len(cleaned) > MAX_NAME:
        suffix = Path(cleaned).suffix[:16]
        cleaned = cleaned[: MAX_NAME - len(suffix)] + suffix
    if not cleaned.strip(". "):  # "", ".", "..": the folder itself or its parent, never a file
        return f"upload.{file_format or 'csv'}"
    return cleaned


def _upload_dir(c: Container) -> Path:
    path = c.settings.home / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_upload(upload: UploadFile, path: Path, max_mb: int) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    if path.stat().st_size > max_mb << 20:
        raise ValidationError(f"file is larger than the {max_mb} MB upload limit; use `touchpoint import`")
