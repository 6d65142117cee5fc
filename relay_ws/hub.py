"""The connections on this node by endpoint: join and leave, fan-out of one serialized frame to the
others, the slow-consumer policy (4408), and closing connections when their endpoint or token changes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from relay_core.broker import Broker, RelayedFrame
from relay_core.models import ForwardingMode
from relay_core.protocol import SLOW_CONSUMER_CLOSE_TIMEOUT_SECONDS, CloseCode, Refusal
from relay_core.services.relay_records import EndpointRecord
from relay_ws.connection import encode_frame
from relay_ws.stats import EndpointCounters, NodeStats

log = logging.getLogger(__name__)


class Client:
    """One accepted connection: who it is, what it may do, and its token bucket."""

    __slots__ = (
        "bucket",
        "bucket_at",
        "busy",
        "can_send",
        "close_code",
        "closing",
        "connection_id",
        "device_id",
        "opened_at",
        "room",
        "sent",
        "token_id",
        "warned_at",
        "ws",
    )

    def __init__(self, *, ws: ServerConnection, connection_id: str, room: Room, token_id: int | None,
                 can_send: bool, burst: float) -> None:
        self.ws = ws
        self.connection_id = connection_id
        self.room = room
        self.token_id = token_id
        self.can_send = can_send
        self.device_id: str | None = None
        self.closing = False
        self.busy = False
        self.bucket = burst
        self.bucket_at = time.monotonic()
        self.warned_at = 0.0
        self.opened_at = time.monotonic()
        self.sent = 0
        self.close_code: int | None = None


@dataclass(slots=True, eq=False)
class Room:
    """One endpoint's connections on this node, in join order."""

    record: EndpointRecord
    counters: EndpointCounters
    clients: dict[str, Client] = field(default_factory=dict)

    @property
    def endpoint_id(self) -> str:
        return self.record.endpoint_id

    @property
    def is_json(self) -> bool:
        return self.record.forwarding_mode == ForwardingMode.JSON


class Hub:
    """endpoint_id -> Room for this node. Only the event loop touches it."""

    def __init__(self, *, stats: NodeStats, broker: Broker, max_connections_per_endpoint: int,
                 slow_consumer_bytes: int) -> None:
        self._stats = stats
        self._broker = broker
        self._max = max_connections_per_endpoint
        self._slow_bytes = slow_consumer_bytes
        self.rooms: dict[str, Room] = {}
        self._closers: set[asyncio.Task[None]] = set()

    def count(self, endpoint_id: str) -> int:
        room = self.rooms.get(endpoint_id)
        return 0 if room is None else len(room.clients)

    def join(self, record: EndpointRecord, make_client: ClientFactory) -> Client | None:
        """Add a connection, or None when the endpoint is at its connection limit."""
        room = self.rooms.get(record.endpoint_id)
        if room is None:
            room = self.rooms[record.endpoint_id] = Room(record=record, counters=self._stats.endpoint(record.pk))
            self._broker.subscribe(record.endpoint_id)
        elif len(room.clients) >= self._max:
            return None
        client = make_client(room)
        room.clients[client.connection_id] = client
        return client

    def leave(self, client: Client) -> None:
        room = client.room
        room.clients.pop(client.connection_id, None)
        if not room.clients and self.rooms.get(room.endpoint_id) is room:
            del self.rooms[room.endpoint_id]
            self._broker.unsubscribe(room.endpoint_id)

    def fan_out(self, room: Room, sender: Client | None, payload: bytes, is_text: bool) -> int:
        """Write the same frame to every open connection of the room but the sender; returns how many.
        The frame is encoded once and written straight to each transport, without waiting (as websockets'
        broadcast does, minus a serialization per receiver). A receiver whose backlog is over the limit
        misses the frame and is closed with 4408."""
        limit = self._slow_bytes
        frame: bytes | None = None
        delivered = 0
        for client in room.clients.values():
            if client is sender or client.closing:
                continue
            ws = client.ws
            if ws.protocol.state is not State.OPEN:
                continue
            transport = ws.transport
            if transport.get_write_buffer_size() > limit:
                self._stats.message_dropped(None, "slow_consumer")
                self.close(client, code=CloseCode.SLOW_CONSUMER, reason="slow consumer")
                continue
            if frame is None:
                frame = encode_frame(payload, text=is_text)
            try:
                transport.write(frame)
            except (OSError, RuntimeError) as exc:  # the transport was closed under us; connection_lost follows
                log.debug("frame not written id=%s: %s", client.connection_id, exc)
                continue
            delivered += 1
        return delivered

    def deliver_remote(self, frame: RelayedFrame) -> None:
        """A frame relayed by another node: every local connection of the endpoint gets it."""
        room = self.rooms.get(frame.endpoint_id)
        if room is not None:
            self.fan_out(room, None, frame.payload, frame.is_text)

    def close(self, client: Client, *, code: CloseCode, reason: str = "", frame: bytes | None = None) -> None:
        """Close one connection in the background (optionally after one last text frame)."""
        if client.closing:
            return
        client.closing = True
        client.close_code = code
        task = asyncio.get_running_loop().create_task(self._close(client, code, reason, frame))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _close(self, client: Client, code: CloseCode, reason: str, frame: bytes | None) -> None:
        if code is CloseCode.SLOW_CONSUMER:
            # the close frame queues behind the backlog: give the peer time to read up to it
            client.ws.close_timeout = SLOW_CONSUMER_CLOSE_TIMEOUT_SECONDS
        try:
            # websockets bounds only the wait after the close frame is written: writing it waits for the
            # send buffer to drain, forever for a peer that never reads. Cut the TCP connection instead.
            async with asyncio.timeout(client.ws.close_timeout):
                if frame is not None:
                    await client.ws.send(frame, text=True)
                await client.ws.close(code, reason)
        except ConnectionClosed:
            pass
        except TimeoutError:
            client.ws.transport.abort()

    def refuse_live(self, clients: Iterable[Client], refusal: Refusal) -> int:
        """Close connections whose endpoint or token changed: json mode gets the refusal frame first."""
        closed = 0
        for client in list(clients):
            if client.closing:
                continue
            frame = refusal.frame() if client.room.is_json else None
            self._stats.connection_refused(refusal.close_code)
            self.close(client, code=refusal.close_code, reason=refusal.code.value, frame=frame)
            closed += 1
        return closed

    async def wait_closers(self, timeout: float) -> None:
        if self._closers:
            await asyncio.wait(list(self._closers), timeout=timeout)


class ClientFactory:
    """Builds a Client for a room (lets join() check the limit before anything is created)."""

    __slots__ = ("burst", "can_send", "connection_id", "token_id", "ws")

    def __init__(self, *, ws: ServerConnection, connection_id: str, token_id: int | None, can_send: bool,
                 burst: float) -> None:
        self.ws, self.connection_id, self.token_id, self.can_send, self.burst = (
            ws, connection_id, token_id, can_send, burst)

    def __call__(self, room: Room) -> Client:
        return Client(ws=self.ws, connection_id=self.connection_id, room=room, token_id=self.token_id,
                      can_send=self.can_send, burst=self.burst)

