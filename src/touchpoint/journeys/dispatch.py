"""The journey outbox's dispatcher: due effects carried out in one transaction a batch — messages through the
channels (their policies, templates and providers), tags and attributes set, webhooks posted — each in its own
savepoint, each attempt recorded, failures retried with back-off. Effects are claimed with FOR UPDATE SKIP
LOCKED, higher journey priority first, so several workers never take the same one."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from touchpoint.channels.dispatcher import Prepared, deliver, prepare
from touchpoint.channels.model import SendRequest, SendResult
from touchpoint.core.errors import ValidationError
from touchpoint.identity.service import set_profile_values
from touchpoint.journeys import repo
from touchpoint.journeys.runtime import Catalog
from touchpoint.journeys.service import JourneyEnv
from touchpoint.tags.service import set_imported_value

MAX_ATTEMPTS = 5
# Wall time one dispatch transaction may spend with gateways: its locks (SQLite's single writer above all)
# are held meanwhile, and a gateway that times out on every call must not hold them for minutes.
BATCH_SECONDS = 10.0


def dispatch(
    *, env: JourneyEnv, limit: int = 200, http: httpx.Client | None = None, catalog: Catalog | None = None
) -> int:
    """Carry out due effects; each attempt is recorded; failures retry with back-off up to MAX_ATTEMPTS.
    Returns how many were concluded (sent, or skipped by a channel policy)."""
    now = env.clock.now()
    done = 0
    client = http or httpx.Client(timeout=10)
    try:
        with env.ops.begin() as connection:
            states = catalog[0] if catalog is not None else repo.all_states(connection)
            live = [n for n, st in states.items() if st["status"] == "live"]
            rows = repo.claim_outbox(connection, now, limit, live)
            done = _dispatch_batch(connection, env, rows, client, now)
    finally:
        if http is None:
            client.close()
    return done


def _send_request(row: dict[str, Any]) -> SendRequest:
    payload = row["payload"]
    context = payload.get("context", {})
    variants = context.get("variants", {})
    return SendRequest(
        key=row["id"],
        customer_no=row["customer_no"],
        channel=payload["channel"],
        template=payload["template"],
        payload=context.get("payload", {}),
        journey=row["journey"],
        node=row["node"],
        variant=",".join(str(v) for v in variants.values()) or None,
    )


def _dispatch_batch(
    connection: Any, env: JourneyEnv, rows: list[dict[str, Any]], client: httpx.Client, now: datetime
) -> int:
    logged = [r for r in rows if r["kind"] == "send" and "content" in r["payload"]]
    repo.log_messages(connection, logged, now)  # inline log notes in a few statements for the whole batch
    done = len(logged)
    handled = {r["id"] for r in logged}
    templated = [r for r in rows if r["kind"] == "send" and r["id"] not in handled]
    requests = {r["id"]: _send_request(r) for r in templated}
    prepared = (
        prepare(connection, env.channels, list(requests.values())) if requests and env.channels else None
    )
    deadline = time.monotonic() + BATCH_SECONDS
    for row in rows:
        if row["id"] in handled:
            continue
        if time.monotonic() > deadline:
            break  # slow gateways: commit what is done; the rest stays pending for the next batch
        try:
            with connection.begin_nested():  # a failing effect rolls back alone, not the batch
                if row["id"] in requests:
                    result = _deliver(connection, env, requests[row["id"]], prepared)
                else:
                    result = SendResult("sent", _perform(connection, env, row, client))
        except Exception as exc:  # a provider's failure is the effect's, recorded and retried
            attempts = int(row["attempts"]) + 1
            final = attempts >= MAX_ATTEMPTS
            repo.finish_attempt(
                connection,
                row,
                ok=False,
                detail=str(exc)[:500],
                now=now,
                status="failed" if final else "pending",
                last_error=str(exc)[:500],
                next_attempt_at=None if final else now + timedelta(minutes=2**attempts),
            )
            continue
        _settle(connection, row, result, now)
        done += result.status in ("sent", "skipped")  # concluded: drainers loop while batches conclude
    return done


def _deliver(connection: Any, env: JourneyEnv, request: SendRequest, prepared: Prepared | None) -> SendResult:
    if env.channels is None:
        raise ValidationError("channels are not wired into this journey environment")
    return deliver(connection, env.channels, request, prepared)


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


def _perform(connection: Any, env: JourneyEnv, row: dict[str, Any], client: httpx.Client) -> str:
    payload, customer, kind = row["payload"], row["customer_no"], row["kind"]
    now = env.clock.now()
    if kind == "set_tag":
        set_imported_value(
            connection, env=env.tags, tag=payload["tag"], customer_no=customer, value=payload["value"]
        )
        return f"{payload['tag']}={payload['value']}"
    if kind == "set_attribute":
        values = {payload["attribute"]: payload["value"]}
        if not set_profile_values(connection, customer_no=customer, values=values, source="journey", now=now):
            raise ValidationError(f"One ID does not know customer {customer}")
        return f"{payload['attribute']} set"
    if kind == "webhook":
        body = {
            "customer_no": customer,
            "journey": row["journey"],
            "node": row["node"],
            "outbox_id": row["id"],
            "context": payload.get("context", {}),
        }
        response = client.post(payload["url"], json=body, headers={"Idempotency-Key": row["id"]})
        response.raise_for_status()
        return f"HTTP {response.status_code}"
    raise ValidationError(f"unknown action kind {kind!r}")
