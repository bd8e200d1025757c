"""Collector endpoints that unmodified SDKs send to: Sensors, Segment, PostHog, and the native batch API.

Each answers the status its SDK treats as success only after the batch is durable; 503 when the log cannot
take it (the SDKs retry); 400/413 only for data that can never be valid.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from touchpoint.api.deps import container, principal
from touchpoint.api.errors import error_response
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.ingest.collector import native, posthog, segment, sensors
from touchpoint.ingest.collector.model import Batch, QuarantinePage, ReplayReport
from touchpoint.ingest.collector.payload import PayloadError, form_fields
from touchpoint.ingest.collector.quarantine import MAX_WHY, list_quarantine, replay_quarantine
from touchpoint.ingest.collector.service import CollectResult, collect, record_rejected_batch
from touchpoint.ingest.collector.stats import collector_stats, prometheus_text

router = APIRouter(tags=["collector"])
# Operator endpoints: mounted under /api/v1 by the full API only, never on a public collector-only process.
admin = APIRouter(tags=["collector"])
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadError("too_large", f"the body is larger than {limit:,} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError("too_large", f"the body is larger than {limit:,} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _collect(c: Container, batch: Batch) -> CollectResult:
    return await run_in_threadpool(collect, env=c.collector_env, batch=batch)


async def _refuse(c: Container, source: str, error: PayloadError, raw: bytes) -> JSONResponse:
    await run_in_threadpool(
        record_rejected_batch,
        env=c.collector_env,
        source=source,
        reason=error.reason,
        detail=error.detail,
        raw=raw,
    )
    return error_response(error.status, error.reason, error.detail)


# ---- Sensors -------------------------------------------------------------------------------------------


@router.get("/sa", operation_id="sensors_get")
@router.post("/sa", operation_id="sensors_post")
@router.get("/sa.gif", include_in_schema=False)
@router.post("/sa.gif", include_in_schema=False)
async def sensors_track(request: Request, c: Deps) -> Response:
    """Sensors SDKs (Android, iOS, JS, server SDKs): `data` or `data_list`, base64, optional gzip and crc."""
    return await _sensors(request, c, debug=False)


@router.get("/debug", operation_id="sensors_debug_get")
@router.post("/debug", operation_id="sensors_debug_post")
async def sensors_debug(request: Request, c: Deps) -> Response:
    """Sensors debug mode: every problem is answered with 400; `Dry-Run: true` checks without storing."""
    return await _sensors(request, c, debug=True)


async def _sensors(request: Request, c: Deps, *, debug: bool) -> Response:
    body = await _body(request, c.collector_env.max_body)
    try:
        fields = form_fields(dict(request.query_params), body)
        dry_run = debug and request.headers.get("dry-run", "").lower() == "true"
        batch = sensors.decode(fields, dry_run=dry_run, inflate_limit=c.collector_env.inflate_limit)
    except PayloadError as error:
        return await _refuse(c, "sensors", error, body or str(request.query_params).encode())
    result = await _collect(c, batch)
    if debug:
        status = 400 if result.quarantined else 200
        return JSONResponse(status_code=status, content=_result_body(result))
    if request.method == "GET":
        return Response(content=GIF, media_type="image/gif")
    return Response(status_code=200)


# ---- Segment -------------------------------------------------------------------------------------------


@router.post("/v1/{route}")
async def segment_calls(route: str, request: Request, c: Deps) -> Response:
    """Segment: `/v1/batch`, and single calls `/v1/track`, `/v1/t`, `/v1/identify`, `/v1/i`, …"""
    if route != "batch" and route not in segment.SINGLE_ROUTES:
        return error_response(404, "not_found", f"no Segment route {route}")
    body = await _body(request, c.collector_env.max_body)
    try:
        batch = segment.decode(
            body, request.headers.get("authorization"), route, inflate_limit=c.collector_env.inflate_limit
        )
    except PayloadError as error:
        return await _refuse(c, "segment", error, body)
    c.collector_env.check_key(batch.key)
    await _collect(c, batch)
    return JSONResponse(status_code=200, content={"success": True})


# ---- PostHog -------------------------------------------------------------------------------------------


@router.post("/batch/")
@router.post("/batch", include_in_schema=False)
@router.post("/capture/", include_in_schema=False)
@router.post("/capture", include_in_schema=False)
@router.post("/e/", include_in_schema=False)
@router.post("/e", include_in_schema=False)
@router.post("/i/v0/e/", include_in_schema=False)
@router.post("/i/v0/e", include_in_schema=False)
@router.post("/track/", include_in_schema=False)
async def posthog_capture(request: Request, c: Deps) -> Response:
    """PostHog: `/batch/`, `/capture/`, `/e/`, `/i/v0/e/`, `/track/`; success is exactly 200."""
    body = await _body(request, c.collector_env.max_body)
    try:
        batch = posthog.decode(body, inflate_limit=c.collector_env.inflate_limit)
    except PayloadError as error:
        return await _refuse(c, "posthog", error, body)
    c.collector_env.check_key(batch.key)
    await _collect(c, batch)
    return JSONResponse(status_code=200, content={"status": 1})


@router.post("/flags/", include_in_schema=False)
@router.post("/decide/", include_in_schema=False)
async def posthog_flags() -> dict[str, Any]:
    """Feature flags are not served: an empty set keeps posthog-js quiet."""
    return {"featureFlags": {}, "flags": {}, "errorsWhileComputingFlags": False}


# ---- native --------------------------------------------------------------------------------------------


@router.post("/api/v1/events")
async def native_events(request: Request, c: Deps) -> Response:
    """Touchpoint's own batch: `{"events": [{event, customer_no|distinct_id, time, properties, …}]}`."""
    body = await _body(request, c.collector_env.max_body)
    project = request.query_params.get("project", "default")
    try:
        batch = native.decode(body, inflate_limit=c.collector_env.inflate_limit, project=project)
    except PayloadError as error:
        return await _refuse(c, "native", error, body)
    result = await _collect(c, batch)
    return JSONResponse(status_code=200, content=_result_body(result))


def _result_body(result: CollectResult) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "quarantined": result.quarantined,
        "reasons": result.reasons,
    }


# ---- observability -------------------------------------------------------------------------------------


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(c: Deps) -> str:
    """Prometheus metrics: accepted, duplicates, quarantined by reason, consumer and compaction lag."""
    return prometheus_text(collector_stats(log=c.log, ops=c.ops, clock=c.clock))


@router.get("/api/v1/collector/stats")
def stats(c: Deps) -> dict[str, Any]:
    """The collector's counters and lags as JSON."""
    return collector_stats(log=c.log, ops=c.ops, clock=c.clock)


# ---- the quarantine (operators) ------------------------------------------------------------------------


class ReplayRequest(BaseModel):
    """Messages to check again with the age limit lifted: by id, or every message of one reason."""

    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(default_factory=list, max_length=10_000, description="quarantine ids")
    reason: str | None = Field(default=None, min_length=1, max_length=64, description="e.g. too_old")
    why: str = Field(min_length=1, max_length=MAX_WHY, description="kept in the audit log")


@admin.get("/collector/quarantine")
def quarantine_list(
    c: Deps,
    caller: Caller,
    reason: Annotated[str | None, Query(max_length=64, description="only this reason")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")] = 50,
) -> QuarantinePage:
    """The newest quarantined messages with their reasons and what their requests said."""
    return list_quarantine(env=c.collector_env, principal=caller, reason=reason, limit=limit)


@admin.post("/collector/quarantine/replay")
def quarantine_replay(body: ReplayRequest, c: Deps, caller: Caller) -> ReplayReport:
    """Check messages again as on arrival with the age limit lifted; admit those that pass (recorded in the
    audit log with `why`), keep the others with the reason they fail now. Answers once admitted events are
    durable; replaying again admits nothing twice."""
    return replay_quarantine(
        env=c.collector_env, principal=caller, why=body.why, ids=body.ids, reason=body.reason
    )
