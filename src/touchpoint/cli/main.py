"""`touchpoint` — the entry point. Subcommands live beside this file, one module per domain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from touchpoint import __version__
from touchpoint.bootstrap import Container, build
from touchpoint.cli import (
    analytics,
    calendar,
    channels,
    collector,
    demo,
    identity,
    imports,
    journeys,
    segments,
    serve,
    status,
    tagging,
)
from touchpoint.cli.output import fail
from touchpoint.config import load_settings
from touchpoint.core.errors import TouchpointError

app = typer.Typer(
    name="touchpoint",
    help="Touchpoint — 券商客户数据与客户旅程平台 (customer data and journeys for securities brokerages).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class Context:
    """What every subcommand receives: the data directory, and the container built on first use."""

    def __init__(self, home: Path | None) -> None:
        self.home = home
        self._container: Container | None = None

    @property
    def container(self) -> Container:
        """The wired services for this invocation (stores opened and migrated once)."""
        if self._container is None:
            self._container = build(load_settings(self.home))
        return self._container


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="TOUCHPOINT_HOME", help="data directory (default ./touchpoint-data)"),
    ] = None,
) -> None:
    """Global options."""
    ctx.obj = Context(home)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data directory and bring the operational schema up to date."""
    container = ctx.obj.container
    typer.echo(f"data directory: {container.settings.home}")
    typer.echo(
        f"operational store: {container.ops.display_url} (revision {container.ops.current_revision()})"
    )


app.command(name="import")(imports.import_command)
app.command(name="status")(status.status_command)
app.command(name="serve")(serve.serve_command)
app.command(name="collect")(serve.collect_command)
app.command(name="worker")(serve.worker_command)
app.command(name="demo")(demo.demo_command)
app.add_typer(calendar.app, name="calendar")
app.add_typer(collector.app, name="collector")
app.add_typer(identity.app, name="identity")
app.command(name="compute")(tagging.compute_command)
app.add_typer(tagging.indicator_app, name="indicator")
app.add_typer(tagging.tag_app, name="tag")
app.add_typer(tagging.definitions_app, name="definitions")
app.add_typer(tagging.library_app, name="library")
app.add_typer(tagging.customer_app, name="customer")
app.add_typer(segments.app, name="segment")
app.add_typer(analytics.app, name="analytics")
app.add_typer(journeys.app, name="journey")
app.add_typer(channels.template_app, name="template")
app.add_typer(channels.channel_app, name="channel")


def run() -> None:
    """Console-script entry: turn domain errors into a clear message and exit code 1."""
    try:
        app()
    except TouchpointError as exc:
        raise SystemExit(_exit_code(exc)) from None


def _exit_code(exc: TouchpointError) -> int:
    fail(str(exc))
    return 1
