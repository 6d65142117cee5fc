"""The Redis broker: relayed frames and control events between relay nodes over Redis pub/sub.

Frames of endpoint E travel on channel `relay:frames:E`; a node subscribes to it only while it has
local clients on E. Control events travel on `relay:control`, to which every node listens. A node that
loses Redis keeps serving its local clients, reports itself unhealthy, reconnects with backoff and
resubscribes, logging once per state change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relay_core.broker import Broker, ControlAction, ControlEvent, ControlHandler, FrameHandler, RelayedFrame

log = logging.getLogger(__name__)

FRAME_PREFIX = "relay:frames:"
CONTROL_CHANNEL = "relay:control"
PUBLISH_QUEUE_LIMIT = 10_000
PUBLISH_BATCH = 256
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
SUBSCRIPTION_POLL_SECONDS = 0.05
_SEP = b"\x00"


def encode_frame(frame: RelayedFrame) -> bytes:
    """node \\0 origin \\0 t|b \\0 payload: the payload is appended as is, never re-serialized."""
    kind = b"t" if frame.is_text else b"b"
    return frame.origin_node.encode() + _SEP + frame.origin.encode() + _SEP + kind + _SEP + frame.payload


def decode_frame(endpoint_id: str, data: bytes) -> RelayedFrame:
    node, origin, kind, payload = data.split(_SEP, 3)
    return RelayedFrame(endpoint_id=endpoint_id, payload=payload, is_text=kind == b"t",
                        origin_node=node.decode(), origin=origin.decode())


class RedisBroker(Broker):
    """Pub/sub over one Redis server; publish_frame only enqueues, a task pipelines the PUBLISHes."""

    def __init__(self, *, node_id: str, url: str) -> None:
        super().__init__(node_id=node_id)
        self._url = url
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=5)
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(PUBLISH_QUEUE_LIMIT)
        self._wanted: set[str] = set()
        self._on_frame: FrameHandler | None = None
        self._on_control: ControlHandler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._healthy = False
        self._connected_once = False
        self.dropped_publishes = 0

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def start(self, *, on_frame: FrameHandler, on_control: ControlHandler) -> None:
        self._on_frame, self._on_control = on_frame, on_control
        self._tasks = [asyncio.create_task(self._subscriber(), name="redis-subscriber"),
                       asyncio.create_task(self._publisher(), name="redis-publisher")]

    def subscribe(self, endpoint_id: str) -> None:
        self._wanted.add(FRAME_PREFIX + endpoint_id)

    def unsubscribe(self, endpoint_id: str) -> None:
        self._wanted.discard(FRAME_PREFIX + endpoint_id)

    def publish_frame(self, frame: RelayedFrame) -> None:
        try:
            self._outbox.put_nowait((FRAME_PREFIX + frame.endpoint_id, encode_frame(frame)))
        except asyncio.QueueFull:  # Redis is slow or away: local clients still get the frame
            self.dropped_publishes += 1

    async def publish_control(self, event: ControlEvent) -> None:
        payload = orjson.dumps({"action": event.action.value, "endpoint_id": event.endpoint_id,
                                "token_id": event.token_id, "reason": event.reason, "at": event.at_iso,
                                "node": self.node_id})
        try:
            await self._client.publish(CONTROL_CHANNEL, payload)
        except (RedisError, OSError):
            log.warning("control event not published: Redis unreachable action=%s", event.action.value)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await task
        self._tasks = []
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()

    def _set_health(self, healthy: bool, why: str = "") -> None:
        if healthy == self._healthy:
            return
        self._healthy = healthy
        if healthy:
            log.info("redis %s", "reconnected, subscriptions restored" if self._connected_once else "connected")
            self._connected_once = True
        else:
            log.warning("redis unreachable, serving local clients only: %s", why)

    async def _subscriber(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                current = set(self._wanted)
                await pubsub.subscribe(CONTROL_CHANNEL, *current)
                self._set_health(True)
                backoff = BACKOFF_FIRST
                while True:
                    # Subscriptions follow the local clients within one short read timeout.
                    if current != self._wanted:
                        wanted = set(self._wanted)
                        if wanted - current:
                            await pubsub.subscribe(*(wanted - current))
                        if current - wanted:
                            await pubsub.unsubscribe(*(current - wanted))
                        current = wanted
                    message = await pubsub.get_message(timeout=SUBSCRIPTION_POLL_SECONDS)
                    if message is not None:
                        await self._dispatch(message)
            except (RedisError, OSError) as exc:
                self._set_health(False, type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else str(message["channel"])
        data = message["data"]
        if not isinstance(data, bytes):
            return
        if channel.startswith(FRAME_PREFIX):
            frame = decode_frame(channel[len(FRAME_PREFIX):], data)
            if frame.origin_node != self.node_id and self._on_frame is not None:
                self._on_frame(frame)
        elif channel == CONTROL_CHANNEL and self._on_control is not None:
            body = orjson.loads(data)
            if body.get("node") == self.node_id:
                return
            await self._on_control(ControlEvent(
                action=ControlAction(body["action"]), endpoint_id=body["endpoint_id"], token_id=body.get("token_id"),
                reason=body.get("reason"), at_iso=body.get("at")))

    async def _publisher(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < PUBLISH_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            while True:
                try:
                    pipe = self._client.pipeline(transaction=False)
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
                    backoff = BACKOFF_FIRST
                    break
                except (RedisError, OSError) as exc:
                    self._set_health(False, type(exc).__name__)
                    # Frames are live traffic: after a failed attempt they are stale, so drop, not retry.
                    self.dropped_publishes += len(batch)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    break
