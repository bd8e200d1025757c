"""Channel definitions and value objects: message templates, a send request from the journey dispatcher, and
the outcome the dispatcher reports back. Pure pydantic, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
CHANNELS = ("push", "sms", "wechat", "wecom", "email", "webhook", "inbox", "log")
Channel = Literal["push", "sms", "wechat", "wecom", "email", "webhook", "inbox", "log"]
Classification = Literal["marketing", "service"]
NEEDS_PROVIDER_TEMPLATE = ("sms", "wechat")  # gateways that only send registered templates
PAYLOAD_REF = "payload."


class TemplateDef(BaseModel):
    """A message template of one channel, rendered in Jinja's sandbox for each customer.

    Variables: `customer` (profile attributes), `tags`, `indicators`, `payload` (the journey's entry payload),
    `product` (the product this message is about), `customer_no` and `unsubscribe_url`.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    channel: Channel
    classification: Classification
    urgent: bool = Field(default=False, description="a service notice that may go in quiet hours")
    subject: str = Field(default="", description="push / email / inbox title")
    body: str = Field(min_length=1)
    url: str | None = Field(default=None, description="the message's link (push, WeChat, inbox)")
    product: str | None = Field(
        default=None,
        description="the product promoted: a product code, or payload.KEY to take it from the entry",
    )
    provider_template_id: str | None = Field(
        default=None, description="the template registered with the gateway (SMS template code, WeChat id)"
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description="values for the gateway's registered template, each a Jinja expression",
    )
    track_links: bool = True
    description: str = ""
    owner: str = "system"

    @model_validator(mode="after")
    def _urgent_is_service(self) -> TemplateDef:
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
