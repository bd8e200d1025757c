"""`touchpoint` — the entry point. Subcommands live beside this file, one module per domain.

The domain modules pull in the stores, pandas, pyarrow, DuckDB, ibis and scikit-learn: several seconds
before anything is printed. So this module imports none of them. Each subcommand is registered below by
name, the dotted path of what implements it and its one-line help; its module is imported only when the
command runs (or its own `--help` is asked for). `touchpoint --help` and `touchpoint version` stay fast,
and `tests/unit/cli/test_cli_start.py` keeps it so.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core

from touchpoint import __version__

if TYPE_CHECKING:
    from touchpoint.bootstrap import Container
    from touchpoint.config import Settings
    from touchpoint.governance import Principal

# Set to 1 to let an unexpected error print its traceback (for bug reports) instead of one line.
DEBUG_ENV = "TOUCHPOINT_DEBUG"


@dataclass(frozen=True)
class LazyEntry:
    """A subcommand known by name and help, implemented by `target` ("module:attribute").

    `group` is True when the attribute is a Typer app (a command group), False for a command function."""

    name: str
    target: str
    help: str
    group: bool


def _group(name: str, target: str, help: str) -> LazyEntry:
    return LazyEntry(name, target, help, group=True)


def _command(name: str, target: str, help: str) -> LazyEntry:
    return LazyEntry(name, target, help, group=False)


# The help texts repeat the first paragraph of each command's docstring (or its Typer's help);
# test_cli_start.py fails when they drift apart.
LAZY_ENTRIES: tuple[LazyEntry, ...] = (
    _command(
        "import",
        "touchpoint.cli.imports:import_command",
        "Import a file into a canonical table. A file with bad rows is rejected whole unless "
        "--skip-bad-rows.",
    ),
    _group(
        "warehouse",
        "touchpoint.cli.warehouse:app",
        "Data warehouse tables (数仓映射): check the mapping, sync new partitions.",
    ),
    _command(
        "status",
        "touchpoint.cli.status:status_command",
        "Data directory, store URLs, and row counts per table and date.",
    ),
    _command(
        "serve",
        "touchpoint.cli.serve:serve_command",
        "Serve the API, the collector endpoints and the background worker; OpenAPI docs at /docs.",
    ),
    _command(
        "collect",
        "touchpoint.cli.serve:collect_command",
        "Serve only the collector endpoints (SDKs, native events, /metrics), e.g. behind a balancer.",
    ),
    _command(
        "worker",
        "touchpoint.cli.serve:worker_command",
        "Run the worker's jobs, each in its own thread on its own cadence: consumers (One ID, compaction, "
        "journey routing), timers (journey admissions and steps), dispatch (sends), compute (indicators and "
        "tags), segments (refreshes) and housekeeping. `--clock virtual` rehearses a staging directory "
        "through time.",
    ),
    _command(
        "demo",
        "touchpoint.cli.demo:demo_command",
        "Generate a demo brokerage (once per data directory and parameters), print a summary, then serve.",
    ),
    _command(
        "compute",
        "touchpoint.cli.tagging:compute_command",
        "Compute every indicator and tag for a business date (default: the latest date with data).",
    ),
    _command(
        "init",
        "touchpoint.cli.accounts:init_command",
        "Set up a data directory: migrate its stores and create the first administrator, printing a "
        "one-time password to change at the first sign-in.",
    ),
    _group(
        "user",
        "touchpoint.cli.accounts:user_app",
        "Users (用户): create, list, disable, reset passwords, API tokens.",
    ),
    _group("role", "touchpoint.cli.accounts:role_app", "Roles (角色) and their permissions."),
    _group(
        "audit",
        "touchpoint.cli.accounts:audit_app",
        "The audit log (操作日志): search it, verify its hash chain.",
    ),
    _group("calendar", "touchpoint.cli.calendar:app", "Trading days (XSHG) in the brokerage time zone."),
    _group(
        "collector",
        "touchpoint.cli.collector:app",
        "Event collector: stats, quarantine, compaction, ingestion keys.",
    ),
    _group(
        "identity",
        "touchpoint.cli.identity:app",
        "One ID: resolve identifiers, show the merge log, detach (unmerge) and allow again.",
    ),
    _group("indicator", "touchpoint.cli.tagging:indicator_app", "Indicators (指标): list, show, delete."),
    _group("tag", "touchpoint.cli.tagging:tag_app", "Tags (标签): list, tree, show, upload, delete."),
    _group(
        "definitions",
        "touchpoint.cli.definitions:app",
        "Definitions of every kind (定义): export a directory, plan, apply; history, diff.",
    ),
    _group(
        "approval",
        "touchpoint.cli.approvals:app",
        "Maker-checker approvals (审批): list, show, approve, reject, withdraw; which actions need them.",
    ),
    _group("library", "touchpoint.cli.tagging:library_app", "The default brokerage tag library."),
    _group("customer", "touchpoint.cli.tagging:customer_app", "Customer 360° view."),
    _group("segment", "touchpoint.cli.segments:app", "Segments (人群): preview a rule, save, list, show."),
    _group(
        "analytics",
        "touchpoint.cli.analytics:app",
        "Behaviour analytics (行为分析): funnels, retention, event trends.",
    ),
    _group("journey", "touchpoint.cli.journeys:app", "Journeys (客户旅程): define, publish, pause, inspect."),
    _group(
        "mot",
        "touchpoint.cli.moments:mot_app",
        "MOT rules (关键时刻): the library, evaluation, firings, statistics.",
    ),
    _group(
        "task",
        "touchpoint.cli.moments:task_app",
        "Advisor tasks (服务任务): list, show, claim, assign, complete; guidance.",
    ),
    _group("kpi", "touchpoint.cli.moments:kpi_app", "Campaign and service KPIs (活动效果, 服务考核)."),
    _group(
        "template",
        "touchpoint.cli.channels:template_app",
        "Message templates (消息模板): save, check, preview, activate.",
    ),
    _group(
        "channel",
        "touchpoint.cli.channels:channel_app",
        "Channels (渠道): consent, do-not-disturb, inbox, message report.",
    ),
)


def load_entry(entry: LazyEntry) -> Any:
    """The click command (or group) of `entry`, importing its module now."""
    module_name, attribute = entry.target.split(":")
    implementation = getattr(importlib.import_module(module_name), attribute)
    # A throw-away parent with a callback always yields a group, from which the subcommand is taken as
    # Typer would have built it under the real app.
    parent = typer.Typer(add_completion=False)
    parent.callback()(lambda: None)
    if entry.group:
        parent.add_typer(implementation, name=entry.name)
    else:
        parent.command(name=entry.name)(implementation)
    return typer.main.get_command(parent).commands[entry.name]  # type: ignore[attr-defined]


class LazyCommand(typer.core.TyperCommand):
    """Stands in for a subcommand in the top-level help; the real command is loaded when it is run."""

    def __init__(self, entry: LazyEntry) -> None:
        super().__init__(name=entry.name, help=entry.help, short_help=entry.help)
        self.entry = entry
        self._loaded: Any = None

    def load(self) -> Any:
        """The real click command, imported once."""
        if self._loaded is None:
            self._loaded = load_entry(self.entry)
        return self._loaded

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        """Hand parsing to the real command: the context it returns runs the real command."""
        return self.load().make_context(info_name, args, parent=parent, **extra)


class TouchpointGroup(typer.core.TyperGroup):
    """The top-level group: the lazy subcommands, and one-line errors instead of tracebacks."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for entry in LAZY_ENTRIES:
            self.commands[entry.name] = LazyCommand(entry)

    def invoke(self, ctx: Any) -> Any:
        """Run the subcommand; a domain error or a bad input becomes `error: …` and exit code 1."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except BrokenPipeError:
            raise _reader_left() from None
        except Exception as exc:
            raise _fail_on(exc) from None


def _reader_left() -> SystemExit:
    """The reader of stdout went away (`touchpoint status | head`): stop quietly with exit code 1, as rich
    and Click already do when the cut reaches them first.

    stdout is pointed at /dev/null first, so that the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return SystemExit(1)


def _fail_on(exc: Exception) -> BaseException:
    """The Exit (or the original error, when debugging) for an exception that reached the top."""
    from pydantic import ValidationError as PydanticError
    from typer._click.exceptions import ClickException

    from touchpoint.cli.output import fail
    from touchpoint.core.errors import TouchpointError, pydantic_faults

    if isinstance(exc, ClickException | typer.TyperException):
        return exc  # usage errors print themselves, with exit code 2
    if isinstance(exc, TouchpointError):
        return fail(str(exc))
    if isinstance(exc, PydanticError):  # an option's value a model refused: name it, as the API's 422 does
        return fail(f"invalid input: {pydantic_faults(exc)}")
    if isinstance(exc, OSError) and exc.filename is not None:
        return fail(f"{exc.strerror or exc}: {exc.filename}")
    if os.environ.get(DEBUG_ENV) == "1":
        return exc
    # A fault of ours, not of the input: still one line, with the way to get the traceback.
    return fail(f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 to see where; please report it)")


app = typer.Typer(
    name="touchpoint",
    help="Touchpoint — 券商客户数据与客户旅程平台 (customer data and journeys for securities brokerages).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=TouchpointGroup,
)


def build(settings: Settings) -> Container:
    """Wire the services for `settings` (imported here: the stores are heavy). Tests replace it."""
    from touchpoint.bootstrap import build as build_container

    return build_container(settings)


class Context:
    """What every subcommand receives: the data directory, and the container built on first use."""

    def __init__(self, home: Path | None) -> None:
        self.home = home
        self._container: Container | None = None

    @property
    def principal(self) -> Principal:
        """The caller of every command: whoever runs the CLI on the data directory administers it, and the
        audit log records their operating-system user."""
        from touchpoint.governance import local_administrator

        return local_administrator(_os_user())

    @property
    def container(self) -> Container:
        """The wired services for this invocation (stores opened and migrated once)."""
        if self._container is None:
            self._container = build(_settings(self.home))
        return self._container


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return f"uid{os.getuid()}"


def _settings(home: Path | None) -> Settings:
    """The settings of `home`; a bad value (from TOUCHPOINT_* or touchpoint.toml) is named in one line."""
    import tomllib

    from pydantic import ValidationError as PydanticError

    from touchpoint.config import load_settings
    from touchpoint.core.errors import ValidationError, pydantic_faults

    try:
        return load_settings(home)
    except PydanticError as exc:
        where = "TOUCHPOINT_* variables or touchpoint.toml"
        raise ValidationError(f"bad setting ({where}): {pydantic_faults(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"touchpoint.toml is not valid TOML: {exc}") from None


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


def run() -> None:
    """Console-script entry."""
    app()
