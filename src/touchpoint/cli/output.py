"""Printing answers: Rich for people, JSON (`--json`) for scripts, progress bars for long work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

# Markup off: values such as `[a-zA-Z_$]` or a customer's name must print as they are.
console = Console(markup=False)
errors = Console(stderr=True, markup=False)


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
