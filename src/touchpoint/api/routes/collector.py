"""Collector endpoints that unmodified SDKs send to: Sensors, Segment, PostHog, and the native batch API.

Each answers the status its SDK treats as success only after the batch is durable; 503 when the log cannot
take it (the SDKs retry); 400/401/413/415 only for requests that can never be valid — each refusal counted by
its reason, with the first 64 KB of its body kept in the quarantine.

Only reading the body happens on the event loop. Inflating, decoding and checking run in worker threads, at
most `collector_concurrent_batches` requests at a time, so that `/healthz` and other requests are answered
while a large body is decoded. Storing is the collector's single writer's (group commit, see
`ingest/collector/committer`): the requests waiting together share one durable write. At most twice
`collector_concurrent_batches` requests are decoded or waiting for their write, so resident memory stays
bounded however many arrive at once.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from touchpoint.api.deps import Needs, container, needs, principal, public
from touchpoint.api.errors import error_response, errors
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.ingest.collector import native, posthog, segment, sensors
from touchpoint.ingest.collector.committer import GroupCommitter
from touchpoint.ingest.collector.keys import (
    IngestKeyCreate,
    IngestKeyCreatedRead,
    IngestKeyRead,
    RateLimited,
    UnknownWriteKey,
    admit,
    create_key,
    list_keys,
    revoke_key,
)
from touchpoint.ingest.collector.model import (
    Batch,
    CollectorStatsRead,
    CollectResultRead,
    FlagsRead,
    PostHogAck,
    QuarantinePage,
    ReplayReport,
    ReplayRequest,
    SegmentAck,
)
from touchpoint.ingest.collector.payload import PayloadError, check_encoding, form_fields
from touchpoint.ingest.collector.quarantine import list_quarantine, replay_quarantine
from touchpoint.ingest.collector.service import (
    REFUSED_SAMPLE_BYTES,
    CollectorEnv,
    CollectResult,
    Prepared,
    prepare,
    record_rejected_batch,
)
from touchpoint.ingest.collector.stats import collector_stats, prometheus_text

router = APIRouter(tags=["collector"])
# Operator endpoints: mounted under /api/v1 by the full API only, never on a public collector-only process.
admin = APIRouter(tags=["collector"])
INGESTION = "SDK and native events: the ingestion key is checked per batch"
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
Decoder = Callable[[bytes], Batch]

# ---- what the SDKs send, for the OpenAPI document --------------------------------------------------------

_ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_GZIP_BODY: dict[str, Any] = {
    "schema": {"type": "string", "format": "binary"},
    "example": "(gzip-compressed JSON)",
}
_SENSORS_FORM: dict[str, Any] = {
    "type": "object",
    "description": "Sensors wire format: `data` (one message) or `data_list` (an array), base64 of JSON, "
    "gzip-compressed first when `gzip` is 1; `crc` is Java's String.hashCode of the base64 text.",
    "properties": {
        "data": {"type": "string", "description": "base64 of one message"},
        "data_list": {"type": "string", "description": "base64 of an array of messages"},
        "gzip": {"type": "string", "enum": ["0", "1", "9"], "description": "1: gzip; 9: encrypted (refused)"},
        "crc": {"type": "string", "description": "Java String.hashCode of the base64 text"},
        "project": {"type": "string"},
        "ext": {"type": "string", "description": "`crc=…` as the JS SDK sends it"},
    },
}
_SENSORS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _SENSORS_FORM},
            "text/plain": {"schema": {"type": "string", "description": "the same form, as beacons send it"}},
        },
    }
}
_SENSORS_QUERY: dict[str, Any] = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in _SENSORS_FORM["properties"].items()
    ]
}
_SEGMENT_MESSAGE: dict[str, Any] = {
    "type": "object",
    "description": "A Segment message: type, userId or anonymousId, messageId, timestamp, event, properties…",
    "properties": {
        "type": {"type": "string", "enum": sorted(segment.KINDS)},
        "userId": {"type": "string"},
        "anonymousId": {"type": "string"},
        "messageId": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "event": {"type": "string"},
        "properties": _ANY_OBJECT,
        "traits": _ANY_OBJECT,
    },
    "additionalProperties": True,
}
_SEGMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "`/v1/batch`: {batch: [message], writeKey?, sentAt?}; a single call "
                    "(`/v1/track`, …): the message itself",
                    "properties": {
                        "batch": {"type": "array", "items": _SEGMENT_MESSAGE},
                        "writeKey": {"type": "string"},
                        "sentAt": {"type": "string", "format": "date-time"},
                    },
                    "additionalProperties": True,
                }
            },
            "application/gzip": _GZIP_BODY,
        },
    }
}
_POSTHOG_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "distinct_id": {"type": "string"},
        "uuid": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "properties": _ANY_OBJECT,
    },
    "additionalProperties": True,
}
_POSTHOG_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "{api_key, batch: [event], sent_at?, historical_migration?}, "
                    "an array of events, or one event",
                    "anyOf": [
                        {
                            "type": "object",
                            "properties": {
                                "api_key": {"type": "string"},
                                "batch": {"type": "array", "items": _POSTHOG_EVENT},
                                "sent_at": {"type": "string", "format": "date-time"},
                                "historical_migration": {"type": "boolean"},
                            },
                            "additionalProperties": True,
                        },
                        {"type": "array", "items": _POSTHOG_EVENT},
                    ],
                }
            },
            "text/plain": {"schema": {"type": "string", "description": "JSON, as posthog-js sends it"}},
            "application/gzip": _GZIP_BODY,
        },
    }
}
_NATIVE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "time"],
    "properties": {
        "event_id": {"type": "string", "maxLength": 255, "description": "resends with it are recognised"},
        "event": {"type": "string", "pattern": "^[a-zA-Z_$][a-zA-Z0-9_$]{0,99}$"},
        "customer_no": {"type": "string", "maxLength": 255},
        "distinct_id": {"type": "string", "maxLength": 255},
        "login_id": {"type": "string", "maxLength": 255},
        "anonymous_id": {"type": "string", "maxLength": 255},
        "time": {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
            "description": "ISO 8601 with an offset, or epoch milliseconds",
        },
        "historical": {"type": "boolean", "description": "lifts the age limit"},
        "properties": _ANY_OBJECT,
    },
    "additionalProperties": True,
}
_NATIVE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": '{"events": [event]} or a bare array of events; gzip is read too',
                    "anyOf": [
                        {
                            "type": "object",
                            "required": ["events"],
                            "properties": {"events": {"type": "array", "items": _NATIVE_EVENT}},
                        },
                        {"type": "array", "items": _NATIVE_EVENT},
                    ],
                }
            },
            "application/gzip": _GZIP_BODY,
        },
    }
}
_EMPTY_200: dict[int | str, dict[str, Any]] = {200: {"description": "Stored (an empty body)", "content": {}}}
_GIF_200: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored: a 1×1 GIF", "content": {"image/gif": {"schema": {"type": "string"}}}}
}
# Every way an ingest route refuses: bad input, no or a wrong ingestion key, too large, unsupported, over the
# key's rate, the log unavailable.
_REFUSALS = (400, 401, 413, 415, 429, 503)


# ---- reading, decoding and storing off the event loop -----------------------------------------------------


class _BodyRefused(Exception):
    """A body refused while it was read, with what had arrived (for the sample kept)."""

    def __init__(self, error: PayloadError, sample: bytes) -> None:
        super().__init__(error.detail)
        self.error = error
        self.sample = sample


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit` bytes: never read whole."""
    check_encoding(request.headers.get("content-encoding"))
    too_large = PayloadError(
        "too_large", f"the body is larger than {limit:,} bytes (collector_max_body_mb)", status=413
    )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyRefused(
                too_large, b"".join(chunks)[:REFUSED_SAMPLE_BYTES] + chunk[:REFUSED_SAMPLE_BYTES]
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _limiter(request: Request, env: CollectorEnv) -> anyio.CapacityLimiter:
    """The threads that decode and check: one pool per application, `concurrent_batches` wide."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "collector_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(env.collector_limits.concurrent_batches)
        state.collector_limiter = limiter
    return limiter


def _in_flight(request: Request, env: CollectorEnv) -> anyio.CapacityLimiter:
    """Requests decoded or waiting for their write at once: twice the decoding threads, so that the writer
    always has the next group ready while it commits one."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "collector_in_flight", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(2 * env.collector_limits.concurrent_batches)
        state.collector_in_flight = limiter
    return limiter


def _committer(request: Request, env: CollectorEnv) -> GroupCommitter:
    """The application's single writer, started with its first request (closed when the app stops)."""
    state = request.app.state
    committer: GroupCommitter | None = getattr(state, "collector_committer", None)
    if committer is None:
        committer = GroupCommitter(env)
        state.collector_committer = committer
    return committer


def _decode_and_prepare(
    env: Container, decode: Decoder, body: bytes, source: str, key: str | None
) -> Prepared:
    """Everything CPU-bound about one request, run in a worker thread. The ingestion key comes with the
    request (Sensors' token, a native bearer) or inside the batch (Segment's write key, PostHog's api_key)."""
    batch = decode(body)
    admit(env, source=source, secret=key or batch.key)
    return prepare(env=env, batch=batch)


async def _ingest(
    request: Request, c: Container, source: str, decode: Decoder, *, key: str | None = None
) -> CollectResult | Response:
    """Read, decode and store one request; a refusal is counted, sampled and answered in the error shape."""
    env = c
    try:
        body = await _body(request, env.collector_limits.max_body)
    except PayloadError as error:
        return await _refuse(env, source, error, b"")
    except _BodyRefused as refused:
        return await _refuse(env, source, refused.error, refused.sample)
    try:
        async with _in_flight(request, env):
            prepared = await anyio.to_thread.run_sync(
                _decode_and_prepare, env, decode, body, source, key, limiter=_limiter(request, env)
            )
            if prepared.batch.dry_run:
                return prepared.dry_result()
            return await asyncio.wrap_future(_committer(request, env).submit(prepared))
    except PayloadError as error:
        return await _refuse(env, source, error, body or str(request.query_params).encode())
    except UnknownWriteKey as error:
        refusal = PayloadError("unknown_key", str(error), status=401)
        await _refuse(env, source, refusal, body)
        return error_response(401, error.code, str(error))
    except RateLimited as error:
        # Not recorded as a refused batch: the SDK sends it again after Retry-After, nothing is lost.
        seconds = max(1, math.ceil(error.retry_after.total_seconds()))
        return error_response(429, error.code, str(error), headers={"Retry-After": str(seconds)})


async def _refuse(env: CollectorEnv, source: str, error: PayloadError, raw: bytes) -> JSONResponse:
    await run_in_threadpool(
        record_rejected_batch, env=env, source=source, reason=error.reason, detail=error.detail, raw=raw
    )
    return error_response(error.status, error.reason, error.detail)


# ---- Sensors -------------------------------------------------------------------------------------------


@router.get(
    "/sa",
    dependencies=[public(INGESTION)],
    operation_id="sensors_get",
    response_class=Response,
    responses={**_GIF_200, **errors(*_REFUSALS)},
    openapi_extra=_SENSORS_QUERY,
)
@router.post(
    "/sa",
    dependencies=[public(INGESTION)],
    operation_id="sensors_post",
    response_class=Response,
    responses={**_EMPTY_200, **errors(*_REFUSALS)},
    openapi_extra={**_SENSORS_BODY, **_SENSORS_QUERY},
)
@router.get("/sa.gif", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/sa.gif", dependencies=[public(INGESTION)], include_in_schema=False)
async def sensors_track(request: Request, c: Deps) -> Response:
    """Sensors SDKs (Android, iOS, JS, server SDKs): `data` or `data_list`, base64, optional gzip and crc."""
    return await _sensors(request, c, debug=False)


@router.get(
    "/debug",
    dependencies=[public(INGESTION)],
    operation_id="sensors_debug_get",
    response_model=CollectResultRead,
    responses=errors(*_REFUSALS),
    openapi_extra=_SENSORS_QUERY,
)
@router.post(
    "/debug",
    dependencies=[public(INGESTION)],
    operation_id="sensors_debug_post",
    response_model=CollectResultRead,
    responses=errors(*_REFUSALS),
    openapi_extra={**_SENSORS_BODY, **_SENSORS_QUERY},
)
async def sensors_debug(request: Request, c: Deps) -> Response:
    """Sensors debug mode: a quarantined message is answered with 400 (the counts as the body);
    `Dry-Run: true` checks without storing."""
    return await _sensors(request, c, debug=True)


async def _sensors(request: Request, c: Deps, *, debug: bool) -> Response:
    query = dict(request.query_params)
    dry_run = debug and request.headers.get("dry-run", "").lower() == "true"
    limits = c.collector_limits

    def decode(body: bytes) -> Batch:
        return sensors.decode(form_fields(query, body), dry_run=dry_run, limits=limits)

    result = await _ingest(request, c, "sensors", decode, key=query.get("token"))
    if isinstance(result, Response):
        return result
    if debug:
        status = 400 if result.quarantined else 200
        return JSONResponse(status_code=status, content=_result_body(result).model_dump())
    if request.method == "GET":
        return Response(content=GIF, media_type="image/gif")
    return Response(status_code=200)


# ---- Segment -------------------------------------------------------------------------------------------


@router.post(
    "/v1/{route}",
    dependencies=[public(INGESTION)],
    response_model=SegmentAck,
    responses=errors(*_REFUSALS, 404),
    openapi_extra=_SEGMENT_BODY,
)
async def segment_calls(route: str, request: Request, c: Deps) -> Response:
    """Segment: `/v1/batch`, and single calls `/v1/track`, `/v1/t`, `/v1/identify`, `/v1/i`, …"""
    if route != "batch" and route not in segment.SINGLE_ROUTES:
        return error_response(404, "not_found", f"no Segment route {route}")
    authorization = request.headers.get("authorization")
    limits = c.collector_limits

    def decode(body: bytes) -> Batch:
        return segment.decode(body, authorization, route, limits=limits)

    result = await _ingest(request, c, "segment", decode)
    if isinstance(result, Response):
        return result
    return JSONResponse(status_code=200, content=SegmentAck().model_dump())


# ---- PostHog -------------------------------------------------------------------------------------------


@router.post(
    "/batch/",
    dependencies=[public(INGESTION)],
    response_model=PostHogAck,
    responses=errors(*_REFUSALS),
    openapi_extra=_POSTHOG_BODY,
)
@router.post("/batch", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/capture/", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/capture", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/e/", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/e", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/i/v0/e/", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/i/v0/e", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/track/", dependencies=[public(INGESTION)], include_in_schema=False)
async def posthog_capture(request: Request, c: Deps) -> Response:
    """PostHog: `/batch/`, `/capture/`, `/e/`, `/i/v0/e/`, `/track/`; success is exactly 200."""
    limits = c.collector_limits

    def decode(body: bytes) -> Batch:
        return posthog.decode(body, limits=limits)

    result = await _ingest(request, c, "posthog", decode)
    if isinstance(result, Response):
        return result
    return JSONResponse(status_code=200, content=PostHogAck().model_dump())


@router.post("/flags/", dependencies=[public(INGESTION)], include_in_schema=False)
@router.post("/decide/", dependencies=[public(INGESTION)], include_in_schema=False)
async def posthog_flags() -> FlagsRead:
    """Feature flags are not served: an empty set keeps posthog-js quiet."""
    return FlagsRead()


# ---- native --------------------------------------------------------------------------------------------


@router.post(
    "/api/v1/events",
    dependencies=[public(INGESTION)],
    response_model=CollectResultRead,
    responses=errors(*_REFUSALS),
    openapi_extra=_NATIVE_BODY,
)
async def native_events(
    request: Request,
    c: Deps,
    project: Annotated[
        str, Query(min_length=1, max_length=255, description="the events' project")
    ] = "default",
) -> Response:
    """Touchpoint's own batch: `{"events": [{event, customer_no|distinct_id, time, properties, …}]}`."""
    limits = c.collector_limits

    def decode(body: bytes) -> Batch:
        return native.decode(body, limits=limits, project=project)

    result = await _ingest(request, c, "native", decode, key=_bearer(request))
    if isinstance(result, Response):
        return result
    return JSONResponse(status_code=200, content=_result_body(result).model_dump())


def _bearer(request: Request) -> str | None:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


def _result_body(result: CollectResult) -> CollectResultRead:
    return CollectResultRead(
        accepted=result.accepted,
        duplicates=result.duplicates,
        quarantined=result.quarantined,
        reasons=result.reasons,
    )


# ---- observability -------------------------------------------------------------------------------------


@router.get("/metrics", dependencies=[public("Prometheus scrape")], response_class=PlainTextResponse)
def metrics(c: Deps) -> str:
    """Prometheus metrics: accepted, duplicates, quarantined by reason, consumer and compaction lag."""
    return prometheus_text(collector_stats(log=c.log, ops=c.ops, clock=c.clock))


@router.get(
    "/api/v1/collector/stats", dependencies=[needs("collector:read")], response_model=CollectorStatsRead
)
def stats(c: Deps) -> CollectorStatsRead:
    """The collector's counters and lags as JSON."""
    return CollectorStatsRead.model_validate(collector_stats(log=c.log, ops=c.ops, clock=c.clock))


# ---- the quarantine (operators) ------------------------------------------------------------------------


@admin.get(
    "/collector/quarantine",
    dependencies=[needs("collector:read")],
    response_model=QuarantinePage,
    responses=errors(401),
)
def quarantine_list(
    c: Deps,
    caller: Caller,
    reason: Annotated[str | None, Query(max_length=64, description="only this reason")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")] = 50,
) -> QuarantinePage:
    """The newest quarantined messages with their reasons and what their requests said."""
    return list_quarantine(env=c, principal=caller, reason=reason, limit=limit)


@admin.post(
    "/collector/quarantine/replay",
    dependencies=[needs("collector:operate")],
    response_model=ReplayReport,
    responses=errors(400, 401, 503),
)
def quarantine_replay(body: ReplayRequest, c: Deps, caller: Caller) -> ReplayReport:
    """Check messages again as on arrival with the age limit lifted; admit those that pass (recorded in the
    audit log with `why`), keep the others with the reason they fail now. Answers once admitted events are
    durable; replaying again admits nothing twice."""
    return replay_quarantine(env=c, principal=caller, why=body.why, ids=body.ids, reason=body.reason)


# ---- ingestion keys ------------------------------------------------------------------------------------

KeyAdmin = Annotated[Principal, Depends(Needs("key:manage"))]


@admin.get(
    "/collector/keys",
    dependencies=[needs("key:manage")],
    response_model=list[IngestKeyRead],
    responses=errors(401, 403),
)
def ingest_keys(c: Deps) -> list[IngestKeyRead]:
    """Every ingestion key (never its secret), revoked ones too."""
    return list_keys(c)


@admin.post(
    "/collector/keys",
    dependencies=[needs("key:manage")],
    response_model=IngestKeyCreatedRead,
    status_code=201,
    responses=errors(400, 401, 403),
)
def new_ingest_key(body: IngestKeyCreate, caller: KeyAdmin, c: Deps) -> IngestKeyCreatedRead:
    """A key for one source (sensors, segment, posthog, native); its secret is in this answer only."""
    return create_key(c, principal=caller, key=body)


@admin.delete(
    "/collector/keys/{key_id}",
    dependencies=[needs("key:manage")],
    response_model=IngestKeyRead,
    responses=errors(401, 403, 404),
)
def revoke_ingest_key(key_id: int, caller: KeyAdmin, c: Deps) -> IngestKeyRead:
    """Revoke a key: refused from the next batch on, by every collector process."""
    return revoke_key(c, principal=caller, key_id=key_id)
