"""The web process scaled out: Reflex with the Redis state manager runs several workers on PostgreSQL."""

from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import httpx
import psutil

from tests.integration.api.client import Api
from tests.integration.test_web_process import reflex_env
from tests.support import REDIS_TEST_URL, ROOT, Process, free_port, postgres_database, require_service, wait_http


def test_several_web_workers_share_postgres_and_redis(tmp_path: Path) -> None:
    """With RELAY_REDIS_URL set, `reflex run --env prod --single-port` starts more than one worker; all of them
    migrate the same PostgreSQL database safely, agree on one bootstrap invite, and serve the API and pages."""
    require_service("Redis", "127.0.0.1", 6379)
    port = free_port()
    with postgres_database() as url:
        env = reflex_env(tmp_path, port, RELAY_REDIS_URL=REDIS_TEST_URL, RELAY_DATABASE_URL=url,
                         RELAY_SECRET_KEY="scale-test-secret-0123456789abcdefghijkl")
        process = Process([sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port"], env,
                          tmp_path / "web.log", ROOT)
        try:
            wait_http(f"http://127.0.0.1:{port}/api/health", process, timeout=240)
            workers = [p for p in psutil.Process(process.popen.pid).children(recursive=True)
                       if "python" in p.name().lower() or "granian" in " ".join(p.cmdline()).lower()]
            assert len(workers) >= 2, [p.cmdline() for p in workers]
            codes = set(re.findall(r"invite code: ([A-Za-z0-9_-]{10})", process.output()))
            assert len(codes) == 1, process.output()[-3000:]
            api = Api(f"http://127.0.0.1:{port}")
            name = "w_" + uuid.uuid4().hex[:8]
            registered = api.request("POST", "/api/auth/register", json={
                "invite_code": codes.pop(), "username": name, "email": f"{name}@example.com",
                "password": "worker-pass-1"})
            assert registered.status_code == 201 and registered.json()["data"]["is_admin"] is True
            admin = api.login(name, "worker-pass-1")
            created = [api.new_endpoint(admin)["endpoint_id"] for _ in range(12)]
            listed = {e["endpoint_id"] for e in api.request("GET", "/api/endpoints", account=admin).json()["data"]}
            assert set(created) <= listed
            for route in ("/login", "/dashboard"):
                page = httpx.get(f"http://127.0.0.1:{port}{route}", timeout=10, follow_redirects=True)
                assert page.status_code == 200 and "<html" in page.text.lower()
        finally:
            process.stop()
