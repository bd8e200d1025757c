"""Segment use cases: validate a rule, preview its count on either path, and keep saved segments."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, cast

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError
from pyroaring import AbstractBitMap, BitMap
from sqlalchemy import Connection

from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.core.ids import new_id
from touchpoint.governance import Principal, approvals, record_operation
from touchpoint.governance.masking import PiiMask
from touchpoint.governance.masking import mask_customer_no as mask_customer_no  # re-exported: journeys
from touchpoint.governance.registry import (
    Bundle,
    DefinitionKind,
    Registry,
    remove_definition,
    write_definition,
)
from touchpoint.indicators import list_indicators
from touchpoint.indicators.model import NAME_PATTERN
from touchpoint.indicators.service import known_events
from touchpoint.ingest import TABLES
from touchpoint.segments import repo
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.context import Context, snapshot_data
from touchpoint.segments.layout import SEGMENT_MEMBERS
from touchpoint.segments.model import Rule, parse_rule, segment_references
from touchpoint.segments.sql import evaluate_sql
from touchpoint.segments.validate import check_rule
from touchpoint.store.operational import definitions as store
from touchpoint.tags.layout import TAG_VALUES
from touchpoint.tags.service import TagEnv, list_tags

KIND = "segment"
Path = Literal["bitmap", "sql"]


class SegmentDef(BaseModel):
    """A saved segment: a named rule (dynamic: re-evaluated; static: a frozen list, later issues)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str = ""
    owner: str = "system"
    kind: Literal["dynamic", "static"] = "dynamic"
    rule: dict[str, Any]


def segment_from(body: dict[str, Any], name: str) -> SegmentDef:
    """A segment definition from a request body (its name from the path), faults named."""
    try:
        return SegmentDef.model_validate({"title": name, **body, "name": name})
    except PydanticError as exc:
        raise ValidationError(f"segment {name}: {_problems(exc)}") from None


def read_rule(body: Any) -> Rule:
    """A rule from JSON, or a ValidationError naming each fault's place in the tree."""
    try:
        return parse_rule(body)
    except PydanticError as exc:
        raise ValidationError(_problems(exc)) from None


def _problems(exc: PydanticError) -> str:
    return "; ".join(f"{_place(e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


def _place(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]"
        elif not parts or parts[-1] != item:
            parts.append(str(item))
    return ".".join(parts)


def list_segments(*, env: TagEnv) -> dict[str, SegmentDef]:
    """Every saved segment by name."""
    with env.ops.begin() as connection:
        bodies = store.current(connection, KIND)
    return {name: SegmentDef.model_validate(body) for name, body in sorted(bodies.items())}


def get_segment(*, env: TagEnv, name: str) -> SegmentDef:
    """One saved segment, or NotFoundError."""
    found = list_segments(env=env).get(name)
    if found is None:
        raise NotFoundError(f"no segment named {name!r}")
    return found


def check(
    *, env: TagEnv, rule: Rule, segments: dict[str, SegmentDef] | None = None, bundle: Bundle | None = None
) -> None:
    """Validate a rule against the catalogue, the events seen, saved segments and lists — and the tags and
    indicators of the same `bundle` (a definitions directory being applied), as if already saved."""
    saved = segments if segments is not None else list_segments(env=env)
    coming = bundle or {}
    check_rule(
        rule,
        tags=list_tags(env=env) | dict(coming.get("tag", {})),
        indicators=list_indicators(env=env) | dict(coming.get("indicator", {})),
        events=known_events(env.analytics),
        segment_rule=_resolver(saved),
        lists=_list_ids(env),
    )


def _resolver(saved: dict[str, SegmentDef]) -> Callable[[str], Rule]:
    """Look up a saved segment's rule by name, refusing unknown names."""

    def segment_rule(name: str) -> Rule:
        if name not in saved:
            raise ValidationError(f"unknown segment {name!r}")
        return read_rule(saved[name].rule)

    return segment_rule


def _list_ids(env: TagEnv) -> set[str]:
    with env.ops.begin() as connection:
        return repo.list_ids(connection)


def save_segment(*, env: TagEnv, principal: Principal, segment: SegmentDef) -> int:
    """Create or update a saved segment after checking its rule (a cycle through it is refused)."""
    check_segment_in(env, segment, {})
    with env.ops.begin() as connection:
        return write_segment(connection, env=env, principal=principal, segment=segment)


def check_segment_in(env: TagEnv, segment: SegmentDef, bundle: Bundle) -> None:
    """Check a segment's rule against the live segments and those of the same bundle."""
    saved = list_segments(env=env) | dict(bundle.get(KIND, {})) | {segment.name: segment}
    check(env=env, rule=read_rule(segment.rule), segments=saved, bundle=bundle)


def write_segment(connection: Connection, *, env: TagEnv, principal: Principal, segment: SegmentDef) -> int:
    """Store a checked segment in the caller's transaction; returns the version."""
    body = segment.model_dump(mode="json")
    return write_definition(
        connection, clock=env.clock, principal=principal, kind=KIND, name=segment.name, body=body
    )


def delete_segment(*, env: TagEnv, principal: Principal, name: str, in_use: bool) -> None:
    """Delete a saved segment that no other segment and no live journey names (its snapshots stay)."""
    saved = list_segments(env=env)
    if name not in saved:
        raise NotFoundError(f"no segment named {name!r}")
    readers = sorted(n for n, s in saved.items() if n != name and name in segment_references(s.rule))
    if readers or in_use:
        named = ", ".join(readers) + (" and a live journey" if in_use else "")
        raise ValidationError(
            f"segment {name!r} is used by {named.removeprefix(' and ')}; change those first"
        )
    with env.ops.begin() as connection:
        remove_definition(connection, clock=env.clock, principal=principal, kind=KIND, name=name)


def segment_kind(env: TagEnv, in_use: Callable[[str], bool]) -> DefinitionKind:
    """Segments as a kind of the definitions registry. Changing the rule of a segment `in_use` by a live
    journey is the `segment.change` approval action."""

    def gate(name: str, before: dict[str, Any] | None, after: dict[str, Any]) -> str | None:
        changed = before is not None and before.get("rule") != after.get("rule")
        return "segment.change" if changed and in_use(name) else None

    return DefinitionKind(
        name=KIND,
        parse=lambda name, body: segment_from(body if isinstance(body, dict) else {"rule": body}, name),
        dump=lambda d: cast(SegmentDef, d).model_dump(mode="json"),
        check=lambda d, bundle: check_segment_in(env, cast(SegmentDef, d), bundle),
        write=lambda c, p, d: write_segment(c, env=env, principal=p, segment=cast(SegmentDef, d)),
        delete=lambda p, name: delete_segment(env=env, principal=p, name=name, in_use=in_use(name)),
        read="segment:read",
        gate=gate,
    )


def context_at(*, env: TagEnv, at: datetime | None = None) -> Context:
    """What rules are evaluated against as of `at` (default now): the newest tag snapshot on or before it."""
    instant = at or env.clock.now()
    business_date = env.calendar.business_date(instant)
    days = [p.dt for p in env.analytics.partitions(TAG_VALUES.name) if p.dt <= business_date]
    if not days:
        raise ValidationError(f"no tag snapshot on or before {business_date}; run touchpoint compute first")
    segment_rule = _resolver(list_segments(env=env))

    def list_members(name: str) -> list[str]:
        with env.ops.begin() as connection:
            if name not in repo.list_ids(connection):
                raise ValidationError(f"unknown list {name!r}")
            return repo.list_members(connection, name)

    data = snapshot_data(env.analytics, max(days))
    return Context(env=env, at=instant, data=data, segment_rule=segment_rule, list_members=list_members)


def preview(
    *,
    env: TagEnv,
    principal: Principal,
    rule: Any,
    at: datetime | None = None,
    path: Path = "bitmap",
    sample: int = 10,
) -> dict[str, Any]:
    """How many customers a rule selects now (or as of `at`), with a masked sample of them — of the customers
    the caller's scope holds (the base too)."""
    parsed = read_rule(rule)
    check(env=env, rule=parsed)
    context = context_at(env=env, at=at)
    started = time.perf_counter()
    members = evaluate(parsed, context) if path == "bitmap" else evaluate_sql(parsed, context)
    elapsed = time.perf_counter() - started
    universe = context.universe
    if principal.scope is not None:
        members, universe = members & principal.scope, universe & principal.scope
    chosen = context.customer_numbers(members[:sample]) if sample else []
    return {
        "count": len(members),
        "base": len(universe),
        "at": context.at.astimezone(env.calendar.tz).isoformat(),
        "snapshot_date": _iso(context.snapshot),
        "path": path,
        "elapsed_ms": round(elapsed * 1000, 2),
        "sample": [mask_customer_no(c) for c in chosen],
    }


def local_instant(*, env: TagEnv, text: str) -> datetime:
    """`YYYY-MM-DDTHH:MM` (or with seconds, or an offset) read in the brokerage's time zone."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--at {text!r} is not YYYY-MM-DDTHH:MM") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=env.calendar.tz)
    return parsed


def _iso(day: date) -> str:
    return day.isoformat()


def upload_list(*, env: TagEnv, principal: Principal, name: str, numbers: list[str]) -> dict[str, Any]:
    """Keep an uploaded list of customer numbers; report the numbers the customers snapshot lacks."""
    cleaned = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
    if not cleaned:
        raise ValidationError("the list holds no customer numbers")
    list_id = new_id("lst")
    with env.ops.begin() as connection:
        repo.save_list(connection, list_id, name, cleaned, principal.user, env.clock.now())
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="segment.list_upload",
            target_type="segment_list",
            target_id=list_id,
            after={"name": name, "rows": len(cleaned)},
        )
    known = _known_customers(env)
    return {"list": list_id, "rows": len(cleaned), "unknown": [n for n in cleaned if n not in known]}


def uploaded_lists(*, env: TagEnv, limit: int = 200) -> list[dict[str, Any]]:
    """The newest uploaded lists for a rule's list condition: id, name, rows, uploader and time (no customer
    numbers)."""
    with env.ops.begin() as connection:
        rows = repo.lists(connection, limit)
    return [
        {
            "list": r["id"],
            "name": r["name"],
            "rows": r["rows"],
            "actor": r["actor"],
            "at": r["created_at"].isoformat(),
        }
        for r in rows
    ]


class SegmentEnv(TagEnv, Protocol):
    """What saving a list as a segment needs besides the tag environment: the definitions registry, whose
    segment gate says when replacing a segment's rule needs approval."""

    @property
    def registry(self) -> Registry: ...


def check_list_target(*, env: SegmentEnv, name: str, title: str, description: str = "") -> None:
    """Refuse to replace segment `name` with a list when changing its rule needs approval (the segment's gate
    in the registry — a live journey uses it): a list segment is refreshed at once, so it cannot wait for a
    checker; a bad name is refused too. Nothing is written."""
    placeholder = {"title": title, "description": description, "kind": "static", "rule": {"list": "…"}}
    body = segment_from(placeholder, name).model_dump(mode="json")  # a bad name fails here
    gate = env.registry.held_by(KIND, name, body)
    if gate is not None:
        raise ValidationError(
            f"segment {name!r} cannot be replaced by a list at once: {approvals.action(gate).en.lower()}"
            f" needs approval ({gate}); save the list as a new segment, or change {name!r}'s rule through"
            f" PUT /segments/{name} or `touchpoint segment create {name}`, which hold it for a checker"
        )


def save_list_segment(
    *,
    env: SegmentEnv,
    principal: Principal,
    name: str,
    title: str,
    numbers: list[str],
    source: str,
    description: str = "",
) -> dict[str, Any]:
    """A static segment of these customer numbers: the list kept, the segment saved and refreshed at once —
    unless it would replace a segment whose change needs approval (`check_list_target`)."""
    check_list_target(env=env, name=name, title=title, description=description)
    uploaded = upload_list(env=env, principal=principal, name=source, numbers=numbers)
    rule = {"list": uploaded["list"]}
    body = {"title": title, "description": description, "kind": "static", "rule": rule}
    save_segment(env=env, principal=principal, segment=segment_from(body, name))
    return refresh_segment(env=env, principal=principal, name=name, force=True) | {"upload": uploaded}


def _known_customers(env: TagEnv) -> set[str]:
    analytics = env.analytics
    day = analytics.latest_partition_on_or_before("customers", date.max)
    if day is None:
        return set()
    table = analytics.read_partition("customers", day)
    return set(table["customer_no"].to_pylist()) if table is not None else set()


def read_numbers(data: bytes) -> list[str]:
    """Customer numbers from an upload: one per line, or CSV with a `customer_no` (else the first) column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:  # bytes that are no text: the sender's mistake, said as such
            raise ValidationError("the list is neither UTF-8 nor GBK text") from None
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    if not rows:
        return []
    header = [cell.strip() for cell in rows[0]]
    column = header.index("customer_no") if "customer_no" in header else 0
    body = rows[1:] if "customer_no" in header else rows
    return [row[column].strip() for row in body if len(row) > column]


def refresh_segment(
    *, env: TagEnv, principal: Principal, name: str, at: datetime | None = None, force: bool = False
) -> dict[str, Any]:
    """Evaluate a saved segment now and keep its members as the snapshot of the business date.

    A static segment is frozen by its first refresh and not evaluated again unless `force` (its definition
    was replaced). A failure is recorded on the
    segment with its error and the time the next attempt may run (doubling back-off, at most a day).
    """
    segment = get_segment(env=env, name=name)
    instant = at or env.clock.now()
    day = env.calendar.business_date(instant)
    if segment.kind == "static" and not force and _snapshot_dates(env, name):
        return status(env=env, name=name)
    with env.ops.begin() as connection:
        previous = repo.runs_of(connection, name, limit=1)
        attempt = previous[0]["attempt"] + 1 if previous and previous[0]["status"] == "failed" else 1
        run_id = new_id("srf")
        repo.start_run(connection, run_id, name, day, attempt, instant)
    try:
        context = context_at(env=env, at=instant)
        rule = read_rule(segment.rule)
        check(env=env, rule=rule)
        members = evaluate(rule, context)
        _store_members(env, name, day, members)
    except Exception as exc:
        retry = instant + min(timedelta(minutes=2 ** (attempt - 1)), timedelta(days=1))
        with env.ops.begin() as connection:
            repo.finish_run(
                connection,
                run_id,
                status="failed",
                error=str(exc),
                retry_at=retry,
                finished_at=env.clock.now(),
            )
        raise
    with env.ops.begin() as connection:
        repo.finish_run(
            connection, run_id, status="succeeded", size=len(members), finished_at=env.clock.now()
        )
    return status(env=env, name=name)


def _store_members(env: TagEnv, name: str, day: date, members: BitMap) -> None:
    analytics = env.analytics
    existing = analytics.read_partition(SEGMENT_MEMBERS.name, day)
    rows = [r for r in (existing.to_pylist() if existing is not None else []) if r["segment"] != name]
    rows.append({"segment": name, "count": len(members), "bitmap": members.serialize()})
    analytics.replace_partitions(
        SEGMENT_MEMBERS.name, {day: pa.Table.from_pylist(rows, SEGMENT_MEMBERS.schema)}
    )


def _snapshot_dates(env: TagEnv, name: str) -> list[date]:
    # Every successful refresh stored a snapshot for its date: the runs index them without reading files.
    with env.ops.begin() as connection:
        return repo.snapshot_dates(connection, name)


def members_of(*, env: TagEnv, name: str, day: date | None = None) -> tuple[date, BitMap]:
    """The newest member snapshot of a segment on or before `day`."""
    analytics = env.analytics
    days = [d for d in _snapshot_dates(env, name) if day is None or d <= day]
    if not days:
        raise NotFoundError(
            f"segment {name!r} has no member snapshot yet (touchpoint segment refresh {name})"
        )
    table = analytics.read_partition(SEGMENT_MEMBERS.name, max(days))
    assert table is not None
    row = next(r for r in table.to_pylist() if r["segment"] == name)
    return max(days), BitMap.deserialize(row["bitmap"])


def status(*, env: TagEnv, name: str, scope: AbstractBitMap | None = None) -> dict[str, Any]:
    """A saved segment with its size history, last computation and last error; within `scope` (a user
    limited to branches), the sizes count the scope's members of each day's snapshot."""
    segment = get_segment(env=env, name=name)
    with env.ops.begin() as connection:
        runs = repo.runs_of(connection, name)
    succeeded = [r for r in runs if r["status"] == "succeeded"]
    failed = runs[0] if runs and runs[0]["status"] == "failed" else None
    history: dict[str, int] = {}
    if scope is None:
        for run in reversed(succeeded):
            history[run["business_date"].isoformat()] = int(run["size"])
    else:
        history = {day.isoformat(): size for day, size in _sizes_within(env, name, scope).items()}
    size = (succeeded[0]["size"] if scope is None else list(history.values())[-1]) if history else None
    return segment.model_dump(mode="json") | {
        "size": size,
        "last_computed": succeeded[0]["finished_at"].isoformat() if succeeded else None,
        "last_error": failed["error"] if failed else None,
        "retry_at": failed["retry_at"].isoformat() if failed and failed["retry_at"] else None,
        "history": [{"date": d, "size": n} for d, n in history.items()],
    }


def _sizes_within(env: TagEnv, name: str, scope: AbstractBitMap) -> dict[date, int]:
    """The scope's members in each of the segment's daily snapshots, oldest first."""
    sizes = {}
    for day in sorted(_snapshot_dates(env, name)):
        table = env.analytics.read_partition(SEGMENT_MEMBERS.name, day)
        rows = [] if table is None else [r for r in table.to_pylist() if r["segment"] == name]
        if rows:
            sizes[day] = len(BitMap.deserialize(rows[0]["bitmap"]) & scope)
    return sizes


def refreshes_due(*, env: TagEnv) -> list[str]:
    """Dynamic segments without a successful refresh for today's business date, not waiting out a back-off."""
    now = env.clock.now()
    today = env.calendar.business_date(now)
    due = []
    for name, segment in list_segments(env=env).items():
        if segment.kind != "dynamic":
            continue
        with env.ops.begin() as connection:
            runs = repo.runs_of(connection, name, limit=1)
        last = runs[0] if runs else None
        if last and last["status"] == "succeeded" and last["business_date"] >= today:
            continue
        if last and last["status"] == "failed" and last["retry_at"] and last["retry_at"] > now:
            continue
        due.append(name)
    return due


def export_members(
    *, env: TagEnv, principal: Principal, name: str, attributes: list[str], approval: int | None = None
) -> str | approvals.ApprovalRead:
    """The members of the newest snapshot as CSV: customer number and the chosen attributes (audited; names,
    phones and other personal attributes masked without pii:view).

    More members than the `segment.export` threshold (when that action needs approval) make a request
    instead; once approved, its maker exports with `approval` — once."""
    allowed = set(TABLES["customers"].column_names)
    unknown = [a for a in attributes if a not in allowed]
    if unknown:
        raise ValidationError(f"unknown attribute(s) {', '.join(unknown)} (attributes: {sorted(allowed)})")
    day, members = members_of(env=env, name=name)
    if principal.scope is not None:
        members &= principal.scope  # a user limited to branches exports their customers only
    if approval is not None:
        _spend_export_approval(env, principal, name, attributes, approval)
    elif approvals.required(env.ops, "segment.export", size=len(members)):
        return approvals.request(
            env.ops,
            clock=env.clock,
            principal=principal,
            name="segment.export",
            target=f"segment/{name}",
            summary=f"export {len(members):,} customers of segment {name} "
            f"({', '.join(attributes) or 'customer numbers only'})",
            payload={
                "segment": name,
                "attributes": attributes,
                "members": len(members),
                "day": day.isoformat(),
            },
        )
    analytics = env.analytics
    tag_day = analytics.latest_partition_on_or_before(TAG_VALUES.name, day)
    values = analytics.read_partition(TAG_VALUES.name, tag_day) if tag_day else None
    if values is None:
        raise NotFoundError("no tag snapshot to map members to customer numbers; run touchpoint compute")
    frame = values.select(["uid", "customer_no"]).to_pandas()
    frame = frame[frame["uid"].isin(list(members))]
    snapshot = analytics.latest_partition_on_or_before("customers", day)
    customers = analytics.read_partition("customers", snapshot) if snapshot else None
    wanted = [a for a in attributes if a != "customer_no"]
    if wanted and customers is not None:
        frame = frame.merge(customers.to_pandas()[["customer_no", *wanted]], on="customer_no", how="left")
    pii = PiiMask(principal, env.pii_attributes)
    for column in wanted:
        if pii.active and column in env.pii_attributes:
            frame[column] = [pii.value(column, v) for v in frame[column]]
    text = frame.drop(columns=["uid"]).sort_values("customer_no").to_csv(index=False)
    with env.ops.begin() as connection:
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="segment.export",
            target_type=KIND,
            target_id=name,
            after={"rows": len(frame), "attributes": attributes, "business_date": day.isoformat()},
        )
    return str(text)


def _spend_export_approval(
    env: TagEnv, principal: Principal, name: str, attributes: list[str], approval: int
) -> None:
    with env.ops.begin() as connection:
        payload = approvals.use_once(
            connection,
            approval_id=approval,
            principal=principal,
            name="segment.export",
            target=f"segment/{name}",
        )
        if sorted(payload.get("attributes", [])) != sorted(attributes):
            raise ValidationError(
                f"request {approval} approved the attributes {payload.get('attributes')}, not {attributes}"
            )


def current_members(*, env: TagEnv, name: str) -> tuple[Context, BitMap]:
    """A saved segment's members as of now: today's snapshot if there is one, else evaluated live."""
    context = context_at(env=env)
    today = env.calendar.business_date(context.at)
    if today in _snapshot_dates(env, name):
        return context, members_of(env=env, name=name, day=today)[1]
    segment = get_segment(env=env, name=name)
    if segment.kind == "static":
        return context, members_of(env=env, name=name)[1]
    return context, evaluate(read_rule(segment.rule), context)
