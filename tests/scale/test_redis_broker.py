"""The Redis broker against the real Redis: frames cross nodes once, only where subscribed, and survive kills."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import redis

from relay_core.broker import ControlAction, ControlEvent, RelayedFrame
from relay_core.redis_broker import RedisBroker
from tests.support import REDIS_TEST_URL, require_service


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_frames_reach_subscribed_nodes_once_and_never_their_sender() -> None:
    """Node A's frame reaches B (subscribed) exactly once, not C (not subscribed), not A itself."""
    async def scenario() -> None:
        tag = uuid.uuid4().hex[:6]
        nodes = {name: RedisBroker(node_id=f"{name}-{tag}", url=REDIS_TEST_URL) for name in "abc"}
        got: dict[str, list[bytes]] = {name: [] for name in nodes}
        controls: list[ControlEvent] = []

        async def on_control(event: ControlEvent) -> None:
            controls.append(event)

        for name, broker in nodes.items():
            await broker.start(on_frame=lambda f, n=name: got[n].append(f.payload), on_control=on_control)
        endpoint = "ep" + tag
        nodes["a"].subscribe(endpoint)
        nodes["b"].subscribe(endpoint)
        await _until(lambda: all(b.healthy for b in nodes.values()))
        await asyncio.sleep(0.3)
        for i in range(100):
            nodes["a"].publish_frame(RelayedFrame(endpoint_id=endpoint, payload=b"m%d" % i, is_text=True,
                                                  origin_node=nodes["a"].node_id, origin="c1"))
        await _until(lambda: len(got["b"]) >= 100)
        await asyncio.sleep(0.3)
        assert got["b"] == [b"m%d" % i for i in range(100)]
        assert got["a"] == [] and got["c"] == []
        await nodes["c"].publish_control(ControlEvent(action=ControlAction.DELETED, endpoint_id=endpoint))
        await _until(lambda: len(controls) == 2)
        assert {c.action for c in controls} == {ControlAction.DELETED}
        for broker in nodes.values():
            await broker.close()

    _run(scenario)


def test_a_killed_redis_connection_is_reestablished_and_resubscribed() -> None:
    """After CLIENT KILL of every connection, both nodes turn healthy again and frames flow again."""
    async def scenario() -> None:
        tag = uuid.uuid4().hex[:6]
        a = RedisBroker(node_id=f"a-{tag}", url=REDIS_TEST_URL)
        b = RedisBroker(node_id=f"b-{tag}", url=REDIS_TEST_URL)
        received: list[bytes] = []

        async def ignore(_event: ControlEvent) -> None:
            return None

        await a.start(on_frame=lambda f: None, on_control=ignore)
        await b.start(on_frame=lambda f: received.append(f.payload), on_control=ignore)
        endpoint = "ep" + tag
        b.subscribe(endpoint)
        await _until(lambda: a.healthy and b.healthy)
        await asyncio.sleep(0.3)
        killer = redis.Redis.from_url(REDIS_TEST_URL)
        killer.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        killer.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        killer.close()

        def send_and_check() -> bool:
            a.publish_frame(RelayedFrame(endpoint_id=endpoint, payload=b"after", is_text=False,
                                         origin_node=a.node_id, origin="c"))
            return b"after" in received

        deadline = asyncio.get_running_loop().time() + 10
        while not send_and_check():
            assert asyncio.get_running_loop().time() < deadline, "relaying did not resume within 10 s"
            await asyncio.sleep(0.2)
        assert b.healthy
        await a.close()
        await b.close()

    _run(scenario)
