"""The console in a real browser: Debian's Chromium driven by Playwright against `touchpoint serve` on a demo
brokerage (docs/testing.md).

Skipped when /usr/bin/chromium is absent, unless TOUCHPOINT_TEST_E2E=1 (CI), which makes that a failure.
Every page a test opens is screenshotted in zh-CN and English under tests/e2e/screenshots/ (git-ignored) for
a person to look at; any browser console error or failed request fails the test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console_support import Session

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
CONSOLE_INDEX = Path(__file__).resolve().parents[2] / "src" / "touchpoint" / "console" / "index.html"
LOCALES = ("zh-CN", "en-US")
CLI = [sys.executable, "-m", "touchpoint"]


def _required() -> bool:
    return os.environ.get("TOUCHPOINT_TEST_E2E") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo brokerage, generated once for the whole run: the first xdist worker to need it builds it
    under a lock in the run's shared temporary directory, the others wait and reuse it (each module then
    serves a copy of its own, so that what one module's tests change no other module sees)."""
    if not CHROMIUM.exists():
        if _required():
            pytest.fail(f"TOUCHPOINT_TEST_E2E=1 but {CHROMIUM} is missing (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    if not CONSOLE_INDEX.exists():
        pytest.fail("the console is not built: run `make web`")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    # Under xdist every worker's base directory sits in one directory of this run; alone, our own is it.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent / f"e2e-demo-{run}" if run else base / "e2e-demo"
    shared.mkdir(exist_ok=True)
    home, built = shared / "home", shared / "built"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            shutil.rmtree(home, ignore_errors=True)
            subprocess.run(
                [*CLI, "demo", "--customers", "300", "--days", "40", "--no-serve", "--json"],
                env={**os.environ, "TOUCHPOINT_HOME": str(home)},
                check=True,
                capture_output=True,
                timeout=600,
            )
            built.touch()
    return home


@pytest.fixture(scope="module")
def console_url(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`touchpoint serve` on a copy of the demo brokerage, with the built console (per module: the server and
    the browser stop when the module's tests end, not when the worker's whole share of the suite does)."""
    home = tmp_path_factory.mktemp("e2e-home") / "home"
    shutil.copytree(demo_home, home)
    env = {**os.environ, "TOUCHPOINT_HOME": str(home)}
    port = _free_port()
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"touchpoint serve exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("touchpoint serve did not answer /healthz within 60 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless (Playwright's own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _session(browser: Any, console_url: str, locale: str) -> Iterator[Session]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale=locale)
    context.add_init_script(f"window.localStorage.setItem('touchpoint.locale', '{locale}')")
    page = context.new_page()
    current = Session(page=page, base=console_url, locale=locale)
    # Before sign-in the console asks who is signed in: /auth/me answers 401, which is how it learns.
    current.expect_failure("/api/v1/auth/me")
    current.watch()
    yield current
    context.close()
    assert not current.unexpected(), "\n".join(current.unexpected())


@pytest.fixture
def session(browser: Any, console_url: str) -> Iterator[Session]:
    """A fresh browser context in Chinese (the default), failing on any console error or failed request.
    The flows run once; `any_language` walks and screenshots every page in both languages."""
    yield from _session(browser, console_url, "zh-CN")


@pytest.fixture(params=LOCALES)
def any_language(request: pytest.FixtureRequest, browser: Any, console_url: str) -> Iterator[Session]:
    """A fresh browser context in each language in turn, failing likewise."""
    yield from _session(browser, console_url, request.param)
