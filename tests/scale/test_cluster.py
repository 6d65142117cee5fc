"""Three relay nodes as separate processes over the machine's Redis and PostgreSQL, with the API beside them."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.integration.api.client import Account, Api
from tests.integration.relay.conftest import Relay, run, start_relay, wait_until
from tests.support import REDIS_TEST_URL, api_server, free_port, postgres_database, require_service

FAST = {"RELAY_RATE_LIMIT_PER_CONNECTION": "100000", "RELAY_MAX_CONNECTIONS_PER_ENDPOINT": "1000"}


@dataclass
class Cluster:
    api: Api
    admin: Account
    relays: list[Relay]
    database_url: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_service("Redis", "127.0.0.1", 6379)
    tmp = tmp_path_factory.mktemp("cluster")
    with postgres_database() as url:
        admin_env = {"RELAY_ADMIN_USERNAME": "clusteradmin", "RELAY_ADMIN_PASSWORD": "cluster-pass-1",
                     "RELAY_ADMIN_EMAIL": "cluster@example.com"}
        with api_server(tmp, url, **admin_env) as (base_url, _process):
            api = Api(base_url)
            relays: list[Relay] = []
            try:
                for i in range(3):
                    relays.append(start_relay(tmp, url, name=f"node{i}", RELAY_REDIS_URL=REDIS_TEST_URL,
                                              RELAY_NODE_ID=f"node{i}-{os.getpid()}", **FAST))
                yield Cluster(api=api, admin=api.login("clusteradmin", "cluster-pass-1"), relays=relays,
                              database_url=url)
            finally:
                for relay in relays:
                    relay.terminate()


async def _open(url: str) -> ClientConnection:
    ws = await connect(url, open_timeout=10, max_size=None)
    hello = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["code"] == "CONNECTED", hello
    return ws


async def _settle(clients: list[ClientConnection]) -> None:
    """Each client sends a probe until every other client has seen one: subscriptions are in place."""
    for i, sender in enumerate(clients):
        pending = [c for c in clients if c is not sender]
        while pending:
            await sender.send(orjson.dumps({"type": "probe", "data": f"probe-{i}"}).decode())
            still = []
            for receiver in pending:
                try:
                    while True:
                        frame = orjson.loads(await asyncio.wait_for(receiver.recv(), 0.3))
                        if frame.get("data") == f"probe-{i}":
                            break
                except TimeoutError:
                    still.append(receiver)
            pending = still
    for client in clients:  # drain the duplicate probes
        try:
            while True:
                await asyncio.wait_for(client.recv(), 0.3)
        except TimeoutError:
            pass


def test_every_message_reaches_every_other_client_once_across_nodes(cluster: Cluster) -> None:
    """10,002 messages from senders on three nodes: each other client of the endpoint gets each exactly once,
    in order per sender; the clients of another endpoint get none."""
    user = cluster.api.new_user(cluster.admin)
    shared = cluster.api.new_endpoint(user, name="shared")["endpoint_id"]
    other = cluster.api.new_endpoint(user, name="other")["endpoint_id"]
    per_sender = 3334

    async def scenario() -> None:
        clients = [await _open(f"ws://127.0.0.1:{r.port}/ws/{shared}") for r in cluster.relays for _ in range(2)]
        bystanders = [await _open(f"ws://127.0.0.1:{r.port}/ws/{other}") for r in cluster.relays]
        await _settle(clients)
        senders = clients[::2]  # one per node
        received: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(clients))}
        expected_each = {i: per_sender * (len(senders) - (1 if clients[i] in senders else 0))
                         for i in range(len(clients))}

        async def send(index: int, ws: ClientConnection) -> None:
            for seq in range(per_sender):
                await ws.send(orjson.dumps({"type": "msg", "data": [index, seq]}).decode())

        async def receive(i: int, ws: ClientConnection) -> None:
            while len(received[i]) < expected_each[i]:
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame.get("type") == "message" and isinstance(frame.get("data"), list):
                    received[i].append((frame["data"][0], frame["data"][1]))

        await asyncio.gather(*(receive(i, ws) for i, ws in enumerate(clients)),
                             *(send(i, ws) for i, ws in enumerate(senders)))
        await asyncio.sleep(1.0)  # anything extra (a duplicate) would arrive now
        for i, ws in enumerate(clients):
            extra = 0
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 0.2)
                    extra += 1
            except TimeoutError:
                pass
            assert extra == 0, f"client {i} got {extra} duplicate frames"
            own = senders.index(ws) if ws in senders else None
            for sender in range(len(senders)):
                got = [seq for s, seq in received[i] if s == sender]
                assert got == ([] if sender == own else list(range(per_sender))), (i, sender, len(got))
        assert sum(len(v) for v in received.values()) == sum(expected_each.values())
        for ws in bystanders:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)
        for ws in clients + bystanders:
            await ws.close()

    run(scenario(), timeout=240)


async def _expect_close(ws: ClientConnection, code: int, within: float) -> None:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    except ConnectionClosed:
        pass
    assert ws.close_code == code, ws.close_code


def test_delete_and_ban_through_the_api_close_clients_on_every_node(cluster: Cluster) -> None:
    """DELETE of an endpoint closes its clients on all three nodes with 4404, a ban with 4403, within 5 s."""
    api = cluster.api
    owner, banned = api.new_user(cluster.admin), api.new_user(cluster.admin)
    doomed = api.new_endpoint(owner)["endpoint_id"]
    banned_endpoint = api.new_endpoint(banned)["endpoint_id"]

    async def scenario() -> None:
        on_doomed = [await _open(f"ws://127.0.0.1:{r.port}/ws/{doomed}") for r in cluster.relays]
        on_banned = [await _open(f"ws://127.0.0.1:{r.port}/ws/{banned_endpoint}") for r in cluster.relays]
        started = time.monotonic()
        response = await asyncio.to_thread(api.request, "DELETE", f"/api/endpoints/{doomed}", account=owner)
        assert response.status_code == 204
        await asyncio.gather(*(_expect_close(ws, 4404, 5) for ws in on_doomed))
        assert time.monotonic() - started < 5
        started = time.monotonic()
        response = await asyncio.to_thread(api.request, "POST", f"/api/admin/users/{banned.id}/ban",
                                           account=cluster.admin, json={"reason": "cluster test"})
        assert response.status_code == 200
        await asyncio.gather(*(_expect_close(ws, 4403, 5) for ws in on_banned))
        assert time.monotonic() - started < 5

    run(scenario(), timeout=60)


def _relay_pair(ws_a: ClientConnection, ws_b: ClientConnection, text: str) -> Any:
    async def check() -> bool:
        await ws_a.send(orjson.dumps({"type": "msg", "data": text}).decode())
        try:
            while True:
                frame = orjson.loads(await asyncio.wait_for(ws_b.recv(), 0.5))
                if frame.get("data") == text:
                    return True
        except TimeoutError:
            return False

    return check


def test_killed_node_stops_counting_and_the_others_keep_relaying(cluster: Cluster, tmp_path: Path) -> None:
    """kill -9 of a node with 3 clients: the other nodes still relay, and current_connections drops to the
    survivors' count within 30 s."""
    api = cluster.api
    owner = api.new_user(cluster.admin)
    endpoint = api.new_endpoint(owner)["endpoint_id"]
    victim = start_relay(tmp_path, cluster.database_url, name="victim", RELAY_REDIS_URL=REDIS_TEST_URL,
                         RELAY_NODE_ID=f"victim-{os.getpid()}", **FAST)

    def current() -> int:
        stats = api.request("GET", f"/api/endpoints/{endpoint}/stats", account=owner).json()["data"]
        return int(stats["current_connections"])

    async def scenario() -> None:
        survivors = [await _open(f"ws://127.0.0.1:{r.port}/ws/{endpoint}") for r in cluster.relays[:2]]
        doomed = [await _open(f"ws://127.0.0.1:{victim.port}/ws/{endpoint}") for _ in range(3)]
        await asyncio.to_thread(wait_until, lambda: current() == 5, timeout=10, what="5 connections counted")
        victim.kill9()
        for ws in doomed:
            ws.transport.abort()
        started = time.monotonic()
        await asyncio.to_thread(wait_until, lambda: current() == 2, timeout=30, interval=0.5,
                                what="the dead node's share to stop counting")
        assert time.monotonic() - started <= 30
        check = _relay_pair(survivors[0], survivors[1], "still here")
        for _ in range(20):
            if await check():
                break
        else:
            pytest.fail("the surviving nodes stopped relaying")

    try:
        run(scenario(), timeout=90)
    finally:
        victim.terminate()


def test_killed_redis_connections_recover_without_a_restart(cluster: Cluster) -> None:
    """CLIENT KILL of every Redis connection: cross-node relaying resumes within 10 s, no node exits."""
    import redis

    api = cluster.api
    owner = api.new_user(cluster.admin)
    endpoint = api.new_endpoint(owner)["endpoint_id"]

    async def scenario() -> None:
        a = await _open(f"ws://127.0.0.1:{cluster.relays[0].port}/ws/{endpoint}")
        b = await _open(f"ws://127.0.0.1:{cluster.relays[1].port}/ws/{endpoint}")
        await _settle([a, b])
        killer = redis.Redis.from_url(REDIS_TEST_URL)
        killer.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        killer.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        killer.close()
        started = time.monotonic()
        check = _relay_pair(a, b, "after the kill")
        while not await check():
            assert time.monotonic() - started < 10, "relaying across nodes did not resume within 10 s"
        assert all(r.process.popen.poll() is None for r in cluster.relays)

    run(scenario(), timeout=60)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A redis-server of this test's own on a free port, so it can be stopped and started again."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("RELAY_REQUIRE_SERVICES") == "1":
            pytest.fail("redis-server is not installed and RELAY_REQUIRE_SERVICES=1")
        pytest.skip("redis-server is not installed")
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_until(lambda: _answers(port), timeout=10, what="redis-server to start")

    def stop() -> None:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", (start, stop)
    finally:
        stop()


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_redis_restart_keeps_local_traffic_and_resumes_cross_node(cluster: Cluster, tmp_path: Path,
                                                                   private_redis: tuple[str, Any]) -> None:
    """With Redis down, each node still relays among its own clients and /healthz says 503; after Redis
    comes back, cross-node relaying resumes within 10 s and /healthz is 200 again, with no process exit."""
    url, (start_redis, stop_redis) = private_redis
    require_service("Redis", "127.0.0.1", 6379)
    nodes = [start_relay(tmp_path, cluster.database_url, name=f"r{i}", RELAY_REDIS_URL=url,
                         RELAY_NODE_ID=f"restart{i}-{os.getpid()}", **FAST) for i in range(2)]
    owner = cluster.api.new_user(cluster.admin)
    endpoint = cluster.api.new_endpoint(owner)["endpoint_id"]

    async def scenario() -> None:
        a1 = await _open(f"ws://127.0.0.1:{nodes[0].port}/ws/{endpoint}")
        a2 = await _open(f"ws://127.0.0.1:{nodes[0].port}/ws/{endpoint}")
        b = await _open(f"ws://127.0.0.1:{nodes[1].port}/ws/{endpoint}")
        await _settle([a1, a2, b])
        stop_redis()
        await asyncio.to_thread(wait_until, lambda: nodes[0].http("/healthz").status_code == 503, timeout=15,
                                what="/healthz to report Redis down")
        local = _relay_pair(a1, a2, "local while redis is down")
        assert await local(), "a node stopped relaying among its own clients while Redis was down"
        start_redis()
        started = time.monotonic()
        cross = _relay_pair(a1, b, "across after restart")
        while not await cross():
            assert time.monotonic() - started < 10, "cross-node relaying did not resume within 10 s"
        await asyncio.to_thread(wait_until, lambda: nodes[0].http("/healthz").status_code == 200, timeout=10,
                                what="/healthz to recover")
        assert all(n.process.popen.poll() is None for n in nodes)
        assert "redis unreachable" in nodes[0].output() and "redis reconnected" in nodes[0].output()

    try:
        run(scenario(), timeout=120)
    finally:
        for node in nodes:
            node.terminate()
