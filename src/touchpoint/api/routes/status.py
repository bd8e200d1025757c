"""What data the deployment holds, and the console's overview of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from touchpoint.api.deps import container, needs, principal
from touchpoint.bootstrap import Container, describe_deployment
from touchpoint.governance import Principal
from touchpoint.ingest import data_status
from touchpoint.ingest.model import StatusRead
from touchpoint.overview import OverviewRead, overview

router = APIRouter(tags=["status"])

Deps = Annotated[Container, Depends(container)]


@router.get("/status", dependencies=[needs("status:read")])
def status(c: Deps) -> StatusRead:
    """Data directory, store URLs, row counts per table and date, recent imports."""
    return StatusRead.model_validate(describe_deployment(c) | data_status(analytics=c.analytics, ops=c.ops))


@router.get("/overview", dependencies=[needs("status:read", scoped=True)])
def home(c: Deps, caller: Annotated[Principal, Depends(principal)]) -> OverviewRead:
    """经营概览: customers, active customers, AUM, net inflow, events today, live journeys; 30-day trends; the
    freshness of each import, computation and segment refresh; the trading calendar's horizon — all within
    the caller's scope."""
    return OverviewRead.model_validate(overview(env=c, principal=caller))
