"""Behaviour analytics over HTTP: funnels, retention, event trends, distributions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from touchpoint.analytics.distribution import distribution
from touchpoint.analytics.funnel import FunnelQuery, funnel, save_funnel_segment
from touchpoint.analytics.paths import paths
from touchpoint.analytics.retention import RetentionQuery, retention, save_retention_segment
from touchpoint.analytics.trend import event_trend
from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.segments.model import PropertyFilter

router = APIRouter(tags=["analytics"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]


class EventQuery(BaseModel):
    """One event (with filters) over Beijing dates by day, week, month or trading day; optionally grouped
    (`by`: a property, `attribute:NAME`, `tag:NAME`), measured (`sum:PROP`…) and compared."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    unit: Literal["day", "week", "month", "trading_day"] = "day"
    by: str | None = None
    top: int = 10
    measure: str | None = None
    compare_from: date | None = None
    where: list[PropertyFilter] = Field(default_factory=list)


class SaveFunnelCustomers(BaseModel):
    """Which customers of a funnel to keep as a static segment."""

    model_config = ConfigDict(extra="forbid")

    segment: str
    title: str | None = None
    step: int
    who: Literal["reached", "dropped"] = "dropped"


class SaveRetentionCell(BaseModel):
    """Which cell of a retention triangle to keep as a static segment (offset 0: the whole cohort)."""

    model_config = ConfigDict(extra="forbid")

    segment: str
    title: str | None = None
    cohort: date
    offset: int


def _parse(model: Any, body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except PydanticError as exc:
        raise ValidationError(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        ) from None


def _funnel_query(body: dict[str, Any]) -> FunnelQuery:
    renamed = {**body, "start": body.get("from"), "end": body.get("to")}
    renamed.pop("from", None)
    renamed.pop("to", None)
    query: FunnelQuery = _parse(FunnelQuery, renamed)
    return query


@router.post("/analytics/funnel")
def funnel_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Steps `[{"event", "where"}]`, `window`, `from`, `to` (Beijing dates), `mode`, `exclusions`, `by`."""
    return funnel(env=c.tag_env, query=_funnel_query(body))


@router.post("/analytics/funnel/segment")
def funnel_segment_route(c: Deps, caller: Caller, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """A funnel query plus `save: {"segment", "step", "who": "dropped"|"reached"}`: those customers become
    a static segment."""
    save: SaveFunnelCustomers = _parse(SaveFunnelCustomers, body.get("save") or {})
    query = _funnel_query({k: v for k, v in body.items() if k != "save"})
    return save_funnel_segment(
        env=c.tag_env,
        principal=caller,
        query=query,
        step=save.step,
        who=save.who,
        name=save.segment,
        title=save.title,
    )


@router.post("/analytics/retention")
def retention_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """The cohort triangle."""
    query: RetentionQuery = _parse(RetentionQuery, body)
    return retention(env=c.tag_env, **dict(query))


@router.post("/analytics/retention/segment")
def retention_segment_route(
    c: Deps, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """A retention query plus `save: {"segment", "cohort", "offset"}`: that cell becomes a static segment."""
    save: SaveRetentionCell = _parse(SaveRetentionCell, body.get("save") or {})
    query: RetentionQuery = _parse(RetentionQuery, {k: v for k, v in body.items() if k != "save"})
    return save_retention_segment(
        env=c.tag_env,
        principal=caller,
        query=query,
        cohort=save.cohort,
        offset=save.offset,
        name=save.segment,
        title=save.title,
    )


@router.post("/analytics/events")
def events_route(c: Deps, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Counts, customers and per-customer averages by period (and group)."""
    query: EventQuery = _parse(EventQuery, body)
    return event_trend(env=c.tag_env, **dict(query))


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
    return paths(env=c.tag_env, **dict(query))
