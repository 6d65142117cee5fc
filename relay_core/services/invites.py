"""Invite codes: batch creation, derived status, revocation, and the atomic claim at registration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, col, select

from relay_core.errors import InvalidInviteCode, InviteNotRevocable, NotFound, ValidationFailed
from relay_core.models import InviteCode, User, utcnow
from relay_core.rules import INVITE_BATCH_MAX, INVITE_CODE_LENGTH, check_text
from relay_core.security import random_code
from relay_core.services.audit import record_action
from relay_core.views import InviteView


class InviteStatus(StrEnum):
    UNUSED = "unused"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


def invite_status(invite: InviteCode, *, now: datetime | None = None) -> InviteStatus:
    if invite.used_by is not None or invite.used_at is not None:
        return InviteStatus.USED
    if invite.revoked_at is not None:
        return InviteStatus.REVOKED
    if invite.expires_at is not None and invite.expires_at <= (now or utcnow()):
        return InviteStatus.EXPIRED
    return InviteStatus.UNUSED


def create_invites(
    *, session: Session, created_by: uuid.UUID | None, count: int = 1, expires_at: datetime | None = None,
    expires_in_hours: float | None = None, grants_admin: bool = False,
) -> list[InviteCode]:
    if not 1 <= count <= INVITE_BATCH_MAX:
        raise ValidationFailed.field("count", f"1 to {INVITE_BATCH_MAX}")
    if expires_at is not None and expires_in_hours is not None:
        raise ValidationFailed.field("expires_at", "give expires_at or expires_in_hours, not both")
    if expires_in_hours is not None:
        if expires_in_hours <= 0:
            raise ValidationFailed.field("expires_in_hours", "must be greater than 0")
        expires_at = utcnow() + timedelta(hours=expires_in_hours)
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed.field("expires_at", "must be in the future")
    invites = []
    for _ in range(count):
        invite = InviteCode(
            code=random_code(INVITE_CODE_LENGTH), grants_admin=grants_admin, expires_at=expires_at,
            created_by=created_by,
        )
        session.add(invite)
        invites.append(invite)
    session.flush()
    for invite in invites:
        record_action(session=session, action="invite_create", target_type="invite", target_id=invite.id or 0,
                      actor_id=created_by)
    return invites


def list_invites(*, session: Session, status: InviteStatus | None = None) -> list[InviteView]:
    rows = session.exec(
        select(InviteCode, User.username)
        .join(User, col(User.id) == col(InviteCode.used_by), isouter=True)
        .order_by(col(InviteCode.created_at).desc(), col(InviteCode.id).desc())
    ).all()
    now = utcnow()
    views = [invite_view(invite, used_by_username=username, now=now) for invite, username in rows]
    return [v for v in views if status is None or v.status == status]


def invite_view(invite: InviteCode, *, used_by_username: str | None = None, now: datetime | None = None) -> InviteView:
    return InviteView.model_validate(
        {**invite.model_dump(), "status": invite_status(invite, now=now).value, "used_by_username": used_by_username}
    )


def get_invite(*, session: Session, code: str) -> InviteCode:
    check_text("code", code)
    invite = session.exec(select(InviteCode).where(InviteCode.code == code)).first()
    if invite is None:
        raise NotFound("No such invite code.")
    return invite


def revoke_invite(*, session: Session, code: str, actor_id: uuid.UUID | None) -> InviteCode:
    invite = get_invite(session=session, code=code)
    status = invite_status(invite)
    if status in (InviteStatus.USED, InviteStatus.REVOKED):
        raise InviteNotRevocable(status.value)
    invite.revoked_at = utcnow()
    session.add(invite)
    record_action(session=session, action="invite_revoke", target_type="invite", target_id=invite.id or 0,
                  actor_id=actor_id)
    return invite


def claim_invite(*, session: Session, code: str, user_id: uuid.UUID) -> InviteCode:
    """Mark the code used by user_id in one conditional UPDATE, so two racers cannot both win.

    Runs inside the registration transaction: if the registration fails, the claim rolls back with it.
    """
    now = utcnow()
    result = session.execute(
        update(InviteCode)
        .where(col(InviteCode.code) == code, col(InviteCode.used_by).is_(None), col(InviteCode.used_at).is_(None),
               col(InviteCode.revoked_at).is_(None),
               (col(InviteCode.expires_at).is_(None)) | (col(InviteCode.expires_at) > now))
        .values(used_by=user_id, used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        invite = session.exec(select(InviteCode).where(InviteCode.code == code)).first()
        raise InvalidInviteCode("unknown" if invite is None else invite_status(invite, now=now).value)
    invite = session.exec(select(InviteCode).where(InviteCode.code == code)).one()
    session.refresh(invite)
    return invite


def check_invite_usable(*, session: Session, code: str) -> InviteCode:
    """Raise InvalidInviteCode with the reason unless the code could be claimed now."""
    invite = session.exec(select(InviteCode).where(InviteCode.code == code)).first()
    if invite is None:
        raise InvalidInviteCode("unknown")
    status = invite_status(invite)
    if status is not InviteStatus.UNUSED:
        raise InvalidInviteCode(status.value)
    return invite
