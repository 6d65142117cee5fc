"""Property test: random frame sequences from several clients on two endpoints (json and direct mode)
reach exactly the other clients of their endpoint, in order per sender, and nobody else."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay_core.models import Endpoint
from tests.integration.relay.conftest import (
    Relay,
    Seeder,
    close_all,
    join,
    joined_direct,
    recv,
    run,
)

pytestmark = pytest.mark.timeout(180)
CLIENTS = 3
MARK = "__end__"

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_payloads = st.one_of(
    st.text(max_size=40).filter(lambda t: MARK not in t and '"ping"' not in t and '"identify"' not in t),
    _json_values.map(lambda v: orjson.dumps({"type": "msg", "data": v}).decode()),
    st.binary(max_size=40),
)
# (endpoint 0 or 1, client 0..2, payload)
_sends = st.lists(st.tuples(st.integers(0, 1), st.integers(0, CLIENTS - 1), _payloads), max_size=25)


def _tag(sender: int, payload: str | bytes) -> str | bytes:
    """Prefix a sender tag, so frames without a `from` field (binary, direct mode) can be attributed."""
    return f"s{sender}:{payload}" if isinstance(payload, str) else f"s{sender}:".encode() + payload


def _expected_json(payload: str | bytes) -> object:
    if isinstance(payload, bytes):
        return payload
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload
    if isinstance(value, dict) and "type" in value and "data" in value:
        return value["data"]
    return value


@pytest.fixture(scope="module")
def endpoints_pair(shared: tuple[Relay, Seeder]) -> tuple[Endpoint, Endpoint]:
    _, seeder = shared
    return seeder.endpoint(), seeder.endpoint(forwarding_mode="direct")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sends=_sends)
def test_random_traffic_reaches_exactly_the_other_clients_in_order(
    shared: tuple[Relay, Seeder], endpoints_pair: tuple[Endpoint, Endpoint], sends: list[tuple[int, int, str | bytes]],
) -> None:
    """Every message reaches each other client of its endpoint exactly once, in its sender's order, nobody else."""
    relay, _ = shared
    json_ep, direct_ep = endpoints_pair

    async def scenario() -> None:
        joined = [await join(relay.url(json_ep)) for _ in range(CLIENTS)]
        index_of = {frame["connection_id"]: str(i) for i, (_, frame) in enumerate(joined)}
        sockets = [[ws for ws, _ in joined], [await joined_direct(relay.url(direct_ep)) for _ in range(CLIENTS)]]
        expected: dict[tuple[int, int], dict[str, list[object]]] = {
            (room, i): defaultdict(list) for room in (0, 1) for i in range(CLIENTS)}
        markers = [(room, c, MARK) for room in (0, 1) for c in range(CLIENTS)]
        for room, sender, raw in [*sends, *markers]:
            payload = _tag(sender, raw) if room == 1 or isinstance(raw, bytes) else raw
            await sockets[room][sender].send(payload)
            for other in range(CLIENTS):
                if other != sender:
                    expected[(room, other)][str(sender)].append(payload if room == 1 else _expected_json(payload))
        for (room, index), wanted in expected.items():
            ws = sockets[room][index]
            got: dict[str, list[object]] = defaultdict(list)
            for _ in range(sum(len(v) for v in wanted.values())):
                frame = await recv(ws, 5)
                if room == 0 and isinstance(frame, str):
                    decoded = orjson.loads(frame)
                    assert set(decoded) == {"type", "data", "timestamp", "from"}
                    got[index_of[decoded["from"]]].append(decoded["data"])
                else:
                    prefix = frame[:3].decode() if isinstance(frame, bytes) else frame[:3]
                    got[prefix[1:2]].append(frame)
            assert got == wanted
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.05)
        await close_all([ws for room in sockets for ws in room])

    run(scenario(), timeout=60)
