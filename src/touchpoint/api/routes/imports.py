"""Batch import over HTTP: the same use case as `touchpoint import`."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.ingest import ImportOptions, ImportReport, import_file, table_spec

router = APIRouter(tags=["import"])


@router.post(
    "/import/{table}",
    response_model=ImportReport,
    responses={
        400: {"description": "unknown table or unreadable file"},
        422: {"description": "rows rejected"},
    },
)
def import_upload(
    table: str,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK), Parquet, or JSON Lines for events")],
    c: Annotated[Container, Depends(container)],
    caller: Annotated[Principal, Depends(principal)],
    business_date: Annotated[
        date | None, Query(alias="date", description="business date (YYYY-MM-DD)")
    ] = None,
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
    name = Path(file.filename or f"upload.{file_format or 'csv'}").name
    with tempfile.TemporaryDirectory(dir=_upload_dir(c)) as tmp:
        path = Path(tmp) / name
        _save_upload(file, path, c.settings.max_upload_mb)
        options = ImportOptions(
            business_date=business_date,
            skip_bad_rows=skip_bad_rows,
            replace=replace,
            force=force,
            encoding=encoding,
        )
        return import_file(
            env=c.import_env,
            principal=caller,
            table=table,
            path=path,
            options=options,
            file_format=file_format,
            source_name=name,
        )


def _upload_dir(c: Container) -> Path:
    path = c.settings.home / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_upload(upload: UploadFile, path: Path, max_mb: int) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, length=1 << 20)
    if path.stat().st_size > max_mb << 20:
        raise ValidationError(f"file is larger than the {max_mb} MB upload limit; use `touchpoint import`")
