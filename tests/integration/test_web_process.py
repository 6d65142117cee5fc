"""The web process as `make run` starts it: Reflex in prod mode on one port, with the API under /api."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx

from tests.support import ROOT, Process, base_env, free_port, wait_http


def reflex_env(tmp: Path, port: int, **extra: str) -> dict[str, str]:
    env = base_env(tmp, f"sqlite:///{tmp / 'data' / 'relay.db'}", RELAY_WEB_PORT=str(port), **extra)
    env.pop("RELAY_SECRET_KEY")  # the web process generates and keeps its own, as on a user's machine
    tools = ROOT / ".tools" / "node_modules" / ".bin"
    env["PATH"] = f"{tools}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    env.update(REFLEX_USE_SYSTEM_BUN="1", REFLEX_TELEMETRY_ENABLED="false", REFLEX_CHECK_LATEST_VERSION="false")
    return env


def test_reflex_prod_serves_the_api_and_prints_the_bootstrap_invite(tmp_path: Path) -> None:
    """`reflex run --env prod --single-port` answers /api/health, /api/openapi.json and /api/docs on one port,
    serves the UI at /, and prints the one-time admin invite on its first start."""
    port = free_port()
    process = Process([sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port"],
                      reflex_env(tmp_path, port), tmp_path / "web.log", ROOT)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", process, timeout=240)
        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert health.status_code == 200 and health.json()["data"]["status"] == "ok"
        spec = httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=10).json()
        assert "/api/endpoints" in spec["paths"] and "/api/auth/login" in spec["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/docs", timeout=10).status_code == 200
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        missing = httpx.get(f"http://127.0.0.1:{port}/api/nothing-here", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
        assert re.search(r"invite code: [A-Za-z0-9_-]{10}", process.output()), process.output()[-2000:]
    finally:
        assert process.stop() is not None
