"""`touchpoint worker --clock virtual`: the live worker run through time on a staging data directory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import typer

from touchpoint.bootstrap import build
from touchpoint.cli.output import print_json
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import SystemClock, VirtualClock
from touchpoint.worker.loop import PassResult
from touchpoint.worker.virtual import rehearse

RELATIVE = re.compile(r"^\+?([1-9][0-9]{0,4})([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def rehearse_command(
    ctx: typer.Context,
    *,
    jobs: Sequence[str],
    start: str | None,
    until: str | None,
    step: str | None,
    as_json: bool,
) -> None:
    """Build the deployment on a virtual clock at `start`, run the jobs until `until`; print a summary."""
    settings = ctx.obj.container.settings
    calendar: TradingCalendar = ctx.obj.container.calendar
    if until is None:
        raise typer.BadParameter("--clock virtual needs --until (a Beijing date/time, or +7d)")
    begin = parse_instant(start, calendar, "--start") if start else SystemClock().now()
    end = parse_instant(until, calendar, "--until", relative_to=begin)
    jump = parse_span(step, "--step") if step else None
    clock = VirtualClock(begin)
    container = build(settings, clock=clock)
    tz = calendar.tz

    def report(instant: datetime, result: PassResult) -> None:
        if not as_json and (result.journey_steps or result.effects_done or result.computed):
            typer.echo(
                f"{instant.astimezone(tz):%Y-%m-%d %H:%M}  steps {result.journey_steps:,}  "
                f"effects {result.effects_done:,}{'  computed ' + result.computed if result.computed else ''}"
            )

    try:
        done = rehearse(container, clock, end, step=jump, jobs=jobs, on_pass=report)
    finally:
        container.close()
    body = {
        "clock": "virtual",
        "started_at": done.started_at.astimezone(tz).isoformat(),
        "ended_at": done.ended_at.astimezone(tz).isoformat(),
        "jobs": list(jobs),
        "instants": done.instants,
        "identity_events": done.identity_events,
        "journey_runs_advanced": done.journey_steps,
        "journey_effects_done": done.effects_done,
        "segments_refreshed": done.segments_refreshed,
        "computed": done.computed,
    }
    if as_json:
        print_json(body)
        return
    typer.echo(", ".join(f"{k} {v}" for k, v in body.items()))


def parse_instant(
    text: str, calendar: TradingCalendar, option: str, relative_to: datetime | None = None
) -> datetime:
    """`YYYY-MM-DD` (Beijing midnight), `YYYY-MM-DDTHH:MM[:SS]` (Beijing unless it names a zone), or — with
    `relative_to` — `+7d`, `+12h`, `+30m` after it."""
    word = text.strip()
    if relative_to is not None and RELATIVE.fullmatch(word):
        return relative_to + parse_span(word, option)
    try:
        if len(word) == 10:
            return calendar.to_utc(date.fromisoformat(word))
        moment = datetime.fromisoformat(word)
    except ValueError:
        relative = " or +7d" if relative_to else ""
        raise typer.BadParameter(
            f"{option} {text!r}: write YYYY-MM-DD or YYYY-MM-DDTHH:MM (Beijing){relative}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=calendar.tz)
    return moment


def parse_span(text: str, option: str) -> timedelta:
    """`30m`, `12h` or `7d` (a leading + allowed) as a timedelta."""
    found = RELATIVE.fullmatch(text.strip())
    if found is None:
        raise typer.BadParameter(f"{option} {text!r}: write N followed by m, h or d (e.g. 1h, 7d)")
    return timedelta(**{UNITS[found.group(2)]: int(found.group(1))})
