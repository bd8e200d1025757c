"""What data the deployment holds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from touchpoint.api.deps import container
from touchpoint.bootstrap import Container, describe_deployment
from touchpoint.ingest import data_status

router = APIRouter(tags=["status"])


@router.get("/status")
def status(c: Annotated[Container, Depends(container)]) -> dict[str, Any]:
    """Data directory, store URLs, row counts per table and date, recent imports."""
    return describe_deployment(c) | data_status(analytics=c.analytics, ops=c.ops)
