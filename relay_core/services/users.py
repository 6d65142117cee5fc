"""Accounts: registration with an invite, login, password and email changes, bans, the bootstrap admin."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from relay_core.errors import (
    EmailTaken,
    InvalidCredentials,
    NotFound,
    Unauthorized,
    UserBanned,
    UsernameTaken,
    ValidationFailed,
    WrongPassword,
)
from relay_core.models import Endpoint, User, utcnow
from relay_core.rules import REASON_MAX, check_email, check_password, check_text, check_username
from relay_core.security import TokenClaims, hash_password, verify_password
from relay_core.services.audit import record_action
from relay_core.services.invites import check_invite_usable, claim_invite
from relay_core.views import UserView

log = logging.getLogger(__name__)


def _ensure_unique(*, session: Session, username: str | None = None, email: str | None = None,
                   exclude: uuid.UUID | None = None) -> None:
    if username is not None:
        query = select(User.id).where(func.lower(User.username) == username.lower())
        if exclude:
            query = query.where(User.id != exclude)
        if session.exec(query).first() is not None:
            raise UsernameTaken()
    if email is not None:
        query = select(User.id).where(func.lower(User.email) == email.lower())
        if exclude:
            query = query.where(User.id != exclude)
        if session.exec(query).first() is not None:
            raise EmailTaken()


def _save_user(*, session: Session, user: User) -> User:
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # lost a race for the same name or address
        text = str(exc.orig).lower()
        raise (EmailTaken() if "email" in text else UsernameTaken()) from None
    return user


def register_user(*, session: Session, invite_code: str, username: str, email: str, password: str) -> User:
    """Create the account and use up the invite in the same transaction (all or nothing)."""
    username = check_username(username)
    email = check_email(email)
    check_password(password)
    check_invite_usable(session=session, code=check_text("invite_code", invite_code))
    _ensure_unique(session=session, username=username, email=email)
    user = _save_user(session=session, user=User(username=username, email=email, password_hash=hash_password(password)))
    invite = claim_invite(session=session, code=invite_code, user_id=user.id)
    if invite.grants_admin:
        user.is_admin = True
        session.add(user)
    log.info("user registered user_id=%s admin=%s", user.id, user.is_admin)
    return user


def create_user(*, session: Session, username: str, email: str, password: str, is_admin: bool = False) -> User:
    """An account without an invite (the admin CLI and the bootstrap admin)."""
    username = check_username(username)
    email = check_email(email)
    check_password(password)
    _ensure_unique(session=session, username=username, email=email)
    return _save_user(session=session, user=User(
        username=username, email=email, password_hash=hash_password(password), is_admin=is_admin))


def ensure_not_banned(user: User) -> None:
    if user.banned_at is not None or not user.is_active:
        raise UserBanned(reason=user.banned_reason, banned_at=user.banned_at)


def authenticate(*, session: Session, login: str, password: str) -> User:
    """The user for a username or email and password; the same error and time either way it fails."""
    login = check_text("username", login).strip()
    user = session.exec(
        select(User).where((func.lower(User.username) == login.lower()) | (func.lower(User.email) == login.lower()))
    ).first()
    if not verify_password(password, user.password_hash if user else None) or user is None:
        raise InvalidCredentials()
    ensure_not_banned(user)
    return user


def user_for_claims(*, session: Session, claims: TokenClaims) -> User:
    """The live user behind a verified JWT: UserBanned if banned, Unauthorized if gone or the token is stale."""
    user = session.get(User, claims.user_id)
    if user is None:
        raise Unauthorized()
    # The ban is checked first: a banned user's old token says why (USER_BANNED), while after an unban
    # the bumped token_version makes the same token a plain 401.
    ensure_not_banned(user)
    if user.token_version != claims.token_version:
        raise Unauthorized()
    return user


def get_user(*, session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def endpoint_counts(*, session: Session, user_ids: Sequence[uuid.UUID] | None = None) -> dict[uuid.UUID, int]:
    query = select(Endpoint.user_id, func.count()).group_by(col(Endpoint.user_id))
    if user_ids is not None:
        query = query.where(col(Endpoint.user_id).in_(list(user_ids)))
    return {user_id: int(count) for user_id, count in session.exec(query).all()}


def user_view(*, session: Session, user: User) -> UserView:
    count = endpoint_counts(session=session, user_ids=[user.id]).get(user.id, 0)
    return UserView.model_validate({**user.model_dump(), "endpoint_count": count})


def list_users(*, session: Session) -> list[UserView]:
    users = session.exec(select(User).order_by(col(User.created_at).desc())).all()
    counts = endpoint_counts(session=session)
    return [UserView.model_validate({**u.model_dump(), "endpoint_count": counts.get(u.id, 0)}) for u in users]


def update_email(*, session: Session, user: User, email: str) -> User:
    email = check_email(email)
    _ensure_unique(session=session, email=email, exclude=user.id)
    user.email = email
    session.add(user)
    return _save_user(session=session, user=user)


def change_password(*, session: Session, user: User, current_password: str, new_password: str) -> User:
    """Set a new password and bump token_version so every older token stops working."""
    if not verify_password(current_password, user.password_hash):
        raise WrongPassword()
    check_password(new_password, field="new_password")
    return set_password(session=session, user=user, new_password=new_password)


def set_password(*, session: Session, user: User, new_password: str) -> User:
    check_password(new_password, field="new_password")
    user.password_hash = hash_password(new_password)
    user.token_version += 1
    session.add(user)
    log.info("password changed user_id=%s", user.id)
    return user


def _check_reason(reason: str | None) -> str | None:
    reason = check_text("reason", reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise ValidationFailed.field("reason", f"at most {REASON_MAX} characters")
    return reason


def ban_user(*, session: Session, user_id: uuid.UUID, actor: User, reason: str | None = None) -> User:
    """Ban (idempotent: a second ban keeps the first time), bump token_version; the relay closes live
    connections of the user's endpoints with 4403 on its next control check."""
    reason = _check_reason(reason)
    user = get_user(session=session, user_id=user_id)
    if user.id == actor.id:
        raise ValidationFailed.field("user_id", "you cannot ban yourself")
    if user.banned_at is None:
        user.banned_at = utcnow()
        user.token_version += 1
    user.banned_reason = reason
    session.add(user)
    record_action(session=session, action="ban", target_type="user", target_id=user.id, actor_id=actor.id,
                  reason=reason)
    return user


def unban_user(*, session: Session, user_id: uuid.UUID, actor: User, reason: str | None = None) -> User:
    reason = _check_reason(reason)
    user = get_user(session=session, user_id=user_id)
    user.banned_at = None
    user.banned_reason = None
    user.is_active = True
    session.add(user)
    record_action(session=session, action="unban", target_type="user", target_id=user.id, actor_id=actor.id,
                  reason=reason)
    return user


def admin_exists(*, session: Session) -> bool:
    return session.exec(select(User.id).where(col(User.is_admin).is_(True))).first() is not None
