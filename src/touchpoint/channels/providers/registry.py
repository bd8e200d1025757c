"""Providers chosen in settings: `[channels.<channel>]` with `provider = "<kind>"` and that kind's own config.
The in-app inbox and `log` are always there; a channel without a provider cannot be used by a journey."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pydantic import ValidationError as PydanticError

from touchpoint.channels.model import CHANNELS
from touchpoint.channels.providers.base import Provider
from touchpoint.channels.providers.email import SmtpConfig, SmtpProvider
from touchpoint.channels.providers.http_push import HttpPushProvider, PushConfig
from touchpoint.channels.providers.http_sms import HttpSmsProvider, SmsConfig
from touchpoint.channels.providers.inbox import InboxConfig, InboxProvider
from touchpoint.channels.providers.log import LogConfig, LogProvider
from touchpoint.channels.providers.webhook import WebhookConfig, WebhookProvider
from touchpoint.channels.providers.wechat import (
    WechatConfig,
    WechatTemplateProvider,
    WecomConfig,
    WecomProvider,
)
from touchpoint.core.clock import Clock
from touchpoint.core.errors import ValidationError, pydantic_faults

Factory = Callable[[dict[str, Any], httpx.Client, Clock], Provider]

FACTORIES: dict[str, Factory] = {
    "http_push": lambda c, http, clock: HttpPushProvider(PushConfig.model_validate(c), http),
    "http_sms": lambda c, http, clock: HttpSmsProvider(SmsConfig.model_validate(c), http),
    "wechat_mp": lambda c, http, clock: WechatTemplateProvider(WechatConfig.model_validate(c), http, clock),
    "wecom": lambda c, http, clock: WecomProvider(WecomConfig.model_validate(c), http, clock),
    "smtp": lambda c, http, clock: SmtpProvider(SmtpConfig.model_validate(c)),
    "webhook": lambda c, http, clock: WebhookProvider(WebhookConfig.model_validate(c), http, clock),
    "inbox": lambda c, http, clock: InboxProvider(InboxConfig.model_validate(c)),
    "log": lambda c, http, clock: LogProvider(LogConfig.model_validate(c)),
}
ALWAYS = {"inbox": {"provider": "inbox"}, "log": {"provider": "log"}}


def build_providers(
    settings: dict[str, dict[str, Any]], http: httpx.Client, clock: Clock
) -> dict[str, Provider]:
    """A provider per configured channel (plus inbox and log); a bad setting names channel and field."""
    providers: dict[str, Provider] = {}
    for channel, config in {**ALWAYS, **settings}.items():
        if channel not in CHANNELS:
            raise ValidationError(f"channels.{channel}: unknown channel (use one of {', '.join(CHANNELS)})")
        kind = str(config.get("provider", ""))
        if kind not in FACTORIES:
            raise ValidationError(
                f"channels.{channel}.provider: {kind!r} is not one of {', '.join(FACTORIES)}"
            )
        try:
            providers[channel] = FACTORIES[kind](dict(config), http, clock)
        except PydanticError as exc:
            raise ValidationError(f"channels.{channel}: {pydantic_faults(exc)}") from exc
    return providers
