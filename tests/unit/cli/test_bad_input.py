"""No CLI command prints a traceback for bad input (issue 14, items 6 and 9).

Every command registered in the Typer app — found by walking it, so a new command is covered the day it is
added — is run with bad arguments: an unknown option, a missing file, a name nothing carries, a malformed
date or duration, malformed JSON, a value outside an option's choices. Each run must end with a non-zero
exit code (where the input is bad whatever the data), an error that names the problem, and no traceback.
The last-resort handler's "unexpected …" line counts as a failure: it means the command let an exception
through that it should have turned into a message.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

import touchpoint.demo
from touchpoint.bootstrap import Container, build
from touchpoint.cli import main as cli_main
from touchpoint.cli.main import LazyCommand, app
from touchpoint.config import Settings, load_settings

RUNNER = CliRunner()
MISSING_FILE = "/nonexistent/touchpoint/missing-file.yaml"
NO_SUCH_NAME = "no_such_name_q7"
BAD_DAY = "2026-13-45"
BAD_JSON = "{not json"
DEMO_JOURNEY = Path(touchpoint.demo.__file__).parent / "journeys" / "ipo_payment_reminder.yaml"

# Commands that run until interrupted (or generate a whole brokerage) once their input is valid: only the
# values refused while parsing are tried on them.
LONG_RUNNING = {"serve", "collect", "worker", "demo"}
# Options whose value is free text (any string is a valid answer), or a file written rather than read.
FREE_TEXT = {"--title", "--description", "--reason", "--why", "--host", "--project", "--cursor", "--output"}
DAY_OPTIONS = {"--from", "--to", "--compare-from", "--at", "--date"}
JSON_OPTIONS = {"--payload"}
# Options whose value has a grammar (a choice, a duration, a property expression): nonsense is refused.
GRAMMAR_OPTIONS = {
    "--window",
    "--mode",
    "--unit",
    "--who",
    "--by",
    "--measure",
    "--where",
    "--exclude",
    "--in-flight",
    "--map",
    "--status",
    "--grant",
    "--withdraw",
    "--type",
    "--other-type",
    "--format",
    "--encoding",
    "--attributes",
    "--against",
    "--pool",
    "--replay",
    "--cohort",
}


@dataclass(frozen=True)
class Leaf:
    """One runnable command: its words after `touchpoint`, and its click command."""

    words: tuple[str, ...]
    command: Any

    @property
    def label(self) -> str:
        return " ".join(self.words)


def _leaves(command: Any, words: tuple[str, ...] = ()) -> Iterator[Leaf]:
    if isinstance(command, LazyCommand):
        command = command.load()
    children = getattr(command, "commands", None)
    if children:
        for name, child in children.items():
            yield from _leaves(child, (*words, name))
    else:
        yield Leaf(words, command)


LEAVES = list(_leaves(typer.main.get_command(app)))


def _plausible(param: Any) -> list[str]:
    """A value of the right shape that names nothing that exists (a missing file, an unknown name)."""
    annotation = getattr(param.type_descriptor.annotation, "__name__", "")
    option = param.opts[0]
    if annotation == "Path":
        return [MISSING_FILE]
    if annotation == "list" and param.param_type_name == "argument":
        return [NO_SUCH_NAME, f"{NO_SUCH_NAME}_2"]
    if annotation == "datetime":
        return ["2026-03-02"]
    if option in DAY_OPTIONS:
        return ["-7d" if option in {"--from", "--compare-from"} else "today"]
    if annotation == "int":
        return ["1"]
    if annotation == "float":
        return ["0.5"]
    if option == "--window":
        return ["7d"]
    if option == "--steps":
        return [f"{NO_SUCH_NAME},{NO_SUCH_NAME}_2"]
    if option in JSON_OPTIONS:
        return ["{}"]
    return [NO_SUCH_NAME]


def _argv(leaf: Leaf, override: dict[str, str] | None = None) -> list[str]:
    """The command with every required argument and option given a plausible value (or `override`'s)."""
    override = override or {}
    argv = list(leaf.words)
    for param in leaf.command.params:
        option = param.opts[0]
        is_argument = param.param_type_name == "argument"
        if not (param.required or option in override):
            continue
        values = [override[option]] if option in override else _plausible(param)
        argv += values if is_argument else [option, *values]
    return argv


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One empty data directory, its container built once and handed to every command run."""
    path = tmp_path_factory.mktemp("bad-input")
    container = build(load_settings(path))

    def same_container(_settings: Settings) -> Container:
        return container

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_main, "build", same_container)
        yield path
    container.close()


def _run(home: Path, argv: list[str]) -> Result:
    return RUNNER.invoke(app, ["--home", str(home), *argv], input="")


def _assert_refused_cleanly(result: Result, argv: list[str], *, names: tuple[str, ...]) -> None:
    shown = f"$ touchpoint {' '.join(argv)}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output, shown
    assert "unexpected " not in result.output, shown
    # An exception escaping CliRunner (not an Exit) is what a user would see as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert result.exit_code != 0, shown
    text = " ".join(result.output.split())
    assert any(name in text for name in names), shown


def _no_traceback(result: Result, argv: list[str]) -> None:
    shown = f"$ touchpoint {' '.join(argv)}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output, shown
    assert "unexpected " not in result.output, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda leaf: leaf.label)
def test_an_unknown_option_is_refused_by_name(home: Path, leaf: Leaf) -> None:
    argv = [*leaf.words, "--no-such-option"]
    _assert_refused_cleanly(_run(home, argv), argv, names=("--no-such-option",))


RUNNABLE = [leaf for leaf in LEAVES if leaf.words[0] not in LONG_RUNNING]
WITH_FILE_OR_NAME = [
    leaf
    for leaf in RUNNABLE
    if any(
        getattr(p.type_descriptor.annotation, "__name__", "") in {"Path", "str", "list"}
        and (p.param_type_name == "argument" or p.opts[0] in {"--rule", "--file"})
        for p in leaf.command.params
        if p.required
    )
]


@pytest.mark.parametrize("leaf", WITH_FILE_OR_NAME, ids=lambda leaf: leaf.label)
def test_a_missing_file_or_unknown_name_is_refused_with_one_line(home: Path, leaf: Leaf) -> None:
    argv = _argv(leaf)
    _assert_refused_cleanly(_run(home, argv), argv, names=(MISSING_FILE, NO_SUCH_NAME, "error: "))


def _options(kinds: set[str]) -> list[tuple[Leaf, str]]:
    return [
        (leaf, param.opts[0])
        for leaf in LEAVES
        for param in leaf.command.params
        if param.opts[0] in kinds and not (leaf.words[0] in LONG_RUNNING and param.opts[0] not in DAY_OPTIONS)
    ]


@pytest.mark.parametrize(
    ("leaf", "option"), _options(DAY_OPTIONS), ids=lambda x: x.label if isinstance(x, Leaf) else x
)
def test_a_malformed_date_is_refused_naming_it(home: Path, leaf: Leaf, option: str) -> None:
    # A journey file that exists, so that the date is what is wrong.
    files = {p.opts[0]: str(DEMO_JOURNEY) for p in leaf.command.params if p.opts[0] == "path"}
    argv = _argv(leaf, {**files, option: BAD_DAY})
    _assert_refused_cleanly(_run(home, argv), argv, names=(BAD_DAY, option))


@pytest.mark.parametrize(
    ("leaf", "option"), _options(JSON_OPTIONS), ids=lambda x: x.label if isinstance(x, Leaf) else x
)
def test_malformed_json_is_refused_naming_it(home: Path, leaf: Leaf, option: str) -> None:
    argv = _argv(leaf, {option: BAD_JSON})
    _assert_refused_cleanly(_run(home, argv), argv, names=("JSON", "json", option))


@pytest.mark.parametrize(
    ("leaf", "option"),
    _options(GRAMMAR_OPTIONS | {"--steps", "--limit", "--top", "--days", "--periods", "--sample"}),
    ids=lambda x: x.label if isinstance(x, Leaf) else x,
)
def test_a_nonsense_option_value_gives_a_message_not_a_traceback(home: Path, leaf: Leaf, option: str) -> None:
    for value in ("%%nonsense%%", "-1", "99999999999999999999"):
        argv = _argv(leaf, {option: value})
        result = _run(home, argv)
        _no_traceback(result, argv)
        if result.exit_code != 0:
            assert "error" in result.output.lower() or "invalid" in result.output.lower(), result.output


def test_every_command_is_covered() -> None:
    assert len(LEAVES) > 60
    assert {"import", "journey simulate", "segment preview", "analytics funnel"} <= {
        leaf.label for leaf in LEAVES
    }


def test_a_bad_setting_is_named_in_one_line(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["--home", str(tmp_path), "status"], env={"TOUCHPOINT_PORT": "abc"})
    assert result.exit_code == 1
    assert "bad setting" in result.output
    assert "port" in result.output
    assert "Traceback" not in result.output
    assert "unexpected" not in result.output


def test_a_malformed_settings_file_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "touchpoint.toml").write_text("port = [\n")
    result = RUNNER.invoke(app, ["--home", str(tmp_path), "status"])
    assert result.exit_code == 1
    assert "touchpoint.toml is not valid TOML" in result.output
    assert "unexpected" not in result.output


def test_a_reader_that_leaves_early_stops_the_command_quietly(tmp_path: Path) -> None:
    """`touchpoint … | head`: no 'unexpected BrokenPipeError' line, exit code 1 (as rich and Click do)."""
    code = (
        "import sys; from touchpoint.cli import main as m; "
        "m.typer.echo = lambda _: [sys.stdout.write('x' * 99 + chr(10)) for _ in range(100_000)]; "
        f"sys.argv = ['touchpoint', '--home', {str(tmp_path)!r}, 'version']; m.run()"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stderr is not None
    assert child.stdout.read(10) == b"x" * 10
    child.stdout.close()
    assert child.wait(timeout=60) == 1
    assert child.stderr.read() == b""
