"""Channels over HTTP: templates (save, check, preview, activate, retire), consent and do-not-disturb, the
in-app inbox the app reads, provider receipts, tracked links and unsubscribes, and the message report.

Every body is a model of channels/model.py, every answer one too (or a redirect, an HTML page, WeChat's bare
word), and every error status a route can give is declared with `errors(...)`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from touchpoint.api.deps import container, needs, principal, public
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.channels import audience, feedback, service
from touchpoint.channels.channel_policy import ChannelPolicyRead, ChannelPolicySaved, save_policy
from touchpoint.channels.model import (
    CUSTOMER_NO,
    NAME_PATTERN,
    NO_CONTROL,
    Channel,
    ChannelHealthListRead,
    ConsentCreate,
    ConsentPageRead,
    ConsentRead,
    DndAddedRead,
    DndCreate,
    DndEntryRead,
    DndListCreate,
    DndRead,
    DndRemovedRead,
    InboxOpenedRead,
    InboxRead,
    MessageRead,
    PreviewCreate,
    PreviewRead,
    ReceiptCountsRead,
    ReportRead,
    TemplateCheckRead,
    TemplateCreate,
    TemplateDef,
    TemplateSavedRead,
    TemplateSchemaRead,
    TemplateStatusRead,
    TemplateSummaryRead,
    TemplateVariablesRead,
    TemplateVersionRead,
)
from touchpoint.config import ChannelPolicy
from touchpoint.core.errors import Fault, NotFoundError, ValidationError
from touchpoint.governance import Principal

router = APIRouter(tags=["channels"])
public_links = APIRouter(
    tags=["channels"], dependencies=[public("links customers open")]
)  # outside /api/v1, short
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")]
TemplateName = Annotated[str, Path(pattern=NAME_PATTERN, description="the template's name")]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="a version (default: the newest)")]
CustomerNo = Annotated[str, Path(pattern=CUSTOMER_NO, description="the customer number")]
MessageId = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f/]{1,64}$", description="the message's id")]
LinkCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the link's code")]
# WeChat's signature query: a Unix time in digits, and one line of text each (never a NUL, which PostgreSQL
# refuses, nor a digit such as '²' that int() cannot read).
Timestamp = Annotated[str, Query(pattern=r"^[0-9]{1,12}$", description="WeChat: Unix time of the call")]
Word = Annotated[str, Query(max_length=256, pattern=NO_CONTROL)]
OptionalWord = Annotated[str | None, Query(max_length=256, pattern=NO_CONTROL)]
OptionalTimestamp = Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$", description="WeChat: Unix time")]


def json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`errors(...)` for a route whose success is not JSON (HTML, a redirect, plain text): FastAPI would list
    the error body under the success's media type, but errors always answer JSON."""
    schema = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {"description": described["description"], "content": {"application/json": {"schema": schema}}}
        for status, described in errors(*statuses).items()
    }


# Provider callbacks come as JSON, XML (WeChat) or a form (some SMS gateways): read as bytes, parsed by the
# channel's provider.
RECEIPT_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            "application/xml": {"schema": {"type": "string"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}},
        },
    }
}


# Templates hold no customer data: a user limited to branches reads them (a preview is of their customers).
@router.get(
    "/templates/schema", dependencies=[needs("template:read", scoped=True)], response_model=TemplateSchemaRead
)
def template_schema() -> TemplateSchemaRead:
    """The JSON Schema of a template."""
    return TemplateSchemaRead.model_validate(TemplateDef.model_json_schema())


@router.get(
    "/templates/variables",
    dependencies=[needs("template:read", scoped=True)],
    response_model=TemplateVariablesRead,
)
def template_variables(deps: Deps) -> TemplateVariablesRead:
    """The names a template may use by root (profile columns, tags, indicators, product columns), for the
    editor's variable picker."""
    return TemplateVariablesRead.model_validate(service.template_variables(env=deps))


@router.get(
    "/templates", dependencies=[needs("template:read", scoped=True)], response_model=list[TemplateSummaryRead]
)
def templates(deps: Deps) -> list[TemplateSummaryRead]:
    """Every template with its status and versions."""
    return [TemplateSummaryRead.model_validate(t) for t in service.list_templates(env=deps)]


@router.put(
    "/templates/{name}",
    dependencies=[needs("template:write")],
    response_model=TemplateSavedRead,
    responses=errors(400, 409),
)
def save(name: TemplateName, body: TemplateCreate, deps: Deps, caller: Caller) -> TemplateSavedRead:
    """Save a new version (a draft); the content check's faults come back for the editor."""
    if body.name is not None and body.name != name:
        fault = Fault(loc=("body", "name"), msg=f"the path names the template {name!r}")
        raise ValidationError(f"body names {body.name!r} but the path {name!r}", faults=[fault])
    saved = service.save_template(env=deps, principal=caller, template=body.named(name))
    return TemplateSavedRead.model_validate(saved)


@router.get(
    "/templates/{name}",
    dependencies=[needs("template:read", scoped=True)],
    response_model=TemplateDef,
    responses=errors(404),
)
def get(name: TemplateName, deps: Deps, version: Version = None) -> TemplateDef:
    """A template's newest (or a given) version."""
    return service.get_template(env=deps, name=name, version=version)


@router.get(
    "/templates/{name}/versions",
    dependencies=[needs("template:read", scoped=True)],
    response_model=list[TemplateVersionRead],
    responses=errors(404),
)
def versions(name: TemplateName, deps: Deps) -> list[TemplateVersionRead]:
    """Every saved version of a template, newest first: who saved it, when, and which one sends."""
    return [TemplateVersionRead.model_validate(v) for v in service.template_versions(env=deps, name=name)]


@router.post(
    "/templates/{name}/check",
    dependencies=[needs("template:read", scoped=True)],
    response_model=TemplateCheckRead,
    responses=errors(400, 404),
)
def check(
    name: TemplateName, deps: Deps, version: Version = None, draft: TemplateCreate | None = None
) -> TemplateCheckRead:
    """The content check: banned words, risk disclosure, lengths, variables, sandbox and size limits — of a
    saved version, or of the unsaved fields in the body (the editor checks as it is typed in)."""
    if draft is not None and version is not None:
        raise ValidationError("give a saved version or a draft, not both")
    template = draft.named(name) if draft else service.get_template(env=deps, name=name, version=version)
    faults = service.check_template(env=deps, template=template)
    return TemplateCheckRead(name=name, ok=not faults, faults=faults)


@router.post(
    "/templates/{name}/preview",
    dependencies=[needs("template:read", scoped=True)],
    response_model=PreviewRead,
    responses=errors(400, 404),
)
def preview(name: TemplateName, deps: Deps, caller: Caller, request: PreviewCreate) -> PreviewRead:
    """The template rendered for a chosen customer (nothing is sent; personal data masked without
    pii:view)."""
    shown = service.preview(
        env=deps,
        principal=caller,
        name=name,
        customer_no=request.customer_no,
        payload=request.payload,
        version=request.version,
        draft=request.draft.named(name) if request.draft else None,
    )
    return PreviewRead.model_validate(shown)


@router.post(
    "/templates/{name}/activate",
    dependencies=[needs("template:activate")],
    response_model=TemplateStatusRead,
    responses=errors(400, 404),
)
def activate(name: TemplateName, deps: Deps, caller: Caller, version: Version = None) -> TemplateStatusRead:
    """Make a version the one that sends (refused with every fault when the content check fails)."""
    done = service.activate_template(env=deps, principal=caller, name=name, version=version)
    return TemplateStatusRead.model_validate(done)


@router.post(
    "/templates/{name}/retire",
    dependencies=[needs("template:activate")],
    response_model=TemplateStatusRead,
    responses=errors(404),
)
def retire(name: TemplateName, deps: Deps, caller: Caller) -> TemplateStatusRead:
    """Stop a template from sending."""
    done = service.retire_template(env=deps, principal=caller, name=name)
    return TemplateStatusRead.model_validate(done)


@router.get(
    "/customers/{customer_no}/consent",
    dependencies=[needs("customer:read", scoped=True)],
    response_model=ConsentRead,
    responses=errors(404),
)
def consent(customer_no: CustomerNo, deps: Deps, caller: Caller) -> ConsentRead:
    """Marketing consent per channel, do-not-disturb, and the consent history."""
    return ConsentRead.model_validate(
        audience.consent_of(env=deps, principal=caller, customer_no=customer_no)
    )


@router.post(
    "/customers/{customer_no}/consent",
    dependencies=[needs("consent:write")],
    response_model=ConsentRead,
    responses=errors(400),
)
def set_consent(customer_no: CustomerNo, request: ConsentCreate, deps: Deps, caller: Caller) -> ConsentRead:
    """Record a consent change."""
    changed = audience.set_consent(
        env=deps,
        principal=caller,
        customer_no=customer_no,
        channel=request.channel,
        granted=request.granted,
        source=request.source,
    )
    return ConsentRead.model_validate(changed)


@router.get(
    "/customers/{customer_no}/messages",
    dependencies=[needs("customer:read", scoped=True)],
    response_model=list[MessageRead],
    responses=errors(404),
)
def messages(customer_no: CustomerNo, deps: Deps, caller: Caller, limit: Limit = 50) -> list[MessageRead]:
    """A customer's newest messages with status, reason and evidence."""
    found = service.customer_messages(env=deps, principal=caller, customer_no=customer_no, limit=limit)
    return [MessageRead.model_validate(m) for m in found]


@router.get(
    "/consents",
    dependencies=[needs("customer:read", scoped=True)],
    response_model=ConsentPageRead,
    responses=errors(400),
)
def consents(
    deps: Deps,
    caller: Caller,
    channel: Annotated[
        Channel | Literal["*"] | None, Query(description="one channel's records ('*': those for all)")
    ] = None,
    granted: Annotated[bool | None, Query(description="only grants (true) or withdrawals (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ConsentPageRead:
    """The newest consent record of each customer and channel, a page at a time (of the caller's customers,
    for a user limited to branches)."""
    page = audience.consent_list(
        env=deps, principal=caller, channel=channel, granted=granted, limit=limit, offset=offset
    )
    return ConsentPageRead.model_validate(page)


@router.get(
    "/do-not-disturb", dependencies=[needs("customer:read", scoped=True)], response_model=list[DndEntryRead]
)
def dnd_list(deps: Deps, caller: Caller) -> list[DndEntryRead]:
    """The do-not-disturb list (of the caller's customers, for a user limited to branches)."""
    return [DndEntryRead.model_validate(e) for e in audience.do_not_disturb_list(env=deps, principal=caller)]


@router.post(
    "/do-not-disturb",
    dependencies=[needs("consent:write")],
    response_model=DndAddedRead,
    responses=errors(400),
)
def dnd_add_many(request: DndListCreate, deps: Deps, caller: Caller) -> DndAddedRead:
    """Put a list of customers on the do-not-disturb list (all or none; a bad number is named)."""
    added = audience.add_do_not_disturb_list(
        env=deps,
        principal=caller,
        customers=request.customers,
        reason=request.reason,
        days=request.days,
    )
    return DndAddedRead.model_validate(added)


@router.put(
    "/do-not-disturb/{customer_no}",
    dependencies=[needs("consent:write")],
    response_model=DndRead,
    responses=errors(400),
)
def dnd_add(customer_no: CustomerNo, request: DndCreate, deps: Deps, caller: Caller) -> DndRead:
    """Put a customer on the list."""
    added = audience.add_do_not_disturb(
        env=deps,
        principal=caller,
        customer_no=customer_no,
        reason=request.reason,
        days=request.days,
    )
    return DndRead.model_validate(added)


@router.delete(
    "/do-not-disturb/{customer_no}",
    dependencies=[needs("consent:write")],
    response_model=DndRemovedRead,
    responses=errors(404),
)
def dnd_remove(customer_no: CustomerNo, deps: Deps, caller: Caller) -> DndRemovedRead:
    """Take a customer off the list."""
    if not audience.remove_do_not_disturb(env=deps, principal=caller, customer_no=customer_no):
        raise NotFoundError(f"customer {customer_no} is not on the do-not-disturb list")
    return DndRemovedRead(customer_no=customer_no, removed=True)


@router.get("/inbox/{customer_no}", dependencies=[needs("channel:inbox")], response_model=InboxRead)
def inbox(
    customer_no: CustomerNo, deps: Deps, caller: Caller, limit: Limit = 50, unread_only: bool = False
) -> InboxRead:
    """The customer's in-app messages for the app to show, newest first."""
    box = feedback.inbox(
        env=deps, principal=caller, customer_no=customer_no, limit=limit, unread_only=unread_only
    )
    return InboxRead.model_validate(box)


@router.post(
    "/inbox/{customer_no}/{message_id}/read",
    dependencies=[needs("channel:inbox")],
    response_model=InboxOpenedRead,
    responses=errors(404),
)
def inbox_read(customer_no: CustomerNo, message_id: MessageId, deps: Deps) -> InboxOpenedRead:
    """The app shows a message: mark it read (its first reading is `message_opened`)."""
    if not feedback.read_inbox_message(env=deps, customer_no=customer_no, message_id=message_id):
        raise NotFoundError(f"no unread message {message_id} for {customer_no}")
    return InboxOpenedRead(id=message_id, read=True)


@router.post(
    "/channels/{channel}/receipts",
    dependencies=[public("signed by the provider")],
    response_model=ReceiptCountsRead,
    responses={
        **errors(400, 401, 404),
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "WeChat: success"},
    },
    openapi_extra=RECEIPT_BODY,
)
async def receipts(
    channel: Channel,
    request: Request,
    deps: Deps,
    token: OptionalWord = None,
    signature: OptionalWord = None,
    timestamp: OptionalTimestamp = None,
    nonce: OptionalWord = None,
) -> ReceiptCountsRead | PlainTextResponse:
    """A provider's callback (delivery reports, opens, SMS replies), carrying the channel's receipt token as
    `?token=` or the `X-Touchpoint-Token` header (WeChat: its signature made with that token)."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    counts = await run_in_threadpool(
        feedback.apply_receipts,
        env=deps,
        channel=channel,
        body=body,
        headers=headers,
        token=token or headers.get("x-touchpoint-token"),
        signed=_signed(signature, timestamp, nonce),
    )
    if channel == "wechat":  # WeChat wants the bare word; anything else shows followers an error notice
        return PlainTextResponse("success")
    return ReceiptCountsRead.model_validate(counts)


@router.get(
    "/channels/{channel}/receipts",
    dependencies=[public("signed by the provider")],
    response_class=PlainTextResponse,
    responses=json_errors(401, 422),
)
def wechat_handshake(
    channel: Channel, deps: Deps, signature: Word, timestamp: Timestamp, nonce: Word, echostr: Word
) -> str:
    """WeChat checks the server URL before it sends events: echo `echostr` when the signature holds."""
    signed = feedback.WechatSignature(signature, timestamp, nonce)
    return feedback.wechat_handshake(env=deps, channel=channel, signed=signed, echostr=echostr)


def _signed(
    signature: str | None, timestamp: str | None, nonce: str | None
) -> feedback.WechatSignature | None:
    if signature and timestamp and nonce:
        return feedback.WechatSignature(signature, timestamp, nonce)
    return None


# The policy holds no customer data: a user limited to branches reads it.
@router.get(
    "/channels/policy", dependencies=[needs("channel:read", scoped=True)], response_model=ChannelPolicyRead
)
def channel_policy(deps: Deps) -> ChannelPolicyRead:
    """The channel policy every send and content check uses now: the registry's channel_policy/default,
    or the settings' [channel_policy] while none was saved."""
    return deps.effective_channel_policy()


@router.put(
    "/channels/policy",
    dependencies=[needs("channel:write")],
    response_model=ChannelPolicySaved,
    responses=errors(400, 409),
)
def set_channel_policy(policy: ChannelPolicy, deps: Deps, caller: Caller) -> ChannelPolicySaved:
    """Save the whole policy as the next version of channel_policy/default (audited; in effect at once
    here, within seconds in the other processes)."""
    saved = save_policy(registry=deps.registry, principal=caller, policy=policy)
    return ChannelPolicySaved(
        **deps.effective_channel_policy().model_dump(),
        changed=saved.changed,
        pending_approval=saved.pending_approval,
    )


@router.get("/channels/report", dependencies=[needs("channel:read", scoped=True)], response_model=ReportRead)
def report(
    deps: Deps,
    caller: Caller,
    days: Annotated[int, Query(ge=1, le=3660)] = 7,
    journey: Annotated[str | None, Query(pattern=NAME_PATTERN, description="one journey's sends")] = None,
) -> ReportRead:
    """Sends by status and reason, and the message funnel, per channel and template."""
    return ReportRead.model_validate(service.report(env=deps, days=days, journey=journey, principal=caller))


# Scoped like the report: a user limited to branches sees the figures of their customers' sends only.
@router.get(
    "/channels/health",
    dependencies=[needs("channel:read", scoped=True)],
    response_model=ChannelHealthListRead,
)
def health(
    deps: Deps, caller: Caller, days: Annotated[int, Query(ge=1, le=3660, description="the window")] = 7
) -> ChannelHealthListRead:
    """Per channel: the provider configured, sends accepted, failed and skipped and receipts recorded over
    the last `days` days, and when a send last succeeded or failed (with its error) and a receipt last
    came."""
    return ChannelHealthListRead.model_validate(service.channel_health(env=deps, days=days, principal=caller))


@public_links.get(
    "/t/{code}", response_class=RedirectResponse, status_code=302, responses=json_errors(404, 422)
)
def follow(code: LinkCode, deps: Deps) -> RedirectResponse:
    """A tracked link: record the click, then redirect to the target with its UTM parameters."""
    return RedirectResponse(feedback.follow_link(env=deps, code=code), status_code=302)


@public_links.get("/u/{code}", response_class=HTMLResponse, responses=json_errors(404, 422))
def unsubscribe(code: LinkCode, deps: Deps) -> str:
    """An unsubscribe link: opt out of marketing on the message's channel."""
    done = feedback.unsubscribe(env=deps, code=code)
    return (
        "<!doctype html><meta charset='utf-8'><title>退订成功 · Unsubscribed</title>"
        f"<p>您已退订 {done['channel']} 营销消息。</p>"
        f"<p>You will no longer receive marketing on {done['channel']}.</p>"
    )
