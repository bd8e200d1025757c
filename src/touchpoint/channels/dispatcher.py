"""The dispatcher: one send request through the policies, in order — consent, suitability, do-not-disturb
and quiet hours, frequency caps, the provider's rate limit — then rendering, link tracking and the provider.

Everything it writes (the send with its evidence, cap counters, tracked links, the inbox row, the message
event) goes into the caller's transaction, so a send is recorded exactly when the journey's effect is. The
provider is called with the request's key as idempotency key: a retry after an unknown outcome repeats the
key, and the gateway drops the repeat.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from touchpoint.channels import repo
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.events import message_event
from touchpoint.channels.model import SendRequest, SendResult, TemplateDef, product_code
from touchpoint.channels.policies import (
    ALL_CHANNELS,
    ConsentRecord,
    cap_periods,
    marketing_allowed,
    quiet_hours_end,
    suitability,
    truthy,
)
from touchpoint.channels.providers.base import OutboundMessage, PermanentError, SendContext
from touchpoint.channels.recipients import ADDRESS_COLUMNS, Recipients
from touchpoint.channels.templates import (
    Rendered,
    TemplateRenderError,
    banned_words_in,
    render,
    rewrite_links,
    with_utm,
)
from touchpoint.store.operational.counters import bump_below

TEMPLATE_KIND = "template"
DONE = ("sent", "delivered", "opened", "clicked")
UNCAPPED = ("log", "wecom")  # a record, or a note to the advisor: neither touches the customer


@dataclass
class Prepared:
    """What a batch of requests shares: the day's snapshots, and the consent and do-not-disturb records of
    its customers, each read once."""

    recipients: Recipients
    consents: dict[str, list[ConsentRecord]]
    dnd: dict[str, str]
    earlier: dict[str, dict[str, Any]]
    templates: dict[str, tuple[TemplateDef, int] | PermanentError] = field(default_factory=dict)

    def template(self, connection: Any, name: str) -> tuple[TemplateDef, int]:
        """The active version of a template, looked up once per batch."""
        if name not in self.templates:
            try:
                self.templates[name] = active_template(connection, name)
            except PermanentError as exc:
                self.templates[name] = exc
        found = self.templates[name]
        if isinstance(found, PermanentError):
            raise found
        return found


class Skip(Exception):
    """A policy stops the send; the message is the reason recorded on the run and in the statistics."""

    def __init__(self, reason: str, *, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


def prepare(connection: Any, env: ChannelEnv, requests: list[SendRequest]) -> Prepared:
    """Read once what every request of a batch needs."""
    now = env.clock.now()
    customers = sorted({r.customer_no for r in requests})
    return Prepared(
        recipients=Recipients(env.analytics, env.calendar.business_date(now)),
        consents=repo.consent_records(connection, customers),
        dnd=repo.do_not_disturb(connection, customers, now),
        earlier=repo.sends_by_id(connection, [r.key for r in requests]),
    )


def active_template(connection: Any, name: str) -> tuple[TemplateDef, int]:
    """A template's active version (PermanentError when it has none: an unchecked text never goes out)."""
    state = repo.template_state(connection, name)
    if state is None:
        raise PermanentError(f"template {name!r} does not exist")
    version = state["active_version"]
    if state["status"] != "active" or version is None:
        raise PermanentError(f"template {name!r} is not active ({state['status']})")
    body = repo.template_body(connection, TEMPLATE_KIND, name, int(version))
    if body is None:
        raise PermanentError(f"template {name!r} version {version} is missing")
    return TemplateDef.model_validate(body), int(version)


def deliver(
    connection: Any, env: ChannelEnv, request: SendRequest, prepared: Prepared | None = None
) -> SendResult:
    """Carry one request through the policies to its provider. Returns sent, skipped (with the reason),
    delayed (until when) or failed (the provider's reason); a transient provider failure raises
    TransientError for the caller to retry with back-off."""
    prepared = prepared or prepare(connection, env, [request])
    earlier = prepared.earlier.get(request.key)
    if earlier is not None and earlier["status"] in DONE:
        return SendResult("sent", "already sent", evidence=earlier["evidence"])
    now = env.clock.now()
    try:
        template, version = prepared.template(connection, request.template)
    except PermanentError as exc:
        return SendResult("failed", str(exc))
    send = _send_row(request, template, version, now)
    exists = earlier is not None
    try:
        return _deliver(connection, env, request, template, send, prepared, exists)
    except Skip as skip:
        if skip.until is not None:
            return SendResult("delayed", skip.reason, until=skip.until, evidence=send["evidence"])
        _finish(connection, send, "skipped", skip.reason, now, exists)
        return SendResult("skipped", skip.reason, evidence=send["evidence"])
    except PermanentError as exc:
        _finish(connection, send, "failed", str(exc), now, exists)
        return SendResult("failed", str(exc), evidence=send["evidence"])


def _deliver(
    connection: Any,
    env: ChannelEnv,
    request: SendRequest,
    template: TemplateDef,
    send: dict[str, Any],
    prepared: Prepared,
    exists: bool,
) -> SendResult:
    now = send["created_at"]
    if template.channel != request.channel:
        raise PermanentError(f"template {template.name!r} is for {template.channel}, not {request.channel}")
    provider = env.providers.get(request.channel)
    if provider is None:
        raise PermanentError(f"channel {request.channel} has no provider configured")
    send["provider"] = provider.kind
    profile = prepared.recipients.customers.row(request.customer_no)
    if not profile:
        raise PermanentError(f"customer {request.customer_no} is not in the customers snapshot")
    product = _check_policies(connection, env, request, template, send, profile, prepared, now)
    address = prepared.recipients.address(request.channel, request.customer_no, profile)
    if address is None:
        raise Skip(f"no {ADDRESS_COLUMNS[request.channel]} on the profile for {request.channel}")
    savepoint = connection.begin_nested()  # caps, links and the provider's own writes undo together
    token = False
    try:
        _take_caps(connection, env, request.channel, template, request.customer_no, now, send)
        token = _take_token(env, request.channel, now)
        rendered = _render(connection, env, request, template, send, profile, product, prepared, now)
        message = _message(request, template, send, address, rendered)
        delivery = provider.send(message, SendContext(connection, now))
    except BaseException:
        savepoint.rollback()
        if token:
            env.bucket(request.channel).give_back()  # type: ignore[union-attr]
        raise
    savepoint.commit()
    provider_id = (delivery.provider_message_id or "")[:128] or None  # the column's width: it must record
    send.update(provider_message_id=provider_id, content=rendered.body)
    _finish(connection, send, "sent", delivery.detail, now, exists)
    return SendResult("sent", delivery.detail, evidence=send["evidence"])


def _send_row(request: SendRequest, template: TemplateDef, version: int, now: datetime) -> dict[str, Any]:
    return {
        "id": request.key,
        "customer_no": request.customer_no,
        "channel": request.channel,
        "provider": "",
        "template": template.name,
        "template_version": version,
        "journey": request.journey,
        "node": request.node,
        "variant": (request.variant or "")[:64] or None,  # the column's width: a send must record
        "marketing": template.marketing,
        "product": None,
        "status": "pending",
        "reason": None,
        "evidence": {"classification": template.classification},
        "provider_message_id": None,
        "content": "",
        "created_at": now,
        "updated_at": now,
    }


def _check_policies(
    connection: Any,
    env: ChannelEnv,
    request: SendRequest,
    template: TemplateDef,
    send: dict[str, Any],
    profile: dict[str, Any],
    prepared: Prepared,
    now: datetime,
) -> dict[str, Any]:
    """Consent, suitability, do-not-disturb, quiet hours, in that order; returns the product row, if any."""
    evidence = send["evidence"]
    if template.marketing:
        allowed, why = marketing_allowed(
            request.channel, profile.get("consent_marketing"), prepared.consents.get(request.customer_no, [])
        )
        evidence["consent"] = why
        if not allowed:
            raise Skip(f"consent: {why}")
    code = product_code(template.product, request.payload)
    product = prepared.recipients.products.row(code) if code else {}
    send["product"] = code
    if template.marketing and template.product and code is None:
        raise Skip(f"suitability: the entry names no product ({template.product} is missing)")
    if template.marketing and code is not None:  # suitability governs promotion, not service notices
        decision = suitability(
            customer_level=profile.get("risk_level"),
            investor_type=profile.get("investor_type"),
            lowest_category=truthy(profile.get("lowest_risk_category")),
            assessed_at=_as_date(profile.get("risk_assessed_at")),
            product_code=code,
            product_level=product.get("risk_level"),
            today=env.calendar.business_date(now),
            valid_days=env.policy.risk_test_valid_days,
            rule_version=env.policy.suitability_rule_version,
        )
        evidence["suitability"] = {**decision.evidence, "decision": decision.reason}
        if not decision.allowed:
            raise Skip(f"suitability: {decision.reason}")
    if template.marketing and request.customer_no in prepared.dnd:
        raise Skip(f"do-not-disturb: {prepared.dnd[request.customer_no]}")
    if not template.urgent:
        policy = env.policy
        until = quiet_hours_end(now, policy.quiet_start, policy.quiet_end, env.calendar.tz)
        if until is not None:
            raise Skip(f"quiet hours until {policy.quiet_end.strftime('%H:%M')}", until=until)
    return product


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def _take_caps(
    connection: Any,
    env: ChannelEnv,
    channel: str,
    template: TemplateDef,
    customer: str,
    now: datetime,
    send: dict[str, Any],
) -> None:
    """Count a marketing send against every cap that applies, atomically; the first full cap skips it."""
    if not template.marketing or channel in UNCAPPED:
        return
    day, week = cap_periods(now, env.calendar.tz)
    scopes = [(ALL_CHANNELS, env.policy.caps_all_channels)]
    if channel in env.policy.caps_per_channel:
        scopes.append((channel, env.policy.caps_per_channel[channel]))
    for scope, cap in scopes:
        where = "all channels" if scope == ALL_CHANNELS else scope
        for period, limit, unit in ((day, cap.per_day, "day"), (week, cap.per_week, "week")):
            if limit is None:
                continue
            if not bump_below(connection, customer_no=customer, scope=scope, period=period, limit=limit):
                raise Skip(f"frequency cap: {limit} marketing message(s) per {unit} on {where}")
    send["evidence"]["caps"] = {"day": day, "week": week}


def _take_token(env: ChannelEnv, channel: str, now: datetime) -> bool:
    """Take the provider's token (True when one was taken, to give back if the send does not happen)."""
    bucket = env.bucket(channel)
    if bucket is None:
        return False
    wait = bucket.take(now)
    if wait.total_seconds() > 0:
        raise Skip(f"rate limit of the {channel} provider", until=now + wait)
    return True


def _render(
    connection: Any,
    env: ChannelEnv,
    request: SendRequest,
    template: TemplateDef,
    send: dict[str, Any],
    profile: dict[str, Any],
    product: dict[str, Any],
    prepared: Prepared,
    now: datetime,
) -> Rendered:
    links: list[dict[str, Any]] = []

    base = env.public_url.rstrip("/")

    def shorten(url: str, kind: str = "link") -> str:
        if url.startswith(f"{base}/"):
            return url  # already ours (the unsubscribe link): tracking it would hide the opt-out
        code = secrets.token_urlsafe(9)
        target = html.unescape(url)  # a link in HTML writes & as &amp;
        if kind == "link":
            target = with_utm(
                url,
                {
                    "utm_source": "touchpoint",
                    "utm_medium": request.channel,
                    "utm_campaign": request.journey or template.name,
                    "utm_content": f"{template.name}.{request.variant}" if request.variant else template.name,
                },
            )
        links.append({"code": code, "send_id": request.key, "kind": kind, "url": target, "created_at": now})
        return f"{base}/{'t' if kind == 'link' else 'u'}/{code}"

    unsubscribe = shorten(request.channel, "unsubscribe") if template.marketing else ""
    context = render_context(
        prepared.recipients, request.customer_no, profile, request.payload, product, unsubscribe
    )
    try:
        rendered = render(template, context)
    except TemplateRenderError as exc:
        raise PermanentError(f"template {template.name}: {exc}") from exc
    banned = banned_words_in(rendered, env.policy.banned_words)
    if banned:  # a value from the entry payload or the profile can bring one in
        raise PermanentError(f"content check: the message as rendered contains {', '.join(banned)}")
    if rendered.url and not rendered.url.startswith(("https://", "http://")):
        raise PermanentError(f"template {template.name}: url {rendered.url[:80]!r} is not an http(s) link")
    if template.track_links:
        rendered.body = rewrite_links(rendered.body, shorten)
        rendered.url = shorten(rendered.url) if rendered.url else None
    if unsubscribe:
        send["evidence"]["unsubscribe_url"] = unsubscribe
    repo.add_links(connection, links)
    return rendered


def render_context(
    recipients: Recipients,
    customer_no: str,
    profile: dict[str, Any],
    payload: dict[str, Any],
    product: dict[str, Any],
    unsubscribe_url: str,
) -> dict[str, Any]:
    """The variables a template sees; tag and indicator rows are read only if the template asks for them."""
    return {
        "customer": profile,
        "tags": _LazyRow(lambda c: recipients.tags.row(c), customer_no),  # the snapshot only if asked
        "indicators": _LazyRow(lambda c: recipients.indicators.row(c), customer_no),
        "payload": payload,
        "product": product,
        "customer_no": customer_no,
        "unsubscribe_url": unsubscribe_url,
    }


class _LazyRow(dict[str, Any]):
    """A customer's tag or indicator row, read only when a template asks for it (values are None for a
    customer the newest snapshot does not hold yet)."""

    def __init__(self, read: Any, customer: str) -> None:
        super().__init__()
        self._read, self._customer, self._loaded = read, customer, False

    def _load(self) -> None:
        if not self._loaded:
            self.update(self._read(self._customer))
            self._loaded = True

    def __getitem__(self, key: str) -> Any:
        self._load()
        if not super().__len__():
            return None  # a customer newer than the snapshot: values unknown yet, not a template fault
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)


def _message(
    request: SendRequest, template: TemplateDef, send: dict[str, Any], address: str, rendered: Rendered
) -> OutboundMessage:
    return OutboundMessage(
        key=request.key,
        channel=request.channel,
        customer_no=request.customer_no,
        address=address,
        title=rendered.subject,
        body=rendered.body,
        marketing=template.marketing,
        template=template.name,
        template_version=send["template_version"],
        provider_template_id=template.provider_template_id,
        params=rendered.params,
        url=rendered.url,
        metadata={
            "journey": request.journey,
            "node": request.node,
            "variant": request.variant,
            "unsubscribe_url": send["evidence"].get("unsubscribe_url"),
        },
    )


def _finish(
    connection: Any, send: dict[str, Any], status: str, reason: str, now: datetime, exists: bool
) -> None:
    """Record the send with its outcome and, when it went out or failed at the gateway, its event."""
    send.update(status=status, reason=reason, updated_at=now)
    repo.record_send(connection, send, exists=exists)
    if status in ("sent", "failed"):
        name = "message_sent" if status == "sent" else "message_failed"
        repo.add_event(connection, send["id"], name, message_event(name, send, now, reason=reason), now)
