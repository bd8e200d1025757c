"""`touchpoint collector …` — the collector's counters, quarantine and compaction."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from touchpoint.cli.output import fmt, fmt_utc, new_table, print_json, print_table
from touchpoint.ingest.collector.dead_letters import list_dead_letters, retry_dead_letter
from touchpoint.ingest.collector.keys import IngestKeyCreate, create_key, list_keys, revoke_key
from touchpoint.ingest.collector.model import QuarantineEntry, ReplayReport
from touchpoint.ingest.collector.quarantine import list_quarantine, replay_quarantine
from touchpoint.ingest.collector.service import replay_sensors_log
from touchpoint.ingest.collector.stats import collector_stats
from touchpoint.ingest.compactor import compact

app = typer.Typer(
    help="Event collector: stats, quarantine, compaction, ingestion keys.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]


@app.command("stats")
def stats(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Accepted, duplicates, quarantined by reason, and the lag of each consumer."""
    c = ctx.obj.container
    body = collector_stats(log=c.log, ops=c.ops, clock=c.clock)
    if as_json:
        print_json(body)
        return
    table = new_table("metric", "label", "value", numeric=("value",))
    for key in ("accepted", "duplicates", "batches", "quarantined", "replayed", "rejected_batches"):
        for label, value in sorted(body[key].items()):
            table.add_row(key, label, fmt(value))
    for name, lag in body["consumers"].items():
        table.add_row("lag", name, f"{fmt(lag['records'])} events, {fmt(lag['seconds'])} s")
    print_table(table)


@app.command("quarantine")
def quarantine(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="how many of the newest to show")] = 20,
    reason: Annotated[str | None, typer.Option(help="only messages quarantined for this reason")] = None,
    replay: Annotated[
        list[str] | None,
        typer.Option(
            help="check this message again with the age limit lifted and admit it if it passes "
            "(an id, repeatable; `all` with --reason for every message of that reason)"
        ),
    ] = None,
    why: Annotated[
        str | None, typer.Option(help="why the messages are replayed (kept in the audit log)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The newest quarantined messages with their reasons; `--replay` lets them in with an override."""
    c = ctx.obj.container
    if not replay:
        if why is not None:
            raise typer.BadParameter("--why goes with --replay")
        page = list_quarantine(env=c, principal=ctx.obj.principal, reason=reason, limit=limit)
        _print_quarantine(page.items, as_json)
        return
    ids, by_reason = _replay_selection(replay, reason)
    if not why or not why.strip():
        raise typer.BadParameter("--replay needs --why: the reason is kept in the audit log")
    report = replay_quarantine(env=c, principal=ctx.obj.principal, why=why, ids=ids, reason=by_reason)
    _print_replay(report, as_json)


def _replay_selection(replay: list[str], reason: str | None) -> tuple[list[int], str | None]:
    """(ids, None) for `--replay ID …`, ([], reason) for `--replay all --reason R`."""
    if "all" in replay:
        if len(replay) > 1 or reason is None:
            raise typer.BadParameter(
                "`--replay all` takes --reason and no ids, e.g. --reason too_old --replay all"
            )
        return [], reason
    if reason is not None:
        raise typer.BadParameter("--reason selects with `--replay all`; give either ids or --reason")
    if not all(value.isdigit() for value in replay):
        raise typer.BadParameter(f"--replay takes quarantine ids or `all`, not {replay!r}")
    return [int(value) for value in replay], None


def _print_quarantine(items: list[QuarantineEntry], as_json: bool) -> None:
    if as_json:
        print_json([item.model_dump(mode="json") for item in items])
        return
    table = new_table("id", "received (UTC)", "source", "reason", "detail", numeric=("id",))
    for item in items:
        table.add_row(str(item.id), fmt(item.received_at), item.source, item.reason, item.detail)
    print_table(table)


def _print_replay(report: ReplayReport, as_json: bool) -> None:
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    typer.echo(
        f"admitted {report.admitted} ({report.duplicates} already in the log), "
        f"still quarantined {report.quarantined}, not found {report.not_found}, "
        f"not replayable {report.not_replayable}"
    )
    left = [o for o in report.outcomes if o.outcome != "admitted"]
    if left:
        table = new_table("id", "outcome", "reason", "detail", numeric=("id",))
        for o in left:
            table.add_row(str(o.id), o.outcome, o.reason or "", o.detail or "")
        print_table(table)


@app.command("replay")
def replay(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="a file written by the Sensors LoggingConsumer (JSON lines)")],
    project: Annotated[str, typer.Option(help="Sensors project of the events")] = "default",
    historical: Annotated[bool, typer.Option("--historical", help="accept events of any age")] = False,
    as_json: JsonOption = False,
) -> None:
    """Collect a Sensors log file (the LogAgent path) exactly as if the SDK had sent it."""
    c = ctx.obj.container
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {path}")
    with path.open("rb") as handle:
        result = replay_sensors_log(env=c, lines=handle, project=project, historical=historical)
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "quarantined": result.quarantined,
        "reasons": result.reasons,
    }
    if as_json:
        print_json(body)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in body.items()))


@app.command("compact")
def compact_now(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Write every pending event to the analytical store now."""
    c = ctx.obj.container
    total = 0
    while (
        step := compact(log=c.log, ops=c.ops, analytics=c.analytics, clock=c.clock, calendar=c.calendar)
    ).records:
        total += step.records
    if as_json:
        print_json({"compacted_records": total})
    else:
        typer.echo(f"compacted {total:,} records")


@app.command("dead-letters")
def dead_letters(
    ctx: typer.Context,
    retry: Annotated[
        int | None,
        typer.Option(
            min=1, max=2**62, help="ask the letter's consumer to process its record again on its next pass"
        ),
    ] = None,
    consumer: Annotated[str | None, typer.Option(help="only this consumer's: identity, compactor…")] = None,
    status: Annotated[
        str | None, typer.Option(help="only letters in this status: open, retrying or resolved")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="how many of the newest to show")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Event-log records a consumer could not process (consumer, offset, error); `--retry ID` tries one
    again at the worker's next pass."""
    c = ctx.obj.container
    if retry is not None:
        letter = retry_dead_letter(ops=c.ops, clock=c.clock, principal=ctx.obj.principal, letter_id=retry)
        if as_json:
            print_json(letter.model_dump(mode="json"))
        else:
            typer.echo(
                f"dead letter {letter.id} ({letter.consumer}, offset {letter.offset}) is {letter.status}: "
                "the worker's next pass processes it again"
            )
        return
    if status is not None and status not in ("open", "retrying", "resolved"):
        raise typer.BadParameter(f"--status is open, retrying or resolved, not {status!r}")
    page = list_dead_letters(
        ops=c.ops, principal=ctx.obj.principal, consumer=consumer, status=status, limit=limit
    )
    if as_json:
        print_json(page.model_dump(mode="json"))
        return
    table = new_table("id", "consumer", "offset", "status", "attempts", "created", "event id", "error")
    for d in page.items:
        table.add_row(
            str(d.id),
            d.consumer,
            fmt(d.offset),
            d.status,
            fmt(d.attempts),
            fmt(d.created_at),
            d.event_id or "-",
            d.error,
        )
    print_table(table)
    typer.echo(f"{page.unresolved:,} unresolved")


key_app = typer.Typer(
    help="Ingestion keys (接入密钥): one per source, shown once, revocable, rate-limited.",
    no_args_is_help=True,
)
app.add_typer(key_app, name="key")


@key_app.command("create")
def key_create_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="sensors, segment, posthog or native")],
    name: Annotated[str, typer.Option(help="what sends with it: 'iOS app', 'web site'")],
    rate: Annotated[int, typer.Option(min=1, help="requests a second, per collector process")] = 200,
    burst: Annotated[int, typer.Option(min=1, help="requests saved up for a spike")] = 1_000,
    as_json: JsonOption = False,
) -> None:
    """A key for SOURCE: printed once, kept only as a digest."""
    key = create_key(
        ctx.obj.container,
        principal=ctx.obj.principal,
        key=IngestKeyCreate.model_validate(
            {"name": name, "source": source, "rate_per_second": rate, "burst": burst}
        ),
    )
    if as_json:
        print_json(key.model_dump(mode="json"))
        return
    typer.echo(f"key {key.id} for {key.source} ({key.name}), {key.rate_per_second}/s, burst {key.burst}")
    typer.echo(key.key)


@key_app.command("list")
def key_list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every ingestion key (never its secret)."""
    keys = list_keys(ctx.obj.container)
    if as_json:
        print_json([k.model_dump(mode="json") for k in keys])
        return
    table = new_table(
        "id", "source", "name", "prefix", "rate/s", "burst", "created", "revoked", numeric=("id",)
    )
    for k in keys:
        table.add_row(
            str(k.id),
            k.source,
            k.name,
            k.prefix + "…",
            fmt(k.rate_per_second),
            fmt(k.burst),
            fmt_utc(k.created_at),
            fmt_utc(k.revoked_at),
        )
    print_table(table)


@key_app.command("revoke")
def key_revoke_command(ctx: typer.Context, key_id: int, as_json: JsonOption = False) -> None:
    """Revoke a key: every collector process refuses it from its next batch on."""
    key = revoke_key(ctx.obj.container, principal=ctx.obj.principal, key_id=key_id)
    if as_json:
        print_json(key.model_dump(mode="json"))
    else:
        typer.echo(f"revoked key {key.id} ({key.source}, {key.name})")
