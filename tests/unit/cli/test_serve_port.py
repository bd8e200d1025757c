"""A busy port is said before start-up, naming the port and how to choose another (issue 14, item 9)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchpoint.cli.main import app

RUNNER = CliRunner()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "collect"])
def test_serve_on_a_busy_port_says_which_and_how_to_choose_another(
    tmp_path: Path, busy_port: int, command: str
) -> None:
    result = RUNNER.invoke(app, ["--home", str(tmp_path / "h"), command, "--port", str(busy_port)])
    assert result.exit_code == 1
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.output
    assert "--port" in result.output
    assert "TOUCHPOINT_PORT" in result.output
    assert "Traceback" not in result.output
    assert "serving on" not in result.output


def test_demo_on_a_busy_port_stops_before_generating(tmp_path: Path, busy_port: int) -> None:
    home = tmp_path / "h"
    result = RUNNER.invoke(app, ["--home", str(home), "demo", "--customers", "10", "--port", str(busy_port)])
    assert result.exit_code == 1
    assert f"port {busy_port}" in result.output
    assert "demo brokerage generated" not in result.output
    assert not list(home.rglob("*.parquet"))
