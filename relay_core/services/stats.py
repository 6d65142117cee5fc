"""Endpoint numbers as the API shows them: the sum of every relay node's share (read side)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from relay_core.models import Endpoint, EndpointMinute, EndpointStats, RelayNode, utcnow
from relay_core.views import StatsView

NODE_STALE_AFTER = timedelta(seconds=20)
"""A node whose heartbeat is older than this stops counting toward current_connections (SPEC: within 30 s)."""


def fresh_node_ids(*, session: Session) -> list[str]:
    cutoff = utcnow() - NODE_STALE_AFTER
    return list(session.exec(select(RelayNode.node_id).where(RelayNode.heartbeat_at >= cutoff)).all())


def stats_for(*, session: Session, endpoint_pks: Sequence[uuid.UUID]) -> dict[uuid.UUID, StatsView]:
    """StatsView per endpoint primary key (zeros for an endpoint never connected to)."""
    if not endpoint_pks:
        return {}
    live = fresh_node_ids(session=session)
    current = func.sum(case((col(EndpointStats.node_id).in_(live), EndpointStats.current_connections), else_=0))
    rows = session.execute(
        sa_select(
            col(EndpointStats.endpoint_pk), current, func.sum(EndpointStats.total_connections),
            func.sum(EndpointStats.total_messages), func.sum(EndpointStats.total_bytes),
            func.sum(EndpointStats.dropped_messages), func.max(EndpointStats.updated_at),
        ).where(col(EndpointStats.endpoint_pk).in_(list(endpoint_pks))).group_by(col(EndpointStats.endpoint_pk))
    ).all()
    last_active = dict(
        session.exec(select(Endpoint.id, Endpoint.last_active_at).where(col(Endpoint.id).in_(list(endpoint_pks)))).all()
    )
    views = {pk: StatsView(last_active_at=last_active.get(pk)) for pk in endpoint_pks}
    for pk, cur, total_conn, total_msg, total_bytes, dropped, updated in rows:
        views[pk] = StatsView(
            current_connections=int(cur or 0), total_connections=int(total_conn or 0),
            total_messages=int(total_msg or 0), total_bytes=int(total_bytes or 0), dropped_messages=int(dropped or 0),
            last_active_at=last_active.get(pk), updated_at=updated,
        )
    return views


def messages_per_minute(*, session: Session, endpoint_pk: uuid.UUID, minutes: int = 30) -> list[tuple[datetime, int]]:
    """The last `minutes` UTC minutes, oldest first, with the messages every node accepted in each (0 if none)."""
    now = utcnow().replace(second=0, microsecond=0)
    first = now - timedelta(minutes=minutes - 1)
    rows = session.execute(
        sa_select(col(EndpointMinute.minute), func.sum(EndpointMinute.messages))
        .where(col(EndpointMinute.endpoint_pk) == endpoint_pk, col(EndpointMinute.minute) >= first)
        .group_by(col(EndpointMinute.minute))
    ).all()
    counts = {minute: int(total or 0) for minute, total in rows}
    return [(first + timedelta(minutes=i), counts.get(first + timedelta(minutes=i), 0)) for i in range(minutes)]
