"""Strategy guidance (策略引导): each customer of an advisor's book, or of a segment, ranked by a next best
action — the moments not yet served (an open task, or a moment no journey serves), the propensity model tags,
and funds the customer's risk level admits — each suggestion with its reason and the action it proposes, so
that staff are guided, not only notified.

Scores order the suggestions (higher first): an unserved service moment 100, a marketing moment 80 (both
less a point per day since it fired), a high churn propensity 60, a high fund-purchase propensity 50 with the
suitable funds. Fund suggestions are made only to customers who consented to marketing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from touchpoint.channels.env import ChannelEnv
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.identity.scopes import scope_numbers, visible_numbers
from touchpoint.moments import repo
from touchpoint.moments.data import DayData, among, rows
from touchpoint.moments.rules_event import RISK_RANK
from touchpoint.moments.service import list_rules
from touchpoint.segments.service import current_members
from touchpoint.store.operational import definitions as store
from touchpoint.tags.layout import TAG_VALUES

RECENT_DAYS = 7
MAX_CUSTOMERS = 5_000
FUNDS_SUGGESTED = 3


def next_best_actions(
    *,
    env: ChannelEnv,
    principal: Principal,
    segment: str | None = None,
    customers: list[str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The customers with suggestions, best first, each with its ranked suggestions."""
    numbers = _population(env, principal, segment, customers)
    now = env.clock.now()
    with env.ops.begin() as connection:
        firings = repo.firings(connection, since=now - timedelta(days=RECENT_DAYS))
        journeys = store.current(connection, "journey")
        done = repo.task_completions(connection, [f["task_id"] for f in firings if f["task_id"]])
    wanted = set(numbers)
    rules = list_rules(env=env)
    suggestions: dict[str, list[dict[str, Any]]] = {n: [] for n in numbers}
    for firing in firings:
        if firing["customer_no"] in wanted and firing["task_id"] not in done and firing["rule"] in rules:
            rule = rules[firing["rule"]]
            action = _moment_action(rule.event, firing["task_id"], journeys)
            if action is None:
                continue  # a live journey serves this moment by itself
            age = (now - firing["fired_at"]).days
            suggestions[firing["customer_no"]].append(
                {
                    "score": (100 if rule.classification == "service" else 80) - age,
                    "reason": f"{rule.title}（{firing['occurrence']}）",
                    "action": action,
                    "facts": firing["facts"],
                }
            )
    _from_tags(env, numbers, suggestions)
    ranked = [
        {
            "customer_no": n,
            "score": max(s["score"] for s in found),
            "suggestions": sorted(found, key=lambda s: -s["score"]),
        }
        for n, found in suggestions.items()
        if found
    ]
    ranked.sort(key=lambda r: (-r["score"], r["customer_no"]))
    return ranked[:limit]


def _population(
    env: ChannelEnv, principal: Principal, segment: str | None, customers: list[str] | None
) -> list[str]:
    if segment is not None:
        context, members = current_members(env=env, name=segment)
        found = context.customer_numbers(members)
    elif customers is not None:
        found = customers
    elif principal.scope is not None:
        found = scope_numbers(env, principal.scope)
    else:
        raise ValidationError(
            "name a segment or customers (guidance ranks a book or a segment, not everyone)"
        )
    visible = visible_numbers(env, principal, sorted(set(found)))
    if len(visible) > MAX_CUSTOMERS:
        raise ValidationError(f"guidance ranks at most {MAX_CUSTOMERS:,} customers; narrow the segment")
    return visible


def _moment_action(event: str, task_id: str | None, journeys: dict[str, Any]) -> dict[str, Any] | None:
    """Work the open task; a moment a journey starts on needs nothing (None); any other, a call."""
    if task_id is not None:
        return {"kind": "task", "task_id": task_id}
    if any((body.get("entry") or {}).get("event") == event for body in journeys.values()):
        return None
    return {"kind": "call"}


def _from_tags(env: ChannelEnv, numbers: list[str], suggestions: dict[str, list[dict[str, Any]]]) -> None:
    """Propensity tags, and suitable funds for those likely to buy one."""
    day = env.calendar.business_date(env.clock.now())
    data = DayData(env.analytics, env.calendar, day)
    tags = data.snapshot(TAG_VALUES.name)
    customers = data.snapshot("customers")
    if tags is None or customers is None or not numbers:
        return
    present = set(tags.columns)
    columns = ["customer_no", *[c for c in ("churn_propensity", "fund_purchase_propensity") if c in present]]
    tagged = {r["customer_no"]: r for r in rows(among(tags, "customer_no", numbers).select(*columns))}
    people = {
        r["customer_no"]: r
        for r in rows(
            among(customers, "customer_no", numbers).select("customer_no", "risk_level", "consent_marketing")
        )
    }
    funds = _funds(data)
    for number, row in tagged.items():
        person = people.get(number, {})
        consented = person.get("consent_marketing") is True
        if row.get("churn_propensity") == "高":
            suggestions[number].append(
                {
                    "score": 60,
                    "reason": "流失倾向高 · high churn propensity",
                    "action": {"kind": "task", "task_id": None},
                    "facts": {},
                }
            )
        level = RISK_RANK.get(str(person.get("risk_level")))
        if row.get("fund_purchase_propensity") == "高" and consented and level is not None:
            suitable = [f for f in funds if RISK_RANK[f["risk_level"]] <= level][:FUNDS_SUGGESTED]
            if suitable:
                suggestions[number].append(
                    {
                        "score": 50,
                        "reason": f"基金购买倾向高，风险等级 {person['risk_level']} 可购 · likely buyer",
                        "action": {"kind": "product", "products": [f["product_code"] for f in suitable]},
                        "facts": {"funds": suitable},
                    }
                )


def _funds(data: DayData) -> list[dict[str, Any]]:
    """Funds on the shelf with a risk level, highest level first: a customer is offered the first few within
    their own level (closest to their appetite, never above it)."""
    products = data.snapshot("products")
    if products is None:
        return []
    funds = products.filter((products.product_type == "fund") & products.risk_level.notnull())
    found = rows(funds.select("product_code", "name", "risk_level"))
    return sorted(found, key=lambda f: (-RISK_RANK.get(f["risk_level"], 0), f["product_code"]))
