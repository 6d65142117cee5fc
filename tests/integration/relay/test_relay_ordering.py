"""Order and back-pressure per sender across the relay's two paths: frames handled on arrival, and frames
that wait in the read loop (identify, which stores the device first; fragmented messages). A burst sent
without waiting for any answer must come out in the order it went in, for the other clients and for the
sender's own replies."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.integration.relay.conftest import (
    Relay,
    Seeder,
    close_all,
    join,
    joined_direct,
    nothing_arrives,
    recv,
    recv_json,
    run,
)

pytestmark = pytest.mark.timeout(120)


def test_a_burst_around_identify_keeps_its_order(shared: tuple[Relay, Seeder]) -> None:
    """Messages, identify, more messages and a ping sent without waiting: the receiver gets the messages in
    order, untagged before the identify and tagged after it; the sender gets identified before its pong."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        for n in range(20):
            await a.send(f"before {n}")
        await a.send('{"type":"identify","deviceId":"burst-device"}')
        for n in range(20):
            await asyncio.sleep(0.001)  # spread out, so that some arrive while the device is being stored
            await a.send(f"after {n}")
        await a.send('{"type":"ping"}')
        frames = [await recv_json(b) for _ in range(40)]
        assert [f["data"] for f in frames] == [f"before {n}" for n in range(20)] + [f"after {n}" for n in range(20)]
        assert all("device_id" not in f for f in frames[:20])
        assert all(f["device_id"] == "burst-device" for f in frames[20:])
        assert (await recv_json(a))["type"] == "identified"
        assert (await recv_json(a))["type"] == "pong"
        assert await nothing_arrives(b, 0.2)
        await close_all([a, b])

    run(scenario())


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_fragmented_messages_arrive_whole_and_in_order(shared: tuple[Relay, Seeder], kind: str) -> None:
    """A message sent in fragments between whole ones reaches the others reassembled, between the same two."""
    relay, seeder = shared
    endpoint = seeder.endpoint(forwarding_mode="direct")
    parts: list[str] | list[bytes] = (["frag-", "ment-", "ed"] if kind == "text" else [b"\x00frag", b"\xffment"])
    whole = "".join(parts) if kind == "text" else b"".join(parts)  # type: ignore[arg-type]

    async def scenario() -> None:
        a, b = await joined_direct(relay.url(endpoint)), await joined_direct(relay.url(endpoint))
        for round_ in range(3):
            await a.send(f"first {round_}")
            await a.send(parts)
            await a.send(f"last {round_}")
        for round_ in range(3):
            assert await recv(b) == f"first {round_}"
            assert await recv(b) == whole
            assert await recv(b) == f"last {round_}"
        assert await nothing_arrives(a, 0.2)
        await close_all([a, b])

    run(scenario())


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_pings_from_a_client_that_never_reads_do_not_pile_up(shared: tuple[Relay, Seeder]) -> None:
    """A client sending pings for 3 s without reading a pong is no longer read once its pongs back up (TCP
    pushes back): the relay's memory stays flat and the other clients are served meanwhile."""
    relay, seeder = shared
    endpoint = seeder.endpoint()
    pid = relay.process.popen.pid

    async def scenario() -> int:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        flooder, _ = await join(relay.url(endpoint))
        before = _rss_kib(pid)

        async def flood() -> None:
            while True:
                await flooder.send('{"type":"ping"}')

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flood(), 3)
        grown = _rss_kib(pid) - before
        await a.send("still relayed")
        assert (await recv_json(b))["data"] == "still relayed"
        flooder.transport.abort()
        await close_all([a, b])
        return grown

    grown = run(scenario())
    assert grown < 8 * 1024, f"relay RSS grew {grown} KiB"
