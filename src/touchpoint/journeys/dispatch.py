"""The journey outbox's dispatcher: due effects carried out — messages through the channels (their policies,
templates and providers), tags and attributes set, webhooks posted through the signed webhook provider —
each attempt recorded, failures retried with back-off.

No database transaction is open while a provider works. A batch takes two short transactions:

1. claim and stage: due effects of live journeys, higher journey priority first, are marked as claimed by
   this batch until a lease runs out (`dispatch_lease_seconds`); what needs no provider is done and
   recorded (inline log notes, tags, attributes, a policy's skip or delay); a message passes its policies,
   takes its caps, is rendered and recorded as `sending`; the lease of what is left is renewed and all of
   it commits. Then every provider is called, one after the other, with the effect's id as idempotency key;
2. conclude: each answer is recorded — only for effects this batch still holds.

A dispatcher killed after a provider answered and before the outcome committed leaves its effects claimed:
once the lease runs out another dispatcher claims them again and sends them again under the same key, which
the gateway drops as a repeat, so the customer gets one message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticError

from touchpoint.channels.dispatcher import (
    Answer,
    Prepared,
    Retry,
    Staged,
    conclude,
    prepare,
    stage,
    transmit,
    unstage,
)
from touchpoint.channels.model import SendRequest, SendResult
from touchpoint.channels.providers.base import Delivery, PermanentError, ProviderError
from touchpoint.channels.providers.webhook import WebhookProvider
from touchpoint.channels.templates import TemplateRenderError, render_text
from touchpoint.core.durations import shift
from touchpoint.core.errors import ValidationError
from touchpoint.core.ids import new_id
from touchpoint.identity.service import set_profile_values
from touchpoint.journeys import repo
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.effects import (
    AdvisorTaskEffect,
    Effect,
    SendEffect,
    SetAttributeEffect,
    SetTagEffect,
    WebhookEffect,
    parse_effect,
)
from touchpoint.journeys.runtime import Catalog
from touchpoint.tags.service import set_imported_value
from touchpoint.tasks.model import TaskDraft
from touchpoint.tasks.service import assignments, create_tasks

MAX_ATTEMPTS = 5


@dataclass
class _Call:
    """A claimed effect waiting for its provider: a staged message, or a webhook post; then the answer."""

    row: dict[str, Any]
    staged: Staged | None = None
    webhook: tuple[WebhookProvider, WebhookEffect] | None = None
    answer: Answer | None = None


def dispatch(*, env: JourneyEnv, limit: int = 200, catalog: Catalog | None = None) -> int:
    """Carry out due effects; each attempt is recorded; failures retry with back-off up to MAX_ATTEMPTS.
    Returns how many were concluded (sent, or skipped by a channel policy)."""
    claimer = new_id("dsp")  # this batch's claims; 28 characters, within the column's 32
    lease = timedelta(seconds=env.lease_seconds)  # the `dispatch_lease_seconds` setting
    done, calls = _claim_and_stage(env, claimer, limit, lease, catalog)
    # The stage renewed the lease as it committed. Calls stop starting halfway through it, so that the last
    # one (up to a provider's time-out) still ends while the batch holds its claims.
    deadline = time.monotonic() + lease.total_seconds() / 2
    for call in calls:
        if time.monotonic() > deadline:
            break  # the rest are released unattempted: due again at once
        call.answer = _transmit(env, call)
    return done + _conclude(env, calls, claimer, lease)


def _claim_and_stage(
    env: JourneyEnv, claimer: str, limit: int, lease: timedelta, catalog: Catalog | None
) -> tuple[int, list[_Call]]:
    """The first transaction: due effects claimed for this batch (the rows stay locked, or the writer held,
    until it commits, so no other dispatcher takes them meanwhile); effects that need no provider carried
    out and recorded; messages and webhooks made ready for their providers. Returns how many were
    concluded, and the calls to make."""
    with env.ops.begin() as connection:
        now = env.clock.now()
        states = catalog[0] if catalog is not None else repo.all_states(connection)
        live = [n for n, st in states.items() if st["status"] == "live"]
        rows = repo.claim_outbox(connection, now, limit, live, claimer=claimer, lease_until=now + lease)
        if not rows:
            return 0, []
        return _stage(connection, env, rows, claimer, lease)


def _stage(
    connection: Any, env: JourneyEnv, rows: list[dict[str, Any]], claimer: str, lease: timedelta
) -> tuple[int, list[_Call]]:
    """Carry out what needs no provider and make the rest ready, in the claiming transaction."""
    now = env.clock.now()
    effects: dict[str, Effect] = {}
    for row in rows:
        effect = _typed(connection, row, now)
        if effect is not None:
            effects[row["id"]] = effect
    rows = [r for r in rows if r["id"] in effects]
    inline = [r for r in rows if _is_inline(effects[r["id"]])]
    repo.log_messages(connection, inline, now)  # inline log notes in a few statements for the whole batch
    done = len(inline)
    rest = [r for r in rows if not _is_inline(effects[r["id"]])]
    requests = {}
    for row in rest:
        effect = effects[row["id"]]
        if isinstance(effect, SendEffect):
            requests[row["id"]] = _send_request(row, effect)
    prepared = prepare(connection, env, list(requests.values())) if requests else None
    calls = []
    for row in rest:
        try:
            with connection.begin_nested():  # a failing effect rolls back alone, not the batch
                staged = _stage_one(connection, env, row, effects[row["id"]], requests, prepared)
        except Exception as exc:  # the effect's own failure (a tag or attribute refused): retried
            _retry(connection, row, str(exc), now)
            continue
        if isinstance(staged, _Call):
            calls.append(staged)
        else:
            _settle(connection, row, staged, now)
            # Concluded ones count: drainers loop while batches conclude something.
            done += staged.status in ("sent", "skipped")
    # The lease runs from here: staging a large batch (snapshots read cold) does not eat into the calls.
    repo.hold(connection, [c.row["id"] for c in calls], claimer, env.clock.now() + lease)
    return done, calls


def _typed(connection: Any, row: dict[str, Any], now: datetime) -> Effect | None:
    """The row's typed effect; one that cannot be read fails for good (no retry can make it readable)."""
    try:
        return parse_effect(row["payload"])
    except PydanticError as exc:
        reason = f"unreadable {row['kind']} effect: {exc.errors()[0]['msg'] if exc.errors() else exc}"
        repo.finish_attempt(
            connection, row, ok=False, detail=reason[:500], now=now, status="failed", last_error=reason[:500]
        )
        return None


def _is_inline(effect: Effect) -> bool:
    return isinstance(effect, SendEffect) and effect.inline


def _send_request(row: dict[str, Any], effect: SendEffect) -> SendRequest:
    context = effect.context
    variants = context.variants if context is not None else {}
    return SendRequest(
        key=row["id"],
        customer_no=row["customer_no"],
        channel=effect.channel,
        template=str(effect.template),
        payload=context.payload if context is not None else {},
        journey=row["journey"],
        node=row["node"],
        variant=",".join(str(v) for v in variants.values()) or None,
    )


def _stage_one(
    connection: Any,
    env: JourneyEnv,
    row: dict[str, Any],
    effect: Effect,
    requests: dict[str, SendRequest],
    prepared: Prepared | None,
) -> _Call | SendResult:
    """One effect in the staging transaction: carried out when it needs no provider, else made ready."""
    customer, now = row["customer_no"], env.clock.now()
    if isinstance(effect, SendEffect):
        staged = stage(connection, env, requests[row["id"]], prepared)
        return _Call(row, staged=staged) if isinstance(staged, Staged) else staged
    if isinstance(effect, WebhookEffect):
        provider = env.providers.get("webhook")
        if not isinstance(provider, WebhookProvider):
            return SendResult(
                "failed", "no webhook provider: [channels.webhook] with a secret signs journey webhooks"
            )
        return _Call(row, webhook=(provider, effect))
    if isinstance(effect, AdvisorTaskEffect):
        return hand_to_advisor(connection, env, row, effect)
    if isinstance(effect, SetTagEffect):
        set_imported_value(connection, env=env, tag=effect.tag, customer_no=customer, value=effect.value)
        return SendResult("sent", f"{effect.tag}={effect.value}")
    if isinstance(effect, SetAttributeEffect):
        values = {effect.attribute: effect.value}
        if not set_profile_values(connection, customer_no=customer, values=values, source="journey", now=now):
            raise ValidationError(f"One ID does not know customer {customer}")
        return SendResult("sent", f"{effect.attribute} set")
    raise ValidationError(f"unknown effect kind {row['kind']!r}")


def hand_to_advisor(
    connection: Any, env: JourneyEnv, row: dict[str, Any], effect: AdvisorTaskEffect
) -> SendResult:
    """Create the run's advisor task, once per (run, node, step): a retried effect finds the task it made."""
    now = env.clock.now()
    context = {"payload": effect.context.payload, "customer": {"customer_no": row["customer_no"]}}
    try:
        title = render_text("title", effect.title, context)
        points = render_text("talking_points", effect.talking_points, context)
    except TemplateRenderError as exc:
        return SendResult("failed", str(exc)[:500])
    draft = TaskDraft(
        source_key=f"run:{row['run_id']}:{row['node']}:{row['step']}",
        source="journey",
        customer_no=row["customer_no"],
        title=title,
        reason=f"journey {row['journey']} · {row['node']}",
        talking_points=points,
        priority=effect.priority,
        due_at=shift(now, effect.due, env.calendar),
        facts=dict(effect.context.payload),
        journey=row["journey"],
        run_id=row["run_id"],
        node=row["node"],
    )
    made = create_tasks(connection, drafts=[draft], assigned=assignments(env, [row["customer_no"]]), now=now)
    return SendResult("sent", f"task {made[draft.source_key]}")


def _transmit(env: JourneyEnv, call: _Call) -> Answer:
    """Call the provider of one effect, with no transaction open."""
    if call.staged is not None:
        return transmit(env, call.staged)
    assert call.webhook is not None
    provider, effect = call.webhook
    row = call.row
    document = {
        "customer_no": row["customer_no"],
        "journey": row["journey"],
        "node": row["node"],
        "outbox_id": row["id"],
        "context": effect.context.model_dump(mode="json"),
    }
    try:
        delivery: Delivery = provider.post(effect.url, document, key=row["id"])
    except Exception as exc:  # a receiver's failure, of any type, is this attempt's outcome
        return Answer(error=exc)
    return Answer(delivery=delivery)


def _conclude(env: JourneyEnv, calls: list[_Call], claimer: str, lease: timedelta) -> int:
    """The outcome transaction: each answer recorded for the effects this batch still holds (a sent message
    counts even if its run was cancelled meanwhile: it went out); unattempted effects released."""
    if not calls:
        return 0
    done = 0
    with env.ops.begin() as connection:
        now = env.clock.now()
        ids = [c.row["id"] for c in calls]
        held = repo.hold(connection, ids, claimer, now + lease, pending_only=False)
        unattempted = []
        for call in calls:
            if call.row["id"] not in held:
                continue  # another dispatcher took it over after our lease ran out: its outcome counts
            if call.answer is None:
                if call.staged is not None:
                    unstage(connection, env, call.staged)
                unattempted.append(call.row["id"])
                continue
            result = _outcome(connection, env, call, call.answer)
            if isinstance(result, Retry):
                _retry(connection, call.row, result.reason, now)
                continue
            _settle(connection, call.row, result, now)
            done += result.status in ("sent", "skipped")
        repo.release(connection, unattempted)
    return done


def _outcome(connection: Any, env: JourneyEnv, call: _Call, answer: Answer) -> SendResult | Retry:
    if call.staged is not None:
        return conclude(connection, env, call.staged, answer)
    if answer.delivery is not None:
        return SendResult("sent", answer.delivery.detail)
    error = answer.error
    if isinstance(error, PermanentError):
        return SendResult("failed", str(error))
    return Retry(str(error) if isinstance(error, ProviderError) else f"{type(error).__name__}: {error}")


def _retry(connection: Any, row: dict[str, Any], reason: str, now: datetime) -> None:
    """Record a failed attempt: retried after 2, 4, 8 … minutes, failed for good after MAX_ATTEMPTS."""
    attempts = int(row["attempts"]) + 1
    final = attempts >= MAX_ATTEMPTS
    values: dict[str, Any] = {"last_error": reason[:500]}
    if final:
        values |= {"status": "failed", "next_attempt_at": None}
    else:
        values["next_attempt_at"] = now + timedelta(minutes=2**attempts)
    repo.finish_attempt(connection, row, ok=False, detail=reason[:500], now=now, **values)


def _settle(connection: Any, row: dict[str, Any], result: SendResult, now: datetime) -> None:
    """Record what the channel did: sent, skipped by a policy (the reason shows in the statistics), delayed
    (quiet hours, a rate limit: no attempt spent) or failed for good (the provider's reason)."""
    if result.status == "delayed":
        repo.delay_effect(connection, row["id"], result.until or now, result.reason)
        return
    ok = result.status == "sent"
    repo.finish_attempt(
        connection,
        row,
        ok=ok,
        detail=result.reason[:500],
        now=now,
        status=result.status,
        last_error=None if ok else result.reason[:500],
        done_at=now,
    )
