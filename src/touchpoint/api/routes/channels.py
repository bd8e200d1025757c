"""Channels over HTTP: templates (save, check, preview, activate, retire), consent and do-not-disturb, the
in-app inbox the app reads, provider receipts, tracked links and unsubscribes, and the message report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.channels import audience, feedback, service
from touchpoint.channels.model import TemplateDef
from touchpoint.core.errors import NotFoundError
from touchpoint.governance import Principal

router = APIRouter(tags=["channels"])
public = APIRouter(tags=["channels"])  # links customers open: outside /api/v1, short
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")]


class PreviewRequest(BaseModel):
    """Render a template for one customer, with an entry payload."""

    model_config = ConfigDict(extra="forbid")

    customer_no: str
    payload: dict[str, Any] = Field(default_factory=dict)
    version: int | None = None


class ConsentRequest(BaseModel):
    """Grant or withdraw marketing consent on a channel ('*' for all)."""

    model_config = ConfigDict(extra="forbid")

    channel: str = "*"
    granted: bool
    source: str = Field(default="api", min_length=1, max_length=64)


class DndRequest(BaseModel):
    """Put a customer on the do-not-disturb list."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1)
    days: int | None = Field(default=None, ge=1)


@router.get("/templates/schema")
def template_schema() -> dict[str, Any]:
    """The JSON Schema of a template."""
    return TemplateDef.model_json_schema()


@router.get("/templates")
def templates(deps: Deps) -> list[dict[str, Any]]:
    """Every template with its status and versions."""
    return service.list_templates(env=deps.channel_env)


@router.put("/templates/{name}")
def save(name: str, deps: Deps, caller: Caller, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Save a new version (a draft); the content check's faults come back for the editor."""
    template = service.parse_template({**body, "name": name})
    return service.save_template(env=deps.channel_env, principal=caller, template=template)


@router.get("/templates/{name}")
def get(name: str, deps: Deps, version: int | None = None) -> dict[str, Any]:
    """A template's newest (or a given) version."""
    return service.get_template(env=deps.channel_env, name=name, version=version).model_dump(mode="json")


@router.post("/templates/{name}/check")
def check(name: str, deps: Deps, version: int | None = None) -> dict[str, Any]:
    """The content check: banned words, risk disclosure, lengths, variables, sandbox."""
    template = service.get_template(env=deps.channel_env, name=name, version=version)
    faults = service.check_template(env=deps.channel_env, template=template)
    return {"name": name, "ok": not faults, "faults": faults}


@router.post("/templates/{name}/preview")
def preview(name: str, deps: Deps, request: PreviewRequest) -> dict[str, Any]:
    """The template rendered for a chosen customer (nothing is sent)."""
    return service.preview(
        env=deps.channel_env,
        name=name,
        customer_no=request.customer_no,
        payload=request.payload,
        version=request.version,
    )


@router.post("/templates/{name}/activate")
def activate(name: str, deps: Deps, caller: Caller, version: int | None = None) -> dict[str, Any]:
    """Make a version the one that sends (refused with every fault when the content check fails)."""
    return service.activate_template(env=deps.channel_env, principal=caller, name=name, version=version)


@router.post("/templates/{name}/retire")
def retire(name: str, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Stop a template from sending."""
    return service.retire_template(env=deps.channel_env, principal=caller, name=name)


@router.get("/customers/{customer_no}/consent")
def consent(customer_no: str, deps: Deps) -> dict[str, Any]:
    """Marketing consent per channel, do-not-disturb, and the consent history."""
    return audience.consent_of(env=deps.channel_env, customer_no=customer_no)


@router.post("/customers/{customer_no}/consent")
def set_consent(customer_no: str, request: ConsentRequest, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Record a consent change."""
    return audience.set_consent(
        env=deps.channel_env,
        principal=caller,
        customer_no=customer_no,
        channel=request.channel,
        granted=request.granted,
        source=request.source,
    )


@router.get("/customers/{customer_no}/messages")
def messages(customer_no: str, deps: Deps, limit: Limit = 50) -> list[dict[str, Any]]:
    """A customer's newest messages with status, reason and evidence."""
    return service.customer_messages(env=deps.channel_env, customer_no=customer_no, limit=limit)


@router.get("/do-not-disturb")
def dnd_list(deps: Deps) -> list[dict[str, Any]]:
    """The do-not-disturb list."""
    return audience.do_not_disturb_list(env=deps.channel_env)


class DndListRequest(DndRequest):
    """Put many customers on the list at once."""

    customers: list[str] = Field(min_length=1, max_length=100_000)


@router.post("/do-not-disturb")
def dnd_add_many(request: DndListRequest, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Put a list of customers on the do-not-disturb list (all or none; a bad number is named)."""
    return audience.add_do_not_disturb_list(
        env=deps.channel_env,
        principal=caller,
        customers=request.customers,
        reason=request.reason,
        days=request.days,
    )


@router.put("/do-not-disturb/{customer_no}")
def dnd_add(customer_no: str, request: DndRequest, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Put a customer on the list."""
    return audience.add_do_not_disturb(
        env=deps.channel_env,
        principal=caller,
        customer_no=customer_no,
        reason=request.reason,
        days=request.days,
    )


@router.delete("/do-not-disturb/{customer_no}")
def dnd_remove(customer_no: str, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Take a customer off the list."""
    if not audience.remove_do_not_disturb(env=deps.channel_env, principal=caller, customer_no=customer_no):
        raise NotFoundError(f"customer {customer_no} is not on the do-not-disturb list")
    return {"customer_no": customer_no, "removed": True}


@router.get("/inbox/{customer_no}")
def inbox(customer_no: str, deps: Deps, limit: Limit = 50, unread_only: bool = False) -> dict[str, Any]:
    """The customer's in-app messages for the app to show, newest first."""
    return feedback.inbox(env=deps.channel_env, customer_no=customer_no, limit=limit, unread_only=unread_only)


@router.post("/inbox/{customer_no}/{message_id}/read")
def inbox_read(customer_no: str, message_id: str, deps: Deps) -> dict[str, Any]:
    """The app shows a message: mark it read (its first reading is `message_opened`)."""
    if not feedback.read_inbox_message(env=deps.channel_env, customer_no=customer_no, message_id=message_id):
        raise NotFoundError(f"no unread message {message_id} for {customer_no}")
    return {"id": message_id, "read": True}


@router.post("/channels/{channel}/receipts", response_model=None)
async def receipts(
    channel: str,
    request: Request,
    deps: Deps,
    token: str | None = None,
    signature: str | None = None,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, int] | PlainTextResponse:
    """A provider's callback (delivery reports, opens, SMS replies), carrying the channel's receipt token as
    `?token=` or the `X-Touchpoint-Token` header (WeChat: its signature made with that token)."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    counts = await run_in_threadpool(
        feedback.apply_receipts,
        env=deps.channel_env,
        channel=channel,
        body=body,
        headers=headers,
        token=token or headers.get("x-touchpoint-token"),
        signed=_signed(signature, timestamp, nonce),
    )
    if channel == "wechat":  # WeChat wants the bare word; anything else shows followers an error notice
        return PlainTextResponse("success")
    return counts


@router.get("/channels/{channel}/receipts", response_class=PlainTextResponse)
def wechat_handshake(
    channel: str, deps: Deps, signature: str, timestamp: str, nonce: str, echostr: str
) -> str:
    """WeChat checks the server URL before it sends events: echo `echostr` when the signature holds."""
    signed = feedback.WechatSignature(signature, timestamp, nonce)
    return feedback.wechat_handshake(env=deps.channel_env, channel=channel, signed=signed, echostr=echostr)


def _signed(
    signature: str | None, timestamp: str | None, nonce: str | None
) -> feedback.WechatSignature | None:
    if signature and timestamp and nonce:
        return feedback.WechatSignature(signature, timestamp, nonce)
    return None


@router.get("/channels/report")
def report(
    deps: Deps, days: Annotated[int, Query(ge=1, le=3660)] = 7, journey: str | None = None
) -> dict[str, Any]:
    """Sends by status and reason, and the message funnel, per channel and template."""
    return service.report(env=deps.channel_env, days=days, journey=journey)


@public.get("/t/{code}")
def follow(code: str, deps: Deps) -> RedirectResponse:
    """A tracked link: record the click, then redirect to the target with its UTM parameters."""
    return RedirectResponse(feedback.follow_link(env=deps.channel_env, code=code), status_code=302)


@public.get("/u/{code}", response_class=HTMLResponse)
def unsubscribe(code: str, deps: Deps) -> str:
    """An unsubscribe link: opt out of marketing on the message's channel."""
    done = feedback.unsubscribe(env=deps.channel_env, code=code)
    return (
        "<!doctype html><meta charset='utf-8'><title>退订成功 · Unsubscribed</title>"
        f"<p>您已退订 {done['channel']} 营销消息。</p>"
        f"<p>You will no longer receive marketing on {done['channel']}.</p>"
    )
