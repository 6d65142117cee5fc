"""The relay encodes each relayed frame itself (once, for every receiver): frames on both sides of each
WebSocket length-field boundary (125/126 bytes, 65,535/65,536 bytes) reach the others byte for byte."""

from __future__ import annotations

import pytest

from tests.integration.relay.conftest import (
    FAST_LIMITS,
    RelayFactory,
    Seeder,
    close_all,
    joined_direct,
    nothing_arrives,
    recv,
    run,
)

pytestmark = pytest.mark.timeout(120)

SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 65_537, 300_000]


def test_frames_of_every_length_encoding_arrive_intact(relay_factory: RelayFactory, fresh_db: Seeder) -> None:
    """Text and binary frames of each size reach both other clients unchanged, in order, and not the sender."""
    relay = relay_factory(RELAY_MAX_MESSAGE_BYTES="300000", **FAST_LIMITS)
    endpoint = fresh_db.endpoint(forwarding_mode="direct")
    sent: list[str | bytes] = []
    for size in SIZES:
        sent.append("".join(chr(0x41 + i % 26) for i in range(size)))
        sent.append(bytes(i % 251 for i in range(size)))

    async def scenario() -> None:
        a, b, c = [await joined_direct(relay.url(endpoint)) for _ in range(3)]
        for message in sent:
            await a.send(message)
        for receiver in (b, c):
            for message in sent:
                assert await recv(receiver) == message
        assert await nothing_arrives(a, 0.2)
        await close_all([a, b, c])

    run(scenario())
