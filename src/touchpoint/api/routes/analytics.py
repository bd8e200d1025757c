"""Behaviour analytics over HTTP: funnels, retention, event trends, distributions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from touchpoint.analytics.distribution import distribution
from touchpoint.analytics.funnel import FunnelQuery, funnel
from touchpoint.analytics.paths import paths
from touchpoint.analytics.retention import retention
from touchpoint.analytics.trend import event_trend
from touchpoint.api.deps import container
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.segments.model import PropertyFilter

router = APIRouter(tags=["analytics"])
Deps = Annotated[Container, Depends(container)]


class RetentionQuery(BaseModel):
    """Start and return events (with filters), Beijing dates, periods and unit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start_event: str
    return_event: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    periods: int = 7
    unit: Literal["day", "week", "month"] = "day"
    first_time: bool = False
    start_where: list[PropertyFilter] = Field(default_factory=list)
    return_where: list[PropertyFilter] = Field(default_factory=list)


class EventQuery(BaseModel):
    """One event (with filters) over Beijing dates by day, week or month, optionally grouped by a property."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    unit: Literal["day", "week", "month"] = "day"
    by: str | None = None
    where: list[PropertyFilter] = Field(default_factory=list)


def _parse(model: Any, body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except PydanticError as exc:
        raise ValidationError(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        ) from None


@router.post("/analytics/funnel")
def funnel_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Steps `[{"event", "where"}]`, `window`, `from`, `to` (Beijing dates), `mode`."""
    renamed = {**body, "start": body.get("from"), "end": body.get("to")}
    renamed.pop("from", None)
    renamed.pop("to", None)
    return funnel(env=c.tag_env, query=_parse(FunnelQuery, renamed))


@router.post("/analytics/retention")
def retention_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """The cohort triangle."""
    query: RetentionQuery = _parse(RetentionQuery, body)
    return retention(env=c.tag_env, **query.model_dump())


@router.post("/analytics/events")
def events_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Counts, customers and per-customer averages by period (and group)."""
    query: EventQuery = _parse(EventQuery, body)
    return event_trend(env=c.tag_env, **query.model_dump())


@router.post("/analytics/distribution")
def distribution_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Customers by how many times they did the event."""
    query: EventQuery = _parse(EventQuery, body)
    return distribution(env=c.tag_env, event=query.event, start=query.start, end=query.end, where=query.where)


class PathQuery(BaseModel):
    """Paths after `from_event` or before `to_event` over Beijing dates."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    from_event: str | None = None
    to_event: str | None = None
    steps: int = 5
    limit: int = 50


@router.post("/analytics/paths")
def paths_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Nodes and the heaviest links (Sankey data) of session paths around an event."""
    query: PathQuery = _parse(PathQuery, body)
    return paths(env=c.tag_env, **query.model_dump())
