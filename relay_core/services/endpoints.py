"""Endpoints: create within the owner's limit, read only one's own, change modes, delete, disable."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from relay_core.errors import EndpointLimitReached, NotFound, ValidationFailed
from relay_core.models import AccessMode, Endpoint, ForwardingMode, User, utcnow
from relay_core.rules import (
    CUSTOM_HEADER_MAX,
    ENDPOINT_ID_LENGTH,
    REASON_MAX,
    check_endpoint_name,
    check_text,
    is_endpoint_id,
)
from relay_core.security import random_code
from relay_core.services.audit import record_action
from relay_core.services.stats import stats_for
from relay_core.settings import Settings
from relay_core.views import EndpointView

_UNSET = object()


def _check_modes(*, forwarding_mode: str, custom_header: str | None, access_mode: str) -> None:
    if forwarding_mode not in {m.value for m in ForwardingMode}:
        raise ValidationFailed.field("forwarding_mode", "one of json, direct, custom_header")
    if access_mode not in {m.value for m in AccessMode}:
        raise ValidationFailed.field("access_mode", "one of public, token")
    if custom_header is not None and len(check_text("custom_header", custom_header)) > CUSTOM_HEADER_MAX:
        raise ValidationFailed.field("custom_header", f"at most {CUSTOM_HEADER_MAX} characters")
    if forwarding_mode == ForwardingMode.CUSTOM_HEADER and not custom_header:
        raise ValidationFailed.field("custom_header", "required when forwarding_mode is custom_header")


def create_endpoint(
    *, session: Session, owner: User, settings: Settings, name: str | None = None,
    forwarding_mode: str = ForwardingMode.JSON, custom_header: str | None = None, access_mode: str = AccessMode.PUBLIC,
) -> Endpoint:
    name = check_endpoint_name(name) if name is not None else "Untitled endpoint"
    _check_modes(forwarding_mode=forwarding_mode, custom_header=custom_header, access_mode=access_mode)
    if not owner.is_admin:
        # Locks the owner's row so two concurrent creates cannot both slip under the limit.
        session.exec(select(User).where(User.id == owner.id).with_for_update()).first()
        owned = session.exec(select(func.count()).select_from(Endpoint).where(Endpoint.user_id == owner.id)).one()
        if owned >= settings.max_endpoints_per_user:
            raise EndpointLimitReached(settings.max_endpoints_per_user)
    for _attempt in range(5):
        endpoint = Endpoint(
            endpoint_id=random_code(ENDPOINT_ID_LENGTH), name=name, user_id=owner.id,
            forwarding_mode=str(forwarding_mode), custom_header=custom_header, access_mode=str(access_mode),
        )
        try:
            with session.begin_nested():
                session.add(endpoint)
                session.flush()
            return endpoint
        except IntegrityError:  # public id collision; draw again
            continue
    raise RuntimeError("could not draw a unique endpoint id")


def get_endpoint(*, session: Session, endpoint_id: str) -> Endpoint:
    endpoint = None
    if is_endpoint_id(endpoint_id):
        endpoint = session.exec(select(Endpoint).where(Endpoint.endpoint_id == endpoint_id)).first()
    if endpoint is None:
        raise NotFound("No such endpoint.")
    return endpoint


def get_owned_endpoint(*, session: Session, owner: User, endpoint_id: str) -> Endpoint:
    """The endpoint if `owner` owns it; NotFound otherwise, so another user's endpoint looks absent."""
    endpoint = get_endpoint(session=session, endpoint_id=endpoint_id)
    if endpoint.user_id != owner.id:
        raise NotFound("No such endpoint.")
    return endpoint


def list_endpoints(*, session: Session, owner_id: uuid.UUID | None = None) -> list[Endpoint]:
    """Newest first; one owner's, or all when owner_id is None (admins)."""
    query = select(Endpoint).order_by(col(Endpoint.created_at).desc(), col(Endpoint.id))
    if owner_id is not None:
        query = query.where(Endpoint.user_id == owner_id)
    return list(session.exec(query).all())


def update_endpoint(
    *, session: Session, endpoint: Endpoint, name: str | None = None, forwarding_mode: str | None = None,
    custom_header: str | object | None = _UNSET, access_mode: str | None = None,
) -> Endpoint:
    new_header = endpoint.custom_header if custom_header is _UNSET else custom_header
    assert new_header is None or isinstance(new_header, str)
    new_forwarding = forwarding_mode or endpoint.forwarding_mode
    new_access = access_mode or endpoint.access_mode
    _check_modes(forwarding_mode=new_forwarding, custom_header=new_header, access_mode=new_access)
    if name is not None:
        endpoint.name = check_endpoint_name(name)
    endpoint.forwarding_mode, endpoint.custom_header, endpoint.access_mode = new_forwarding, new_header, new_access
    session.add(endpoint)
    return endpoint


def delete_endpoint(*, session: Session, endpoint: Endpoint, actor: User) -> None:
    """Delete with its tokens, devices, stats and history; the relay closes its connections with 4404."""
    record_action(session=session, action="endpoint_delete", target_type="endpoint", target_id=endpoint.endpoint_id,
                  actor_id=actor.id)
    session.delete(endpoint)
    session.flush()


def set_endpoint_disabled(
    *, session: Session, endpoint_id: str, actor: User, disabled: bool, reason: str | None = None,
) -> Endpoint:
    reason = check_text("reason", reason or "").strip() or None
    if reason is not None and len(reason) > REASON_MAX:
        raise ValidationFailed.field("reason", f"at most {REASON_MAX} characters")
    endpoint = get_endpoint(session=session, endpoint_id=endpoint_id)
    if disabled:
        if not endpoint.is_disabled:
            endpoint.disabled_at = utcnow()
        endpoint.is_disabled, endpoint.disabled_reason = True, reason
    else:
        endpoint.is_disabled, endpoint.disabled_at, endpoint.disabled_reason = False, None, None
    session.add(endpoint)
    record_action(session=session, action="disable" if disabled else "enable", target_type="endpoint",
                  target_id=endpoint.endpoint_id, actor_id=actor.id, reason=reason)
    return endpoint


def endpoint_views(
    *, session: Session, settings: Settings, endpoints: Sequence[Endpoint], with_owner: bool = False,
) -> list[EndpointView]:
    """Endpoints with their websocket_url and live numbers, in two queries whatever the count."""
    stats = stats_for(session=session, endpoint_pks=[e.id for e in endpoints])
    owners: dict[uuid.UUID, str] = {}
    if with_owner and endpoints:
        owner_ids = {e.user_id for e in endpoints}
        owners = dict(session.exec(select(User.id, User.username).where(col(User.id).in_(owner_ids))).all())
    return [
        EndpointView.model_validate({
            **e.model_dump(), "websocket_url": settings.websocket_url(e.endpoint_id),
            "owner_username": owners.get(e.user_id), "stats": stats[e.id],
        })
        for e in endpoints
    ]
