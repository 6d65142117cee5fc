"""Bounded soak test: starts its own relay (`python -m relay_ws`) and REST API (`python -m relay_app.api`) on
free ports of 127.0.0.1 with a fresh SQLite database (or --database-url), runs steady mixed traffic for
--minutes, reports server RSS / open fds and traffic figures every --interval seconds, and ends with a
summary. Exit status 1 when messages were lost, long-lived connections closed unexpectedly, any loop hit
an error, the stored total_messages do not match what was sent, RSS grew >= 10 % after warm-up
(the first 2 minutes or the first 20 % of the run, whichever is shorter) or open fds grew.

Traffic, all at once:
  fanout  1 json endpoint: 1 sender (--fanout-rate msg/s) -> --receivers receivers; in-order, gap-checked
  rooms   --rooms direct endpoints x 2 clients ping-ponging a sequence number (--room-rate round trips/s each)
  churn   connect (read CONNECTED) + close in a loop on one endpoint, one connection in flight
  api     admin login (every 10 s), GET /api/endpoints, GET …/stats, GET /api/health (every --api-interval s)

Run: .venv/bin/python bench/soak.py [--minutes 10] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ADMIN = {"username": "soakadmin", "password": "soak-admin-pass-1", "email": "soak@example.com"}
SECRET = "soak-secret-key-0123456789abcdef0123456789"
OP_TIMEOUT = 10.0
"""Every single network operation of a traffic loop gives up after this many seconds (counted as an error)."""
RSS_GROWTH_LIMIT = 0.10
FD_SLACK = 2
"""Open fds may differ by the churn loop's in-flight connection (its socket on the relay, plus one spare)."""
SAMPLE_READINGS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Counters:
    """Everything the traffic loops count; read by the reporter."""

    fanout_sent: int = 0
    fanout_received: int = 0
    fanout_lost: int = 0
    room_sent: int = 0
    room_received: int = 0
    room_lost: int = 0
    churn_opened: int = 0
    api_requests: int = 0
    api_slowest: float = 0.0
    unexpected_closes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def error(self, where: str, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else f"{exc.__class__.__name__}: {exc}"
        self.errors.append(f"{time.strftime('%H:%M:%S')} {where}: {text}"[:300])

    def closed(self, where: str, exc: ConnectionClosed) -> None:
        code = exc.rcvd.code if exc.rcvd else None
        self.unexpected_closes.append(f"{time.strftime('%H:%M:%S')} {where}: close code {code}")


@dataclass
class Sample:
    at: float
    rss_kib: dict[str, int]
    fds: dict[str, int]


class Server:
    """One platform process with its log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], tmp: Path) -> None:
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.ps = psutil.Process(self.popen.pid)

    def wait_http(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name}: {url} did not answer in {timeout} s")

    def sample(self) -> tuple[int, int]:
        """(RSS in KiB, open fds) of the process and its children."""
        processes = [self.ps, *self.ps.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in processes) // 1024
        fds = sum(p.num_fds() for p in processes)
        return rss, fds

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


class Api:
    """The admin's view of the REST API, each request from a distinct documentation address."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=OP_TIMEOUT)
        self._addresses = itertools.count(1)
        self.token = ""

    def _headers(self) -> dict[str, str]:
        n = next(self._addresses)
        headers = {"X-Forwarded-For": f"198.51.{(n // 250) % 250}.{n % 250 + 1}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, headers=self._headers(), **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:200]}")
        return response.json()["data"]

    async def login(self) -> None:
        self.token = ""
        data = await self.call("POST", "/api/auth/login",
                               json={"username": ADMIN["username"], "password": ADMIN["password"]})
        self.token = data["token"]


async def open_ws(url: str) -> ClientConnection:
    return await connect(url, open_timeout=OP_TIMEOUT, close_timeout=2, max_size=2**20)


async def open_json(url: str) -> ClientConnection:
    ws = await open_ws(url)
    frame = orjson.loads(await asyncio.wait_for(ws.recv(), OP_TIMEOUT))
    if frame.get("code") != "CONNECTED":
        raise RuntimeError(f"expected CONNECTED, got {frame}")
    return ws


async def open_direct(url: str) -> ClientConnection:
    """A direct-mode connection, registered once its ping is answered."""
    ws = await open_ws(url)
    await ws.send('{"type":"ping"}')
    await asyncio.wait_for(ws.recv(), OP_TIMEOUT)
    return ws


class Soak:
    def __init__(self, args: argparse.Namespace, relay_base: str, api: Api, ids: dict[str, Any],
                 servers: list[Server]) -> None:
        self.args = args
        self.relay = relay_base
        self.api = api
        self.ids = ids
        self.servers = servers
        self.c = Counters()
        self.stop = asyncio.Event()
        self.samples: list[Sample] = []
        self.started = time.monotonic()

    # -- fan-out -----------------------------------------------------------------------------------

    async def fanout(self) -> None:
        url = f"{self.relay}/ws/{self.ids['fanout']}"
        receivers = [await open_json(url) for _ in range(self.args.receivers)]
        sender = await open_json(url)
        readers = [asyncio.create_task(self._fanout_reader(ws, i)) for i, ws in enumerate(receivers)]
        period = 1 / self.args.fanout_rate
        next_at = time.monotonic()
        try:
            while not self.stop.is_set():
                try:
                    await asyncio.wait_for(sender.send(orjson.dumps({"type": "m", "data": self.c.fanout_sent})),
                                           OP_TIMEOUT)
                    self.c.fanout_sent += 1
                except ConnectionClosed as exc:
                    self.c.closed("fanout sender", exc)
                    sender = await open_json(url)
                except TimeoutError:
                    self.c.error("fanout sender", "send timed out")
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            # let the receivers drain what is in flight, then count the tail as lost
            deadline = time.monotonic() + OP_TIMEOUT + 5
            while time.monotonic() < deadline and any(not t.done() for t in readers):
                await asyncio.sleep(0.1)
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for ws in [*receivers, sender]:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 3)

    async def _fanout_reader(self, ws: ClientConnection, index: int) -> None:
        url = f"{self.relay}/ws/{self.ids['fanout']}"
        expected: int | None = 0
        while True:
            if self.stop.is_set() and expected is not None and expected >= self.c.fanout_sent:
                return
            try:
                raw = await asyncio.wait_for(ws.recv(), OP_TIMEOUT)
            except TimeoutError:
                if self.stop.is_set():
                    assert expected is not None
                    self.c.fanout_lost += self.c.fanout_sent - expected
                    return
                self.c.error(f"fanout receiver {index}", "nothing received for 10 s")
                continue
            except ConnectionClosed as exc:
                self.c.closed(f"fanout receiver {index}", exc)
                ws = await open_json(url)
                expected = None  # what was sent while reconnecting is attributed to the close
                continue
            seq = orjson.loads(raw)["data"]
            if expected is not None and seq > expected:
                self.c.fanout_lost += seq - expected
            self.c.fanout_received += 1
            expected = seq + 1

    # -- rooms ----------------------------------------------------------------------------------------

    async def rooms(self) -> None:
        await asyncio.gather(*(self._pair(i, endpoint_id) for i, endpoint_id in enumerate(self.ids["rooms"])))

    async def _pair(self, index: int, endpoint_id: str) -> None:
        url = f"{self.relay}/ws/{endpoint_id}"
        a, b = await open_direct(url), await open_direct(url)
        period = 1 / self.args.room_rate
        seq = 0
        await asyncio.sleep(index * period / max(1, len(self.ids["rooms"])))  # spread the pairs over a period
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                for src, dst in ((a, b), (b, a)):
                    try:
                        await asyncio.wait_for(src.send(str(seq)), OP_TIMEOUT)
                        self.c.room_sent += 1
                        await self._expect(dst, seq)
                    except ConnectionClosed as exc:
                        self.c.closed(f"room {index}", exc)
                        with contextlib.suppress(Exception):
                            await a.close()
                            await b.close()
                        a, b = await open_direct(url), await open_direct(url)
                        break
                    except TimeoutError:
                        self.c.error(f"room {index}", "send timed out")
                    seq += 1
                await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
        finally:
            for ws in (a, b):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 3)

    async def _expect(self, ws: ClientConnection, seq: int) -> None:
        """Read until `seq` arrives; older numbers are late arrivals, a timeout is a lost message."""
        deadline = time.monotonic() + OP_TIMEOUT
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                self.c.room_lost += 1
                return
            got = int(raw)
            if got == seq:
                self.c.room_received += 1
                return
            if got > seq:
                self.c.error("room", f"expected {seq}, got {got}")
                return

    # -- churn and API ----------------------------------------------------------------------------------

    async def churn(self) -> None:
        url = f"{self.relay}/ws/{self.ids['churn']}"
        while not self.stop.is_set():
            try:
                ws = await open_json(url)
                await asyncio.wait_for(ws.close(), OP_TIMEOUT)
                self.c.churn_opened += 1
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, RuntimeError) as exc:
                self.c.error("churn", exc)
                await asyncio.sleep(1)
            await asyncio.sleep(1 / self.args.churn_rate)

    async def api_traffic(self) -> None:
        last_login = 0.0
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                if started - last_login >= 10:
                    await self.api.login()
                    last_login = started
                    self.c.api_requests += 1
                await self.api.call("GET", "/api/endpoints")
                await self.api.call("GET", f"/api/endpoints/{self.ids['fanout']}/stats")
                await self.api.call("GET", "/api/health")
                self.c.api_requests += 3
            except (httpx.HTTPError, RuntimeError) as exc:
                self.c.error("api", exc)
            elapsed = time.monotonic() - started
            self.c.api_slowest = max(self.c.api_slowest, elapsed / 3)
            await asyncio.sleep(max(0.0, self.args.api_interval - elapsed))

    # -- reporting ---------------------------------------------------------------------------------------

    async def take_sample(self) -> Sample:
        """The lowest of SAMPLE_READINGS readings 0.2 s apart: a password hash in flight (argon2 takes tens of
        MiB for a moment) or a churn socket is not growth; a leak raises the floor."""
        rss: dict[str, int] = {}
        fds: dict[str, int] = {}
        for reading in range(SAMPLE_READINGS):
            if reading:
                await asyncio.sleep(0.2)
            for server in self.servers:
                r, f = server.sample()
                rss[server.name] = min(r, rss.get(server.name, r))
                fds[server.name] = min(f, fds.get(server.name, f))
        sample = Sample(time.monotonic() - self.started, rss, fds)
        self.samples.append(sample)
        return sample

    def report_line(self, sample: Sample) -> str:
        c = self.c
        servers = " ".join(f"{n}: rss={sample.rss_kib[n] / 1024:.1f}MiB fds={sample.fds[n]}" for n in sample.rss_kib)
        return (f"[{sample.at / 60:5.1f} min] {servers} | fanout sent={c.fanout_sent} recv={c.fanout_received} "
                f"lost={c.fanout_lost} | rooms sent={c.room_sent} recv={c.room_received} lost={c.room_lost} | "
                f"churn={c.churn_opened} api={c.api_requests} | unexpected_closes={len(c.unexpected_closes)} "
                f"errors={len(c.errors)}")

    async def reporter(self) -> None:
        while not self.stop.is_set():
            print(self.report_line(await self.take_sample()), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.args.interval)
            for server in self.servers:
                if server.popen.poll() is not None:
                    self.c.error(server.name, f"process exited with {server.popen.returncode}")
                    self.stop.set()

    async def run(self) -> None:
        seconds = self.args.minutes * 60
        tasks = [asyncio.create_task(coro) for coro in
                 (self.fanout(), self.rooms(), self.churn(), self.api_traffic(), self.reporter())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)
        await self.take_sample()  # the final sample, under the same load as the others
        self.stop.set()
        done, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
            self.c.error("shutdown", f"{task.get_coro().__qualname__} did not stop in 60 s")
        for task in done:
            if task.exception() is not None:
                self.c.error("loop", task.exception() or "")


async def seed(api: Api, rooms: int) -> dict[str, Any]:
    """The admin's endpoints, created through the API (admins have no endpoint limit)."""
    await api.login()
    fanout = await api.call("POST", "/api/endpoints", json={"name": "soak fanout"})
    churn = await api.call("POST", "/api/endpoints", json={"name": "soak churn"})
    pairs = [await api.call("POST", "/api/endpoints", json={"name": f"soak room {i}", "forwarding_mode": "direct"})
             for i in range(rooms)]
    return {"fanout": fanout["endpoint_id"], "churn": churn["endpoint_id"],
            "rooms": [p["endpoint_id"] for p in pairs]}


def verdict(soak: Soak, stored: dict[str, int], args: argparse.Namespace) -> list[str]:
    c = soak.c
    failures: list[str] = []
    if c.fanout_lost or c.room_lost:
        failures.append(f"messages lost: fanout {c.fanout_lost}, rooms {c.room_lost}")
    if c.unexpected_closes:
        failures.append(f"{len(c.unexpected_closes)} unexpected closes, first: {c.unexpected_closes[0]}")
    if c.errors:
        failures.append(f"{len(c.errors)} errors, first: {c.errors[0]}")
    if stored["fanout"] != c.fanout_sent or stored["rooms"] != c.room_sent:
        failures.append(f"stored total_messages fanout={stored['fanout']} rooms={stored['rooms']} "
                        f"!= sent fanout={c.fanout_sent} rooms={c.room_sent}")
    warmup = min(120.0, 0.2 * args.minutes * 60)
    after = [s for s in soak.samples if s.at >= warmup]
    if len(after) < 2:
        failures.append("too few samples after warm-up to judge memory")
        return failures
    base, last = after[0], after[-1]
    for name in base.rss_kib:
        growth = (last.rss_kib[name] - base.rss_kib[name]) / base.rss_kib[name]
        if growth >= RSS_GROWTH_LIMIT:
            failures.append(f"{name} RSS grew {growth:.1%} after warm-up "
                            f"({base.rss_kib[name]} -> {last.rss_kib[name]} KiB)")
        if last.fds[name] > base.fds[name] + FD_SLACK:
            failures.append(f"{name} open fds grew {base.fds[name]} -> {last.fds[name]}")
    return failures


def summary(soak: Soak, stored: dict[str, int], args: argparse.Namespace, failures: list[str]) -> str:
    c = soak.c
    warmup = min(120.0, 0.2 * args.minutes * 60)
    after = [s for s in soak.samples if s.at >= warmup] or soak.samples
    lines = [f"soak summary: {args.minutes:g} min, warm-up {warmup:.0f} s, {len(soak.samples)} samples"]
    for name in soak.samples[0].rss_kib:
        rss = [s.rss_kib[name] for s in after]
        fds = [s.fds[name] for s in after]
        lines.append(f"  {name}: RSS after warm-up {rss[0] / 1024:.1f} -> {rss[-1] / 1024:.1f} MiB "
                     f"(max {max(rss) / 1024:.1f}, change {(rss[-1] - rss[0]) / rss[0]:+.1%}); "
                     f"fds {fds[0]} -> {fds[-1]} (max {max(fds)}); at start {soak.samples[0].rss_kib[name] / 1024:.1f}"
                     f" MiB, {soak.samples[0].fds[name]} fds")
    lines += [
        f"  fanout: sent {c.fanout_sent}, delivered {c.fanout_received} of {c.fanout_sent * args.receivers}, "
        f"lost {c.fanout_lost}; stored total_messages {stored['fanout']}",
        f"  rooms: sent {c.room_sent}, received {c.room_received}, lost {c.room_lost}; "
        f"stored total_messages {stored['rooms']}",
        f"  churn: {c.churn_opened} connections opened and closed",
        f"  api: {c.api_requests} requests, slowest ~{c.api_slowest * 1000:.0f} ms",
        f"  unexpected closes: {len(c.unexpected_closes)}; errors: {len(c.errors)}",
        *(f"    {line}" for line in (c.unexpected_closes + c.errors)[:20]),
        "RESULT: " + ("PASS" if not failures else "FAIL\n  " + "\n  ".join(failures)),
    ]
    return "\n".join(lines)


async def stored_totals(api: Api, ids: dict[str, Any]) -> dict[str, int]:
    """total_messages as the API shows them, once the relay had time to flush."""
    await asyncio.sleep(2)
    await api.login()
    endpoints = {e["endpoint_id"]: e["stats"]["total_messages"] for e in await api.call("GET", "/api/endpoints")}
    return {"fanout": endpoints[ids["fanout"]], "rooms": sum(endpoints[i] for i in ids["rooms"])}


async def soak_session(args: argparse.Namespace, api_base: str, relay_base: str,
                       servers: list[Server]) -> tuple[Soak, dict[str, int]]:
    api = Api(api_base)
    ids = await seed(api, args.rooms)
    soak = Soak(args, relay_base, Api(api_base), ids, servers)
    await asyncio.wait_for(soak.run(), args.minutes * 60 + 120)
    return soak, await stored_totals(api, ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between reports")
    parser.add_argument("--receivers", type=int, default=20)
    parser.add_argument("--fanout-rate", type=float, default=50.0, help="fan-out messages per second")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--room-rate", type=float, default=5.0, help="round trips per second per room")
    parser.add_argument("--churn-rate", type=float, default=10.0, help="connections per second")
    parser.add_argument("--api-interval", type=float, default=1.0)
    args = parser.parse_args()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="relay-soak-"))
    url = args.database_url or f"sqlite:///{tmp / 'soak.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    ws_port, api_port = free_port(), free_port()
    env.update(RELAY_DATABASE_URL=url, RELAY_DATA_DIR=str(tmp / "data"), RELAY_SECRET_KEY=SECRET,
               RELAY_WS_HOST=HOST, RELAY_WS_PORT=str(ws_port), RELAY_RATE_LIMIT_PER_CONNECTION="1000",
               RELAY_ADMIN_USERNAME=ADMIN["username"], RELAY_ADMIN_PASSWORD=ADMIN["password"],
               RELAY_ADMIN_EMAIL=ADMIN["email"], PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    print(f"soak: {args.minutes:g} min, database {url.split('@')[-1]}, logs in {tmp}", flush=True)
    api_server = Server("api", [sys.executable, "-m", "relay_app.api", "--host", HOST, "--port", str(api_port)],
                        env, tmp)
    servers = [api_server]
    try:
        api_server.wait_http(f"http://{HOST}:{api_port}/api/health")
        relay = Server("relay", [sys.executable, "-m", "relay_ws"], env, tmp)
        servers.append(relay)
        relay.wait_http(f"http://{HOST}:{ws_port}/healthz")
        soak, stored = asyncio.run(soak_session(args, f"http://{HOST}:{api_port}", f"ws://{HOST}:{ws_port}",
                                                [relay, api_server]))
        failures = verdict(soak, stored, args)
        print(summary(soak, stored, args, failures), flush=True)
        for server in servers:
            log = server.log_path.read_text(errors="replace")
            if "Traceback" in log:
                print(f"{server.name} log holds a traceback (see {server.log_path})", flush=True)
                failures.append(f"traceback in {server.name} log")
        return 1 if failures else 0
    finally:
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
