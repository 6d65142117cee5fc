"""The relay under test: `python -m relay_ws` as a real subprocess on a free port, a real database seeded
through relay_core.services, and small asyncio client helpers (every wait is bounded)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from relay_core.bootstrap import prepare_database
from relay_core.db import session_scope
from relay_core.models import Endpoint, User
from relay_core.services import activity, endpoints, tokens, users
from relay_core.services.stats import stats_for
from relay_core.settings import Settings
from relay_core.views import DeviceView, MessageView, StatsView
from tests.support import ROOT, Process, base_env, free_port, postgres_database

T = TypeVar("T")
FAST_LIMITS = {"RELAY_RATE_LIMIT_PER_CONNECTION": "100000", "RELAY_MAX_CONNECTIONS_PER_ENDPOINT": "1000"}


def run(coro: Awaitable[T], timeout: float = 60) -> T:
    """Run one async scenario from a sync test, never longer than `timeout` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def wait_until(check: Callable[[], T], *, timeout: float = 5, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; last value {last!r}")
        time.sleep(interval)
        last = check()
    return last


class Seeder:
    """Creates and changes users, endpoints and tokens through relay_core.services, from this process."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.url = database_url
        self.settings = Settings(database_url=database_url, data_dir=data_dir, max_endpoints_per_user=1000,
                                 _env_file=None)  # type: ignore[call-arg]
        self._admin: User | None = None

    @property
    def admin(self) -> User:
        if self._admin is None:
            self._admin = self.user(is_admin=True)
        return self._admin

    def user(self, *, is_admin: bool = False) -> User:
        name = "u" + uuid.uuid4().hex[:12]
        with session_scope(self.url, write=True) as session:
            return users.create_user(session=session, username=name, email=f"{name}@example.com",
                                     password="password123", is_admin=is_admin)

    def endpoint(self, owner: User | None = None, **fields: Any) -> Endpoint:
        owner = owner or self.user()
        with session_scope(self.url, write=True) as session:
            return endpoints.create_endpoint(session=session, owner=owner, settings=self.settings,
                                             **fields)

    def token(self, endpoint: Endpoint, role: str = "both") -> tuple[int, str]:
        with session_scope(self.url, write=True) as session:
            new = tokens.create_token(session=session, endpoint=endpoint, name="t", role=role)
            return new.id, new.token

    def revoke(self, endpoint: Endpoint, token_id: int) -> None:
        admin = self.admin  # created before the write transaction below: SQLite has one writer at a time
        with session_scope(self.url, write=True) as session:
            tokens.revoke_token(session=session, endpoint=endpoint, token_id=token_id, actor=admin)

    def disable(self, endpoint: Endpoint, reason: str = "abuse", *, disabled: bool = True) -> None:
        admin = self.admin
        with session_scope(self.url, write=True) as session:
            endpoints.set_endpoint_disabled(session=session, endpoint_id=endpoint.endpoint_id, actor=admin,
                                            disabled=disabled, reason=reason)

    def ban(self, user: User, reason: str = "spam") -> None:
        admin = self.admin
        with session_scope(self.url, write=True) as session:
            users.ban_user(session=session, user_id=user.id, actor=admin, reason=reason)

    def delete(self, endpoint: Endpoint) -> None:
        admin = self.admin
        with session_scope(self.url, write=True) as session:
            fresh = endpoints.get_endpoint(session=session, endpoint_id=endpoint.endpoint_id)
            endpoints.delete_endpoint(session=session, endpoint=fresh, actor=admin)

    def stats(self, endpoint: Endpoint) -> StatsView:
        with session_scope(self.url) as session:
            return stats_for(session=session, endpoint_pks=[endpoint.id])[endpoint.id]

    def messages(self, endpoint: Endpoint) -> list[MessageView]:
        with session_scope(self.url) as session:
            return activity.recent_messages(session=session, endpoint=endpoint)

    def devices(self, endpoint: Endpoint) -> list[DeviceView]:
        with session_scope(self.url) as session:
            return activity.list_devices(session=session, endpoint=endpoint)

    def rename_device(self, endpoint: Endpoint, device_id: str, name: str) -> None:
        with session_scope(self.url, write=True) as session:
            activity.rename_device(session=session, endpoint=endpoint, device_id=device_id, name=name)

    def fresh(self, endpoint: Endpoint) -> Endpoint:
        with session_scope(self.url) as session:
            return endpoints.get_endpoint(session=session, endpoint_id=endpoint.endpoint_id)


@dataclass
class Relay:
    """A running `python -m relay_ws`."""

    port: int
    process: Process
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def url(self, endpoint: Endpoint | str, token: str | None = None) -> str:
        endpoint_id = endpoint if isinstance(endpoint, str) else endpoint.endpoint_id
        return f"{self.base}/ws/{endpoint_id}" + (f"?token={token}" if token else "")

    def http(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def terminate(self, timeout: float = 20) -> int | None:
        """SIGTERM to the process group; returns the exit status."""
        return self.process.stop(timeout)

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.popen.pid, signal.SIGKILL)
        self.process.popen.wait(10)
        self.process.stop()

    def output(self) -> str:
        return self.process.output()


def start_relay(tmp: Path, database_url: str, *, port: int | None = None, name: str = "relay",
                **env: str) -> Relay:
    """Start the relay and wait (≤ 30 s) until /healthz answers 200."""
    port = port or free_port()
    full_env = base_env(tmp, database_url, RELAY_WS_PORT=str(port), RELAY_WS_HOST="127.0.0.1", **env)
    process = Process([sys.executable, "-m", "relay_ws"], full_env, tmp / f"{name}-{port}.log", ROOT)
    deadline = time.monotonic() + 30
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError(f"relay exited early:\n{process.output()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Relay(port=port, process=process, tmp=tmp, env=full_env)
        if time.monotonic() > deadline:
            process.stop()
            raise TimeoutError(f"relay did not become healthy:\n{process.output()[-3000:]}")
        time.sleep(0.1)


@dataclass
class RelayFactory:
    tmp: Path
    database_url: str
    started: list[Relay] = field(default_factory=list)

    def __call__(self, **env: str) -> Relay:
        relay = start_relay(self.tmp, self.database_url, **env)
        self.started.append(relay)
        return relay

    def stop_all(self) -> None:
        for relay in self.started:
            relay.terminate()


def _sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'relay.db'}"


def _prepare(url: str, tmp: Path) -> Seeder:
    seeder = Seeder(url, tmp / "data")
    prepare_database(seeder.settings, bootstrap=False)
    return seeder


@pytest.fixture
def fresh_db(tmp_path: Path) -> Seeder:
    """A new SQLite file database for one test."""
    return _prepare(_sqlite_url(tmp_path), tmp_path)


@pytest.fixture
def relay_factory(tmp_path: Path, fresh_db: Seeder) -> Iterator[RelayFactory]:
    """Starts relays on `fresh_db` with extra RELAY_* settings; every one gets SIGTERM at the end."""
    factory = RelayFactory(tmp=tmp_path, database_url=fresh_db.url)
    try:
        yield factory
    finally:
        factory.stop_all()


@contextlib.contextmanager
def module_relay(tmp: Path, url: str, **env: str) -> Iterator[tuple[Relay, Seeder]]:
    seeder = _prepare(url, tmp)
    relay = start_relay(tmp, url, **env)
    try:
        yield relay, seeder
    finally:
        relay.terminate()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Relay, Seeder]]:
    """One relay on one SQLite database for a whole module (tests use their own endpoints)."""
    tmp = tmp_path_factory.mktemp("relay")
    with module_relay(tmp, _sqlite_url(tmp), RELAY_PING_INTERVAL="5", RELAY_MAX_MESSAGE_BYTES="65536",
                      **FAST_LIMITS) as pair:
        yield pair


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_relay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[Relay, Seeder]]:
    """The same relay on SQLite and on PostgreSQL."""
    tmp = tmp_path_factory.mktemp("relay-" + request.param)
    if request.param == "sqlite":
        with module_relay(tmp, _sqlite_url(tmp), **FAST_LIMITS) as pair:
            yield pair
        return
    with postgres_database() as url, module_relay(tmp, url, **FAST_LIMITS) as pair:
        yield pair


# -- client helpers ---------------------------------------------------------------------------------


async def open_ws(url: str, **kwargs: Any) -> ClientConnection:
    kwargs.setdefault("open_timeout", 5)
    kwargs.setdefault("close_timeout", 2)
    return await connect(url, **kwargs)


async def recv(ws: ClientConnection, timeout: float = 5) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_json(ws: ClientConnection, timeout: float = 5) -> Any:
    message = await recv(ws, timeout)
    assert isinstance(message, str), f"expected a text frame, got {message!r}"
    return orjson.loads(message)


async def join(url: str, **kwargs: Any) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect to a json endpoint and read its CONNECTED frame."""
    ws = await open_ws(url, **kwargs)
    frame = await recv_json(ws)
    assert frame["type"] == "system" and frame["code"] == "CONNECTED", frame
    return ws, frame


async def joined_direct(url: str) -> ClientConnection:
    """Connect to a direct/custom_header endpoint; a ping round trip proves the relay registered it."""
    ws = await open_ws(url)
    await ws.send('{"type":"ping"}')
    pong = await recv_json(ws)
    assert pong["type"] == "pong"
    return ws


async def closed_with(ws: ClientConnection, timeout: float = 8) -> tuple[int | None, list[str | bytes]]:
    """Read until the relay closes the connection; returns the close code and the frames before it."""
    frames: list[str | bytes] = []
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                frames.append(await ws.recv())
    return ws.close_code, frames


async def nothing_arrives(ws: ClientConnection, seconds: float = 0.3) -> bool:
    """True when no frame arrives within `seconds`."""
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    pytest.fail(f"unexpected frame: {message!r}")


async def close_all(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
