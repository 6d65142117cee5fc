"""The relay's side of the database: endpoint and token look-ups, the control check, and batched writes
of stats, recent messages, devices, presence and the node heartbeat. Every function is blocking and
runs in a worker thread of the relay, never on its event loop."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from relay_core.models import (
    AccessToken,
    Device,
    DevicePresence,
    Endpoint,
    EndpointMinute,
    EndpointStats,
    Message,
    RelayNode,
    User,
    utcnow,
)
from relay_core.protocol import PREVIEW_MAX_CHARS
from relay_core.security import token_digest
from relay_core.services.activity import RECENT_MESSAGES


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


_STATS = _table(EndpointStats)
_PRESENCE = _table(DevicePresence)
_DEVICES = _table(Device)
_MESSAGES = _table(Message)
_ENDPOINTS = _table(Endpoint)
_TOKENS = _table(AccessToken)
_NODES = _table(RelayNode)
_MINUTES = _table(EndpointMinute)
MINUTE_HISTORY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """What the relay needs to know about an endpoint and its owner to admit and keep connections."""

    pk: uuid.UUID
    endpoint_id: str
    forwarding_mode: str
    custom_header: str | None
    access_mode: str
    is_disabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    owner_banned: bool
    banned_reason: str | None
    banned_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    endpoint_pk: uuid.UUID
    role: str


@dataclass(frozen=True, slots=True)
class ControlSnapshot:
    """The live state of the endpoints and tokens a node holds connections on; absent = deleted/revoked."""

    endpoints: dict[uuid.UUID, EndpointRecord]
    live_token_ids: set[int]


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


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _insert(session: Session, table: Table) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# Plain columns, not ORM objects: the control check reads every served endpoint each second, and
# building and tracking hundreds of ORM instances costs the relay's event loop its GIL share.
_RECORD_COLUMNS = (
    col(Endpoint.id), col(Endpoint.endpoint_id), col(Endpoint.forwarding_mode), col(Endpoint.custom_header),
    col(Endpoint.access_mode), col(Endpoint.is_disabled), col(Endpoint.disabled_reason), col(Endpoint.disabled_at),
    col(User.banned_at), col(User.is_active), col(User.banned_reason),
)


def _records(session: Session, *conditions: Any) -> list[EndpointRecord]:
    rows = session.execute(
        sa_select(*_RECORD_COLUMNS).join(User, col(User.id) == col(Endpoint.user_id)).where(*conditions)
    ).all()
    return [
        EndpointRecord(
            pk=pk, endpoint_id=endpoint_id, forwarding_mode=mode, custom_header=header, access_mode=access,
            is_disabled=disabled, disabled_reason=disabled_reason, disabled_at=disabled_at,
            owner_banned=banned_at is not None or not active, banned_reason=banned_reason, banned_at=banned_at,
        )
        for (pk, endpoint_id, mode, header, access, disabled, disabled_reason, disabled_at, banned_at, active,
             banned_reason) in rows
    ]


def load_endpoint(*, session: Session, endpoint_id: str) -> EndpointRecord | None:
    """The endpoint with this public id and its owner's ban state, or None."""
    found = _records(session, col(Endpoint.endpoint_id) == endpoint_id)
    return found[0] if found else None


def find_token(*, session: Session, endpoint_pk: uuid.UUID, value: str) -> TokenRecord | None:
    """The unrevoked token of this endpoint with this value, or None."""
    token = session.exec(select(AccessToken).where(AccessToken.token_hash == token_digest(value))).first()
    if token is None or token.endpoint_pk != endpoint_pk or token.revoked_at is not None or token.id is None:
        return None
    return TokenRecord(id=token.id, endpoint_pk=token.endpoint_pk, role=token.role)


def control_check(*, session: Session, endpoint_pks: Sequence[uuid.UUID], token_ids: Sequence[int]) -> ControlSnapshot:
    """Two queries whatever the numbers: the endpoints (with owners) and the unrevoked tokens among these."""
    endpoints: dict[uuid.UUID, EndpointRecord] = {}
    if endpoint_pks:
        endpoints = {r.pk: r for r in _records(session, col(Endpoint.id).in_(list(endpoint_pks)))}
    live_tokens: set[int] = set()
    if token_ids:
        found = session.exec(
            select(AccessToken.id)
            .where(col(AccessToken.id).in_(list(token_ids)), col(AccessToken.revoked_at).is_(None))
        ).all()
        live_tokens = {tid for tid in found if tid is not None}
    return ControlSnapshot(endpoints=endpoints, live_token_ids=live_tokens)


def heartbeat(*, session: Session, node_id: str, started: bool = False) -> None:
    """Mark this node alive (and, at start, record when it started)."""
    now = utcnow()
    values: dict[str, Any] = {"node_id": node_id, "started_at": now, "heartbeat_at": now}
    stmt = _insert(session, _NODES).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["node_id"],
        set_={"heartbeat_at": now, **({"started_at": now} if started else {})},
    )
    session.execute(stmt)


def reset_node(*, session: Session, node_id: str) -> None:
    """At start: this node holds no connection yet, whatever a crashed predecessor left behind."""
    session.execute(
        update(_STATS).where(_STATS.c.node_id == node_id).values(current_connections=0, updated_at=utcnow())
    )
    session.execute(delete(_PRESENCE).where(_PRESENCE.c.node_id == node_id))
    heartbeat(session=session, node_id=node_id, started=True)


def identify_device(*, session: Session, endpoint_pk: uuid.UUID, device_id: str, name: str | None) -> str | None:
    """Create or touch the device (renaming it when `name` is given) and return its stored name."""
    now = utcnow()
    try:
        with session.begin_nested():
            session.execute(
                _insert(session, _DEVICES).values(
                    endpoint_pk=endpoint_pk, device_id=device_id, name=name, first_seen_at=now, last_seen_at=now,
                ).on_conflict_do_nothing(index_elements=["endpoint_pk", "device_id"])
            )
    except IntegrityError:  # the endpoint was deleted meanwhile; the control check closes the connection
        return name
    values: dict[str, Any] = {"last_seen_at": now}
    if name is not None:
        values["name"] = name
    session.execute(
        update(_DEVICES).where(_DEVICES.c.endpoint_pk == endpoint_pk, _DEVICES.c.device_id == device_id).values(values)
    )
    stored = session.exec(
        select(Device.name).where(Device.endpoint_pk == endpoint_pk, Device.device_id == device_id)
    ).first()
    return stored


def _existing_endpoints(session: Session, pks: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(set(pks))
    if not wanted:
        return set()
    return set(session.exec(select(Endpoint.id).where(col(Endpoint.id).in_(wanted))).all())


def flush_stats(*, session: Session, node_id: str, batch: StatsBatch) -> None:
    """Write one batch: this node's stats shares, the newest messages (then trim to 50 per endpoint),
    last_active_at, token last_used_at, device presence and last_seen_at, and the heartbeat.
    Rows of endpoints deleted meanwhile are skipped."""
    now = utcnow()
    alive = _existing_endpoints(
        session, [*batch.endpoints, *batch.messages, *(pk for pk, _ in batch.presence)]
    )
    stats_rows = [
        {"endpoint_pk": pk, "node_id": node_id, "current_connections": d.current, "total_connections": d.connections,
         "total_messages": d.messages, "total_bytes": d.bytes, "dropped_messages": d.dropped, "updated_at": now}
        for pk, d in batch.endpoints.items() if pk in alive
    ]
    if stats_rows:
        # executemany of one cached statement: a multi-row VALUES clause is compiled afresh every flush
        stmt = _insert(session, _STATS)
        excluded = stmt.excluded
        session.execute(stmt.on_conflict_do_update(
            index_elements=["endpoint_pk", "node_id"],
            set_={
                "current_connections": excluded.current_connections,
                "total_connections": _STATS.c.total_connections + excluded.total_connections,
                "total_messages": _STATS.c.total_messages + excluded.total_messages,
                "total_bytes": _STATS.c.total_bytes + excluded.total_bytes,
                "dropped_messages": _STATS.c.dropped_messages + excluded.dropped_messages,
                "updated_at": excluded.updated_at,
            },
        ), stats_rows)
    active = [{"pk": pk, "t": _from_ms(d.last_active_ms)} for pk, d in batch.endpoints.items()
              if pk in alive and d.last_active_ms is not None]
    if active:
        session.execute(
            update(_ENDPOINTS).where(_ENDPOINTS.c.id == bindparam("pk")).values(last_active_at=bindparam("t")),
            active, execution_options={"synchronize_session": False},
        )
    _count_minute(session, node_id, now, [(pk, d.messages) for pk, d in batch.endpoints.items()
                                          if pk in alive and d.messages])
    _write_messages(session, {pk: rows for pk, rows in batch.messages.items() if pk in alive and rows})
    if batch.token_last_used_ms:
        session.execute(
            update(_TOKENS).where(_TOKENS.c.id == bindparam("tid")).values(last_used_at=bindparam("t")),
            [{"tid": tid, "t": _from_ms(ms)} for tid, ms in batch.token_last_used_ms.items()],
            execution_options={"synchronize_session": False},
        )
    _write_presence(session, node_id, batch, alive)
    heartbeat(session=session, node_id=node_id)


_TRIM = delete(_MESSAGES).where(
    _MESSAGES.c.endpoint_pk == bindparam("pk"),
    _MESSAGES.c.id.in_(
        select(_MESSAGES.c.id).where(_MESSAGES.c.endpoint_pk == bindparam("pk"))
        .order_by(_MESSAGES.c.timestamp.desc(), _MESSAGES.c.id.desc()).offset(RECENT_MESSAGES).scalar_subquery()
    ),
)
"""Keep an endpoint's RECENT_MESSAGES newest rows: one index walk per endpoint (a window over every touched
endpoint's rows sorted them all, and cost four times as much)."""

_MS_TO_TIMESTAMP = {
    # the text SQLAlchemy's SQLite DATETIME stores ('%f' is SS.SSS; the relay's clock is in ms)
    "sqlite": "strftime('%Y-%m-%d %H:%M:%f000', {} / 1000.0, 'unixepoch')",
    "postgresql": "to_timestamp({} / 1000.0)",
}
"""SQL that turns a bound Unix time in ms into the dialect's stored timestamp, so no row is converted in Python."""


def _insert_messages_sql(dialect: Any) -> str:
    quote = dialect.identifier_preparer.quote  # "timestamp" and "binary" are keywords in PostgreSQL
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(map(quote, ("endpoint_pk", "timestamp", "connection_id", "device_id", "size", "binary",
                                  "preview")))
    values = ", ".join([mark, _MS_TO_TIMESTAMP[dialect.name].format(mark), *[mark] * 5])
    return f"INSERT INTO {quote(_MESSAGES.name)} ({names}) VALUES ({values})"  # noqa: S608 (constants only)


def _as_is(value: Any) -> Any:
    return value


def _write_messages(session: Session, messages: dict[uuid.UUID, list[RecentMessage]]) -> None:
    """Insert the newest messages of each endpoint, then trim those endpoints to RECENT_MESSAGES rows.

    The insert is one executemany at the driver level, timestamps converted by the database: a relay serving
    many endpoints writes thousands of rows a second here, and SQLAlchemy's per-row parameter processing cost
    more CPU, and more of the GIL the event loop needs, than the database itself."""
    if not messages:
        return
    connection = session.connection()
    dialect = connection.dialect
    to_pk: Callable[[uuid.UUID], Any] = _MESSAGES.c.endpoint_pk.type.bind_processor(dialect) or _as_is
    rows = [
        (stored_pk, at, connection_id, device_id, size, text is None, _preview(text))
        for pk, recent in messages.items()
        for stored_pk in (to_pk(pk),)
        for at, connection_id, device_id, size, text in recent
    ]
    connection.exec_driver_sql(_insert_messages_sql(dialect), rows)
    connection.execute(_TRIM, [{"pk": pk} for pk in messages])


def _write_presence(session: Session, node_id: str, batch: StatsBatch, alive: set[uuid.UUID]) -> None:
    online = [{"endpoint_pk": pk, "device_id": dev, "node_id": node_id, "connections": n}
              for (pk, dev), n in batch.presence.items() if n > 0 and pk in alive]
    if online:
        stmt = _insert(session, _PRESENCE).values(online)
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
            [{"pk": pk, "dev": dev, "t": _from_ms(ms)} for (pk, dev), ms in batch.device_seen_ms.items()],
            execution_options={"synchronize_session": False},
        )


def _preview(text: str | None) -> str | None:
    """The stored preview of a text message: its first PREVIEW_MAX_CHARS characters, with U+FFFD in place of
    NUL, which PostgreSQL text cannot hold (the relayed frame is untouched). None for binary."""
    if text is None:
        return None
    if len(text) > PREVIEW_MAX_CHARS:
        text = text[:PREVIEW_MAX_CHARS]
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _count_minute(session: Session, node_id: str, now: datetime, counts: list[tuple[uuid.UUID, int]]) -> None:
    """Add this flush's accepted messages to the current minute's row per endpoint (the flush runs at least
    once a second while messages flow, so a message lands in its own minute or the next); once a minute,
    forget minutes older than a day."""
    minute = now.replace(second=0, microsecond=0)
    if counts:
        stmt = _insert(session, _MINUTES)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["endpoint_pk", "node_id", "minute"],
            set_={"messages": _MINUTES.c.messages + stmt.excluded.messages},
        ), [{"endpoint_pk": pk, "node_id": node_id, "minute": minute, "messages": n} for pk, n in counts])
    if now.second == 0:
        session.execute(delete(_MINUTES).where(_MINUTES.c.minute < minute - MINUTE_HISTORY))
