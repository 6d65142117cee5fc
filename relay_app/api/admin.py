"""/api/admin: invite codes, users, all endpoints, the audit log (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from relay_app.api.deps import AdminUser, Db, SettingsDep
from relay_app.api.envelope import Envelope, PagedEnvelope, PageMeta
from relay_app.api.schemas import InviteCreate, ReasonBody
from relay_core.services import audit, endpoints, invites, users
from relay_core.services.invites import InviteStatus
from relay_core.views import AuditView, EndpointView, InviteView, UserView

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/invite-codes")
def list_invites(
    _admin: AdminUser, db: Db, status_filter: Annotated[InviteStatus | None, Query(alias="status")] = None,
) -> Envelope[list[InviteView]]:
    return Envelope(data=invites.list_invites(session=db, status=status_filter))


@router.post("/invite-codes", status_code=status.HTTP_201_CREATED)
def create_invites(body: InviteCreate, admin: AdminUser, db: Db) -> Envelope[list[InviteView]]:
    created = invites.create_invites(session=db, created_by=admin.id, count=body.count, expires_at=body.expires_at,
                                     expires_in_hours=body.expires_in_hours, grants_admin=body.grants_admin)
    return Envelope(data=[invites.invite_view(i) for i in created])


@router.delete("/invite-codes/{code}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_invite(code: Annotated[str, Path(max_length=64)], admin: AdminUser, db: Db) -> Response:
    invites.revoke_invite(session=db, code=code, actor_id=admin.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users")
def list_users(_admin: AdminUser, db: Db) -> Envelope[list[UserView]]:
    return Envelope(data=users.list_users(session=db))


@router.get("/users/{user_id}/endpoints")
def user_endpoints(
    user_id: uuid.UUID, _admin: AdminUser, db: Db, settings: SettingsDep,
) -> Envelope[list[EndpointView]]:
    owner = users.get_user(session=db, user_id=user_id)
    own = endpoints.list_endpoints(session=db, owner_id=owner.id)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=own, with_owner=True))


@router.post("/users/{user_id}/ban")
def ban_user(user_id: uuid.UUID, admin: AdminUser, db: Db, body: ReasonBody | None = None) -> Envelope[UserView]:
    user = users.ban_user(session=db, user_id=user_id, actor=admin, reason=body.reason if body else None)
    return Envelope(data=users.user_view(session=db, user=user))


@router.post("/users/{user_id}/unban")
def unban_user(user_id: uuid.UUID, admin: AdminUser, db: Db, body: ReasonBody | None = None) -> Envelope[UserView]:
    user = users.unban_user(session=db, user_id=user_id, actor=admin, reason=body.reason if body else None)
    return Envelope(data=users.user_view(session=db, user=user))


@router.get("/endpoints")
def list_all_endpoints(_admin: AdminUser, db: Db, settings: SettingsDep) -> Envelope[list[EndpointView]]:
    every = endpoints.list_endpoints(session=db)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=every, with_owner=True))


def _set_disabled(endpoint_id: str, admin: AdminUser, db: Db, settings: SettingsDep, body: ReasonBody | None,
                  disabled: bool) -> Envelope[EndpointView]:
    endpoint = endpoints.set_endpoint_disabled(session=db, endpoint_id=endpoint_id, actor=admin, disabled=disabled,
                                               reason=body.reason if body else None)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=[endpoint],
                                                  with_owner=True)[0])


@router.post("/endpoints/{endpoint_id}/disable")
def disable_endpoint(endpoint_id: Annotated[str, Path(max_length=64)], admin: AdminUser, db: Db,
                     settings: SettingsDep, body: ReasonBody | None = None) -> Envelope[EndpointView]:
    return _set_disabled(endpoint_id, admin, db, settings, body, disabled=True)


@router.post("/endpoints/{endpoint_id}/enable")
def enable_endpoint(endpoint_id: Annotated[str, Path(max_length=64)], admin: AdminUser, db: Db,
                    settings: SettingsDep, body: ReasonBody | None = None) -> Envelope[EndpointView]:
    return _set_disabled(endpoint_id, admin, db, settings, body, disabled=False)


@router.get("/audit-log")
def read_audit_log(
    _admin: AdminUser, db: Db, target_type: Annotated[str | None, Query(max_length=40)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PagedEnvelope[AuditView]:
    rows, total = audit.list_audit_log(session=db, target_type=target_type, action=action, page=page,
                                       page_size=page_size)
    return PagedEnvelope(data=[AuditView.model_validate(r) for r in rows],
                         meta=PageMeta(page=page, page_size=page_size, total=total))
