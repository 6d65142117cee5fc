"""Fault scenarios shared by tests/faults (short variants) and bench/faults.py (long variants): each starts
real processes, injects one fault (database unreachable, read-only or full disk, a client that never reads),
drives traffic on 127.0.0.1 with every wait bounded, and returns what it observed for the caller to judge."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from sqlalchemy import create_engine, text
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from relay_core.db import dispose_engines
from tests.integration.api.client import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, Api
from tests.integration.relay.conftest import (
    FAST_LIMITS,
    Relay,
    _prepare,
    close_all,
    closed_with,
    join,
    open_ws,
    start_relay,
)
from tests.support import PG_ADMIN_URL, ROOT, api_server, base_env, free_port, postgres_database

ADMIN_ENV = {"RELAY_ADMIN_USERNAME": ADMIN_USERNAME, "RELAY_ADMIN_PASSWORD": ADMIN_PASSWORD,
             "RELAY_ADMIN_EMAIL": ADMIN_EMAIL}


def log_lines(output: str, pattern: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(pattern, line)]


# -- the database becomes unreachable -----------------------------------------------------------------------


@contextlib.contextmanager
def unreachable(database_url: str) -> Iterator[None]:
    """Make one PostgreSQL database refuse connections and cut the open ones (the shared server stays up)."""
    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


@dataclass
class OutageResult:
    sent: int = 0
    sent_during_outage: int = 0
    received: list[list[int]] = field(default_factory=list)
    healthz_before: int = 0
    healthz_during: list[int] = field(default_factory=list)
    healthz_after: int = 0
    api_health_during: list[int] = field(default_factory=list)
    api_health_after: int = 0
    api_list_during: httpx.Response | None = None
    new_connection_close_code: int | None = None
    stored_total_messages: int = -1
    stored_after_seconds: float = -1.0
    relay_alive: bool = False
    relay_log: str = ""
    api_log: str = ""


def database_outage(tmp: Path, *, outage_seconds: float = 10.0, rate: float = 50.0, receivers: int = 2,
                    catch_up_timeout: float = 10.0) -> OutageResult:
    """Relay + API on PostgreSQL; a sender streams to receivers before, during and after an outage of the
    relay's database. Polls /healthz and /api/health throughout, tries a new connection mid-outage."""
    result = OutageResult()
    with postgres_database() as url:
        seeder = _prepare(url, tmp)
        endpoint = seeder.endpoint()
        relay = start_relay(tmp, url, **FAST_LIMITS)
        try:
            with api_server(tmp, url, **ADMIN_ENV) as (base, api_process):
                api = Api(base)
                admin = api.admin()
                dispose_engines()  # this process holds no connection into the outage
                asyncio.run(asyncio.wait_for(
                    _outage_traffic(relay, endpoint.endpoint_id, url, api, admin.token, result,
                                    outage_seconds=outage_seconds, rate=rate, receivers=receivers),
                    outage_seconds + 90))
                started = time.monotonic()
                while time.monotonic() - started < catch_up_timeout:
                    result.stored_total_messages = seeder.stats(endpoint).total_messages
                    if result.stored_total_messages == result.sent:
                        break
                    time.sleep(0.2)
                result.stored_after_seconds = time.monotonic() - started
                result.api_health_after = api.request("GET", "/api/health").status_code
                result.api_log = api_process.output()
            result.relay_alive = relay.process.popen.poll() is None
        finally:
            relay.terminate()
            result.relay_log = relay.output()
    return result


async def _outage_traffic(relay: Relay, endpoint_id: str, url: str, api: Api, jwt: str, result: OutageResult, *,
                          outage_seconds: float, rate: float, receivers: int) -> None:
    sender, _ = await join(relay.url(endpoint_id))
    readers = [(await join(relay.url(endpoint_id)))[0] for _ in range(receivers)]
    result.received = [[] for _ in readers]
    stop_sending = asyncio.Event()

    async def read(index: int, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = orjson.loads(await ws.recv())
                result.received[index].append(frame["data"])

    async def send() -> None:
        period = 1 / rate
        while not stop_sending.is_set():
            await sender.send(orjson.dumps({"type": "m", "data": result.sent}).decode())
            result.sent += 1
            await asyncio.sleep(period)

    async def status(client: httpx.AsyncClient, target: str) -> int:
        try:
            return (await client.get(target, timeout=5)).status_code
        except httpx.HTTPError:
            return -1

    health_url = f"http://127.0.0.1:{relay.port}/healthz"
    reading = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(readers)]
    sending = asyncio.create_task(send())
    async with httpx.AsyncClient(headers={"X-Forwarded-For": "198.51.100.77"}) as client:
        await asyncio.sleep(2)
        result.healthz_before = await status(client, health_url)
        before = result.sent
        with unreachable(url):
            deadline = time.monotonic() + outage_seconds
            asked_new = False
            while time.monotonic() < deadline:
                result.healthz_during.append(await status(client, health_url))
                result.api_health_during.append(await status(client, api.base_url + "/api/health"))
                if not asked_new and time.monotonic() > deadline - outage_seconds / 2:
                    asked_new = True  # the gate's 1 s endpoint cache has expired by now
                    result.api_list_during = await client.get(
                        api.base_url + "/api/endpoints", headers={"Authorization": f"Bearer {jwt}"}, timeout=10)
                    newcomer = await open_ws(relay.url(endpoint_id))
                    result.new_connection_close_code = (await closed_with(newcomer, 5))[0]
                await asyncio.sleep(0.5)
            result.sent_during_outage = result.sent - before
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            result.healthz_after = await status(client, health_url)
            if result.healthz_after == 200:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
    stop_sending.set()
    await sending
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(r) < result.sent for r in result.received):
        await asyncio.sleep(0.1)
    await close_all([sender, *readers])
    for task in reading:
        task.cancel()
    await asyncio.gather(*reading, return_exceptions=True)


# -- read-only and full disks -------------------------------------------------------------------------------


def can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def read_only_view(source: Path, target: Path) -> Iterator[Path]:
    """`target` shows `source` read-only: a read-only bind mount as root, else chmod (which root ignores)."""
    target.mkdir(parents=True, exist_ok=True)
    if can_mount():
        subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
            yield target
        finally:
            subprocess.run(["umount", str(target)], check=False)
        return
    modes = {p: p.stat().st_mode for p in [source, *source.iterdir()]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield source
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


@contextlib.contextmanager
def tiny_tmpfs(target: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB mounted at `target` (root only), unmounted afterwards."""
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(target)], check=True)
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the disk answers ENOSPC; returns it (delete it to free the space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        for block in (65536, 4096, 512):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * block)
    return filler


@dataclass
class StartResult:
    name: str
    returncode: int | None
    seconds: float
    output: str


def start_on_read_only_database(tmp: Path, *, timeout: float = 40.0) -> list[StartResult]:
    """Migrate a SQLite database, make its folder read-only, then start the relay and the API on it."""
    source = tmp / "db"
    source.mkdir()
    url_source = f"sqlite:///{source / 'relay.db'}"
    _prepare(url_source, tmp)
    dispose_engines()
    results = []
    with read_only_view(source, tmp / "ro") as folder:
        url = f"sqlite:///{folder / 'relay.db'}"
        for name, args in (("relay", [sys.executable, "-m", "relay_ws"]),
                           ("api", [sys.executable, "-m", "relay_app.api", "--port", str(free_port())])):
            env = base_env(tmp, url, RELAY_WS_PORT=str(free_port()), **ADMIN_ENV)
            started = time.monotonic()
            try:
                done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
                results.append(StartResult(name, done.returncode, time.monotonic() - started,
                                           done.stdout + done.stderr))
            except subprocess.TimeoutExpired as exc:
                output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
                results.append(StartResult(name, None, timeout, output))
    return results


@dataclass
class DiskFullResult:
    sent: int = 0
    received: int = 0
    write_statuses: list[int] = field(default_factory=list)
    write_bodies: list[dict[str, object]] = field(default_factory=list)
    followup_errors: list[str] = field(default_factory=list)
    health_during: int = 0
    healthz_during: int = 0
    stored_total_messages: int = -1
    sent_total: int = 0
    write_after: int = 0
    relay_alive: bool = False
    api_alive: bool = False
    relay_log: str = ""
    api_log: str = ""


def disk_full(tmp: Path, *, full_seconds: float = 8.0, rate: float = 100.0, size_kib: int = 4096,
              api_writes: int = 5) -> DiskFullResult:
    """Relay + API on SQLite in a tiny tmpfs; the disk is filled while a sender streams 4 KiB messages and
    the admin makes API writes; then the space is freed and the stored stats must catch up."""
    result = DiskFullResult()
    with tiny_tmpfs(tmp / "disk", size_kib) as disk:
        url = f"sqlite:///{disk / 'relay.db'}"
        seeder = _prepare(url, tmp)
        endpoint = seeder.endpoint()
        dispose_engines()
        relay = start_relay(tmp, url, **FAST_LIMITS)
        try:
            with api_server(tmp, url, **ADMIN_ENV) as (base, api_process):
                api = Api(base)
                admin = api.admin()
                filler = fill(disk)
                try:
                    asyncio.run(asyncio.wait_for(
                        _stream(relay, endpoint.endpoint_id, result, seconds=full_seconds / 2, rate=rate),
                        full_seconds + 60))
                    for _ in range(api_writes):
                        # one keep-alive connection: a failed write must not break the next request on it
                        try:
                            response = api.request("POST", "/api/endpoints", account=admin, json={"name": "full"})
                            result.write_statuses.append(response.status_code)
                            result.write_bodies.append(response.json())
                            me = api.request("GET", "/api/auth/me", account=admin)
                            if me.status_code != 200:
                                result.followup_errors.append(f"GET /api/auth/me answered {me.status_code}")
                        except httpx.HTTPError as exc:
                            result.followup_errors.append(f"{exc.__class__.__name__}: {exc}")
                    result.health_during = api.request("GET", "/api/health").status_code
                    result.healthz_during = relay.http("/healthz").status_code
                    asyncio.run(asyncio.wait_for(
                        _stream(relay, endpoint.endpoint_id, result, seconds=full_seconds / 2, rate=rate),
                        full_seconds + 60))
                finally:
                    filler.unlink()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    result.stored_total_messages = seeder.stats(endpoint).total_messages
                    if result.stored_total_messages == result.sent:
                        break
                    time.sleep(0.2)
                result.write_after = api.request("POST", "/api/endpoints", account=admin,
                                                 json={"name": "after"}).status_code
                result.api_alive = api_process.popen.poll() is None
                result.api_log = api_process.output()
            result.relay_alive = relay.process.popen.poll() is None
        finally:
            relay.terminate()
            result.relay_log = relay.output()
            dispose_engines()
    return result


async def _stream(relay: Relay, endpoint_id: str, result: DiskFullResult, *, seconds: float, rate: float) -> None:
    """One sender, one reader: 4 KiB text messages (each also a stored preview) at `rate` per second."""
    sender, _ = await join(relay.url(endpoint_id))
    reader, _ = await join(relay.url(endpoint_id))
    count = int(seconds * rate)

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            for _ in range(count):
                await asyncio.wait_for(reader.recv(), 10)
                result.received += 1

    reading = asyncio.create_task(read())
    for i in range(count):
        await sender.send(f"{i:06d}" + "x" * 4090)
        result.sent += 1
        await asyncio.sleep(1 / rate)
    await reading
    await close_all([sender, reader])


# -- a client that never reads ----------------------------------------------------------------------------------


def never_reading_socket(port: int, endpoint_id: str) -> socket.socket:
    """A raw TCP client with a small receive buffer that completes the WebSocket handshake request and then
    never calls recv again: the relay's writes pile up in its send buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/{endpoint_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def metric(relay: Relay, name: str) -> float:
    for line in relay.http("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@dataclass
class StuckResult:
    sent: int = 0
    per_reader: list[list[tuple[int, float, float]]] = field(default_factory=list)
    """(sequence, latency in seconds, arrival time since the start) per reader."""
    stuck_connected: bool = False
    first_drop_at: float | None = None
    send_seconds: float = 0.0
    connections_after: float = -1
    closed_4408_lines: int = 0
    relay_log: str = ""

    def rates(self, reader: int, window: float = 1.0) -> list[int]:
        """Deliveries to one reader per `window` seconds, over the sending time."""
        buckets = [0] * max(1, int(self.send_seconds / window))
        for _, _, at in self.per_reader[reader]:
            index = int(at / window)
            if index < len(buckets):
                buckets[index] += 1
        return buckets


def stuck_reader(tmp: Path, *, seconds: float = 15.0, rate: float = 200.0, size: int = 16384, readers: int = 2,
                 stuck: int = 1) -> StuckResult:
    """A sender streams `size`-byte binary frames at `rate`/s to reading clients and to `stuck` raw clients
    that never read; records each reader's deliveries and when the relay first drops a stuck client."""
    result = StuckResult()
    seeder = _prepare(f"sqlite:///{tmp / 'relay.db'}", tmp)
    endpoint = seeder.endpoint()
    relay = start_relay(tmp, seeder.url, RELAY_PING_INTERVAL="60", **FAST_LIMITS)
    try:
        asyncio.run(asyncio.wait_for(_stuck_traffic(relay, endpoint.endpoint_id, result, seconds=seconds, rate=rate,
                                                    size=size, readers=readers, stuck=stuck), seconds + 60))
    finally:
        relay.terminate()
        result.relay_log = relay.output()
        result.closed_4408_lines = len(log_lines(result.relay_log, r"connection closed .*code=4408"))
    return result


async def _stuck_traffic(relay: Relay, endpoint_id: str, result: StuckResult, *, seconds: float, rate: float,
                         size: int, readers: int, stuck: int) -> None:
    sender, _ = await join(relay.url(endpoint_id))
    clients = [(await join(relay.url(endpoint_id)))[0] for _ in range(readers)]
    sockets = [never_reading_socket(relay.port, endpoint_id) for _ in range(stuck)]
    expected = 1 + readers + stuck
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and await asyncio.to_thread(metric, relay, "relay_connections") < expected:
        await asyncio.sleep(0.05)
    result.stuck_connected = await asyncio.to_thread(metric, relay, "relay_connections") == expected
    result.per_reader = [[] for _ in clients]
    start = time.monotonic()

    async def read(index: int, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            while True:
                frame = await asyncio.wait_for(ws.recv(), 10)
                now = time.monotonic()
                assert isinstance(frame, bytes)
                seq, sent_at = struct.unpack_from("!Id", frame)
                result.per_reader[index].append((seq, now - sent_at, now - start))

    async def watch_drops() -> None:
        while result.first_drop_at is None:
            dropped = await asyncio.to_thread(metric, relay, 'relay_messages_dropped_total{reason="slow_consumer"}')
            if dropped:
                result.first_drop_at = time.monotonic() - start
            await asyncio.sleep(0.2)

    reading = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(clients)]
    watching = asyncio.create_task(watch_drops())
    padding = b"p" * (size - 12)
    count = int(seconds * rate)
    for seq in range(count):
        target = start + seq / rate
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        await sender.send(struct.pack("!Id", seq, time.monotonic()) + padding)
        result.sent += 1
    result.send_seconds = time.monotonic() - start
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(len(r) < result.sent for r in result.per_reader):
        await asyncio.sleep(0.1)
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    deadline = time.monotonic() + 15  # SLOW_CONSUMER_CLOSE_TIMEOUT_SECONDS, then the TCP connection is cut
    while time.monotonic() < deadline:
        result.connections_after = await asyncio.to_thread(metric, relay, "relay_connections")
        if result.connections_after == 1 + readers:
            break
        await asyncio.sleep(0.2)
    await close_all([sender, *clients])
    for task in reading:
        task.cancel()
    await asyncio.gather(*reading, return_exceptions=True)
    for sock in sockets:
        sock.close()
