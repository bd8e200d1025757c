"""What data the deployment holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from touchpoint.api.deps import container, needs
from touchpoint.bootstrap import Container, describe_deployment
from touchpoint.ingest import data_status
from touchpoint.ingest.model import StatusRead

router = APIRouter(tags=["status"])


@router.get("/status", dependencies=[needs("status:read")])
def status(c: Annotated[Container, Depends(container)]) -> StatusRead:
    """Data directory, store URLs, row counts per table and date, recent imports."""
    return StatusRead.model_validate(describe_deployment(c) | data_status(analytics=c.analytics, ops=c.ops))
