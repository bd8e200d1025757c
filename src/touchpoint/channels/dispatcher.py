"""The dispatcher: one send request through the policies, in order — consent, suitability, do-not-disturb
and quiet hours, frequency caps, the provider's rate limit — then rendering, link tracking and the provider.

A send takes three steps, so that no database transaction is open while a gateway works. `stage`, in the
caller's transaction, applies the policies, takes the caps, renders, tracks the links and records the send
as `sending`; `transmit`, with no transaction open, hands the message to the provider; `conclude`, in the
caller's next transaction, records the answer (the send's status and its message event) or undoes the
staging for a retry. The provider is called with the request's key as idempotency key: a retry after an
unknown outcome, or a repeat after a dispatcher died between the answer and its record, repeats the key,
and the gateway drops the repeat.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from touchpoint.channels import repo
from touchpoint.channels.env import ChannelEnv, token_bucket
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
from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    PermanentError,
    Provider,
    ProviderError,
    SendContext,
)
from touchpoint.channels.recipients import ADDRESS_COLUMNS, Recipients, render_context
from touchpoint.channels.templates import (
    Rendered,
    TemplateRenderError,
    banned_words_in,
    has_disclosure,
    names_product,
    render,
    rewrite_links,
    with_utm,
)
from touchpoint.core.calendar import TradingCalendar
from touchpoint.store.operational.counters import bump_below, counter_value, give_back

TEMPLATE_KIND = "template"
DONE = ("sent", "delivered", "opened", "clicked")
SENDING = "sending"  # staged and handed to the provider; its outcome is not recorded yet
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


@dataclass
class Staged:
    """A send past its policies, rendered and recorded as `sending`: the message for its provider (called
    with no transaction open), and what recording the provider's answer needs."""

    request: SendRequest
    provider: Provider
    message: OutboundMessage
    send: dict[str, Any]
    caps: list[tuple[str, str]]  # (scope, period) counters the send took, given back if it does not go
    token: bool  # whether it took a rate-limit token
    now: datetime


@dataclass(frozen=True)
class Answer:
    """What a provider said to one message: its delivery, or the error it raised."""

    delivery: Delivery | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class Retry:
    """The attempt failed in a way that may pass (a time-out, a 5xx): try again later with the same key."""

    reason: str


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


def stage(
    connection: Any, env: ChannelEnv, request: SendRequest, prepared: Prepared | None = None
) -> Staged | SendResult:
    """Carry one request through the policies in the caller's transaction: a send that may go out takes its
    caps and token, is rendered, and is recorded as `sending`; it comes back as Staged, for `transmit` to
    hand to the provider once that transaction has committed. Anything else comes back as its result:
    already sent, skipped (the reason), delayed (until when) or failed (a missing template, a content fault).

    A request whose earlier attempt was handed to the provider with no outcome recorded (its dispatcher
    died) is staged again as it was: its policies were passed and its caps taken then, and the same key
    lets the gateway drop the repeat."""
    prepared = prepared or prepare(connection, env, [request])
    earlier = prepared.earlier.get(request.key)
    if earlier is not None and earlier["status"] in DONE:
        return SendResult("sent", "already sent", evidence=earlier["evidence"])
    if earlier is not None and earlier["status"] == SENDING:
        return _restage(connection, env, request, prepared, earlier)
    try:
        template, version = prepared.template(connection, request.template)
    except PermanentError as exc:
        return SendResult("failed", str(exc))
    job = _Job(connection, env, request, template, prepared, env.clock.now(), earlier is not None)
    job.send = _send_row(request, template, version, job.now)
    try:
        return _stage(job)
    except Skip as skip:
        if skip.until is not None:
            return SendResult("delayed", skip.reason, until=skip.until, evidence=job.evidence)
        _finish(job, "skipped", skip.reason)
        return SendResult("skipped", skip.reason, evidence=job.evidence)
    except PermanentError as exc:
        _finish(job, "failed", str(exc))
        return SendResult("failed", str(exc), evidence=job.evidence)


def transmit(env: ChannelEnv, staged: Staged) -> Answer:
    """Hand a staged message to its provider. Call it with no transaction open: a gateway may take seconds,
    and nothing of the database waits for it (the inbox provider writes in a short transaction of its own).
    Never raises: whatever the provider raised is the answer."""
    try:
        delivery = staged.provider.send(staged.message, SendContext(now=staged.now, store=env.ops))
    except Exception as exc:  # a provider's failure, of any type, is this attempt's outcome
        return Answer(error=exc)
    return Answer(delivery=delivery)


def conclude(connection: Any, env: ChannelEnv, staged: Staged, answer: Answer) -> SendResult | Retry:
    """Record the provider's answer in the caller's transaction: sent (with the gateway's message id and the
    `message_sent` event), failed for good (`message_failed`), or Retry when the failure may pass. A failed
    attempt gives its caps and token back, and a retried one leaves no send row: the next attempt checks the
    policies again. The tracked links stay: a gateway that timed out may have delivered the message."""
    send = staged.send
    if answer.delivery is not None:
        provider_id = (answer.delivery.provider_message_id or "")[:128] or None  # the column's width
        send.update(provider_message_id=provider_id)
        now = env.clock.now()
        _record(connection, send, "sent", answer.delivery.detail, now, exists=True)
        if answer.delivery.delivered:
            _record_delivered(connection, send, now)
        return SendResult("sent", answer.delivery.detail, evidence=send["evidence"])
    error = answer.error
    if isinstance(error, PermanentError):
        _give_back(connection, env, staged)
        _record(connection, send, "failed", str(error), env.clock.now(), exists=True)
        return SendResult("failed", str(error), evidence=send["evidence"])
    unstage(connection, env, staged)
    return Retry(str(error) if isinstance(error, ProviderError) else f"{type(error).__name__}: {error}")


def unstage(connection: Any, env: ChannelEnv, staged: Staged) -> None:
    """Undo a staged send whose attempt did not go through, or was never made: its caps are given back, its
    rate-limit token returned and its `sending` row removed (its tracked links stay, harmless)."""
    _give_back(connection, env, staged)
    repo.delete_send(connection, staged.send["id"])


def _give_back(connection: Any, env: ChannelEnv, staged: Staged) -> None:
    for scope, period in staged.caps:
        give_back(connection, customer_no=staged.request.customer_no, scope=scope, period=period)
    if staged.token:
        bucket = token_bucket(env, staged.request.channel)
        if bucket is not None:
            bucket.give_back()


def decide(connection: Any, env: ChannelEnv, request: SendRequest, template: TemplateDef) -> dict[str, Any]:
    """What the policies would do with this request now — send, skip (why) or delay (until when) — with their
    evidence; nothing is counted, rendered or sent (the preview's answer)."""
    prepared = prepare(connection, env, [request])
    job = _Job(connection, env, request, template, prepared, env.clock.now(), False)
    job.send = _send_row(request, template, 0, job.now)
    profile = prepared.recipients.customers.row(request.customer_no)
    try:
        _check_policies(job, profile)
        if prepared.recipients.address(request.channel, request.customer_no, profile) is None:
            raise Skip(f"no {ADDRESS_COLUMNS[request.channel]} on the profile for {request.channel}")
        for scope, period, limit, why in _cap_rules(job):
            used = counter_value(connection, customer_no=request.customer_no, scope=scope, period=period)
            if used >= limit:
                raise Skip(why)
    except Skip as skip:
        until = skip.until.isoformat() if skip.until else None
        return {
            "outcome": "delayed" if until else "skipped",
            "reason": skip.reason,
            "until": until,
            **job.evidence,
        }
    return {"outcome": "would send", "reason": None, "until": None, **job.evidence}


@dataclass
class _Job:
    """One request on its way: what it reads, and the send row it fills in."""

    connection: Any
    env: ChannelEnv
    request: SendRequest
    template: TemplateDef
    prepared: Prepared
    now: datetime
    exists: bool  # an earlier attempt left a send row (a delay, a transient failure)
    send: dict[str, Any] = field(default_factory=dict)

    @property
    def evidence(self) -> dict[str, Any]:
        """What the policies found, stored with the send."""
        evidence: dict[str, Any] = self.send["evidence"]
        return evidence


def _stage(job: _Job) -> Staged:
    request, template = job.request, job.template
    if template.channel != request.channel:
        raise PermanentError(f"template {template.name!r} is for {template.channel}, not {request.channel}")
    provider = job.env.providers.get(request.channel)
    if provider is None:
        raise PermanentError(f"channel {request.channel} has no provider configured")
    job.send["provider"] = provider.kind
    profile = job.prepared.recipients.customers.row(request.customer_no)
    if not profile:
        raise PermanentError(f"customer {request.customer_no} is not in the customers snapshot")
    product = _check_policies(job, profile)
    address = job.prepared.recipients.address(request.channel, request.customer_no, profile)
    if address is None:
        raise Skip(f"no {ADDRESS_COLUMNS[request.channel]} on the profile for {request.channel}")
    savepoint = job.connection.begin_nested()  # caps and links undo together when the message cannot go
    token = False
    try:
        caps = _take_caps(job)
        token = _take_token(job)
        rendered = _render(job, profile, product)
    except BaseException:
        savepoint.rollback()
        if token:
            token_bucket(job.env, request.channel).give_back()  # type: ignore[union-attr]
        raise
    savepoint.commit()
    job.send["content"] = rendered.body
    _record(job.connection, job.send, SENDING, "handed to the provider", job.now, exists=job.exists)
    return Staged(request, provider, _message(job, address, rendered), job.send, caps, token, job.now)


def _restage(
    connection: Any, env: ChannelEnv, request: SendRequest, prepared: Prepared, earlier: dict[str, Any]
) -> Staged | SendResult:
    """The message of an attempt whose outcome was never recorded, rendered again from the same template
    version for the same channel; its policies and caps are not taken again (they were, the first time)."""
    version = int(earlier["template_version"])
    body = repo.template_body(connection, TEMPLATE_KIND, earlier["template"], version)
    provider = env.providers.get(request.channel)
    profile = prepared.recipients.customers.row(request.customer_no)
    address = prepared.recipients.address(request.channel, request.customer_no, profile) if profile else None
    if body is None or provider is None or address is None:
        reason = f"send {request.key} cannot be repeated: its template, provider or address is gone"
        _record(connection, earlier, "failed", reason, env.clock.now(), exists=True)
        return SendResult("failed", reason, evidence=earlier["evidence"])
    template = TemplateDef.model_validate(body)
    job = _Job(connection, env, request, template, prepared, env.clock.now(), True)
    job.send = {**earlier, "evidence": dict(earlier["evidence"] or {})}
    code = earlier["product"]
    try:
        rendered = _render(job, profile, prepared.recipients.products.row(code) if code else {})
    except PermanentError as exc:
        _finish(job, "failed", str(exc))
        return SendResult("failed", str(exc), evidence=job.evidence)
    caps = [_cap_of(entry) for entry in job.evidence.get("caps", [])]
    return Staged(request, provider, _message(job, address, rendered), job.send, caps, False, job.now)


def _cap_of(entry: str) -> tuple[str, str]:
    """(scope, period) of a cap as the evidence lists it: `period` for all channels, `channel:period`."""
    scope, _, period = entry.rpartition(":")
    return scope or ALL_CHANNELS, period


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


def _check_policies(job: _Job, profile: dict[str, Any]) -> dict[str, Any]:
    """Consent, suitability, do-not-disturb, quiet hours, in that order; returns the product row, if any."""
    request, template, prepared = job.request, job.template, job.prepared
    if template.marketing:
        allowed, why = marketing_allowed(
            request.channel,
            profile.get("consent_marketing"),
            prepared.consents.get(request.customer_no, []),
            prepared.recipients.customers.as_of,
            job.env.calendar.tz,
        )
        job.evidence["consent"] = why
        if not allowed:
            raise Skip(f"consent: {why}")
    code = product_code(template.product, request.payload)
    product = prepared.recipients.products.row(code) if code else {}
    job.send["product"] = code[:64] if code else None  # the column's width: a send must record
    if template.marketing:  # suitability governs promotion, not service notices
        _check_suitability(job, profile, code, product)
    if template.marketing and request.customer_no in prepared.dnd:
        raise Skip(f"do-not-disturb: {prepared.dnd[request.customer_no]}")
    if not template.urgent:
        policy = job.env.channel_policy
        until = quiet_hours_end(job.now, policy.quiet_start, policy.quiet_end, job.env.calendar.tz)
        if until is not None:
            raise Skip(f"quiet hours until {policy.quiet_end.strftime('%H:%M')}", until=until)
    return product


def _check_suitability(job: _Job, profile: dict[str, Any], code: str | None, product: dict[str, Any]) -> None:
    """A product the customer's risk level does not admit skips the send, with the evidence kept."""
    if job.template.product and code is None:
        raise Skip(f"suitability: the entry names no product ({job.template.product} is missing)")
    if code is None:
        return
    decision = suitability(
        customer_level=profile.get("risk_level"),
        investor_type=profile.get("investor_type"),
        lowest_category=truthy(profile.get("lowest_risk_category")),
        assessed_at=_as_date(profile.get("risk_assessed_at"), job.env.calendar),
        product_code=code,
        product_level=product.get("risk_level"),
        today=job.env.calendar.business_date(job.now),
        valid_days=job.env.channel_policy.risk_test_valid_days,
        rule_version=job.env.channel_policy.suitability_rule_version,
    )
    job.evidence["suitability"] = {**decision.evidence, "decision": decision.reason}
    if not decision.allowed:
        raise Skip(f"suitability: {decision.reason}")


def _as_date(value: Any, calendar: TradingCalendar) -> date | None:
    if isinstance(value, datetime):  # an instant: its Beijing date (a naive one is taken as written)
        return calendar.business_date(value) if value.tzinfo is not None else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def _cap_rules(job: _Job) -> list[tuple[str, str, int, str]]:
    """The counters a marketing send counts in: (scope, period, limit, why it is full)."""
    channel, policy = job.request.channel, job.env.channel_policy
    if not job.template.marketing or channel in UNCAPPED:
        return []
    day, week = cap_periods(job.now, job.env.calendar.tz)
    scopes = [(ALL_CHANNELS, policy.caps_all_channels)]
    if channel in policy.caps_per_channel:
        scopes.append((channel, policy.caps_per_channel[channel]))
    rules = []
    for scope, cap in scopes:
        where = "all channels" if scope == ALL_CHANNELS else scope
        for period, limit, unit in ((day, cap.per_day, "day"), (week, cap.per_week, "week")):
            if limit is not None:
                why = f"frequency cap: {limit} marketing message(s) per {unit} on {where}"
                rules.append((scope, period, limit, why))
    return rules


def _take_caps(job: _Job) -> list[tuple[str, str]]:
    """Count a marketing send against every cap that applies, atomically; the first full cap skips it.
    Returns the (scope, period) counters taken."""
    customer = job.request.customer_no
    taken = []
    for scope, period, limit, why in _cap_rules(job):
        if not bump_below(job.connection, customer_no=customer, scope=scope, period=period, limit=limit):
            raise Skip(why)
        job.evidence.setdefault("caps", []).append(period if scope == ALL_CHANNELS else f"{scope}:{period}")
        taken.append((scope, period))
    return taken


def _take_token(job: _Job) -> bool:
    """Take the provider's token (True when one was taken, to give back if the send does not happen)."""
    bucket = token_bucket(job.env, job.request.channel)
    if bucket is None:
        return False
    wait = bucket.take(job.now)
    if wait.total_seconds() > 0:
        raise Skip(f"rate limit of the {job.request.channel} provider", until=job.now + wait)
    return True


def _render(job: _Job, profile: dict[str, Any], product: dict[str, Any]) -> Rendered:
    """The message for this customer, checked once more for banned words, its links tracked."""
    request, template = job.request, job.template
    tracker = _LinkTracker(job)
    unsubscribe = tracker.unsubscribe_link() if template.marketing else ""
    context = render_context(
        job.prepared.recipients, request.customer_no, profile, request.payload, product, unsubscribe
    )
    try:
        rendered = render(template, context)
    except TemplateRenderError as exc:
        raise PermanentError(f"template {template.name}: {exc}") from exc
    policy = job.env.channel_policy
    banned = banned_words_in(rendered, policy.banned_words)
    if banned:  # a value from the entry payload or the profile can bring one in
        raise PermanentError(f"content check: the message as rendered contains {', '.join(banned)}")
    if names_product(template) and not has_disclosure(rendered.texts(), policy.disclosures):
        raise PermanentError(
            "content check: the message as rendered names a product but shows no risk disclosure"
        )
    if rendered.url and not rendered.url.startswith(("https://", "http://")):
        raise PermanentError(f"template {template.name}: url {rendered.url[:80]!r} is not an http(s) link")
    if template.track_links:
        rendered.body = rewrite_links(rendered.body, tracker.track)
        rendered.url = tracker.track(rendered.url) if rendered.url else None
    if unsubscribe:
        job.evidence["unsubscribe_url"] = unsubscribe
    repo.add_links(job.connection, tracker.links)
    return rendered


class _LinkTracker:
    """Short links of one send: each target rewritten to `{public_url}/t/{code}` (the click is recorded, then
    redirected with UTM parameters) and the unsubscribe link `{public_url}/u/{code}`."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.base = job.env.public_url.rstrip("/")
        self.links: list[dict[str, Any]] = []

    def track(self, url: str) -> str:
        """The tracked short link for a target (our own links are left as they are)."""
        if url.startswith(f"{self.base}/"):
            return url  # already ours (the unsubscribe link): tracking it would hide the opt-out
        request, template = self.job.request, self.job.template
        utm = {
            "utm_source": "touchpoint",
            "utm_medium": request.channel,
            "utm_campaign": request.journey or template.name,
            "utm_content": f"{template.name}.{request.variant}" if request.variant else template.name,
        }
        if self.job.template.channel == "email":
            url = url.replace("&amp;", "&")  # a link in an HTML body writes & as &amp;
        return self._short("t", with_utm(url, utm))

    def unsubscribe_link(self) -> str:
        """The send's unsubscribe link (its target is the channel it opts out of)."""
        return self._short("u", self.job.request.channel)

    def _short(self, kind: str, target: str) -> str:
        code = secrets.token_urlsafe(9)
        self.links.append(
            {
                "code": code,
                "send_id": self.job.request.key,
                "kind": "link" if kind == "t" else "unsubscribe",
                "url": target,
                "created_at": self.job.now,
            }
        )
        return f"{self.base}/{kind}/{code}"


def _message(job: _Job, address: str, rendered: Rendered) -> OutboundMessage:
    request, template = job.request, job.template
    return OutboundMessage(
        key=request.key,
        channel=request.channel,
        customer_no=request.customer_no,
        address=address,
        title=rendered.subject,
        body=rendered.body,
        marketing=template.marketing,
        template=template.name,
        template_version=job.send["template_version"],
        provider_template_id=template.provider_template_id,
        params=rendered.params,
        url=rendered.url,
        metadata={
            "journey": request.journey,
            "node": request.node,
            "variant": request.variant,
            "unsubscribe_url": job.evidence.get("unsubscribe_url"),
        },
    )


def _record_delivered(connection: Any, send: dict[str, Any], now: datetime) -> None:
    """A message the provider delivered as it took it: the `message_delivered` event and the send's status,
    as a delivery receipt would have recorded them (once, whatever repeats)."""
    event = message_event("message_delivered", send, now, reason=None)
    if repo.add_event_once(connection, send["id"], "message_delivered", event, now):
        repo.set_send_status(connection, send["id"], "delivered", None, now)


def _finish(job: _Job, status: str, reason: str) -> None:
    """Record the send with its outcome and, when it went out or failed at the gateway, its event."""
    _record(job.connection, job.send, status, reason, job.now, exists=job.exists)


def _record(
    connection: Any, send: dict[str, Any], status: str, reason: str, now: datetime, *, exists: bool
) -> None:
    """Write the send row with this status (inserted, or over the row an earlier stage left) and, when it
    went out or failed at the gateway, its message event in the same transaction."""
    send.update(status=status, reason=reason, updated_at=now)
    repo.record_send(connection, send, exists=exists)
    if status in ("sent", "failed"):
        name = "message_sent" if status == "sent" else "message_failed"
        repo.add_event(connection, send["id"], name, message_event(name, send, now, reason=reason), now)
