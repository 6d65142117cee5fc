"""The relay process's life: start options, bad settings, SIGTERM, kill -9 and restart, mass disconnects,
slow consumers. Each test starts its own relay on a fresh SQLite database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from relay_core.bootstrap import prepare_database
from relay_core.db import dispose_engines
from relay_core.settings import Settings
from tests.integration.relay.conftest import (
    FAST_LIMITS,
    RelayFactory,
    Seeder,
    close_all,
    closed_with,
    join,
    joined_direct,
    recv,
    run,
    start_relay,
    wait_until,
)
from tests.support import PG_ADMIN_URL, ROOT, base_env, free_port, postgres_database

pytestmark = pytest.mark.timeout(120)


def test_help_lists_the_options(tmp_path: Path) -> None:
    """`python -m relay_ws --help` exits 0 and names --host and --port."""
    done = subprocess.run([sys.executable, "-m", "relay_ws", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30, env=base_env(tmp_path, "sqlite:///unused.db"))
    assert done.returncode == 0 and "--host" in done.stdout and "--port" in done.stdout


@pytest.mark.parametrize("variable, value", [("RELAY_WS_PORT", "not-a-port"), ("RELAY_PING_INTERVAL", "-1"),
                                             ("RELAY_DATABASE_URL", "mysql://nope")])
def test_bad_setting_exits_2_with_one_line_naming_it(tmp_path: Path, variable: str,
                                                     value: str) -> None:
    """A bad RELAY_* value stops the relay at start with status 2 and one stderr line naming the variable."""
    env = base_env(tmp_path, "sqlite:///unused.db", **{variable: value})
    done = subprocess.run([sys.executable, "-m", "relay_ws"], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          env=env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and variable in lines[0]


def test_port_option_overrides_the_environment(relay_factory: RelayFactory, fresh_db: Seeder) -> None:
    """--port wins over RELAY_WS_PORT: the relay answers /healthz on the option's port."""
    port = free_port()
    env = base_env(relay_factory.tmp, fresh_db.url, RELAY_WS_PORT="1")
    log = (relay_factory.tmp / "override.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "relay_ws", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(healthy, timeout=20, interval=0.1, what="relay on --port")
    finally:
        process.terminate()
        assert process.wait(20) == 0
        log.close()


def test_sigterm_closes_everyone_with_1001_flushes_and_exits_0(relay_factory: RelayFactory, fresh_db: Seeder) -> None:
    """On SIGTERM every client (json and direct) gets 1001, the process exits 0 and the stats are all written."""
    relay = relay_factory(**FAST_LIMITS)
    json_ep, direct_ep = fresh_db.endpoint(), fresh_db.endpoint(forwarding_mode="direct")

    async def scenario() -> list[int | None]:
        (a, _), (b, _) = await join(relay.url(json_ep)), await join(relay.url(json_ep))
        d = await joined_direct(relay.url(direct_ep))
        for i in range(25):
            await a.send(f"m{i}")
        for _ in range(25):
            await recv(b)
        exit_code = await asyncio.to_thread(relay.terminate)
        codes = [(await closed_with(ws, 5))[0] for ws in (a, b, d)]
        return [exit_code, *codes]

    exit_code, *codes = run(scenario())
    assert exit_code == 0, relay.output()[-2000:]
    assert codes == [1001, 1001, 1001]
    stats = fresh_db.stats(json_ep)
    assert (stats.current_connections, stats.total_connections, stats.total_messages) == (0, 2, 25)
    assert fresh_db.stats(direct_ep).current_connections == 0
    assert "Traceback" not in relay.output()


def test_restart_after_kill_9_leaves_no_phantom_connections(relay_factory: RelayFactory, fresh_db: Seeder) -> None:
    """After kill -9 the stored connections linger; the restarted node (same HOST:PORT) zeroes them at start."""
    relay = relay_factory()
    endpoint = fresh_db.endpoint()

    async def connect_three() -> None:
        clients = [(await join(relay.url(endpoint)))[0] for _ in range(3)]
        wait_until(lambda: fresh_db.stats(endpoint).current_connections == 3, timeout=2, what="3 connected")
        relay.kill9()
        for ws in clients:
            assert (await closed_with(ws, 5))[0] == 1006

    run(connect_three())
    assert fresh_db.stats(endpoint).current_connections == 3  # the dead node's share, still "fresh"
    again = start_relay(relay_factory.tmp, fresh_db.url, port=relay.port, name="restarted")
    relay_factory.started.append(again)
    assert fresh_db.stats(endpoint).current_connections == 0
    assert fresh_db.stats(endpoint).total_connections == 3


def test_hundred_clients_leaving_cleanly_or_by_dropping_tcp_leave_zero(
    relay_factory: RelayFactory, fresh_db: Seeder,
) -> None:
    """100 clients, 50 closing cleanly and 50 aborting TCP: stored current_connections is 0 within 2 s, total 100."""
    relay = relay_factory(**FAST_LIMITS)
    endpoint = fresh_db.endpoint()

    async def scenario() -> float:
        clients = await asyncio.gather(*(join(relay.url(endpoint)) for _ in range(100)))
        sockets = [ws for ws, _ in clients]
        wait_until(lambda: fresh_db.stats(endpoint).current_connections == 100, timeout=3, what="100 connected")
        await close_all(sockets[:50])
        for ws in sockets[50:]:
            ws.transport.abort()
        return time.monotonic()

    left_at = run(scenario())
    wait_until(lambda: fresh_db.stats(endpoint).current_connections == 0, timeout=2, interval=0.05,
               what="0 connected")
    assert time.monotonic() - left_at <= 2.5
    assert fresh_db.stats(endpoint).total_connections == 100


def test_slow_consumer_is_closed_with_4408_while_others_keep_up(relay_factory: RelayFactory, fresh_db: Seeder) -> None:
    """A receiver that stops reading while the endpoint streams ~20 MB is closed with 4408; a reading one gets all."""
    relay = relay_factory(RELAY_MAX_MESSAGE_BYTES="65536", **FAST_LIMITS)
    endpoint = fresh_db.endpoint()
    chunk = b"z" * 65536
    count = 300
    window = 8  # chunks the sender may be ahead of the reader: 512 KiB, well under the 2 MiB slow-consumer limit

    def slow_consumer_dropped() -> bool:
        return 'relay_messages_dropped_total{reason="slow_consumer"}' in relay.http("/metrics").text

    async def scenario() -> None:
        sender, _ = await join(relay.url(endpoint), max_queue=4)
        reader, _ = await join(relay.url(endpoint))
        stalled, _ = await join(relay.url(endpoint), max_queue=4)
        got = 0
        progress = asyncio.Event()

        async def read_all() -> int:
            nonlocal got
            while got < count:
                assert await recv(reader, 20) == chunk
                got += 1
                progress.set()
            return got

        async def drain_stalled_once_declared_slow() -> tuple[int | None, list[str | bytes]]:
            # The relay gives a 4408'd peer 10 s to read up to the close frame; start reading as soon as the
            # relay has decided (not after the whole stream, which may take longer on a busy machine).
            deadline = time.monotonic() + 60
            while not await asyncio.to_thread(slow_consumer_dropped):
                assert time.monotonic() < deadline, "the stalled receiver was never declared slow"
                await asyncio.sleep(0.1)
            return await closed_with(stalled, 30)

        reading = asyncio.create_task(read_all())
        stalled_outcome = asyncio.create_task(drain_stalled_once_declared_slow())
        for sent in range(count):
            # pace the sender by the reader, so only the stalled receiver can build a backlog, however slow
            # this machine is today
            while sent - got >= window:
                progress.clear()
                await asyncio.wait_for(progress.wait(), 20)
            await sender.send(chunk)
        assert await reading == count
        code, frames = await stalled_outcome
        assert code == 4408 and len(frames) < count + 1
        await close_all([sender, reader])

    run(scenario(), timeout=110)
    metrics = relay.http("/metrics").text
    assert 'relay_messages_dropped_total{reason="slow_consumer"}' in metrics


@pytest.mark.postgres
def test_healthz_is_503_while_the_database_is_gone(tmp_path: Path) -> None:
    """When the relay's PostgreSQL database disappears, /healthz answers 503 (and 200 before)."""
    with postgres_database() as url:
        prepare_database(Settings(database_url=url, _env_file=None), bootstrap=False)  # type: ignore[call-arg]
        relay = start_relay(tmp_path, url)
        try:
            assert relay.http("/healthz").status_code == 200
            dispose_engines()
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
            admin.dispose()
            wait_until(lambda: relay.http("/healthz").status_code == 503, timeout=10, interval=0.2,
                       what="/healthz 503")
        finally:
            relay.terminate()
