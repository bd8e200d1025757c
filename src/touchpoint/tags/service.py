"""Tag use cases: define, validate, dry-run, compute a date (indicators, tags, bitmaps), inspect."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast

import pandas as pd
from sqlalchemy import Connection

from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.core.ids import new_id
from touchpoint.core.progress import StageProgress
from touchpoint.governance import Principal, record_operation
from touchpoint.governance.registry import (
    Bundle,
    DefinitionKind,
    parse_named,
    remove_definition,
    write_definition,
)
from touchpoint.indicators import IndicatorDef, IndicatorEnv, list_indicators
from touchpoint.indicators.service import known_events, stage_indicators
from touchpoint.indicators.validate import check_indicator
from touchpoint.store.analytical.streamed import StagedResult
from touchpoint.store.operational import definitions as store
from touchpoint.tags import repo
from touchpoint.tags.computation import COMPUTE_RANGE_ROWS, PreparedTags, write_snapshots
from touchpoint.tags.evaluate import Labels
from touchpoint.tags.guard import MissingInputsGuard
from touchpoint.tags.learn import fit_model_tag, sample_positions
from touchpoint.tags.model import TagDef
from touchpoint.tags.references import check_tag, lineage

KIND = "tag"


class TagEnv(IndicatorEnv, Protocol):
    """What tag use cases read and write: exactly what indicators do (tags are computed from them)."""


def list_tags(*, env: TagEnv) -> dict[str, TagDef]:
    """Every current tag by name."""
    with env.ops.begin() as connection:
        bodies = store.current(connection, KIND)
    return {name: TagDef.model_validate(body) for name, body in sorted(bodies.items())}


def get_tag(*, env: TagEnv, name: str) -> TagDef:
    """One tag, or NotFoundError."""
    found = list_tags(env=env).get(name)
    if found is None:
        raise NotFoundError(f"no tag named {name!r}")
    return found


def save_tag(*, env: TagEnv, principal: Principal, tag: TagDef) -> int:
    """Create or update a tag after checking what it reads; returns the version."""
    check_tag_in(env, tag, {})
    with env.ops.begin() as connection:
        return write_tag(connection, env=env, principal=principal, tag=tag)


def check_tag_in(env: TagEnv, tag: TagDef, bundle: Bundle) -> None:
    """Check what a tag reads against the live indicators and those of the same bundle."""
    check_tag(tag, set(list_indicators(env=env)) | set(bundle.get("indicator", {})))


def write_tag(connection: Connection, *, env: TagEnv, principal: Principal, tag: TagDef) -> int:
    """Store a checked tag in the caller's transaction; returns the version."""
    body = tag.model_dump(mode="json", by_alias=True, exclude_none=True)
    return write_definition(
        connection, clock=env.clock, principal=principal, kind=KIND, name=tag.name, body=body
    )


def parse_tag(name: str, body: Any) -> TagDef:
    """A tag from a mapping (its name from where it is stored), faults named."""
    return parse_named(TagDef, "tag", name, body)


def tag_kind(env: TagEnv) -> DefinitionKind:
    """Tags as a kind of the definitions registry."""
    return DefinitionKind(
        name=KIND,
        parse=parse_tag,
        dump=lambda t: cast(TagDef, t).model_dump(mode="json", by_alias=True, exclude_none=True),
        check=lambda t, bundle: check_tag_in(env, cast(TagDef, t), bundle),
        write=lambda c, p, t: write_tag(c, env=env, principal=p, tag=cast(TagDef, t)),
        delete=lambda p, name: delete_tag(env=env, principal=p, name=name),
        read="tag:read",
    )


def delete_tag(*, env: TagEnv, principal: Principal, name: str) -> None:
    """Delete a tag (its past snapshots stay)."""
    with env.ops.begin() as connection:
        remove_definition(connection, clock=env.clock, principal=principal, kind=KIND, name=name)


def indicator_dependents(*, env: TagEnv, indicator: str) -> list[str]:
    """Tags and derived indicators that read an indicator."""
    tags = [
        f"tag {name}" for name, tag in list_tags(env=env).items() if indicator in lineage(tag)["indicators"]
    ]
    formulas = [
        f"indicator {name}"
        for name, definition in list_indicators(env=env).items()
        if indicator in definition.inputs()
    ]
    return formulas + tags


def read_imported_csv(data: bytes) -> list[tuple[str, str]]:
    """Rows (customer_no, value) of an uploaded list: CSV in UTF-8 (with or without BOM) or GBK."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:  # bytes that are no text: the sender's mistake, said as such
            raise ValidationError("the list is neither UTF-8 nor GBK text") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"customer_no", "value"} - set(reader.fieldnames or [])
    if missing:
        raise ValidationError(
            f"the list needs columns customer_no,value; missing {', '.join(sorted(missing))} "
            f"(found: {', '.join(reader.fieldnames or []) or 'nothing'})"
        )
    rows = [((r["customer_no"] or "").strip(), (r["value"] or "").strip()) for r in reader]
    blank = [i + 1 for i, (c, v) in enumerate(rows) if not c or not v]
    if blank:
        raise ValidationError(f"rows {blank[:10]} have an empty customer_no or value")
    return rows


def upload_imported(
    *, env: TagEnv, principal: Principal, tag: str, rows: list[tuple[str, str]]
) -> dict[str, Any]:
    """Replace an imported tag's list; values outside the tag's declared values are refused."""
    definition = get_tag(env=env, name=tag)
    if definition.kind != "imported":
        raise ValidationError(f"tag {tag!r} is a {definition.kind} tag; only imported tags take uploads")
    allowed = set(definition.values or [])
    wrong = sorted({v for _, v in rows if allowed and v not in allowed})
    if wrong:
        raise ValidationError(f"tag {tag!r}: values {wrong} are not among {sorted(allowed)}")
    ops, clock = env.ops, env.clock
    with ops.begin() as connection:
        repo.replace_imported(connection, tag, rows, clock.now())
        record_operation(
            connection,
            clock=clock,
            principal=principal,
            action="tag.upload",
            target_type=KIND,
            target_id=tag,
            after={"rows": len(rows)},
        )
    return {"tag": tag, "rows": len(rows), "unknown_customers": _unknown_customers(env, rows)}


def set_imported_value(connection: Any, *, env: TagEnv, tag: str, customer_no: str, value: str) -> None:
    """Set one customer's value of an imported tag in the caller's transaction (journeys do this); the next
    computation carries it into the tag snapshot."""
    definition = get_tag(env=env, name=tag)
    if definition.kind != "imported":
        raise ValidationError(f"tag {tag!r} is a {definition.kind} tag; only imported tags can be set")
    if definition.values and value not in definition.values:
        raise ValidationError(f"tag {tag!r}: value {value!r} is not among {sorted(definition.values)}")
    repo.set_imported_value(connection, tag, customer_no, value, env.clock.now())


def _unknown_customers(env: TagEnv, rows: list[tuple[str, str]]) -> list[str]:
    """Listed customer numbers the newest customers snapshot does not hold (kept, but worth a look)."""
    analytics = env.analytics
    snapshot = analytics.latest_partition_on_or_before("customers", date.max)
    if snapshot is None:
        return sorted({c for c, _ in rows})
    table = analytics.read_partition("customers", snapshot)
    assert table is not None
    known = set(table["customer_no"].to_pylist())
    return sorted({c for c, _ in rows} - known)


@dataclass
class Evaluated:
    """Tag values for every customer, and model metrics."""

    values: dict[str, Labels]
    metrics: dict[str, dict[str, Any]]


def evaluate_tags(*, env: TagEnv, tags: list[TagDef], frame: pd.DataFrame) -> Evaluated:
    """Every tag's value for every row of `frame` (indicators and attributes side by side), model tags
    trained on `frame` itself."""
    prepared = prepare_tags(env=env, tags=tags, training=frame)
    return Evaluated(values=prepared.label(frame), metrics=prepared.metrics)


def prepare_tags(
    *, env: TagEnv, tags: Sequence[TagDef], training: pd.DataFrame, population: int | None = None
) -> PreparedTags:
    """`tags` ready to label: each model tag fitted on `training` (every customer, or a sample of the
    `population`), each uploaded tag's values loaded."""
    models = {t.name: fit_model_tag(t, training, population=population) for t in tags if t.kind == "model"}
    imported: dict[str, dict[str, str]] = {}
    uploaded = [t.name for t in tags if t.kind == "imported"]
    if uploaded:
        with env.ops.begin() as connection:
            imported = {name: repo.imported_values(connection, name) for name in uploaded}
    return PreparedTags(tags=tags, models=models, imported=imported)


def latest_data_date(*, env: TagEnv) -> date:
    """The newest date the customers or assets snapshots hold, else today's business date."""
    dates = [p.dt for name in ("assets", "customers") for p in env.analytics.partitions(name)]
    return max(dates) if dates else env.calendar.business_date(env.clock.now())


def recent_compute_runs(*, env: TagEnv, limit: int = 20) -> list[dict[str, Any]]:
    """The newest computation runs first: date, status, timings, figures or the error."""
    with env.ops.begin() as connection:
        runs = repo.recent_runs(connection, limit)
    return [
        {
            **run,
            "business_date": run["business_date"].isoformat(),
            "started_at": run["started_at"].isoformat(),
            "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
        }
        for run in runs
    ]


def compute_due(*, env: TagEnv, refresh: timedelta, retry: timedelta) -> date | None:
    """The business date a scheduled computation should build now, or None when nothing is due.

    Due when the newest data date has never been computed, when data was imported or a definition
    changed since its last success, or when that success is older than `refresh`. A failure is retried
    only after `retry`, so a broken definition does not spin the worker.
    """
    if not env.analytics.partitions("customers") or not list_indicators(env=env):
        return None
    day = latest_data_date(env=env)
    now = env.clock.now()
    with env.ops.begin() as connection:
        latest = repo.last_run_of(connection, day)
        success = repo.last_run_of(connection, day, status="succeeded")
        changed = repo.last_input_change(connection)
    if latest is not None and latest["status"] == "running" and now - latest["started_at"] < refresh:
        return None
    if latest is not None and latest["status"] == "failed" and now - latest["finished_at"] < retry:
        return None
    if success is None:
        return day
    finished: datetime = success["finished_at"]
    stale = changed is not None and changed > finished
    return day if stale or now - finished >= refresh else None


def compute(
    *,
    env: TagEnv,
    principal: Principal,
    day: date,
    force: bool = False,
    range_rows: int | None = None,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Compute every indicator and tag for `day` and store them; a failure leaves the previous snapshot.

    The engine computes the indicators; tags are labelled `range_rows` customers at a time (default
    COMPUTE_RANGE_ROWS), `progress` told of both stages. A result that would move many customers' tags
    because their inputs went missing (a partial feed) is refused with MissingInputsError unless `force`;
    a forced run records what it accepted.
    """
    run_id = new_id("cmp")
    with env.ops.begin() as connection:
        repo.start_run(connection, run_id, day, env.clock.now())
    try:
        stats = _compute(
            env, day, force=force, range_rows=range_rows or COMPUTE_RANGE_ROWS, progress=progress
        )
    except Exception as exc:
        with env.ops.begin() as connection:
            repo.finish_run(connection, run_id, status="failed", now=env.clock.now(), error=str(exc))
        raise
    with env.ops.begin() as connection:
        for tag, metrics in stats.pop("model_metrics").items():
            repo.save_metrics(connection, tag, day, metrics, env.clock.now())
        repo.finish_run(connection, run_id, status="succeeded", now=env.clock.now(), stats=stats)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="compute",
            target_type="business_date",
            target_id=day.isoformat(),
            after=stats,
        )
    return {"run_id": run_id, "business_date": day.isoformat(), **stats}


def _compute(
    env: TagEnv, day: date, *, force: bool, range_rows: int, progress: StageProgress | None
) -> dict[str, Any]:
    indicator_defs: list[IndicatorDef] = list(list_indicators(env=env).values())
    if not indicator_defs:
        raise ValidationError("no indicators are defined; install the default library first")
    tags = list(list_tags(env=env).values())
    reads = sorted(_read_by(tags))
    with env.analytics.staging() as staging:
        staged = stage_indicators(
            env=env,
            day=day,
            definitions=indicator_defs,
            staging=staging,
            attributes=reads,
            progress=progress,
        )
        population = staged.num_rows
        prepared = prepare_tags(
            env=env, tags=tags, training=_training_frame(staged, tags), population=population
        )
        problem = write_snapshots(
            analytics=env.analytics,
            day=day,
            staged=staged,
            indicators=[d.name for d in indicator_defs],
            reads=reads,
            prepared=prepared,
            guard=MissingInputsGuard(
                analytics=env.analytics, day=day, definitions={d.name: d for d in indicator_defs}, tags=tags
            ),
            force=force,
            range_rows=range_rows,
            progress=progress,
        )
    return {
        "customers": population,
        "indicators": len(indicator_defs),
        "tags": len(tags),
        "model_metrics": prepared.metrics,
    } | ({"forced": problem} if problem is not None else {})


def _training_frame(staged: StagedResult, tags: Sequence[TagDef]) -> pd.DataFrame:
    """What the model tags train on: the columns they read, for every customer or a random sample."""
    models = [t for t in tags if t.kind == "model"]
    if not models:
        return pd.DataFrame()
    columns = ["customer_no", *sorted(_read_by(models) - {"customer_no"})]
    frame: pd.DataFrame = staged.take(sample_positions(staged.num_rows), columns).to_pandas()
    return frame


def _read_by(tags: Sequence[TagDef]) -> set[str]:
    """The indicators and attributes any of `tags` reads."""
    return {name for tag in tags for names in lineage(tag).values() for name in names}


def dry_run(
    *,
    env: TagEnv,
    indicators: Sequence[IndicatorDef] = (),
    tags: Sequence[TagDef] = (),
    sample: int = 1000,
    day: date | None = None,
) -> dict[str, Any]:
    """Check new or changed definitions and compute them on a random sample of customers; writes nothing.

    Given definitions replace current ones of the same name; the rest of the library is computed beside
    them so that tags and formulas can read it.
    """
    everything = {**list_indicators(env=env), **{d.name: d for d in indicators}}
    known = known_events(env.analytics)
    for definition in indicators:
        check_indicator(definition, known, everything)
    for tag in tags:
        check_tag(tag, set(everything))
    business_date = day or latest_data_date(env=env)
    with env.analytics.staging() as staging:
        staged = stage_indicators(
            env=env,
            day=business_date,
            definitions=list(everything.values()),
            staging=staging,
            sample=sample,
            attributes=None,
        )
        frame = staged.read().to_pandas()
    evaluated = evaluate_tags(env=env, tags=list(tags), frame=frame)
    return {
        "business_date": business_date.isoformat(),
        "sample": len(frame),
        "indicators": {d.name: _indicator_summary(frame[d.name]) for d in indicators},
        "tags": {
            name: _tag_summary(column) | {"model_metrics": evaluated.metrics.get(name)}
            for name, column in evaluated.values.items()
        },
    }


def _indicator_summary(column: pd.Series) -> dict[str, Any]:
    numeric = pd.to_numeric(column, errors="coerce")
    present = column.notna()
    summary: dict[str, Any] = {"non_null": round(float(present.mean()), 4) if len(column) else 0.0}
    if numeric.notna().any():
        summary |= {"min": float(numeric.min()), "max": float(numeric.max()), "mean": float(numeric.mean())}
    else:
        summary["top_values"] = column[present].astype(str).value_counts().head(5).to_dict()
    return summary


def _tag_summary(labels: Labels) -> dict[str, Any]:
    counts = labels.counts()
    size = len(labels.codes)
    ordered = sorted(counts.items(), key=lambda item: -item[1])  # most held first, ties in first-seen order
    return {
        "coverage": round(sum(counts.values()) / size, 4) if size else 0.0,
        "distribution": dict(ordered),
    }
