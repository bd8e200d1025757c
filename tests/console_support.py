"""Helpers of the browser tests (tests/e2e): a recorded browser session and a signed-in API client."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SCREENSHOTS = Path(__file__).parent / "e2e" / "screenshots"
TIMINGS = SCREENSHOTS / "timings.txt"
"""Figures the browser tests measure; tests/conftest.py prints them at the end of the run (an xdist worker's
own output is not shown)."""
PASSWORD = "Touchpoint-2026"  # the demo accounts' documented password


MOVING = "[class*=-enter-active], [class*=-appear-active], [class*=-leave-active]"


@dataclass
class Session:
    """One browser context in one language, recording what went wrong in it."""

    page: Any
    base: str
    locale: str
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        """Go to a console path."""
        self.page.goto(self.base + path)

    def sign_in(self, username: str) -> None:
        """Sign in through the form with the demo password and wait for the landing page."""
        self.open("/sign-in")
        self.page.fill("[data-testid=sign-in-username]", username)
        self.page.fill("[data-testid=sign-in-password]", PASSWORD)
        self.page.click("[data-testid=sign-in-submit]")
        self.page.wait_for_selector("[data-testid=account-menu]")

    def settle(self, timeout: float = 2_000) -> None:
        """Wait (at most `timeout` ms) for Ant Design's motions to end: a modal still zooming in moves its
        buttons, and on a loaded machine a click aimed where a button was lands beside it. Never a reason
        to fail: some parts animate for as long as they are shown."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_function(f"() => !document.querySelector('{MOVING}')", timeout=timeout)

    def shot(self, name: str) -> Path:
        """A full-page screenshot named after the page and the language."""
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.wait_for_load_state("networkidle")
        self.settle()  # a drawer or modal still sliding in would be drawn half-way
        path = SCREENSHOTS / f"{name}-{self.locale}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def watch(self) -> None:
        """Record every console error, page error, failed request and error answer of the page."""
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._answer)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} {message.location}")

    def _failed(self, request: Any) -> None:
        if request.failure == "net::ERR_ABORTED":
            return  # the test navigated on while the page still loaded: Chromium cancels, nothing failed
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _answer(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def expect_failure(self, fragment: str) -> None:
        """A request the test provokes on purpose (a 404 it then checks): its console line is no problem."""
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        """Problems not announced with `expect_failure`."""
        return [p for p in self.problems if not any(fragment in p for fragment in self.expected)]


def api_client(base: str, username: str) -> httpx.Client:
    """An API client signed in as a demo account (to compare the console with the API)."""
    client = httpx.Client(base_url=base, timeout=60)
    answer = client.post("/api/v1/auth/sign-in", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def record_timing(line: str) -> None:
    """Keep a measured figure for the run's summary."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with TIMINGS.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
