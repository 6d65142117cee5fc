"""Access tokens of `token` endpoints: create (the value shown once), list, revoke, verify."""

from __future__ import annotations

from sqlmodel import Session, col, select

from relay_core.errors import NotFound, ValidationFailed
from relay_core.models import AccessToken, Endpoint, TokenRole, User, utcnow
from relay_core.rules import TOKEN_NAME_MAX, check_text
from relay_core.security import new_access_token, token_digest
from relay_core.services.audit import record_action
from relay_core.views import NewTokenView


def create_token(*, session: Session, endpoint: Endpoint, name: str, role: str = TokenRole.BOTH) -> NewTokenView:
    name = check_text("name", name).strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise ValidationFailed.field("name", f"1 to {TOKEN_NAME_MAX} characters")
    if role not in {r.value for r in TokenRole}:
        raise ValidationFailed.field("role", "one of publish, subscribe, both")
    value = new_access_token()
    token = AccessToken(endpoint_pk=endpoint.id, name=name, role=str(role), token_hash=token_digest(value))
    session.add(token)
    session.flush()
    assert token.id is not None
    return NewTokenView(id=token.id, name=token.name, role=token.role, token=value, created_at=token.created_at)


def list_tokens(*, session: Session, endpoint: Endpoint) -> list[AccessToken]:
    return list(session.exec(
        select(AccessToken).where(AccessToken.endpoint_pk == endpoint.id).order_by(col(AccessToken.created_at).desc())
    ).all())


def revoke_token(*, session: Session, endpoint: Endpoint, token_id: int, actor: User) -> AccessToken:
    """Revoke (idempotent); the relay closes connections that used it with 4401."""
    token = session.get(AccessToken, token_id)
    if token is None or token.endpoint_pk != endpoint.id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        record_action(session=session, action="token_revoke", target_type="token", target_id=token_id,
                      actor_id=actor.id)
    return token
