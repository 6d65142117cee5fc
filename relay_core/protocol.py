"""The relay's wire format: close codes, refusals, frame shapes and limits (the one place they are named)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

import orjson

WS_PATH_PREFIX = "/ws/"
PREVIEW_MAX_CHARS = 5000
"""A stored message keeps at most this many characters of its text."""
SLOW_CONSUMER_MIN_BYTES = 2 * 1024 * 1024
"""A receiver whose unsent backlog exceeds max(this, 2 x RELAY_MAX_MESSAGE_BYTES) is closed with 4408."""
CLOSE_TIMEOUT_SECONDS = 2.0
"""How long a closing handshake may take before the TCP connection is dropped."""
SLOW_CONSUMER_CLOSE_TIMEOUT_SECONDS = 10.0
"""A receiver closed with 4408 gets this long to read its backlog and the close frame before it is cut off."""
RATE_WARNING_INTERVAL_SECONDS = 1.0
"""At most one RATE_LIMITED warning per connection per this many seconds."""
RATE_BURST_FACTOR = 2.0
"""A connection's token bucket holds this many seconds' worth of its rate."""


class CloseCode(IntEnum):
    """Close codes the relay sends; 4xxx mirror the HTTP status of the same meaning."""

    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    INVALID_PATH = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    SLOW_CONSUMER = 4408
    ENDPOINT_FULL = 4429


class SystemCode(StrEnum):
    """The `code` of system frames."""

    CONNECTED = "CONNECTED"
    INVALID_PATH = "INVALID_PATH"
    UNAUTHORIZED = "UNAUTHORIZED"
    ENDPOINT_DISABLED = "ENDPOINT_DISABLED"
    OWNER_BANNED = "OWNER_BANNED"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    ENDPOINT_FULL = "ENDPOINT_FULL"
    SEND_FORBIDDEN = "SEND_FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_MESSAGE = "INVALID_MESSAGE"


def now_ms() -> int:
    """Milliseconds since the epoch: the unit of every frame timestamp."""
    return time.time_ns() // 1_000_000


def _since(at: datetime | None) -> str:
    return f" (since {at.strftime('%Y-%m-%dT%H:%M:%SZ')})" if at is not None else ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a connection is refused or closed: the frame's code and message, and the close code."""

    code: SystemCode
    close_code: CloseCode
    message: str

    def frame(self) -> bytes:
        return system_frame(level="error", code=self.code, message=self.message)

    @classmethod
    def invalid_path(cls) -> Refusal:
        return cls(SystemCode.INVALID_PATH, CloseCode.INVALID_PATH, "Connect to /ws/{endpoint_id}.")

    @classmethod
    def unauthorized(cls) -> Refusal:
        return cls(SystemCode.UNAUTHORIZED, CloseCode.UNAUTHORIZED,
                   "This endpoint needs a valid access token (?token= or Authorization: Bearer).")

    @classmethod
    def token_revoked(cls) -> Refusal:
        return cls(SystemCode.UNAUTHORIZED, CloseCode.UNAUTHORIZED, "The access token was revoked.")

    @classmethod
    def endpoint_disabled(cls, reason: str | None, at: datetime | None) -> Refusal:
        return cls(SystemCode.ENDPOINT_DISABLED, CloseCode.FORBIDDEN,
                   f"This endpoint is disabled: {reason or 'no reason given'}{_since(at)}.")

    @classmethod
    def owner_banned(cls, reason: str | None, at: datetime | None) -> Refusal:
        return cls(SystemCode.OWNER_BANNED, CloseCode.FORBIDDEN,
                   f"The endpoint's owner is banned: {reason or 'no reason given'}{_since(at)}.")

    @classmethod
    def not_found(cls) -> Refusal:
        return cls(SystemCode.ENDPOINT_NOT_FOUND, CloseCode.NOT_FOUND, "No such endpoint.")

    @classmethod
    def full(cls, limit: int) -> Refusal:
        return cls(SystemCode.ENDPOINT_FULL, CloseCode.ENDPOINT_FULL,
                   f"This endpoint already has {limit} connections, the most allowed.")


def system_frame(*, level: str, code: str, message: str, **extra: Any) -> bytes:
    """`{"type":"system","level","code","message","timestamp",...}` as UTF-8 JSON."""
    return orjson.dumps({"type": "system", "level": level, "code": code, "message": message, **extra,
                         "timestamp": now_ms()})


def connected_frame(*, connection_id: str, endpoint_id: str) -> bytes:
    return orjson.dumps({"type": "system", "level": "info", "code": SystemCode.CONNECTED.value,
                         "connection_id": connection_id, "endpoint_id": endpoint_id, "timestamp": now_ms()})


def pong_frame() -> bytes:
    return orjson.dumps({"type": "pong", "timestamp": now_ms()})


def identified_frame(*, device_id: str, name: str | None) -> bytes:
    return orjson.dumps({"type": "identified", "deviceId": device_id, "name": name})


def send_forbidden_frame() -> bytes:
    return system_frame(level="error", code=SystemCode.SEND_FORBIDDEN,
                        message="This token may only receive; the message was not relayed.")


def rate_limited_frame(rate: float) -> bytes:
    return system_frame(level="warning", code=SystemCode.RATE_LIMITED,
                        message=f"Over {rate:g} messages per second; extra messages are dropped.")


def invalid_message_frame(message: str) -> bytes:
    return system_frame(level="error", code=SystemCode.INVALID_MESSAGE, message=message)


def relayed_frame(*, data: Any, timestamp: Any, sender: str, device_id: str | None) -> bytes:
    """The frame every other client of a `json` endpoint gets: exactly type, data, timestamp, from
    (and device_id once the sender identified itself)."""
    if device_id is None:
        return orjson.dumps({"type": "message", "data": data, "timestamp": timestamp, "from": sender})
    return orjson.dumps({"type": "message", "data": data, "timestamp": timestamp, "from": sender,
                         "device_id": device_id})


def client_timestamp(value: Any) -> int | float | None:
    """A client-given timestamp if it is a plain number (not a bool), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None
