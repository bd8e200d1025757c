"""Segments over HTTP: the rule schema, a live preview for the editor, saved segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.governance.approvals import ApprovalRead, PendingApproval
from touchpoint.segments.model import (
    ListUploadRead,
    PreviewRead,
    Rule,
    SegmentCreate,
    SegmentDefinitionRead,
    SegmentRead,
    SegmentUploadRead,
    UploadedListRead,
    rule_schema,
)
from touchpoint.segments.service import (
    export_members,
    list_segments,
    preview,
    read_numbers,
    refresh_segment,
    save_list_segment,
    status,
    upload_list,
    uploaded_lists,
)
from touchpoint.tags.model import DefinitionVersion

router = APIRouter(tags=["segments"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"description": "the members as CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
    202: {"description": "held for approval (segment.export)", "model": PendingApproval},
}


# A rule's schema and the saved definitions hold no customer data: users limited to branches read them too.
@router.get("/segments/schema", dependencies=[needs("segment:read", scoped=True)])
def schema() -> dict[str, Any]:
    """The JSON Schema of a rule tree (itself a JSON Schema document, hence an open object)."""
    return rule_schema()


@router.post(
    "/segments/preview", dependencies=[needs("segment:read", scoped=True)], responses=errors(400, 404)
)
def preview_rule(
    c: Deps,
    caller: Caller,
    rule: Annotated[Rule, Body(description="a rule tree (see /segments/schema)")],
    at: Annotated[datetime | None, Query(description="evaluate as of this instant (default now)")] = None,
    path: Annotated[
        Literal["bitmap", "sql"], Query(description="bitmap (fast) or sql (reference)")
    ] = "bitmap",
    sample: Annotated[int, Query(ge=0, le=100)] = 10,
) -> PreviewRead:
    """The live count of an unsaved rule and a masked sample of its members."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=c.calendar.tz)
    tree = rule.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return PreviewRead.model_validate(
        preview(env=c, principal=caller, rule=tree, at=at, path=path, sample=sample)
    )


@router.get("/segments", dependencies=[needs("segment:read", scoped=True)])
def segments(c: Deps) -> list[SegmentDefinitionRead]:
    """Every saved segment's definition (sizes and members: GET /segments/{name})."""
    return [SegmentDefinitionRead.model_validate(s.model_dump()) for s in list_segments(env=c).values()]


@router.get("/segments/{name}", dependencies=[needs("segment:read", scoped=True)], responses=errors(404))
def segment(name: str, c: Deps, caller: Caller) -> SegmentRead:
    """One saved segment: rule, size history, last computation and last error (the sizes count the caller's
    customers only, for a user limited to branches)."""
    return SegmentRead.model_validate(status(env=c, name=name, scope=caller.scope))


@router.post("/segments/{name}/refresh", dependencies=[needs("segment:write")], responses=errors(400, 404))
def refresh(name: str, c: Deps, caller: Caller) -> SegmentRead:
    """Evaluate a saved segment now and keep today's member snapshot."""
    return SegmentRead.model_validate(refresh_segment(env=c, principal=caller, name=name))


# The errors stay JSON: a route-wide response_class would have the document say text/plain for them too.
@router.get(
    "/segments/{name}/export",
    dependencies=[needs("segment:export", scoped=True)],
    response_class=Response,
    responses=CSV | errors(400, 404),
)
def export(
    name: str,
    c: Deps,
    caller: Caller,
    attributes: Annotated[str, Query(description="comma-separated")] = "",
    approval: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="the approved request of a large export (used once)"),
    ] = None,
) -> Response:
    """The members of the newest snapshot as CSV (recorded in the audit log). Above the `segment.export`
    threshold the answer is 202 with the approval request; once approved, export again with `approval`."""
    chosen = [a.strip() for a in attributes.split(",") if a.strip()]
    done = export_members(env=c, principal=caller, name=name, attributes=chosen, approval=approval)
    if isinstance(done, ApprovalRead):
        held = PendingApproval(pending_approval=done)
        return JSONResponse(held.model_dump(mode="json"), status_code=202)
    return PlainTextResponse(done, media_type="text/csv")


# Lists hold customer numbers but their listing shows only names and sizes: open to scoped users.
@router.get(
    "/lists",
    dependencies=[needs("segment:read", scoped=True)],
    response_model=list[UploadedListRead],
    response_model_by_alias=True,
)
def lists(c: Deps) -> list[UploadedListRead]:
    """The newest 200 uploaded lists (for a rule's 导入名单 condition), newest first."""
    return [UploadedListRead.model_validate(row) for row in uploaded_lists(env=c)]


@router.post(
    "/lists",
    dependencies=[needs("segment:write")],
    response_model=ListUploadRead,
    response_model_by_alias=True,
    responses=errors(400),
)
async def upload_a_list(file: UploadFile, c: Deps, caller: Caller) -> ListUploadRead:
    """Upload a file of customer numbers (one per line, UTF-8 or GBK) as a list a rule can name; the numbers
    no customer has are reported."""
    numbers = read_numbers(await file.read())
    return ListUploadRead.model_validate(
        upload_list(env=c, principal=caller, name=file.filename or "list", numbers=numbers)
    )


@router.post("/segments/{name}/upload", dependencies=[needs("segment:write")], responses=errors(400))
async def upload(name: str, file: UploadFile, c: Deps, caller: Caller) -> SegmentUploadRead:
    """Make a static segment from an uploaded file of customer numbers; unknown numbers are reported."""
    numbers = read_numbers(await file.read())
    saved = save_list_segment(
        env=c, principal=caller, name=name, title=name, numbers=numbers, source=file.filename or name
    )
    return SegmentUploadRead.model_validate(saved)


@router.put("/segments/{name}", dependencies=[needs("segment:write")], responses=errors(400, 404))
def put_segment(
    name: str,
    c: Deps,
    caller: Caller,
    body: Annotated[SegmentCreate, Body(description="title, description, kind, rule; name from the path")],
) -> DefinitionVersion:
    """Create or update a saved segment after checking its rule."""
    saved = c.registry.save(caller, "segment", name, body.fields())
    if saved.pending_approval is not None:
        live = c.registry.history("segment", name)[-1].version
        return DefinitionVersion(name=name, version=live, pending_approval=saved.pending_approval)
    assert saved.version is not None  # a save that was not held has its version
    return DefinitionVersion(name=name, version=saved.version)
