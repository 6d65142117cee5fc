"""The audit log: who did what to which target, kept after the target is gone."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from relay_core.models import AuditLog

log = logging.getLogger(__name__)


def record_action(
    *, session: Session, action: str, target_type: str, target_id: str | int | uuid.UUID,
    actor_id: uuid.UUID | None, reason: str | None = None,
) -> AuditLog:
    entry = AuditLog(
        action=action, target_type=target_type, target_id=str(target_id),
        actor_id=str(actor_id) if actor_id else None, reason=reason,
    )
    session.add(entry)
    log.info("audit action=%s target=%s:%s actor=%s", action, target_type, target_id, actor_id)
    return entry


def list_audit_log(
    *, session: Session, target_type: str | None = None, action: str | None = None, page: int = 1, page_size: int = 50,
) -> tuple[list[AuditLog], int]:
    """One page, newest first, and the total matching."""
    query = select(AuditLog)
    count = select(func.count()).select_from(AuditLog)
    if target_type:
        query = query.where(AuditLog.target_type == target_type)
        count = count.where(AuditLog.target_type == target_type)
    if action:
        query = query.where(AuditLog.action == action)
        count = count.where(AuditLog.action == action)
    rows = session.exec(
        query.order_by(col(AuditLog.created_at).desc(), col(AuditLog.id).desc())
        .offset((page - 1) * page_size).limit(page_size)
    ).all()
    return list(rows), int(session.exec(count).one())
