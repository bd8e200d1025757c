"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from touchpoint import __version__
from touchpoint.api.deps import container, public
from touchpoint.bootstrap import Container

router = APIRouter(tags=["health"], dependencies=[public("a balancer's health check")])


class HealthRead(BaseModel):
    """The answer of a healthy process (an entry-point shape: no domain owns it)."""

    status: Literal["ok"]
    version: str


@router.get("/healthz")
def healthz(c: Annotated[Container, Depends(container)]) -> HealthRead:
    """Answers ok when the operational store answers."""
    with c.ops.begin() as connection:
        connection.execute(text("SELECT 1"))
    return HealthRead(status="ok", version=__version__)
