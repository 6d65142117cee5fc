"""E2E fixtures: the built app (`reflex run --env prod --single-port`) and the relay on free ports with a
fresh SQLite database, real Chromium through Playwright, and a per-test check that the browser saw no
JavaScript error, failed request or HTTP error answer."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response, sync_playwright

from tests.support import ROOT, Process, base_env, free_port

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("RELAY_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
APP_START_TIMEOUT_S = 240


@dataclass
class Platform:
    base_url: str
    ws_url: str
    bootstrap_code: str
    web: Process
    relay: Process | None
    # Accounts and endpoints the flow creates, shared by the tests that follow.
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    endpoint_id: str = ""


def _tool_env() -> dict[str, str]:
    return {
        "PATH": f"{ROOT / '.tools/node_modules/.bin'}:{ROOT / '.venv/bin'}:{os.environ.get('PATH', '')}",
        "REFLEX_USE_SYSTEM_BUN": "1", "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
    }


def _wait_for(predicate_url: str, process: Process, pattern: str | None, timeout: float) -> re.Match[str] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"process exited early:\n{process.output()[-4000:]}")
        match = re.search(pattern, process.output()) if pattern else None
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(predicate_url, timeout=2).status_code < 500 and (pattern is None or match):
                return match
        time.sleep(0.5)
    raise TimeoutError(f"{predicate_url} did not come up in {timeout} s:\n{process.output()[-4000:]}")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{tmp / 'relay.db'}"
    web_port, ws_port = free_port(), free_port()
    ws_url = f"ws://127.0.0.1:{ws_port}"
    common = {"RELAY_PUBLIC_WS_URL": ws_url, "RELAY_WS_PORT": str(ws_port), "RELAY_WS_HOST": "127.0.0.1",
              "RELAY_WEB_PORT": str(web_port), "RELAY_PUBLIC_WEB_URL": f"http://127.0.0.1:{web_port}",
              # every browser sign-in comes from 127.0.0.1; the 10-a-minute default is tested in the API suite
              "RELAY_AUTH_RATE_LIMIT_PER_MINUTE": "100",
              **_tool_env()}
    web = relay = None
    try:
        # No RELAY_ADMIN_*: the app prints the one-time admin invite, which the first test uses.
        web = Process(["reflex", "run", "--env", "prod", "--single-port"], base_env(tmp, database_url, **common),
                      tmp / "web.log", ROOT)
        match = _wait_for(f"http://127.0.0.1:{web_port}/api/health", web, r"invite code: (\S+)",
                          APP_START_TIMEOUT_S)
        assert match is not None
        relay = Process([sys.executable, "-m", "relay_ws"], base_env(tmp, database_url, **common),
                        tmp / "relay.log", ROOT)
        _wait_for(f"http://127.0.0.1:{ws_port}/healthz", relay, None, 60)
        yield Platform(base_url=f"http://127.0.0.1:{web_port}", ws_url=ws_url, bootstrap_code=match.group(1),
                       web=web, relay=relay)
    finally:
        for process in (relay, web):
            if process is not None:
                process.stop()  # os.killpg(pgid, SIGTERM), then SIGKILL after 15 s


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class BrowserProblems:
    """Everything the browser reports as going wrong; each test must end with none."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.on("page", self.watch_page)
        for page in context.pages:
            self.watch_page(page)
        return context

    def watch_page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.items.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.items.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def _failed(self, request: Request) -> None:
        self.items.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.items.append(f"HTTP {response.status}: {response.request.method} {response.url}")


@pytest.fixture(scope="session")
def problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture(autouse=True)
def no_browser_problems(problems: BrowserProblems) -> Iterator[None]:
    problems.items.clear()
    yield
    found = list(problems.items)
    problems.items.clear()
    assert not found, "the browser reported problems:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def new_context(browser: Browser, platform: Platform, problems: BrowserProblems) -> Iterator[object]:
    contexts: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        context = browser.new_context(base_url=platform.base_url, **options)  # type: ignore[arg-type]
        context.set_default_timeout(15_000)
        contexts.append(context)
        return problems.watch(context)

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
