"""App push through an HTTP push gateway (JPush, Getui and in-house gateways alike): a JSON body made from a
template, posted with the message's idempotency key."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import Field, field_validator

from touchpoint.channels.providers.base import (
    Delivery,
    HttpConfig,
    OutboundMessage,
    PermanentError,
    Receipt,
    SendContext,
)
from touchpoint.channels.providers.http import as_id, dig, parse_json_receipts, post_json

# An alias push as JPush and Getui take it; `request_id` lets a gateway that dedupes by body see repeats.
DEFAULT_PUSH_BODY: dict[str, Any] = {
    "audience": {"alias": ["{{ address }}"]},
    "notification": {
        "title": "{{ title }}",
        "alert": "{{ body }}",
        "extras": {"url": "{{ url or '' }}"},
    },
    "request_id": "{{ key }}",
}

# Templates come from configuration, which an operator edits: the sandbox keeps them from reaching Python
# internals, and StrictUndefined makes a misspelt variable fail instead of pushing an empty string.
_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class PushConfig(HttpConfig):
    """An HTTP push gateway: its URL and auth header, the body to post and where the answer keeps its id.

    Every string in `body_template` is a Jinja template rendered with key, address, customer_no, title,
    body, url, marketing, params and metadata, and gives a string; other JSON values are posted as they are.
    """

    provider: Literal["http_push"] = "http_push"
    body_template: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(DEFAULT_PUSH_BODY))
    message_id_field: str = "msg_id"

    @field_validator("body_template")
    @classmethod
    def _templates_compile(cls, value: dict[str, Any]) -> dict[str, Any]:
        compile_body(value)
        return value


def compile_body(template: Any) -> Any:
    """The template with every string leaf compiled, so a syntax error shows when the config is loaded."""
    if isinstance(template, str):
        try:
            return _ENV.from_string(template)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"push body template {template!r}: {exc.message}") from exc
    if isinstance(template, dict):
        return {key: compile_body(value) for key, value in template.items()}
    if isinstance(template, list):
        return [compile_body(value) for value in template]
    return template


def render_body(compiled: Any, variables: Mapping[str, Any]) -> Any:
    """The JSON body for one message: every compiled leaf rendered with `variables`."""
    if isinstance(compiled, jinja2.Template):
        return compiled.render(variables)
    if isinstance(compiled, dict):
        return {key: render_body(value, variables) for key, value in compiled.items()}
    if isinstance(compiled, list):
        return [render_body(value, variables) for value in compiled]
    return compiled


class HttpPushProvider:
    """Posts app pushes to an HTTP push gateway; reads its JSON receipt callbacks."""

    kind = "http_push"

    def __init__(self, config: PushConfig, client: httpx.Client) -> None:
        self.config = config
        self.client = client
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst
        self._body = compile_body(config.body_template)

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Post the rendered body with the idempotency key; the gateway's id is read at `message_id_field`."""
        del context
        if not message.address:
            raise PermanentError("no push alias for this customer")
        variables = {
            "key": message.key,
            "address": message.address,
            "customer_no": message.customer_no,
            "title": message.title,
            "body": message.body,
            "url": message.url,
            "marketing": message.marketing,
            "params": message.params,
            "metadata": message.metadata,
        }
        try:
            payload = render_body(self._body, variables)
        except jinja2.TemplateError as exc:
            raise PermanentError(f"push body template: {exc}") from exc
        answer = post_json(
            self.client,
            self.config.url,
            payload,
            timeout=self.config.timeout_seconds,
            headers={**self.config.headers(), "Idempotency-Key": message.key},
        )
        message_id = as_id(dig(answer, self.config.message_id_field))
        detail = (
            f"push accepted, {self.config.message_id_field}={message_id}" if message_id else "push accepted"
        )
        return Delivery(provider_message_id=message_id, detail=detail)

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Read `{"receipts": [{"msg_id", "status", "time", "reason"}]}` or one such object."""
        del headers
        return parse_json_receipts(body)
