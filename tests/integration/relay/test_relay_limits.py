"""Limits against a relay with small settings: rate limit, message size, connection cap, heartbeat drop."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Iterator

import orjson
import pytest

from tests.integration.relay.conftest import (
    Relay,
    Seeder,
    close_all,
    closed_with,
    join,
    module_relay,
    open_ws,
    recv,
    recv_json,
    run,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)
RATE = 5
MAX_CONNECTIONS = 3
MAX_BYTES = 1024
PING_INTERVAL = 1.0


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Relay, Seeder]]:
    tmp = tmp_path_factory.mktemp("limited")
    with module_relay(tmp, f"sqlite:///{tmp / 'relay.db'}", RELAY_RATE_LIMIT_PER_CONNECTION=str(RATE),
                      RELAY_MAX_CONNECTIONS_PER_ENDPOINT=str(MAX_CONNECTIONS), RELAY_MAX_MESSAGE_BYTES=str(MAX_BYTES),
                      RELAY_PING_INTERVAL=str(PING_INTERVAL)) as pair:
        yield pair


def test_rate_limit_drops_extra_messages_and_warns_once_a_second(limited: tuple[Relay, Seeder]) -> None:
    """Over RATE msg/s (burst 2x), extras are dropped and counted; the sender gets one RATE_LIMITED warning a second."""
    relay, seeder = limited
    endpoint = seeder.endpoint()
    sent = 40

    async def scenario() -> tuple[int, int]:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        for i in range(sent):
            await a.send(f"m{i}")
        warnings = []
        with_timeout = asyncio.timeout(0.6)
        try:
            async with with_timeout:
                while True:
                    warnings.append(await recv_json(a))
        except TimeoutError:
            pass
        assert len(warnings) == 1, warnings
        assert warnings[0]["type"] == "system" and warnings[0]["level"] == "warning"
        assert warnings[0]["code"] == "RATE_LIMITED"
        relayed = []
        try:
            async with asyncio.timeout(0.5):
                while True:
                    relayed.append((await recv_json(b))["data"])
        except TimeoutError:
            pass
        # the bucket starts full (2 x RATE) and refills at RATE per second while the burst is sent
        assert 2 * RATE <= len(relayed) <= 2 * RATE + 2 and relayed == [f"m{i}" for i in range(len(relayed))]
        await asyncio.sleep(1.1)  # a second later, the next excess earns a new warning
        for i in range(2 * RATE + 5):
            await a.send(f"again{i}")
        assert (await recv_json(a))["code"] == "RATE_LIMITED"
        await close_all([a, b])
        return len(relayed), 2 * RATE + 5

    accepted_first, second_burst = run(scenario())
    stats = wait_until(lambda: (s := seeder.stats(endpoint)).total_messages + s.dropped_messages == sent + second_burst
                       and s, timeout=3, what="counted messages")
    assert stats.dropped_messages >= sent - accepted_first


def test_oversized_frame_closes_with_1009(limited: tuple[Relay, Seeder]) -> None:
    """A frame of RELAY_MAX_MESSAGE_BYTES is relayed; one byte more closes the sender with 1009."""
    relay, seeder = limited
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send(b"x" * MAX_BYTES)
        assert await recv(b) == b"x" * MAX_BYTES
        await a.send("y" * (MAX_BYTES + 1))
        code, _ = await closed_with(a)
        assert code == 1009
        await b.send("b is still connected")
        await close_all([b])

    run(scenario())


def test_connection_cap_refuses_with_4429_until_someone_leaves(limited: tuple[Relay, Seeder]) -> None:
    """At RELAY_MAX_CONNECTIONS_PER_ENDPOINT the next client gets ENDPOINT_FULL/4429; after a leave one fits again."""
    relay, seeder = limited
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        clients = [(await join(relay.url(endpoint)))[0] for _ in range(MAX_CONNECTIONS)]
        extra = await open_ws(relay.url(endpoint))
        code, frames = await closed_with(extra)
        assert code == 4429 and orjson.loads(frames[0])["code"] == "ENDPOINT_FULL"
        await clients.pop().close()
        wait_for_slot = time.monotonic() + 3
        while True:
            late = await open_ws(relay.url(endpoint))
            first = orjson.loads(await recv(late))
            if first["code"] == "CONNECTED":
                break
            assert time.monotonic() < wait_for_slot, "the freed slot was never reused"
        await close_all([*clients, late])

    run(scenario())


async def _raw_handshake(port: int, endpoint_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that completes the WebSocket handshake by hand and then never answers anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/{endpoint_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def test_silent_peer_is_dropped_by_the_heartbeat(limited: tuple[Relay, Seeder]) -> None:
    """A peer that never answers pings is dropped after about two ping intervals; a live client stays connected."""
    relay, seeder = limited
    endpoint = seeder.endpoint()

    async def scenario() -> float:
        alive, _ = await join(relay.url(endpoint))
        reader, writer = await _raw_handshake(relay.port, endpoint.endpoint_id)
        started = time.monotonic()
        received = b""
        async with asyncio.timeout(4 * PING_INTERVAL + 6):
            while chunk := await reader.read(65536):
                received += chunk
        elapsed = time.monotonic() - started
        writer.close()
        assert b"\x89" in received  # the relay did ping it
        await alive.send('{"type":"ping"}')
        assert (await recv_json(alive))["type"] == "pong"
        await alive.close()
        return elapsed

    elapsed = run(scenario())
    assert elapsed >= PING_INTERVAL
    wait_until(lambda: seeder.stats(endpoint).current_connections == 0, timeout=3, what="no connection left")
    assert seeder.stats(endpoint).total_connections == 2
