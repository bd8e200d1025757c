"""Printing answers: Rich for people, JSON (`--json`) for scripts, progress bars for long work."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

# Wide enough for any row: piped output is read by programs and `grep`, which want one row per line.
PIPED_WIDTH = 10_000


class PipeAwareConsole(Console):
    """A Console that wraps to the terminal, but never wraps, folds or truncates when its output is piped
    or redirected (Rich would otherwise squeeze every table into 80 columns and cut cells with `…`)."""

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, or PIPED_WIDTH columns when the output is not a terminal."""
        real = super().size
        return real if self.is_terminal else ConsoleDimensions(PIPED_WIDTH, real.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


# Markup off: values such as `[a-zA-Z_$]` or a customer's name must print as they are.
console = PipeAwareConsole(markup=False)
errors = PipeAwareConsole(stderr=True, markup=False)


def fmt(value: Any, *, digits: int = 2) -> str:
    """One way to show a value in a table: integers with thousands separators, other numbers rounded to
    `digits` decimals (trailing zeros dropped), dates in ISO form, times to the minute, None as `-`."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        return _fmt_real(float(value), digits)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _fmt_real(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def fmt_share(value: float | None) -> str:
    """A share (0–1) as a percentage with one decimal."""
    return "-" if value is None else f"{value:.1%}"


def fmt_utc(moment: str | datetime | None) -> str:
    """An instant (ISO text or a datetime) in UTC to the minute, as `fmt` shows times; one without an offset
    is UTC already (the stores keep UTC). For columns headed `(UTC)`."""
    if moment is None:
        return "-"
    instant = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return fmt(instant.astimezone(UTC) if instant.tzinfo else instant)


def fmt_change(value: float | None) -> str:
    """A relative change (0.25 = a quarter more) as a signed percentage with one decimal."""
    return "-" if value is None else f"{value:+.1%}"


def fmt_money(value: float | Decimal | None) -> str:
    """An amount with thousands separators and always two decimals (yuan and fen), so that a column of
    amounts lines up on the decimal point."""
    return "-" if value is None else f"{float(value):,.2f}"


def new_table(*headers: str, title: str | None = None, numeric: tuple[str, ...] = ()) -> Table:
    """A table with these column headers (always shown); `numeric` columns align right. Long cells fold
    onto the next line in a terminal instead of being cut with `…`."""
    table = Table(title=title, title_justify="left", show_header=True)
    for header in headers:
        table.add_column(header, justify="right" if header in numeric else "left", overflow="fold")
    return table


def print_table(table: Table) -> None:
    """Print a table on stdout (whole when piped: see PipeAwareConsole)."""
    console.print(table, highlight=False)


def print_json(value: Any) -> None:
    """Print `value` as indented JSON on stdout."""
    typer.echo(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode()
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error on stderr and return the Exit to raise."""
    errors.print(Text("error: ", style="bold red") + Text(message), highlight=False)
    return typer.Exit(code)


@contextmanager
def stage_progress(
    enabled: bool, bytes_stage: str | None = None
) -> Iterator[Callable[[str, int, int], None]]:
    """A (stage, done, total) callback drawing one bar per stage; silent when disabled."""
    if not enabled:
        yield lambda _stage, _done, _total: None
        return
    columns: list[Any] = [
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=errors, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        yield update


def pending_text(approval: Any) -> str:
    """One line saying a change is held for approval (已提交审批), and how a checker decides it."""
    return (
        f"held for approval 已提交审批: request {approval.id} ({approval.action} {approval.target}); "
        f"a checker decides it with `touchpoint approval approve|reject {approval.id} --reason …`"
    )
