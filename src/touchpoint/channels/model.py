"""Channel definitions and value objects: message templates, a send request from the journey dispatcher, and
the outcome the dispatcher reports back. Pure pydantic, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from touchpoint.core.numbers import MaybeWhole
from touchpoint.governance.approvals import ApprovalRead

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
CHANNELS = ("push", "sms", "wechat", "wecom", "email", "webhook", "inbox", "log")
Channel = Literal["push", "sms", "wechat", "wecom", "email", "webhook", "inbox", "log"]
Classification = Literal["marketing", "service"]
NEEDS_PROVIDER_TEMPLATE = ("sms", "wechat")  # gateways that only send registered templates
PAYLOAD_REF = "payload."
MAX_MESSAGE_CHARS = (
    200_000  # no message, and no value a template builds, is longer: more is an attack on memory
)
MAX_PARAMS = 50  # values of a gateway's registered template


class TemplateContent(BaseModel):
    """What a message template says and how it is sent: every field of a template but its name."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    channel: Channel
    classification: Classification
    urgent: StrictBool = Field(default=False, description="a service notice that may go in quiet hours")
    subject: str = Field(default="", max_length=MAX_MESSAGE_CHARS, description="push / email / inbox title")
    body: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    url: str | None = Field(
        default=None, max_length=MAX_MESSAGE_CHARS, description="the message's link (push, WeChat, inbox)"
    )
    product: str | None = Field(
        default=None,
        max_length=128,
        description="the product promoted: a product code, or payload.KEY to take it from the entry",
    )
    provider_template_id: str | None = Field(
        default=None,
        max_length=128,
        description="the template registered with the gateway (SMS template code, WeChat id)",
    )
    params: dict[str, Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]] = Field(
        default_factory=dict,
        max_length=MAX_PARAMS,
        description="values for the gateway's registered template, each a Jinja expression",
    )
    track_links: StrictBool = True
    description: str = Field(default="", max_length=2_000)
    owner: str = Field(default="system", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        # A NUL character cannot be stored (PostgreSQL refuses it in text and JSON) nor shown.
        for place, text in {**self.texts(), "title": self.title, "description": self.description}.items():
            if "\x00" in text:
                raise ValueError(f"{place}: a NUL character (\\x00) is not allowed")
        return self

    @model_validator(mode="after")
    def _urgent_is_service(self) -> Self:
        if self.urgent and self.classification != "service":
            raise ValueError(
                "urgent: only a service notice can be urgent (marketing always keeps quiet hours)"
            )
        return self

    @property
    def marketing(self) -> bool:
        """Marketing (M-class) rather than a service notice (S-class)."""
        return self.classification == "marketing"

    def texts(self) -> dict[str, str]:
        """Every Jinja text of the template, by place."""
        found = {
            "subject": self.subject,
            "body": self.body,
            **{f"params.{k}": v for k, v in self.params.items()},
        }
        if self.url:
            found["url"] = self.url
        return found


class TemplateDef(TemplateContent):
    """A message template of one channel, rendered in Jinja's sandbox for each customer.

    Variables: `customer` (profile attributes), `tags`, `indicators`, `payload` (the journey's entry payload),
    `product` (the product this message is about), `customer_no` and `unsubscribe_url`.
    """

    name: str = Field(pattern=NAME_PATTERN)


class TemplateCreate(TemplateContent):
    """The body of `PUT /templates/{name}`: a template, its name taken from the path (or repeated)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN, description="the path's name, if repeated")

    def named(self, name: str) -> TemplateDef:
        """The template under the path's name."""
        return TemplateDef.model_validate({**self.model_dump(exclude={"name"}), "name": name})


@dataclass(frozen=True)
class SendRequest:
    """One message a journey step asks for. `key` (the outbox id) makes every retry the same send."""

    key: str
    customer_no: str
    channel: str
    template: str
    payload: dict[str, Any] = field(default_factory=dict)
    journey: str | None = None
    node: str | None = None
    variant: str | None = None
    priority: int = 0


SendStatus = Literal["sent", "skipped", "delayed", "failed"]


@dataclass(frozen=True)
class SendResult:
    """What happened to a request: sent (or already sent), skipped by a policy, delayed until a time (quiet
    hours, a rate limit), or failed for good. Transient provider failures raise instead, to be retried."""

    status: SendStatus
    reason: str
    until: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def product_code(reference: str | None, payload: dict[str, Any]) -> str | None:
    """The product code a template or action names: a literal code, or `payload.KEY` read from the entry."""
    if reference is None:
        return None
    if reference.startswith(PAYLOAD_REF):
        value = payload.get(reference.removeprefix(PAYLOAD_REF))
        return None if value in (None, "") else str(value)
    return reference


# API contracts ---------------------------------------------------------------------------------------------

MAX_DND_DAYS = 3_650  # ten years: a longer do-not-disturb entry is one without an end (leave `days` out)
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"  # one line of text: no NUL (PostgreSQL refuses it), no control characters
CUSTOMER_NO = r"^[^\x00-\x1f\x7f]{1,64}$"
CustomerNo = Annotated[str, Field(min_length=1, max_length=64, pattern=CUSTOMER_NO)]
Scalar = bool | int | float | str | None


class TemplateSummaryRead(BaseModel):
    """A template in the list: what it is, and which version sends."""

    name: str
    title: str
    channel: Channel
    classification: Classification
    urgent: bool
    status: str = Field(description="draft, active or retired")
    active_version: int | None
    latest_version: int


class TemplateSavedRead(BaseModel):
    """A saved version, with the content check's faults (a draft may have some; activation may not)."""

    name: str
    version: int
    faults: list[str]


class TemplateCheckRead(BaseModel):
    """The content check's verdict."""

    name: str
    ok: bool
    faults: list[str]


class TemplateStatusRead(BaseModel):
    """A template's status after activation or retirement."""

    name: str
    status: str = Field(description="active or retired; pending while the activation awaits approval")
    active_version: int | None
    pending_approval: ApprovalRead | None = Field(
        default=None, description="the request holding the activation (template.activate needs approval)"
    )


class TemplateSchemaRead(BaseModel):
    """The JSON Schema of a template (for editors)."""

    model_config = ConfigDict(extra="allow")

    title: str
    type: str
    properties: dict[str, Any]
    required: list[str] = Field(default_factory=list)


class PreviewCreate(BaseModel):
    """Render a template for one customer, with an entry payload."""

    model_config = ConfigDict(extra="forbid")

    customer_no: CustomerNo
    payload: dict[str, Any] = Field(default_factory=dict, description="the journey entry's payload")
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    draft: TemplateCreate | None = Field(
        default=None, description="unsaved fields to render and check instead of a saved version"
    )

    @model_validator(mode="after")
    def _one_source(self) -> PreviewCreate:
        if self.draft is not None and self.version is not None:
            raise ValueError("give a saved version or a draft, not both")
        return self


class PolicyDecisionRead(BaseModel):
    """What the policies would do with a send now, with their evidence."""

    model_config = ConfigDict(extra="allow")

    outcome: str = Field(description="would send, skipped or delayed")
    reason: str | None
    until: str | None


class PreviewRead(BaseModel):
    """A template rendered for one customer (nothing sent), with the policies' decision and the check."""

    name: str
    channel: Channel
    customer_no: str
    policies: PolicyDecisionRead
    address: str | None
    subject: str
    body: str
    url: str | None
    params: dict[str, str]
    length: int
    faults: list[str]


class ConsentCreate(BaseModel):
    """Grant or withdraw marketing consent on a channel ('*' for all)."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["push", "sms", "wechat", "wecom", "email", "webhook", "inbox", "log", "*"] = Field(
        default="*", description="a channel, or * for all"
    )
    granted: StrictBool
    source: str = Field(default="api", min_length=1, max_length=64, pattern=NO_CONTROL)


class ConsentHistoryRead(BaseModel):
    """One recorded consent change."""

    channel: str
    granted: bool
    source: str
    at: str


class ConsentRead(BaseModel):
    """Marketing consent per channel now, the profile's flag, do-not-disturb, and the history as evidence."""

    customer_no: str
    profile_consent_marketing: Scalar
    channels: dict[str, str]
    do_not_disturb: str | None
    history: list[ConsentHistoryRead]


class MessageRead(BaseModel):
    """One send to a customer, with its status, reason and evidence."""

    id: str
    at: str
    channel: str
    template: str
    version: int
    journey: str | None
    node: str | None
    status: str
    reason: str | None
    content: str
    evidence: dict[str, Any]


class DndCreate(BaseModel):
    """Put a customer on the do-not-disturb list."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, pattern=NO_CONTROL)
    days: MaybeWhole = Field(
        default=None, ge=1, le=MAX_DND_DAYS, description="for how long; left out, until removed"
    )


class DndListCreate(DndCreate):
    """Put many customers on the list at once."""

    customers: list[CustomerNo] = Field(min_length=1, max_length=100_000)


class DndRead(BaseModel):
    """A customer put on the list."""

    customer_no: str
    reason: str
    until: str | None


class DndEntryRead(DndRead):
    """An entry of the do-not-disturb list."""

    added_by: str


class DndAddedRead(BaseModel):
    """Customers put on the list at once."""

    added: int
    reason: str
    until: str | None


class DndRemovedRead(BaseModel):
    """A customer taken off the list."""

    customer_no: str
    removed: bool


class InboxMessageRead(BaseModel):
    """An in-app message."""

    id: str
    title: str
    body: str
    url: str | None
    created_at: str
    read: bool


class InboxRead(BaseModel):
    """A customer's in-app messages, newest first, with the unread count."""

    customer_no: str
    unread: int
    messages: list[InboxMessageRead]


class InboxOpenedRead(BaseModel):
    """An in-app message marked read."""

    id: str
    read: bool


class ReceiptCountsRead(BaseModel):
    """What a provider's callback did."""

    applied: int
    pending: int
    opt_outs: int
    ignored: int


class ReportRowRead(BaseModel):
    """Sends and the message funnel of one channel and template."""

    channel: str
    template: str
    statuses: dict[str, int]
    skip_reasons: dict[str, int]
    failure_reasons: dict[str, int]
    funnel: dict[str, int]


class ReportRead(BaseModel):
    """The message report."""

    days: int
    journey: str | None
    templates: list[ReportRowRead]


class ChannelHealthRead(BaseModel):
    """One channel's provider and how its sends went: counts within the window, last times ever."""

    channel: Channel
    provider: str | None = Field(description="the configured provider's kind; null: none configured")
    sent: int = Field(description="sends accepted by the provider within the window (sent, delivered …)")
    failed: int = Field(description="sends that failed for good within the window")
    skipped: int = Field(description="sends the policies skipped within the window")
    last_success_at: datetime | None = Field(description="when a send last reached sent or delivered")
    last_failure_at: datetime | None = Field(description="when a send last failed")
    last_failure_error: str | None = Field(description="the reason of that failure")
    receipts: int | None = Field(
        description="provider receipts (delivered, failed, opened) recorded within the window; null: the "
        "provider sends none (the in-app inbox delivers as it stores)"
    )
    last_receipt_at: datetime | None = Field(description="when a provider receipt was last recorded")


class ChannelHealthListRead(BaseModel):
    """Every channel's provider health over the last `days` days."""

    days: int
    channels: list[ChannelHealthRead]


class ConsentStateRead(BaseModel):
    """A customer's newest consent record on one channel ('*': all channels)."""

    customer_no: str
    channel: str
    granted: bool
    source: str
    at: datetime


class ConsentPageRead(BaseModel):
    """A page of the consent list, ordered by customer and channel; `total` counts every match."""

    consents: list[ConsentStateRead]
    total: int
    next_offset: int | None = None


class TemplateVersionRead(BaseModel):
    """One saved version of a template: who saved it and when (null body fields mark a deletion)."""

    version: int
    actor: str
    created_at: datetime
    active: bool = Field(description="the version that sends now")


class TemplateVariablesRead(BaseModel):
    """The names a template may use, by root (`customer.NAME`, `tags.NAME` …), for an editor's picker;
    `payload.KEY` takes any key of the journey entry's payload."""

    customer: list[str]
    tags: list[str]
    indicators: list[str]
    product: list[str]
    globals: list[str] = Field(description="names used alone: customer_no, unsubscribe_url")
