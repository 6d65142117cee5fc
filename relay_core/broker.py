"""How relay nodes hear each other: relayed frames and control events (in-process, or Redis in redis_broker)."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum


class ControlAction(StrEnum):
    """A state change that closes live connections on every node."""

    DELETED = "deleted"
    DISABLED = "disabled"
    OWNER_BANNED = "owner_banned"
    TOKEN_REVOKED = "token_revoked"


@dataclass(frozen=True, slots=True)
class RelayedFrame:
    """A frame already serialized for its endpoint's receivers; `origin` is the sender's connection id,
    so the sender's node can skip it and no node relays it twice."""

    endpoint_id: str
    payload: bytes
    is_text: bool
    origin_node: str
    origin: str


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """`endpoint_id` is always set; `token_id` only for TOKEN_REVOKED; reason/at feed the refusal message."""

    action: ControlAction
    endpoint_id: str
    token_id: int | None = None
    reason: str | None = None
    at_iso: str | None = None


FrameHandler = Callable[[RelayedFrame], None]
ControlHandler = Callable[[ControlEvent], Awaitable[None]]


class Broker(abc.ABC):
    """The node bus. publish_frame never blocks (the hot path calls it); handlers are set by start()."""

    def __init__(self, *, node_id: str) -> None:
        self.node_id = node_id

    @abc.abstractmethod
    async def start(self, *, on_frame: FrameHandler, on_control: ControlHandler) -> None:
        """Begin delivering other nodes' frames to on_frame and control events to on_control."""

    @abc.abstractmethod
    def publish_frame(self, frame: RelayedFrame) -> None:
        """Hand a frame to the other nodes (fire and forget; the local fan-out is the hub's job)."""

    def subscribe(self, endpoint_id: str) -> None:  # noqa: B027 - optional hook, a no-op in one process
        """This node now has clients on endpoint_id: start hearing its frames from other nodes."""

    def unsubscribe(self, endpoint_id: str) -> None:  # noqa: B027 - optional hook, a no-op in one process
        """This node's last client on endpoint_id left."""

    @abc.abstractmethod
    async def publish_control(self, event: ControlEvent) -> None:
        """Tell the other nodes about a state change this node noticed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop delivering; idempotent."""

    @property
    def has_peers(self) -> bool:
        """False when no other node can hear a frame, so the hot path need not build one."""
        return True

    @property
    def healthy(self) -> bool:
        """False while the bus is unreachable (/healthz answers 503 then)."""
        return True


class InProcessBroker(Broker):
    """Nodes in one process that share a bus name hear each other (one node alone: publishing is free)."""

    _buses: dict[str, dict[str, InProcessBroker]] = {}

    def __init__(self, *, node_id: str, bus: str = "default") -> None:
        super().__init__(node_id=node_id)
        self._bus = bus
        self._on_frame: FrameHandler | None = None
        self._on_control: ControlHandler | None = None

    def _peers(self) -> list[InProcessBroker]:
        return [b for n, b in self._buses.get(self._bus, {}).items() if n != self.node_id]

    @property
    def has_peers(self) -> bool:
        return len(self._buses.get(self._bus, ())) > 1

    async def start(self, *, on_frame: FrameHandler, on_control: ControlHandler) -> None:
        self._on_frame, self._on_control = on_frame, on_control
        self._buses.setdefault(self._bus, {})[self.node_id] = self

    def publish_frame(self, frame: RelayedFrame) -> None:
        for peer in self._peers():
            if peer._on_frame is not None:
                peer._on_frame(frame)

    async def publish_control(self, event: ControlEvent) -> None:
        for peer in self._peers():
            if peer._on_control is not None:
                await peer._on_control(event)

    async def close(self) -> None:
        nodes = self._buses.get(self._bus, {})
        if nodes.get(self.node_id) is self:
            del nodes[self.node_id]
        self._on_frame = self._on_control = None


def create_broker(*, node_id: str, redis_url: str | None) -> Broker:
    """In-process for one node; Redis pub/sub when RELAY_REDIS_URL is set."""
    if redis_url is None:
        return InProcessBroker(node_id=node_id)
    from relay_core.redis_broker import RedisBroker  # only nodes configured for Redis import the client

    return RedisBroker(node_id=node_id, url=redis_url)
