"""The relay's reads and small writes: endpoint and token look-ups, the control check, device identify,
and the node heartbeat (the batched writes are in relay_flush). Every function is blocking and runs in a
worker thread of the relay, never on its event loop."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from relay_core.bulk import conflict_insert, table_of
from relay_core.models import AccessToken, Device, DevicePresence, Endpoint, EndpointStats, RelayNode, User, utcnow
from relay_core.security import token_digest

_STATS = table_of(EndpointStats)
_PRESENCE = table_of(DevicePresence)
_DEVICES = table_of(Device)
_NODES = table_of(RelayNode)


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
    stmt = conflict_insert(session, _NODES).values(values)
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
                conflict_insert(session, _DEVICES).values(
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
