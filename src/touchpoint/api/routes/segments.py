"""Segments over HTTP: the rule schema, a live preview for the editor, saved segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, UploadFile
from fastapi.responses import PlainTextResponse

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.segments.model import rule_schema
from touchpoint.segments.service import (
    export_members,
    list_segments,
    preview,
    read_numbers,
    refresh_segment,
    save_list_segment,
    save_segment,
    segment_from,
    status,
)

router = APIRouter(tags=["segments"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]


@router.get("/segments/schema")
def schema() -> dict[str, Any]:
    """The JSON Schema of a rule tree."""
    return rule_schema()


@router.post("/segments/preview")
def preview_rule(
    c: Deps,
    rule: Annotated[dict[str, Any], Body(description="a rule tree (see /segments/schema)")],
    at: Annotated[datetime | None, Query(description="evaluate as of this instant (default now)")] = None,
    path: Annotated[
        Literal["bitmap", "sql"], Query(description="bitmap (fast) or sql (reference)")
    ] = "bitmap",
    sample: Annotated[int, Query(ge=0, le=100)] = 10,
) -> dict[str, Any]:
    """The live count of an unsaved rule and a masked sample of its members."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=c.calendar.tz)
    return preview(env=c.tag_env, rule=rule, at=at, path=path, sample=sample)


@router.get("/segments")
def segments(c: Deps) -> list[dict[str, Any]]:
    """Every saved segment."""
    return [s.model_dump(mode="json") for s in list_segments(env=c.tag_env).values()]


@router.get("/segments/{name}")
def segment(name: str, c: Deps) -> dict[str, Any]:
    """One saved segment: rule, size history, last computation and last error."""
    return status(env=c.tag_env, name=name)


@router.post("/segments/{name}/refresh")
def refresh(name: str, c: Deps, caller: Caller) -> dict[str, Any]:
    """Evaluate a saved segment now and keep today's member snapshot."""
    return refresh_segment(env=c.tag_env, principal=caller, name=name)


@router.get("/segments/{name}/export", response_class=PlainTextResponse)
def export(
    name: str, c: Deps, caller: Caller, attributes: Annotated[str, Query(description="comma-separated")] = ""
) -> str:
    """The members of the newest snapshot as CSV (recorded in the audit log)."""
    chosen = [a.strip() for a in attributes.split(",") if a.strip()]
    return export_members(env=c.tag_env, principal=caller, name=name, attributes=chosen)


@router.post("/segments/{name}/upload")
async def upload(name: str, file: UploadFile, c: Deps, caller: Caller) -> dict[str, Any]:
    """Make a static segment from an uploaded file of customer numbers; unknown numbers are reported."""
    numbers = read_numbers(await file.read())
    return save_list_segment(
        env=c.tag_env, principal=caller, name=name, title=name, numbers=numbers, source=file.filename or name
    )


@router.put("/segments/{name}")
def put_segment(
    name: str,
    c: Deps,
    caller: Caller,
    body: Annotated[dict[str, Any], Body(description="title, description, kind, rule; name from the path")],
) -> dict[str, Any]:
    """Create or update a saved segment after checking its rule."""
    definition = segment_from(body, name)
    return {"name": name, "version": save_segment(env=c.tag_env, principal=caller, segment=definition)}
