"""Helpers shared by every test layer: free ports, real service checks, subprocesses that always stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("RELAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("RELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (visibly) when a service is missing, unless RELAY_REQUIRE_SERVICES=1 makes it a failure."""
    if _answers(host, port):
        return
    message = f"{name} is not answering on {host}:{port}"
    if os.environ.get("RELAY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and RELAY_REQUIRE_SERVICES=1")
    pytest.skip(message)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test run, dropped afterwards."""
    from sqlalchemy import create_engine, text

    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = "relay_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        from relay_core.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def base_env(tmp: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a platform process: its own data folder and database, no stray RELAY_* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update({
        "RELAY_DATA_DIR": str(tmp / "data"), "RELAY_DATABASE_URL": database_url, "RELAY_SECRET_KEY": TEST_SECRET,
        "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class Process:
    """A platform process in its own session, stopped with SIGTERM to its whole group."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int | None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


def wait_http(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"process exited early:\n{process.output()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout} s:\n{process.output()[-3000:]}")


@contextlib.contextmanager
def api_server(tmp: Path, database_url: str, **extra_env: str) -> Iterator[tuple[str, Process]]:
    """The REST API served by uvicorn on a free port (python -m relay_app.api)."""
    port = free_port()
    env = base_env(tmp, database_url, **extra_env)
    process = Process([sys.executable, "-m", "relay_app.api", "--port", str(port)], env, tmp / "api.log", tmp)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/health", process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.stop()
