"""The relay's batched writes: one transaction per flush with this node's stats shares, the newest messages
(trimmed to RECENT_MESSAGES per endpoint), last_active_at, the per-minute counts, token last_used_at,
device presence and last_seen_at, and the heartbeat. Blocking; runs in a worker thread of the relay.

The rows that scale with the number of busy endpoints are written with relay_core.bulk's multi-row
statements, so that a flush costs a handful of statement steps whatever the number of endpoints (see there
why that matters to the relay's event loop)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session

from relay_core.bulk import Converters, conflict_insert, insert_rows, table_of, update_by_key, upsert_clause
from relay_core.models import (
    AccessToken,
    Device,
    DevicePresence,
    Endpoint,
    EndpointMinute,
    EndpointStats,
    Message,
    utcnow,
)
from relay_core.protocol import PREVIEW_MAX_CHARS
from relay_core.services.activity import RECENT_MESSAGES
from relay_core.services.relay_records import heartbeat

_STATS = table_of(EndpointStats)
_PRESENCE = table_of(DevicePresence)
_DEVICES = table_of(Device)
_MESSAGES = table_of(Message)
_ENDPOINTS = table_of(Endpoint)
_TOKENS = table_of(AccessToken)
_MINUTES = table_of(EndpointMinute)
MINUTE_HISTORY = timedelta(days=1)


@dataclass(slots=True)
class EndpointDelta:
    """One endpoint's change on this node since the last flush; `current` is absolute, the rest add up."""

    current: int = 0
    connections: int = 0
    messages: int = 0
    bytes: int = 0
    dropped: int = 0
    last_active_ms: int | None = None

    def merge(self, newer: EndpointDelta) -> None:
        """Fold a newer delta into this older one (used when a flush failed and is retried)."""
        self.current = newer.current
        self.connections += newer.connections
        self.messages += newer.messages
        self.bytes += newer.bytes
        self.dropped += newer.dropped
        if newer.last_active_ms is not None:
            self.last_active_ms = max(self.last_active_ms or 0, newer.last_active_ms)


RecentMessage = tuple[int, str, "str | None", int, "str | None"]
"""One relayed message as the relay keeps it: (timestamp ms, connection id, device id, size, text or None for
binary). A plain tuple, made on the hot path and written as it is."""


@dataclass(slots=True)
class StatsBatch:
    """Everything one flush writes, for one node."""

    endpoints: dict[uuid.UUID, EndpointDelta] = field(default_factory=dict)
    messages: dict[uuid.UUID, list[RecentMessage]] = field(default_factory=dict)
    """Per endpoint, its newest messages since the last flush (at most RECENT_MESSAGES), oldest first."""
    token_last_used_ms: dict[int, int] = field(default_factory=dict)
    presence: dict[tuple[uuid.UUID, str], int] = field(default_factory=dict)
    device_seen_ms: dict[tuple[uuid.UUID, str], int] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.endpoints or self.messages or self.token_last_used_ms or self.presence
                    or self.device_seen_ms)


def flush_stats(*, session: Session, node_id: str, batch: StatsBatch) -> None:
    """Write one batch (see the module docstring). Rows of endpoints deleted meanwhile are skipped."""
    now = utcnow()
    alive = _existing_endpoints(session, {*batch.endpoints, *batch.messages, *(pk for pk, _ in batch.presence)})
    connection = session.connection()
    sql = Converters(connection.dialect)
    to_pk = sql.of(_STATS.c.endpoint_pk)
    deltas = [(to_pk(pk), d) for pk, d in batch.endpoints.items() if pk in alive]
    stamp = sql.of(_STATS.c.updated_at)(now)
    insert_rows(
        connection, sql, _STATS,
        ("endpoint_pk", "node_id", "current_connections", "total_connections", "total_messages", "total_bytes",
         "dropped_messages", "updated_at"),
        [(pk, node_id, d.current, d.connections, d.messages, d.bytes, d.dropped, stamp) for pk, d in deltas],
        on_conflict=upsert_clause(sql, _STATS, keys=("endpoint_pk", "node_id"),
                                  replace=("current_connections", "updated_at"),
                                  add=("total_connections", "total_messages", "total_bytes", "dropped_messages")),
    )
    update_by_key(connection, sql, _ENDPOINTS, key="id", column="last_active_at", template=sql.ms_to_timestamp,
                  values={pk: d.last_active_ms for pk, d in deltas if d.last_active_ms is not None})
    minute = now.replace(second=0, microsecond=0)
    stored_minute = sql.of(_MINUTES.c.minute)(minute)
    insert_rows(
        connection, sql, _MINUTES, ("endpoint_pk", "node_id", "minute", "messages"),
        [(pk, node_id, stored_minute, d.messages) for pk, d in deltas if d.messages],
        on_conflict=upsert_clause(sql, _MINUTES, keys=("endpoint_pk", "node_id", "minute"), add=("messages",)),
    )
    if now.second < 3:  # about once a minute (a flush lands in any 3 s), forget minutes older than a day
        session.execute(delete(_MINUTES).where(_MINUTES.c.minute < minute - MINUTE_HISTORY))
    _write_messages(session, sql, {pk: rows for pk, rows in batch.messages.items() if pk in alive and rows})
    update_by_key(connection, sql, _TOKENS, key="id", column="last_used_at", template=sql.ms_to_timestamp,
                  values=batch.token_last_used_ms)
    _write_presence(session, node_id, batch, alive)
    heartbeat(session=session, node_id=node_id)


def _existing_endpoints(session: Session, pks: set[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these endpoints still exist: a count first (one row back in the usual case), the rows only
    when some were deleted."""
    if not pks:
        return set()
    wanted = list(pks)
    count = session.execute(sa_select(func.count()).select_from(_ENDPOINTS).where(_ENDPOINTS.c.id.in_(wanted)))
    if count.scalar_one() == len(wanted):
        return pks
    return set(session.execute(sa_select(_ENDPOINTS.c.id).where(_ENDPOINTS.c.id.in_(wanted))).scalars())


_NEWER = _MESSAGES.alias("newer")
_CUT = _MESSAGES.alias("cut")
_OLD = _MESSAGES.alias("old")
_NTH_NEWEST = (
    sa_select(_NEWER.c.id).where(_NEWER.c.endpoint_pk == _ENDPOINTS.c.id)
    .order_by(_NEWER.c.timestamp.desc(), _NEWER.c.id.desc()).limit(1).offset(RECENT_MESSAGES - 1)
    .scalar_subquery()
)
_TRIM = delete(_MESSAGES).where(_MESSAGES.c.id.in_(
    sa_select(_OLD.c.id)
    .select_from(
        _ENDPOINTS
        .join(_CUT, _CUT.c.id == _NTH_NEWEST)
        .join(_OLD, and_(_OLD.c.endpoint_pk == _ENDPOINTS.c.id,
                         _OLD.c.timestamp <= _CUT.c.timestamp,  # a range of the (endpoint, timestamp) index
                         or_(_OLD.c.timestamp < _CUT.c.timestamp, _OLD.c.id < _CUT.c.id)))
    )
    .where(_ENDPOINTS.c.id.in_(bindparam("pks", expanding=True)))
))
"""Delete what is older than each endpoint's RECENT_MESSAGES-th newest message, for many endpoints in one
statement: per endpoint, one short index walk to that message, then the older rows."""


def _write_messages(session: Session, sql: Converters, messages: dict[uuid.UUID, list[RecentMessage]]) -> None:
    """Insert the newest messages of each endpoint, then trim those endpoints to RECENT_MESSAGES rows."""
    if not messages:
        return
    to_pk = sql.of(_MESSAGES.c.endpoint_pk)
    rows = [
        (stored_pk, at, connection_id, device_id, size, text is None,
         text if text is None or (len(text) <= PREVIEW_MAX_CHARS and "\x00" not in text) else _preview(text))
        for pk, recent in messages.items()
        for stored_pk in (to_pk(pk),)
        for at, connection_id, device_id, size, text in recent
    ]
    insert_rows(session.connection(), sql, _MESSAGES,
                ("endpoint_pk", "timestamp", "connection_id", "device_id", "size", "binary", "preview"), rows,
                templates={"timestamp": sql.ms_to_timestamp})
    session.execute(_TRIM, {"pks": list(messages)})


def _write_presence(session: Session, node_id: str, batch: StatsBatch, alive: set[uuid.UUID]) -> None:
    online = [{"endpoint_pk": pk, "device_id": dev, "node_id": node_id, "connections": n}
              for (pk, dev), n in batch.presence.items() if n > 0 and pk in alive]
    if online:
        stmt = conflict_insert(session, _PRESENCE).values(online)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["endpoint_pk", "device_id", "node_id"], set_={"connections": stmt.excluded.connections},
        ))
    for (pk, dev), n in batch.presence.items():
        if n <= 0:
            session.execute(delete(_PRESENCE).where(
                _PRESENCE.c.endpoint_pk == pk, _PRESENCE.c.device_id == dev, _PRESENCE.c.node_id == node_id))
    if batch.device_seen_ms:
        session.execute(
            update(_DEVICES).where(_DEVICES.c.endpoint_pk == bindparam("pk"), _DEVICES.c.device_id == bindparam("dev"))
            .values(last_seen_at=bindparam("t")),
            [{"pk": pk, "dev": dev, "t": datetime.fromtimestamp(ms / 1000, UTC)}
             for (pk, dev), ms in batch.device_seen_ms.items()],
            execution_options={"synchronize_session": False},
        )


def _preview(text: str) -> str:
    """The stored preview of a long text or one with NUL: its first PREVIEW_MAX_CHARS characters, with U+FFFD
    in place of NUL, which PostgreSQL text cannot hold (the relayed frame is untouched)."""
    if len(text) > PREVIEW_MAX_CHARS:
        text = text[:PREVIEW_MAX_CHARS]
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
