"""/api/endpoints: an owner's endpoints, their stats, messages, devices and access tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from relay_app.api.deps import CurrentUser, Db, SettingsDep
from relay_app.api.envelope import Envelope
from relay_app.api.schemas import DevicePatch, EndpointCreate, EndpointPatch, TokenCreate
from relay_core.services import activity, endpoints, tokens
from relay_core.services.stats import stats_for
from relay_core.views import DeviceView, EndpointView, MessageView, NewTokenView, StatsView, TokenView

router = APIRouter(prefix="/endpoints", tags=["endpoints"])
EndpointId = Annotated[str, Path(max_length=64, description="the public 10-character endpoint id")]


@router.get("")
def list_endpoints(user: CurrentUser, db: Db, settings: SettingsDep) -> Envelope[list[EndpointView]]:
    own = endpoints.list_endpoints(session=db, owner_id=user.id)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=own))


@router.post("", status_code=status.HTTP_201_CREATED)
def create_endpoint(body: EndpointCreate, user: CurrentUser, db: Db, settings: SettingsDep) -> Envelope[EndpointView]:
    endpoint = endpoints.create_endpoint(
        session=db, owner=user, settings=settings, name=body.name, forwarding_mode=body.forwarding_mode,
        custom_header=body.custom_header, access_mode=body.access_mode)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=[endpoint])[0])


@router.get("/{endpoint_id}")
def read_endpoint(endpoint_id: EndpointId, user: CurrentUser, db: Db, settings: SettingsDep) -> Envelope[EndpointView]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=[endpoint])[0])


@router.patch("/{endpoint_id}")
def update_endpoint(
    endpoint_id: EndpointId, body: EndpointPatch, user: CurrentUser, db: Db, settings: SettingsDep,
) -> Envelope[EndpointView]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    changes = body.model_dump(exclude_unset=True)
    endpoints.update_endpoint(session=db, endpoint=endpoint, **changes)
    return Envelope(data=endpoints.endpoint_views(session=db, settings=settings, endpoints=[endpoint])[0])


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_endpoint(endpoint_id: EndpointId, user: CurrentUser, db: Db) -> Response:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    endpoints.delete_endpoint(session=db, endpoint=endpoint, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{endpoint_id}/stats")
def read_stats(endpoint_id: EndpointId, user: CurrentUser, db: Db) -> Envelope[StatsView]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=stats_for(session=db, endpoint_pks=[endpoint.id])[endpoint.id])


@router.get("/{endpoint_id}/messages")
def list_messages(endpoint_id: EndpointId, user: CurrentUser, db: Db) -> Envelope[list[MessageView]]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=activity.recent_messages(session=db, endpoint=endpoint))


@router.get("/{endpoint_id}/devices")
def list_devices(endpoint_id: EndpointId, user: CurrentUser, db: Db) -> Envelope[list[DeviceView]]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=activity.list_devices(session=db, endpoint=endpoint))


@router.patch("/{endpoint_id}/devices/{device_id}")
def rename_device(
    endpoint_id: EndpointId, device_id: Annotated[str, Path(max_length=64)], body: DevicePatch,
    user: CurrentUser, db: Db,
) -> Envelope[DeviceView]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=activity.rename_device(session=db, endpoint=endpoint, device_id=device_id, name=body.name))


@router.get("/{endpoint_id}/tokens")
def list_tokens(endpoint_id: EndpointId, user: CurrentUser, db: Db) -> Envelope[list[TokenView]]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=[TokenView.model_validate(t) for t in tokens.list_tokens(session=db, endpoint=endpoint)])


@router.post("/{endpoint_id}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(endpoint_id: EndpointId, body: TokenCreate, user: CurrentUser, db: Db) -> Envelope[NewTokenView]:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    return Envelope(data=tokens.create_token(session=db, endpoint=endpoint, name=body.name, role=body.role))


@router.delete("/{endpoint_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    endpoint_id: EndpointId, token_id: Annotated[int, Path(ge=1, le=2**62)], user: CurrentUser, db: Db,
) -> Response:
    endpoint = endpoints.get_owned_endpoint(session=db, owner=user, endpoint_id=endpoint_id)
    tokens.revoke_token(session=db, endpoint=endpoint, token_id=token_id, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
