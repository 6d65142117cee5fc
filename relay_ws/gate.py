"""Who may connect and who may stay: path parsing, endpoint look-up (briefly cached), the token check,
and the once-a-second control check that closes connections after a delete, disable, ban or revoke."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.exc import SQLAlchemyError
from websockets.http11 import Request

from relay_core.broker import Broker, ControlAction, ControlEvent
from relay_core.db import session_scope
from relay_core.models import AccessMode, TokenRole
from relay_core.protocol import WS_PATH_PREFIX, Refusal
from relay_core.rules import is_endpoint_id
from relay_core.services.relay_records import (
    ControlSnapshot,
    EndpointRecord,
    TokenRecord,
    control_check,
    find_token,
    load_endpoint,
)
from relay_ws.hub import Hub

log = logging.getLogger(__name__)

ENDPOINT_CACHE_SECONDS = 1.0
"""How long a looked-up endpoint (or its absence) is reused for new connections."""
CONTROL_INTERVAL_SECONDS = 1.0
"""How often live connections are checked against the database (SPEC: closed within 5 s)."""

T = TypeVar("T")


class GateUnavailable(Exception):
    """The database did not answer while admitting a connection."""


@dataclass(frozen=True, slots=True)
class Admission:
    record: EndpointRecord
    token: TokenRecord | None

    @property
    def can_send(self) -> bool:
        return self.token is None or self.token.role != TokenRole.SUBSCRIBE


def endpoint_id_from_path(path: str) -> str | None:
    """The endpoint id of `/ws/{id}` (query ignored, one trailing slash allowed), or None for another path."""
    route = urlsplit(path).path
    if not route.startswith(WS_PATH_PREFIX):
        return None
    rest = unquote(route[len(WS_PATH_PREFIX):])
    if rest.endswith("/"):
        rest = rest[:-1]
    if not rest or "/" in rest:
        return None
    return rest


def token_from_request(request: Request) -> str | None:
    """`?token=` first, else `Authorization: Bearer …`; None when neither is given."""
    values = parse_qs(urlsplit(request.path).query).get("token")
    if values and values[0]:
        return values[0]
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def refusal_for_state(record: EndpointRecord) -> Refusal | None:
    """Why this endpoint may not have connections now, or None."""
    if record.owner_banned:
        return Refusal.owner_banned(record.banned_reason, record.banned_at)
    if record.is_disabled:
        return Refusal.endpoint_disabled(record.disabled_reason, record.disabled_at)
    return None


class Gate:
    """Admits connections; every database call runs in a worker thread."""

    def __init__(self, *, database_url: str) -> None:
        self._url = database_url
        self._cache: dict[str, tuple[float, EndpointRecord | None]] = {}

    def _read(self, work: Callable[..., T], **kwargs: object) -> T:
        with session_scope(self._url) as session:
            return work(session=session, **kwargs)

    async def run_read(self, work: Callable[..., T], **kwargs: object) -> T:
        try:
            return await asyncio.to_thread(functools.partial(self._read, work, **kwargs))
        except SQLAlchemyError as exc:
            raise GateUnavailable(exc.__class__.__name__) from exc

    def remember(self, record: EndpointRecord) -> None:
        self._cache[record.endpoint_id] = (time.monotonic() + ENDPOINT_CACHE_SECONDS, record)

    def forget(self, endpoint_id: str) -> None:
        self._cache.pop(endpoint_id, None)

    async def lookup(self, endpoint_id: str) -> EndpointRecord | None:
        now = time.monotonic()
        hit = self._cache.get(endpoint_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await self.run_read(load_endpoint, endpoint_id=endpoint_id)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[endpoint_id] = (now + ENDPOINT_CACHE_SECONDS, record)
        return record

    async def admit(self, request: Request) -> Admission | Refusal:
        """The endpoint and token of an opening connection, or the refusal to send."""
        endpoint_id = endpoint_id_from_path(request.path)
        if endpoint_id is None:
            return Refusal.invalid_path()
        if not is_endpoint_id(endpoint_id):
            return Refusal.not_found()
        record = await self.lookup(endpoint_id)
        if record is None:
            return Refusal.not_found()
        refusal = refusal_for_state(record)
        if refusal is not None:
            return refusal
        if record.access_mode != AccessMode.TOKEN:
            return Admission(record=record, token=None)
        value = token_from_request(request)
        if value is None:
            return Refusal.unauthorized()
        token = await self.run_read(find_token, endpoint_pk=record.pk, value=value)
        if token is None:
            return Refusal.unauthorized()
        return Admission(record=record, token=token)


class ControlWatch:
    """Once a second: one query for the endpoints with live connections here, one for the tokens in use;
    connections whose endpoint was deleted (4404), disabled or whose owner was banned (4403), or whose
    token was revoked (4401) are closed, and the other nodes are told."""

    def __init__(self, *, gate: Gate, hub: Hub, broker: Broker) -> None:
        self._gate = gate
        self._hub = hub
        self._broker = broker
        self._failing = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CONTROL_INTERVAL_SECONDS)
            await self.check()

    async def check(self) -> None:
        rooms = list(self._hub.rooms.values())
        if not rooms:
            return
        endpoint_pks: list[uuid.UUID] = [room.record.pk for room in rooms]
        token_ids = sorted({c.token_id for room in rooms for c in room.clients.values() if c.token_id is not None})
        try:
            snapshot: ControlSnapshot = await self._gate.run_read(
                control_check, endpoint_pks=endpoint_pks, token_ids=token_ids)
        except GateUnavailable as exc:
            if not self._failing:
                log.warning("control check failed, will retry: %s", exc)
            self._failing = True
            return
        self._failing = False
        for event in self.apply(snapshot, set(endpoint_pks), token_ids):
            await self._broker.publish_control(event)

    def apply(self, snapshot: ControlSnapshot, checked: set[uuid.UUID], token_ids: list[int]) -> list[ControlEvent]:
        """Close what the snapshot no longer allows; returns the events for the other nodes. Rooms opened
        while the query ran were not asked about and are left alone."""
        events: list[ControlEvent] = []
        for room in list(self._hub.rooms.values()):
            if room.record.pk not in checked:
                continue
            record = snapshot.endpoints.get(room.record.pk)
            if record is None:
                self._gate.forget(room.endpoint_id)
                if self._hub.refuse_live(room.clients.values(), Refusal.not_found()):
                    events.append(ControlEvent(ControlAction.DELETED, room.endpoint_id))
                continue
            room.record = record  # name, mode and header changes apply to live connections too
            self._gate.remember(record)
            refusal = refusal_for_state(record)
            if refusal is not None:
                action = ControlAction.OWNER_BANNED if record.owner_banned else ControlAction.DISABLED
                if self._hub.refuse_live(room.clients.values(), refusal):
                    events.append(ControlEvent(action, room.endpoint_id, reason=refusal.message))
                continue
            revoked = {tid for tid in token_ids if tid not in snapshot.live_token_ids}
            if revoked:
                gone = [c for c in room.clients.values() if c.token_id in revoked]
                if self._hub.refuse_live(gone, Refusal.token_revoked()):
                    events.extend(ControlEvent(ControlAction.TOKEN_REVOKED, room.endpoint_id, token_id=tid)
                                  for tid in sorted({c.token_id for c in gone if c.token_id is not None}))
        return events

    async def on_event(self, event: ControlEvent) -> None:
        """Another node noticed a change first: close the matching local connections at once."""
        room = self._hub.rooms.get(event.endpoint_id)
        if room is None:
            return
        self._gate.forget(event.endpoint_id)
        if event.action is ControlAction.DELETED:
            self._hub.refuse_live(room.clients.values(), Refusal.not_found())
        elif event.action is ControlAction.TOKEN_REVOKED:
            gone = [c for c in room.clients.values() if c.token_id == event.token_id]
            self._hub.refuse_live(gone, Refusal.token_revoked())
        else:
            # The reason text travels in the event; the close code is 4403 either way.
            refusal = (Refusal.owner_banned(None, None) if event.action is ControlAction.OWNER_BANNED
                       else Refusal.endpoint_disabled(None, None))
            if event.reason:
                refusal = Refusal(refusal.code, refusal.close_code, event.reason)
            self._hub.refuse_live(room.clients.values(), refusal)
