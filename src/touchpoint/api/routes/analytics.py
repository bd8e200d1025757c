"""Behaviour analytics over HTTP: funnels, retention, event trends, distributions, paths.

Every body is a typed query (`touchpoint.analytics.model`) that FastAPI parses, so a malformed one is a 422
naming the field; a query that is well formed but cannot run (an unknown event, a reversed range) is a 400.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from touchpoint.analytics.distribution import distribution
from touchpoint.analytics.funnel import funnel, save_funnel_segment
from touchpoint.analytics.model import (
    DistributionQuery,
    DistributionRead,
    FunnelQuery,
    FunnelRead,
    FunnelSegmentQuery,
    PathQuery,
    PathsRead,
    RetentionQuery,
    RetentionRead,
    RetentionSegmentQuery,
    SavedSegmentRead,
    TrendQuery,
    TrendRead,
)
from touchpoint.analytics.paths import paths
from touchpoint.analytics.retention import retention, save_retention_segment
from touchpoint.analytics.trend import event_trend
from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal

router = APIRouter(tags=["analytics"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
# A result carries the keys its query produced (a breakdown's `group`, a measure's `value`), no others.
ONLY_SET = True


@router.post(
    "/analytics/funnel",
    dependencies=[needs("analytics:read", scoped=True)],
    response_model=FunnelRead,
    responses=errors(400),
    response_model_exclude_unset=ONLY_SET,
)
def funnel_route(c: Deps, caller: Caller, query: FunnelQuery) -> FunnelRead:
    """Steps `[{"event", "where"}]`, `window`, `from`, `to` (Beijing days), `mode`, `exclusions`, `by`."""
    return FunnelRead.model_validate(funnel(env=c, query=query, scope=caller.scope))


@router.post(
    "/analytics/funnel/segment",
    dependencies=[needs("segment:write")],
    response_model=SavedSegmentRead,
    responses=errors(400, 409),
)
def funnel_segment_route(c: Deps, caller: Caller, query: FunnelSegmentQuery) -> SavedSegmentRead:
    """A funnel query plus `save: {"segment", "step", "who": "dropped"|"reached"}`: those customers become
    a static segment."""
    save = query.save
    saved = save_funnel_segment(
        env=c,
        principal=caller,
        query=query,
        step=save.step,
        who=save.who,
        name=save.segment,
        title=save.title,
    )
    return SavedSegmentRead.model_validate(saved)


@router.post(
    "/analytics/retention",
    dependencies=[needs("analytics:read", scoped=True)],
    response_model=RetentionRead,
    responses=errors(400),
    response_model_exclude_unset=ONLY_SET,
)
def retention_route(c: Deps, caller: Caller, query: RetentionQuery) -> RetentionRead:
    """The cohort triangle."""
    return RetentionRead.model_validate(retention(env=c, **dict(query), scope=caller.scope))


@router.post(
    "/analytics/retention/segment",
    dependencies=[needs("segment:write")],
    response_model=SavedSegmentRead,
    responses=errors(400, 409),
)
def retention_segment_route(c: Deps, caller: Caller, query: RetentionSegmentQuery) -> SavedSegmentRead:
    """A retention query plus `save: {"segment", "cohort", "offset"}`: that cell becomes a static segment."""
    save = query.save
    saved = save_retention_segment(
        env=c,
        principal=caller,
        query=query,
        cohort=save.cohort,
        offset=save.offset,
        name=save.segment,
        title=save.title,
    )
    return SavedSegmentRead.model_validate(saved)


@router.post(
    "/analytics/events",
    dependencies=[needs("analytics:read", scoped=True)],
    response_model=TrendRead,
    responses=errors(400),
    response_model_exclude_unset=ONLY_SET,
)
def events_route(c: Deps, caller: Caller, query: TrendQuery) -> TrendRead:
    """Counts, customers and per-customer averages by period (and group)."""
    return TrendRead.model_validate(event_trend(env=c, **dict(query), scope=caller.scope))


@router.post(
    "/analytics/distribution",
    dependencies=[needs("analytics:read", scoped=True)],
    response_model=DistributionRead,
    responses=errors(400),
    response_model_exclude_unset=ONLY_SET,
)
def distribution_route(c: Deps, caller: Caller, query: DistributionQuery) -> DistributionRead:
    """Customers by how many times they did the event."""
    return DistributionRead.model_validate(distribution(env=c, **dict(query), scope=caller.scope))


@router.post(
    "/analytics/paths",
    dependencies=[needs("analytics:read", scoped=True)],
    response_model=PathsRead,
    responses=errors(400),
    response_model_exclude_unset=ONLY_SET,
)
def paths_route(c: Deps, caller: Caller, query: PathQuery) -> PathsRead:
    """Nodes and the heaviest links (Sankey data) of session paths around an event."""
    return PathsRead.model_validate(paths(env=c, **dict(query), scope=caller.scope))
