"""Reading what the MOT rules did: the rules with their recent firings, the firings themselves (masked, within
the caller's scope), and per rule how many firings were served and how many within the SLA."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from touchpoint.channels.env import ChannelEnv
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.governance.masking import mask_customer_no
from touchpoint.identity.scopes import visible_numbers
from touchpoint.moments import repo
from touchpoint.moments.catalogue import DETECTORS
from touchpoint.moments.service import list_rules
from touchpoint.store.operational import definitions as store


def rule_summaries(*, env: ChannelEnv, principal: Principal) -> list[dict[str, Any]]:
    """Every rule with its detector's kind, times and firings in the last 30 days (of the caller's
    customers)."""
    since = env.clock.now() - timedelta(days=30)
    with env.ops.begin() as connection:
        if principal.scope is None:
            counts = repo.counts_since(connection, since)
        else:
            rows = repo.firings(connection, since=since)
    if principal.scope is not None:
        allowed = set(visible_numbers(env, principal, sorted({r["customer_no"] for r in rows})))
        counts = {}
        for row in rows:
            if row["customer_no"] in allowed:
                counts[row["rule"]] = counts.get(row["rule"], 0) + 1
    return [
        {
            "name": rule.name,
            "title": rule.title,
            "catalogue": rule.catalogue,
            "detector": rule.detector,
            "kind": DETECTORS[rule.detector].kind,
            "classification": rule.classification,
            "owner": rule.owner,
            "sla": rule.sla,
            "enabled": rule.enabled,
            "times": list(rule.times()),
            "fired_30d": counts.get(rule.name, 0),
        }
        for rule in list_rules(env=env).values()
    ]


def list_firings(
    *,
    env: ChannelEnv,
    principal: Principal,
    rule: str | None = None,
    customer_no: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Firings newest first, of the customers the caller may see (customer numbers masked, as in every
    list of runs)."""
    since = env.calendar.to_utc(start) if start else None
    until = env.calendar.to_utc(end + timedelta(days=1)) if end else None
    with env.ops.begin() as connection:
        rows = repo.firings(connection, rule=rule, customer_no=customer_no, since=since, until=until)
    allowed = set(visible_numbers(env, principal, sorted({r["customer_no"] for r in rows})))
    shown = [r for r in rows if r["customer_no"] in allowed][:limit]
    return [
        {
            **{k: r[k] for k in ("id", "rule", "occurrence", "classification", "facts", "task_id")},
            "customer_no": mask_customer_no(r["customer_no"]),
            "fired_at": r["fired_at"].isoformat(),
            "due_at": r["due_at"].isoformat() if r["due_at"] else None,
        }
        for r in shown
    ]


def rule_stats(*, env: ChannelEnv, principal: Principal, start: date, end: date) -> list[dict[str, Any]]:
    """Per rule over the period: firings, served (its task completed, or a message of a journey that starts
    on the rule's event sent to the customer after the firing) and served within the SLA."""
    if start > end:
        raise ValidationError(f"from {start} is after to {end}")
    since, until = env.calendar.to_utc(start), env.calendar.to_utc(end + timedelta(days=1))
    with env.ops.begin() as connection:
        rows = repo.firings(connection, since=since, until=until)
        journeys = store.current(connection, "journey")
    allowed = set(visible_numbers(env, principal, sorted({r["customer_no"] for r in rows})))
    rows = [r for r in rows if r["customer_no"] in allowed]
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_rule.setdefault(row["rule"], []).append(row)
    found = []
    for name, firings in sorted(by_rule.items()):
        served = _served_at(env, name, firings, journeys, since)
        on_time = sum(
            1 for f in firings if f["id"] in served and f["due_at"] and served[f["id"]] <= f["due_at"]
        )
        days: dict[str, int] = {}
        for f in firings:
            day = env.calendar.business_date(f["fired_at"]).isoformat()
            days[day] = days.get(day, 0) + 1
        found.append(
            {
                "rule": name,
                "fired": len(firings),
                "served": len(served),
                "on_time": on_time,
                "served_rate": round(len(served) / len(firings), 4) if firings else None,
                "on_time_rate": round(on_time / len(firings), 4) if firings else None,
                "by_day": dict(sorted(days.items())),
            }
        )
    return found


def _served_at(
    env: ChannelEnv, name: str, firings: list[dict[str, Any]], journeys: dict[str, Any], since: datetime
) -> dict[str, datetime]:
    """When each firing was served: its task's completion, else the first message after it from a journey
    entered on `mot_<name>`."""
    event = f"mot_{name}"
    serving = [j for j, body in journeys.items() if (body.get("entry") or {}).get("event") == event]
    with env.ops.begin() as connection:
        done = repo.task_completions(connection, [f["task_id"] for f in firings if f["task_id"]])
        sends = repo.first_sends(connection, serving, sorted({f["customer_no"] for f in firings}), since)
    served: dict[str, datetime] = {}
    for firing in firings:
        if firing["task_id"] in done:
            served[firing["id"]] = done[firing["task_id"]]
            continue
        later = [at for at in sends.get(firing["customer_no"], []) if at >= firing["fired_at"]]
        if later:
            served[firing["id"]] = later[0]
    return served
