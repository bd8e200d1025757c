"""One error shape for every failure the API answers, and the handlers that produce it.

Every 4xx/5xx body is `{"error": {"code", "message", "details": [{"loc", "msg"}]}}` — a request that fails
FastAPI's own validation, a domain error (`TouchpointError`), a refused collector payload, an unknown path or
method. Routes declare the statuses they can answer with `errors(404, 409)` so that the OpenAPI document (and
the console typed from it) knows each one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from touchpoint.core.errors import (
    ConflictError,
    Fault,
    ForbiddenError,
    NotFoundError,
    TouchpointError,
    UnauthorizedError,
    ValidationError,
    fault_list,
)
from touchpoint.ingest import ImportRejected
from touchpoint.ingest.collector.keys import UnknownWriteKey
from touchpoint.ingest.collector.payload import PayloadError
from touchpoint.ingest.collector.service import CollectorUnavailable


class ErrorDetail(BaseModel):
    """One thing wrong with the request: where (a path of names and indices) and what."""

    loc: list[str | int] = Field(description="where: body/query/path, then field names and list indices")
    msg: str = Field(description="what is wrong, in words")


class ErrorInfo(BaseModel):
    """What went wrong: a stable code for programs, a message for people, the faulty fields."""

    code: str = Field(description="stable machine-readable code, e.g. invalid, not_found, conflict")
    message: str = Field(description="what is wrong and, where it helps, what to do")
    details: list[ErrorDetail] = Field(default_factory=list)
    report: dict[str, Any] | None = Field(
        default=None, description="an import refused whole: the full validation report"
    )


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorInfo


_DESCRIPTIONS = {
    400: "The input can never be valid as given",
    401: "Missing or unknown credential",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "The request does not match its schema",
    429: "Too many requests",
    503: "Temporarily unavailable; retry after the Retry-After seconds",
}

_STATUS_BY_ERROR: list[tuple[type[TouchpointError], int]] = [
    (ImportRejected, 422),
    (CollectorUnavailable, 503),
    (UnknownWriteKey, 401),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (ValidationError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these error statuses (422 is documented app-wide)."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")} for status in statuses
    }


def status_of(exc: TouchpointError) -> int:
    """The HTTP status a domain error maps to."""
    return next((status for kind, status in _STATUS_BY_ERROR if isinstance(exc, kind)), 400)


def error_response(
    status: int,
    code: str,
    message: str,
    faults: tuple[Fault, ...] | list[Fault] = (),
    *,
    headers: dict[str, str] | None = None,
    report: dict[str, Any] | None = None,
) -> JSONResponse:
    """An answer in the one error shape."""
    info = ErrorInfo(
        code=code,
        message=message,
        details=[ErrorDetail(loc=list(f.loc), msg=f.msg) for f in faults],
        report=report,
    )
    body = ErrorBody(error=info).model_dump(mode="json", exclude_none=True)
    if status == 503:
        headers = {"Retry-After": "5", **(headers or {})}
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _touchpoint_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TouchpointError)
    report = exc.report.model_dump(mode="json") if isinstance(exc, ImportRejected) else None
    return error_response(status_of(exc), exc.code, str(exc), exc.faults, report=report)


async def _payload_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadError)
    return error_response(exc.status, exc.reason, exc.detail)


async def _request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    faults = fault_list(exc.errors())
    message = "; ".join(f"{f.place}: {f.msg}" for f in faults) or "invalid request"
    return error_response(422, "invalid_request", message, faults)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}) or None)


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure answer in the one error shape."""
    app.add_exception_handler(TouchpointError, _touchpoint_error)
    app.add_exception_handler(PayloadError, _payload_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
