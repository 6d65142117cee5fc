"""Time from clicking "Sign in" to the dashboard's create button being enabled (built app, real Chromium).

Starts `reflex run --env prod --single-port` on a free port with a fresh SQLite database and a bootstrap
admin, signs in RUNS times in fresh browser contexts, and prints each time and the median.
Usage: .venv/bin/python -m bench.ui_interactive [RUNS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _tool_env, _wait_for
from tests.support import ROOT, Process, base_env, free_port

USERNAME, PASSWORD = "bench_admin", "benchpass123"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        env = base_env(tmp, f"sqlite:///{tmp / 'relay.db'}", RELAY_WEB_PORT=str(port), RELAY_ADMIN_USERNAME=USERNAME,
                       RELAY_ADMIN_PASSWORD=PASSWORD, RELAY_ADMIN_EMAIL="bench@example.com", **_tool_env())
        web = Process(["reflex", "run", "--env", "prod", "--single-port"], env, tmp / "web.log", ROOT)
        try:
            _wait_for(f"http://127.0.0.1:{port}/api/health", web, None, 240)
            times = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(runs + 1):  # the first run warms the server up and is not counted
                    context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
                    page = context.new_page()
                    page.goto("/login")
                    page.fill("#input-username", USERNAME)
                    page.fill("#input-password", PASSWORD)
                    started = time.perf_counter()
                    page.click("#login-button")
                    expect(page.locator("#create-endpoint-button")).to_be_enabled(timeout=30_000)
                    times.append(time.perf_counter() - started)
                    context.close()
                browser.close()
        finally:
            web.stop()
    counted = times[1:]
    print("runs (ms):", ", ".join(f"{t * 1000:.0f}" for t in counted))
    print(f"median: {statistics.median(counted) * 1000:.0f} ms")
    print(f"cpu: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
