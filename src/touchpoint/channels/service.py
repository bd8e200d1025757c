"""Channel use cases: templates (save, check, preview, activate, retire), consent and the do-not-disturb
list, the in-app inbox, receipts, tracked clicks and unsubscribes, message events, reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError as PydanticError
from sqlalchemy import Connection

from touchpoint.channels import repo
from touchpoint.channels.dispatcher import DONE, TEMPLATE_KIND, active_template, decide
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.model import CHANNELS, SendRequest, TemplateDef, product_code
from touchpoint.channels.providers.base import PermanentError, no_receipts
from touchpoint.channels.recipients import Recipients, known_pii, render_context
from touchpoint.channels.templates import Known, TemplateRenderError, check, render
from touchpoint.config import PiiKind
from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError, pydantic_faults
from touchpoint.governance import approvals, record_operation
from touchpoint.governance.masking import PiiMask, personal_values
from touchpoint.governance.model import Principal
from touchpoint.governance.registry import Bundle, DefinitionKind, body_diff, write_definition
from touchpoint.identity.scopes import ensure_visible, scope_numbers
from touchpoint.indicators.service import list_indicators
from touchpoint.ingest.model import CUSTOMERS, PRODUCTS
from touchpoint.store.operational import definitions as store
from touchpoint.store.operational.scratch import maybe_customer_set
from touchpoint.tags.service import list_tags

OPT_OUT_REPLIES = frozenset({"td", "t", "n", "退订", "退", "取消"})

# Templates -------------------------------------------------------------------------------------------------


def parse_template(body: Any) -> TemplateDef:
    """A template from JSON or YAML data, faults named by place."""
    try:
        return TemplateDef.model_validate(body)
    except PydanticError as exc:
        raise ValidationError(f"invalid template: {pydantic_faults(exc, root='template')}") from exc


def known_names(env: ChannelEnv) -> Known:
    """The names templates may use: profile columns, tag and indicator names, product columns."""
    customer_columns = set(CUSTOMERS.column_names) | {"email", "lowest_risk_category"}
    customers = Recipients(env.analytics, env.calendar.business_date(env.clock.now())).customers
    customer_columns |= set(customers.column_names) | customers.extra_names()
    return Known(
        customer=frozenset(customer_columns),
        tags=frozenset(list_tags(env=env)),
        indicators=frozenset(list_indicators(env=env)),
        product=frozenset(PRODUCTS.column_names),
    )


def template_variables(*, env: ChannelEnv) -> dict[str, list[str]]:
    """The names a template may use under each root, sorted (what the content check knows)."""
    known = known_names(env)
    return {
        "customer": sorted(known.customer),
        "tags": sorted(known.tags),
        "indicators": sorted(known.indicators),
        "product": sorted(known.product),
        "globals": ["customer_no", "unsubscribe_url"],
    }


def check_template(*, env: ChannelEnv, template: TemplateDef) -> list[str]:
    """The content check's faults (empty when the template may be activated)."""
    return check(template, policy=env.channel_policy, known=known_names(env))


def save_template(*, env: ChannelEnv, principal: Principal, template: TemplateDef) -> dict[str, Any]:
    """Store a new version (a draft until activated); the content check's faults come back as a warning."""
    check_channel_kept(env, template)
    with env.ops.begin() as connection:
        version = write_template(connection, env=env, principal=principal, template=template)
    return {"name": template.name, "version": version, "faults": check_template(env=env, template=template)}


def check_channel_kept(env: ChannelEnv, template: TemplateDef) -> None:
    """Refuse a new version on another channel than the template's (a new channel needs a new name)."""
    with env.ops.begin() as connection:
        state = repo.template_state(connection, template.name)
    if state is not None and state["channel"] != template.channel:
        raise ConflictError(
            f"template {template.name!r} is for {state['channel']}; a new channel needs a new name"
        )


def write_template(
    connection: Connection, *, env: ChannelEnv, principal: Principal, template: TemplateDef
) -> int:
    """Store a template version in the caller's transaction (a new template starts as a draft)."""
    body = template.model_dump(mode="json")
    version = write_definition(
        connection, clock=env.clock, principal=principal, kind=TEMPLATE_KIND, name=template.name, body=body
    )
    if repo.template_state(connection, template.name) is None:
        repo.set_template_state(
            connection, template.name, env.clock.now(), channel=template.channel, status="draft"
        )
    return version


def template_kind(env: ChannelEnv) -> DefinitionKind:
    """Templates as a kind of the definitions registry (versions only: activation is its own step)."""

    def parse(name: str, body: Any) -> TemplateDef:
        return parse_template({**body, "name": name} if isinstance(body, dict) else body)

    def delete(principal: Principal, name: str) -> None:
        raise ValidationError(
            f"template {name!r} is retired, not deleted (deliveries name it): "
            f"touchpoint template retire {name}"
        )

    def check(template: Any, bundle: Bundle) -> None:
        check_channel_kept(env, cast(TemplateDef, template))

    return DefinitionKind(
        name=TEMPLATE_KIND,
        parse=parse,
        dump=lambda t: cast(TemplateDef, t).model_dump(mode="json"),
        check=check,
        write=lambda c, p, t: write_template(c, env=env, principal=p, template=cast(TemplateDef, t)),
        delete=delete,
        read="template:read",
    )


def get_template(*, env: ChannelEnv, name: str, version: int | None = None) -> TemplateDef:
    """A template's newest (or a given) version."""
    return _template_version(env, name, version)[0]


def _template_version(env: ChannelEnv, name: str, version: int | None) -> tuple[TemplateDef, int]:
    """A template's newest (or a given) version, with its number."""
    with env.ops.begin() as connection:
        history = store.history(connection, TEMPLATE_KIND, name)
    bodies = [h for h in history if h["body"] is not None and (version is None or h["version"] == version)]
    if not bodies:
        wanted = "" if version is None else f" version {version}"
        raise NotFoundError(f"template {name!r}{wanted} does not exist")
    return TemplateDef.model_validate(bodies[-1]["body"]), int(bodies[-1]["version"])


def list_templates(*, env: ChannelEnv) -> list[dict[str, Any]]:
    """Every template with its channel, classification, status and versions."""
    with env.ops.begin() as connection:
        states = repo.template_states(connection)
        bodies = store.current(connection, TEMPLATE_KIND)
        versions = {name: len(store.history(connection, TEMPLATE_KIND, name)) for name in bodies}
    return [
        {
            "name": name,
            "title": body["title"],
            "channel": body["channel"],
            "classification": body["classification"],
            "urgent": body.get("urgent", False),
            "status": states.get(name, {}).get("status", "draft"),
            "active_version": states.get(name, {}).get("active_version"),
            "latest_version": versions[name],
        }
        for name, body in sorted(bodies.items())
    ]


def activate_template(
    *, env: ChannelEnv, principal: Principal, name: str, version: int | None = None
) -> dict[str, Any]:
    """Make a version the one that sends once the content check passes (ValidationError names faults);
    held as a request when `template.activate` needs approval."""
    template, version = _checked_version(env, name, version)
    if approvals.required(env.ops, "template.activate"):
        with env.ops.begin() as connection:
            before = repo.template_state(connection, name)
        live = before and before["active_version"]
        old = _template_version(env, name, live)[0].model_dump(mode="json") if live else None
        held = approvals.request(
            env.ops,
            clock=env.clock,
            principal=principal,
            name="template.activate",
            target=f"template/{name}",
            summary=f"activate template {name} version {version}",
            payload={"name": name, "version": version},
            diff=body_diff(TEMPLATE_KIND, name, old, template.model_dump(mode="json")),
        )
        pending = held.model_dump(mode="json")
        return {
            "name": name,
            "status": "pending",
            "active_version": live or None,
            "pending_approval": pending,
        }
    with env.ops.begin() as connection:
        return _set_status(connection, env, principal, name, "active", version)


def _checked_version(env: ChannelEnv, name: str, version: int | None) -> tuple[TemplateDef, int]:
    template, version = _template_version(env, name, version)  # the very version that is checked
    faults = check_template(env=env, template=template)
    if faults:
        raise ValidationError(
            f"template {name!r} version {version} cannot be activated: " + "; ".join(faults)
        )
    return template, version


def activation_handler(env: ChannelEnv) -> approvals.Handler:
    """Approving `template.activate`: check the requested version again, then activate it."""

    def prepare(payload: Any, maker: Principal) -> approvals.Writer:
        name, version = str(payload["name"]), int(payload["version"])
        _checked_version(env, name, version)
        return lambda connection: _set_status(connection, env, maker, name, "active", version)

    return prepare


def retire_template(*, env: ChannelEnv, principal: Principal, name: str) -> dict[str, Any]:
    """Stop a template from sending (steps that use it then fail with the reason)."""
    get_template(env=env, name=name)
    with env.ops.begin() as connection:
        return _set_status(connection, env, principal, name, "retired", None)


def _set_status(
    connection: Connection, env: ChannelEnv, principal: Principal, name: str, status: str, version: int | None
) -> dict[str, Any]:
    before = repo.template_state(connection, name)
    repo.set_template_state(connection, name, env.clock.now(), status=status, active_version=version)
    record_operation(
        connection,
        clock=env.clock,
        principal=principal,
        action=f"template.{status}",
        target_type=TEMPLATE_KIND,
        target_id=name,
        before={"status": before["status"], "version": before["active_version"]} if before else None,
        after={"status": status, "version": version},
    )
    return {"name": name, "status": status, "active_version": version}


def template_fault(*, env: ChannelEnv, name: str, channel: str) -> str | None:
    """Why a journey step may not name this template on this channel (it does not exist, or it belongs to
    another channel — which no version can change), or None (used when a journey is saved)."""
    try:
        template = get_template(env=env, name=name)
    except NotFoundError as exc:
        return str(exc)
    return (
        None if template.channel == channel else f"template {name!r} is for {template.channel}, not {channel}"
    )


def template_ready(*, env: ChannelEnv, name: str, channel: str) -> str | None:
    """Why a journey may not send this template on this channel now, or None (used when publishing)."""
    fault = template_fault(env=env, name=name, channel=channel)
    if fault:
        return fault
    with env.ops.begin() as connection:
        try:
            active_template(connection, name)
        except PermanentError as exc:
            return str(exc)
    if channel not in env.providers:
        return f"channel {channel} has no provider configured"
    return None


def preview(
    *,
    env: ChannelEnv,
    principal: Principal,
    name: str,
    customer_no: str,
    payload: dict[str, Any] | None = None,
    version: int | None = None,
    draft: TemplateDef | None = None,
) -> dict[str, Any]:
    """The template (a saved version, or the editor's unsaved `draft`) rendered for one customer (links not
    rewritten, nothing sent), with the content check; a customer outside the caller's scope is unknown."""
    ensure_visible(env, principal, customer_no)
    template = draft or get_template(env=env, name=name, version=version)
    recipients = Recipients(env.analytics, env.calendar.business_date(env.clock.now()))
    profile = recipients.customers.row(customer_no)
    if not profile:
        raise NotFoundError(f"customer {customer_no} is not in the customers snapshot")
    code = product_code(template.product, payload or {})
    product = recipients.products.row(code) if code else {}
    unsubscribe = f"{env.public_url.rstrip('/')}/u/preview" if template.marketing else ""
    pii = PiiMask(principal, env.pii_attributes)
    # Rendered from the masked profile: a template may reshape a value (spell it digit by digit) past any
    # masking of the rendered text, and a draft's text is the caller's own.
    shown_profile = pii.record(profile)
    context = render_context(recipients, customer_no, shown_profile, payload or {}, product, unsubscribe)
    try:
        rendered = render(template, context)
    except TemplateRenderError as exc:
        raise ValidationError(f"template {name!r} cannot be rendered for {customer_no}: {exc}") from exc
    with env.ops.begin() as connection:
        request = SendRequest("preview", customer_no, template.channel, name, payload or {})
        decision = decide(connection, env, request, template)
    known = personal_values(profile, env.pii_attributes)
    address = recipients.address(template.channel, customer_no, profile)
    return {
        "name": name,
        "channel": template.channel,
        "customer_no": customer_no,
        "policies": decision,
        "address": None if address is None else pii.text(address, known),
        "subject": None if rendered.subject is None else pii.text(rendered.subject, known),
        "body": pii.text(rendered.body, known),
        "url": rendered.url,
        "params": pii.tree(rendered.params, known),
        "length": len(rendered.body),
        "faults": check_template(env=env, template=template),
    }


# Reports ------------------------------------------------------------------------


def template_versions(*, env: ChannelEnv, name: str) -> list[dict[str, Any]]:
    """Every saved version of a template, newest first: who saved it, when, and whether it sends now."""
    with env.ops.begin() as connection:
        history = store.history(connection, TEMPLATE_KIND, name)
        state = repo.template_state(connection, name)
    if not any(h["body"] is not None for h in history):
        raise NotFoundError(f"template {name!r} does not exist")
    active = state["active_version"] if state and state["status"] == "active" else None
    return [
        {
            "version": h["version"],
            "actor": h["actor"],
            "created_at": h["created_at"],
            "active": h["version"] == active,
        }
        for h in reversed(history)
        if h["body"] is not None
    ]


def _window_and_scope(
    env: ChannelEnv, days: int, principal: Principal | None
) -> tuple[datetime, list[str] | None]:
    """The start of the last `days` days (1 … 3660), and the customers of a caller limited to some (None:
    every customer)."""
    if not 1 <= days <= 3660:
        raise ValidationError(f"days must be between 1 and 3660 (got {days})")
    scope = principal.scope if principal is not None else None
    return env.clock.now() - timedelta(days=days), scope_numbers(env, scope) if scope is not None else None


def channel_health(*, env: ChannelEnv, days: int = 7, principal: Principal | None = None) -> dict[str, Any]:
    """Per channel: the configured provider, sends accepted, failed and skipped within the last `days` days,
    receipts recorded then, and when a send last succeeded or failed (with its error) and a receipt last came
    — of the caller's customers only, for a user limited to branches (as the report)."""
    since, numbers = _window_and_scope(env, days, principal)  # the scope is read before the transaction
    with env.ops.begin() as connection, maybe_customer_set(connection, numbers) as customers:
        statuses = repo.status_counts_by_channel(connection, since, customers)
        successes = repo.last_send_by_channel(connection, DONE, customers)
        failures = repo.last_send_by_channel(connection, ("failed",), customers)
        receipts = {ch: (n, at) for ch, n, at in repo.receipt_counts_by_channel(connection, since, customers)}
    counts: dict[str, dict[str, int]] = {}
    for channel, status, count in statuses:
        kind = "sent" if status in DONE else status
        counts.setdefault(channel, {}).setdefault(kind, 0)
        counts[channel][kind] += count
    return {
        "days": days,
        "channels": [_health_row(env, c, counts, successes, failures, receipts) for c in CHANNELS],
    }


def _health_row(
    env: ChannelEnv,
    channel: str,
    counts: dict[str, dict[str, int]],
    successes: dict[str, tuple[Any, str | None]],
    failures: dict[str, tuple[Any, str | None]],
    receipts: dict[str, tuple[int, Any]],
) -> dict[str, Any]:
    provider = env.providers.get(channel)
    mine = counts.get(channel, {})
    failure = failures.get(channel)
    # A provider that never calls back has no receipts to count (its own delivered events are no callback).
    calls_back = provider is not None and provider.parse_receipt is not no_receipts
    receipt = receipts.get(channel, (0, None)) if calls_back else (None, None)
    return {
        "channel": channel,
        "provider": provider.kind if provider is not None else None,
        "sent": mine.get("sent", 0),
        "failed": mine.get("failed", 0),
        "skipped": mine.get("skipped", 0),
        "last_success_at": successes[channel][0] if channel in successes else None,
        "last_failure_at": failure[0] if failure else None,
        "last_failure_error": failure[1] if failure else None,
        "receipts": receipt[0],
        "last_receipt_at": receipt[1],
    }


def report(
    *, env: ChannelEnv, days: int = 7, journey: str | None = None, principal: Principal | None = None
) -> dict[str, Any]:
    """Per channel and template: sends by status, skip and failure reasons, and the message funnel
    (sent → delivered → opened → clicked) counted once per message — of the caller's customers only, for a
    user limited to branches."""
    since, numbers = _window_and_scope(env, days, principal)  # the scope is read before the transaction
    with env.ops.begin() as connection, maybe_customer_set(connection, numbers) as customers:
        sends = repo.send_counts(connection, since, journey, customers)
        events = repo.event_counts(connection, since, journey, customers)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for channel, template, status, reason, count in sends:
        item = rows.setdefault((channel, template), _report_row(channel, template))
        item["statuses"][status] = item["statuses"].get(status, 0) + count
        if status in ("skipped", "failed") and reason:
            bucket = item["skip_reasons" if status == "skipped" else "failure_reasons"]
            bucket[reason] = bucket.get(reason, 0) + count
    for channel, template, event, count in events:
        item = rows.setdefault((channel, template), _report_row(channel, template))
        item["funnel"][event.removeprefix("message_")] = count
    return {"days": days, "journey": journey, "templates": list(rows.values())}


def _report_row(channel: str, template: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "template": template,
        "statuses": {},
        "skip_reasons": {},
        "failure_reasons": {},
        "funnel": {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "failed": 0},
    }


def customer_messages(
    *, env: ChannelEnv, principal: Principal, customer_no: str, limit: int = 50
) -> list[dict[str, Any]]:
    """A customer's newest sends with status, reason and evidence (the 360 view's message history)."""
    ensure_visible(env, principal, customer_no)
    with env.ops.begin() as connection:
        rows = repo.sends_of_customer(connection, customer_no, limit)
    pii = PiiMask(principal, env.pii_attributes)
    known = _known(env, customer_no) if pii.active else []
    return [
        {
            "id": r["id"],
            "at": r["created_at"].isoformat(),
            "channel": r["channel"],
            "template": r["template"],
            "version": r["template_version"],
            "journey": r["journey"],
            "node": r["node"],
            "status": r["status"],
            "reason": r["reason"],
            "content": pii.text(r["content"], known),
            "evidence": pii.tree(r["evidence"], known),
        }
        for r in rows
    ]


def _known(env: ChannelEnv, customer_no: str) -> list[tuple[PiiKind, str]]:
    day = env.calendar.business_date(env.clock.now())
    return known_pii(env.analytics, day, customer_no, env.pii_attributes)
