"""One connection's life: admission, join, frame dispatch (ping, identify, relay), the per-connection rate
limit, and leaving. Frames are handled synchronously from data_received when possible (RelayConnection's
frame sink); the read loop takes the rest, in order."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError
from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from relay_core.broker import Broker, RelayedFrame
from relay_core.db import session_scope
from relay_core.models import ForwardingMode
from relay_core.protocol import (
    RATE_BURST_FACTOR,
    RATE_WARNING_INTERVAL_SECONDS,
    CloseCode,
    Refusal,
    client_timestamp,
    connected_frame,
    identified_frame,
    invalid_message_frame,
    now_ms,
    pong_frame,
    rate_limited_frame,
    relayed_frame,
    send_forbidden_frame,
)
from relay_core.rules import DEVICE_ID_MAX, DEVICE_NAME_MAX
from relay_core.services.relay_records import identify_device
from relay_core.settings import Settings
from relay_ws.connection import RelayConnection
from relay_ws.gate import Admission, Gate, GateUnavailable
from relay_ws.hub import Client, ClientFactory, Hub, Room
from relay_ws.stats import NodeStats

log = logging.getLogger(__name__)

_NOT_JSON = object()


class _Identify:
    """A valid identify request, answered after the device is stored (off the event loop)."""

    __slots__ = ("device_id", "name")

    def __init__(self, device_id: str, name: str | None) -> None:
        self.device_id, self.name = device_id, name


def _text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class Handler:
    """The websockets connection handler (one instance per server, called once per connection)."""

    def __init__(self, *, settings: Settings, gate: Gate, hub: Hub, stats: NodeStats, broker: Broker) -> None:
        self._url = settings.database_url
        self._rate = settings.rate_limit_per_connection
        self._burst = settings.rate_limit_per_connection * RATE_BURST_FACTOR
        self._max_connections = settings.max_connections_per_endpoint
        self._gate, self._hub, self._stats, self._broker = gate, hub, stats, broker
        self._node_id = settings.relay_node_id

    async def __call__(self, ws: ServerConnection) -> None:
        try:
            assert ws.request is not None  # set by the opening handshake
            verdict = await self._gate.admit(ws.request)
        except GateUnavailable:
            self._stats.connection_refused(CloseCode.INTERNAL_ERROR)
            log.warning("connection refused code=%d peer=%s: database unavailable", CloseCode.INTERNAL_ERROR,
                        _peer(ws))
            await ws.close(CloseCode.INTERNAL_ERROR, "database unavailable")
            return
        if isinstance(verdict, Refusal):
            await self._refuse(ws, verdict, None)
            return
        connection_id = secrets.token_urlsafe(9)
        factory = ClientFactory(ws=ws, connection_id=connection_id,
                                token_id=verdict.token.id if verdict.token else None,
                                can_send=verdict.can_send, burst=self._burst)
        client = self._hub.join(verdict.record, factory)
        if client is None:
            await self._refuse(ws, Refusal.full(self._max_connections), verdict.record.endpoint_id)
            return
        await self._serve(client, verdict)

    async def _refuse(self, ws: ServerConnection, refusal: Refusal, endpoint_id: str | None) -> None:
        self._stats.connection_refused(refusal.close_code)
        log.info("connection refused code=%d reason=%s endpoint=%s peer=%s", refusal.close_code, refusal.code.value,
                 endpoint_id or "-", _peer(ws))
        try:
            await ws.send(refusal.frame(), text=True)
            await ws.close(refusal.close_code, refusal.code.value)
        except ConnectionClosed:
            pass

    async def _serve(self, client: Client, admission: Admission) -> None:
        room = client.room
        ws = client.ws
        self._stats.connection_opened(room.counters, token_id=client.token_id, now_ms=now_ms())
        log.info("connection open id=%s endpoint=%s mode=%s peer=%s", client.connection_id, room.endpoint_id,
                 room.record.forwarding_mode, _peer(ws))
        try:
            if room.is_json:
                await ws.send(connected_frame(connection_id=client.connection_id, endpoint_id=room.endpoint_id),
                              text=True)
            if isinstance(ws, RelayConnection):
                ws.frame_sink = functools.partial(self._on_frame, client)
            await self._read_loop(client)
        except ConnectionClosed:
            pass
        finally:
            if isinstance(ws, RelayConnection):
                ws.frame_sink = None
            self._hub.leave(client)
            self._stats.connection_closed(room.counters)
            if client.device_id is not None:
                self._stats.device_left(room.record.pk, client.device_id, now_ms())
            code = ws.close_code if ws.close_code is not None else client.close_code
            log.info("connection closed id=%s endpoint=%s code=%s sent=%d seconds=%.1f", client.connection_id,
                     room.endpoint_id, code if code is not None else "-", client.sent,
                     time.monotonic() - client.opened_at)

    async def _read_loop(self, client: Client) -> None:
        """Frames the sink left to websockets: identify, fragmented messages, and what queued behind them."""
        ws = client.ws
        async for message in ws:
            if client.closing:
                continue
            client.busy = True  # the sink refuses frames until this one is answered, so order is kept
            try:
                reply = self._on_text(client, message) if isinstance(message, str) else self._on_binary(client,
                                                                                                      message)
                if reply is None:
                    continue
                if isinstance(reply, _Identify):
                    reply = await self._identify(client, reply)
                await ws.send(reply, text=True)
            finally:
                client.busy = False

    def _on_frame(self, client: Client, frame: Frame) -> bool:
        """The frame sink, called from data_received: True when the frame was handled here."""
        if client.busy or client.ws.paused:
            # paused: the client does not read what it is sent. Its frames take the read loop, whose
            # `await ws.send` waits for it to read, so a client flooding pings it never reads stops being
            # read (TCP pushes back) instead of growing its replies in our memory.
            return False
        if client.closing:
            return True
        try:
            if frame.opcode is Opcode.TEXT:
                data = frame.data
                try:
                    text = data.decode() if type(data) is bytes else bytes(data).decode()
                except UnicodeDecodeError:
                    return False  # recv() raises and websockets closes with 1007
                reply = self._on_text(client, text, data if type(data) is bytes else None)
                if isinstance(reply, _Identify):
                    return False  # the device is stored first: the read loop answers (and parses again)
            else:
                reply = self._on_binary(client, bytes(frame.data))
            if reply is not None:
                broadcast([client.ws], reply, text=True)
        except Exception:  # we run inside websockets' data_received: a bug must cost one connection, loudly
            log.exception("frame handling failed id=%s endpoint=%s", client.connection_id, client.room.endpoint_id)
            self._hub.close(client, code=CloseCode.INTERNAL_ERROR, reason="internal error")
        return True

    # -- dispatch (synchronous: the hot path awaits nothing) ---------------------------------------

    def _on_text(self, client: Client, text: str, raw: bytes | None = None) -> bytes | _Identify | None:
        """A text message; `raw` is its UTF-8 bytes when the caller has them (the frame sink)."""
        room = client.room
        mode = room.record.forwarding_mode
        received = time.monotonic()
        if mode == ForwardingMode.JSON:
            try:
                value: Any = orjson.loads(text)
            except orjson.JSONDecodeError:
                value = _NOT_JSON
            timestamp: Any = None
            if type(value) is dict:
                kind = value.get("type")
                if kind == "ping":
                    return pong_frame()
                if kind == "identify":
                    return self._identify_request(client, value)
                if "type" in value and "data" in value:
                    timestamp = client_timestamp(value.get("timestamp"))
                    value = value["data"]
            elif value is _NOT_JSON:
                value = text
            refused = self._check_send(client, received)
            if refused is not None:
                return refused or None
            now = now_ms()
            payload = relayed_frame(data=value, timestamp=now if timestamp is None else timestamp,
                                    sender=client.connection_id, device_id=client.device_id)
        else:
            if text[:1] == "{" and ('"ping"' in text or '"identify"' in text):
                handled, control = self._direct_control(client, text)
                if handled:
                    return control
            refused = self._check_send(client, received)
            if refused is not None:
                return None
            now = now_ms()
            if raw is None:
                raw = text.encode("utf-8", "surrogatepass")
            header = room.record.custom_header if mode == ForwardingMode.CUSTOM_HEADER else None
            payload = header.encode() + raw if header else raw  # relayed verbatim: the bytes as they came
        size = len(raw) if raw is not None else _text_size(text)
        self._stats.message_accepted(room.counters, size=size, now_ms=now, connection_id=client.connection_id,
                                     device_id=client.device_id, text=text)
        self._relay(room, client, payload, True, received)
        return None

    def _on_binary(self, client: Client, data: bytes) -> bytes | None:
        received = time.monotonic()
        room = client.room
        refused = self._check_send(client, received)
        if refused is not None:
            return (refused or None) if room.is_json else None
        self._stats.message_accepted(room.counters, size=len(data), now_ms=now_ms(),
                                     connection_id=client.connection_id, device_id=client.device_id, text=None)
        self._relay(room, client, data, False, received)
        return None

    def _relay(self, room: Room, client: Client, payload: bytes, is_text: bool, received: float) -> None:
        client.sent += 1
        delivered = self._hub.fan_out(room, client, payload, is_text)
        if self._broker.has_peers:
            self._broker.publish_frame(RelayedFrame(room.endpoint_id, payload, is_text, self._node_id,
                                                    client.connection_id))
        self._stats.delivered_to(delivered, len(payload), time.monotonic() - received)

    def _check_send(self, client: Client, now: float) -> bytes | None:
        """None when the message may be relayed; else the reply for a json-mode sender (b"" for none).
        `now` is time.monotonic() when the message arrived (one clock read serves the bucket and the latency)."""
        room = client.room
        if not client.can_send:
            self._stats.message_dropped(room.counters, "forbidden")
            return send_forbidden_frame() if room.is_json else b""
        tokens = min(self._burst, client.bucket + (now - client.bucket_at) * self._rate)
        client.bucket_at = now
        if tokens >= 1.0:
            client.bucket = tokens - 1.0
            return None
        client.bucket = tokens
        self._stats.message_dropped(room.counters, "rate_limited")
        if room.is_json and now - client.warned_at >= RATE_WARNING_INTERVAL_SECONDS:
            client.warned_at = now
            return rate_limited_frame(self._rate)
        return b""

    # -- ping and identify ---------------------------------------------------------------------------

    def _direct_control(self, client: Client, text: str) -> tuple[bool, bytes | _Identify | None]:
        """In direct modes a ping or identify object is answered, not relayed: (handled, reply)."""
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False, None
        if type(value) is not dict:
            return False, None
        kind = value.get("type")
        if kind == "ping":
            return True, pong_frame()
        if kind == "identify":
            return True, self._identify_request(client, value)
        return False, None

    def _identify_request(self, client: Client, value: dict[str, Any]) -> bytes | _Identify | None:
        device_id = value.get("deviceId")
        name = value.get("deviceName")
        problem = None
        if not isinstance(device_id, str) or not 1 <= len(device_id) <= DEVICE_ID_MAX or "\x00" in device_id:
            problem = f"identify needs deviceId: a string of 1 to {DEVICE_ID_MAX} characters, no NUL"
        elif name is not None and (not isinstance(name, str) or len(name) > DEVICE_NAME_MAX or "\x00" in name):
            problem = f"deviceName must be a string of at most {DEVICE_NAME_MAX} characters, no NUL"
        if problem is not None:
            return invalid_message_frame(problem) if client.room.is_json else None
        assert isinstance(device_id, str)
        name = name.strip() or None if isinstance(name, str) else None
        return _Identify(device_id, name)

    async def _identify(self, client: Client, request: _Identify) -> bytes:
        room = client.room
        try:
            name = await asyncio.to_thread(self._store_device, room.record.pk, request.device_id, request.name)
        except SQLAlchemyError:
            log.warning("device not stored (database unavailable) endpoint=%s", room.endpoint_id)
            name = request.name
        now = now_ms()
        if client.device_id != request.device_id:
            if client.device_id is not None:
                self._stats.device_left(room.record.pk, client.device_id, now)
            self._stats.device_joined(room.record.pk, request.device_id, now)
            client.device_id = request.device_id
        return identified_frame(device_id=request.device_id, name=name)

    def _store_device(self, endpoint_pk: Any, device_id: str, name: str | None) -> str | None:
        with session_scope(self._url, write=True) as session:
            return identify_device(session=session, endpoint_pk=endpoint_pk, device_id=device_id, name=name)


def _peer(ws: ServerConnection) -> str:
    address = ws.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
