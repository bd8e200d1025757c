"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import text

from touchpoint import __version__
from touchpoint.api.deps import container
from touchpoint.bootstrap import Container

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(c: Annotated[Container, Depends(container)]) -> dict[str, Any]:
    """Answers ok when the operational store answers."""
    with c.ops.begin() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}
