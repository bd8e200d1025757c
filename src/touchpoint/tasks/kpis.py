"""Service-process KPIs (服务过程考核, DOMAIN.md §5.2) per advisor, branch or MOT rule over a period.

For the tasks created in the period (the caller's customers only):
- dispatch coverage: firings of advisor-owned MOT rules that made a task ÷ those firings;
- completion rate: tasks closed with an outcome ÷ tasks dispatched;
- on-time rate: tasks closed by their due time ÷ tasks dispatched;
- reach rate (有效接通率): closed tasks whose customer was reached (any outcome but `not_reached`) ÷ closed;
- conversion rate: dispatched tasks whose customer traded, or transferred money in, within `within_days`
  after the task was created (from a minute after: not the transfer that fired it), or whose advisor recorded
  `converted`, ÷ tasks dispatched.
Grouped by rule, a journey's hand-off counts under `journey:<name>`.
A rate over nothing is None, never zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Literal

import ibis
import pyarrow as pa
from pydantic import BaseModel
from sqlalchemy import select

from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.identity.scopes import visible_numbers
from touchpoint.store.operational import definitions as store
from touchpoint.store.operational.schema_service import mot_firings
from touchpoint.tags.service import TagEnv
from touchpoint.tasks import repo
from touchpoint.tasks.model import MOT_RULE_KIND
from touchpoint.tasks.service import assignments

GroupBy = Literal["advisor", "branch", "rule"]
UNASSIGNED = "-"
AFTER = timedelta(minutes=1)
CONVERTING_SIDES = ("buy", "subscribe", "autoinvest", "ipo_subscribe", "ipo_pay")


class KpiRow(BaseModel):
    """The KPIs of one advisor, branch or rule."""

    group: str
    triggered: int
    covered: int
    dispatched: int
    completed: int
    on_time: int
    reached: int
    converted: int
    coverage_rate: float | None
    completion_rate: float | None
    on_time_rate: float | None
    reach_rate: float | None
    conversion_rate: float | None


class KpiRead(BaseModel):
    """Service-process KPIs over a period, one row per group and the total."""

    start: date
    end: date
    group_by: str
    within_days: int
    rows: list[KpiRow]
    total: KpiRow


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole rounded to 4 places; None when whole is 0."""
    return round(part / whole, 4) if whole else None


def service_kpis(
    *,
    env: TagEnv,
    principal: Principal,
    start: date,
    end: date,
    group_by: GroupBy = "advisor",
    within_days: int = 7,
) -> dict[str, Any]:
    """The KPIs of the tasks created from `start` to `end` (Beijing days, both included)."""
    if start > end:
        raise ValidationError(f"from {start} is after to {end}")
    if not 1 <= within_days <= 90:
        raise ValidationError("within_days is 1 … 90")
    first, after = env.calendar.to_utc(start), env.calendar.to_utc(end + timedelta(days=1))
    with env.ops.begin() as connection:
        tasks = repo.created_between(connection, first, after)
        firings = _advisor_firings(connection, first, after)
    allowed = set(visible_numbers(env, principal, sorted({r["customer_no"] for r in [*tasks, *firings]})))
    tasks = [t for t in tasks if t["customer_no"] in allowed]
    firings = [f for f in firings if f["customer_no"] in allowed]
    converted = _converted(env, tasks, within_days)
    placed = assignments(env, [f["customer_no"] for f in firings if f["task_id"] is None])
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for task in tasks:
        _count_task(counts[_group(task, group_by)], task, task["id"] in converted)
    for firing in firings:
        group = _firing_group(firing, group_by, placed, {t["id"]: t for t in tasks})
        counts[group]["triggered"] += 1
        counts[group]["covered"] += firing["task_id"] is not None
    rows = [_row(group, c) for group, c in sorted(counts.items())]
    total: dict[str, int] = defaultdict(int)
    for c in counts.values():
        for key, value in c.items():
            total[key] += value
    return {
        "start": start,
        "end": end,
        "group_by": group_by,
        "within_days": within_days,
        "rows": rows,
        "total": _row("total", total),
    }


def _advisor_firings(connection: Any, first: datetime, after: datetime) -> list[dict[str, Any]]:
    """Firings in the period of the MOT rules the advisor owns (each should have made a task)."""
    owned = [
        name
        for name, body in store.current(connection, MOT_RULE_KIND).items()
        if body.get("owner") == "advisor"
    ]
    query = select(mot_firings).where(
        mot_firings.c.fired_at >= first, mot_firings.c.fired_at < after, mot_firings.c.rule.in_(owned)
    )
    return [dict(r._mapping) for r in connection.execute(query)]


def _group(task: dict[str, Any], group_by: GroupBy) -> str:
    if group_by == "rule" and task["rule"] is None and task["journey"]:
        return f"journey:{task['journey']}"  # a journey's hand-off, grouped with its journey
    key = {"advisor": "advisor_id", "branch": "branch_id", "rule": "rule"}[group_by]
    return str(task[key] or UNASSIGNED)


def _firing_group(
    firing: dict[str, Any], group_by: GroupBy, placed: dict[str, Any], tasks: dict[str, dict[str, Any]]
) -> str:
    if group_by == "rule":
        return str(firing["rule"])
    task = tasks.get(firing["task_id"] or "")
    if task is not None:
        return _group(task, group_by)
    where = placed.get(firing["customer_no"])
    value = None if where is None else (where.advisor_id if group_by == "advisor" else where.branch_id)
    return str(value or UNASSIGNED)


def _count_task(c: dict[str, int], task: dict[str, Any], converted: bool) -> None:
    c["dispatched"] += 1
    done = task["status"] == "done" and task["outcome"] is not None
    c["completed"] += done
    c["on_time"] += done and task["completed_at"] <= task["due_at"]
    c["reached"] += done and task["outcome"] != "not_reached"
    c["converted"] += converted


def _row(group: str, c: dict[str, int]) -> dict[str, Any]:
    return {
        "group": group,
        **{
            k: c.get(k, 0)
            for k in ("triggered", "covered", "dispatched", "completed", "on_time", "reached", "converted")
        },
        "coverage_rate": rate(c.get("covered", 0), c.get("triggered", 0)),
        "completion_rate": rate(c.get("completed", 0), c.get("dispatched", 0)),
        "on_time_rate": rate(c.get("on_time", 0), c.get("dispatched", 0)),
        "reach_rate": rate(c.get("reached", 0), c.get("completed", 0)),
        "conversion_rate": rate(c.get("converted", 0), c.get("dispatched", 0)),
    }


def _converted(env: TagEnv, tasks: Iterable[dict[str, Any]], within_days: int) -> set[str]:
    """Tasks whose customer traded or transferred money in within the days after the task was created, or
    whose outcome says converted."""
    tasks = list(tasks)
    done = {t["id"] for t in tasks if t["outcome"] == "converted"}
    windows = pa.table(
        {
            "task_id": pa.array([t["id"] for t in tasks], pa.string()),
            "w_customer": pa.array([t["customer_no"] for t in tasks], pa.string()),
            "w_start": pa.array([t["created_at"] + AFTER for t in tasks], pa.timestamp("us", tz="UTC")),
            "w_end": pa.array(
                [t["created_at"] + timedelta(days=within_days) for t in tasks], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    if not tasks:
        return done
    memo = ibis.memtable(windows)
    for table, keep in (("trades", "side"), ("cash_flows", "direction")):
        if not env.analytics.partitions(table):
            continue
        facts = env.analytics.table(table)
        wanted = CONVERTING_SIDES if table == "trades" else ("in",)
        facts = facts.filter(facts[keep].isin(list(wanted)))
        joined = memo.join(
            facts,
            # From a minute after the task: the transfer that fired a large-inflow rule (its time kept to the
            # microsecond, the task's to the event's millisecond) is not its own conversion.
            (memo.w_customer == facts.customer_no) & (facts.time >= memo.w_start) & (facts.time < memo.w_end),
        )
        done |= set(joined.select("task_id").distinct().to_pyarrow()["task_id"].to_pylist())
    return done
