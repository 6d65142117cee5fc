"""Display-safe shapes of the tables (no password or token hash ever leaves through these)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserView(View):
    id: uuid.UUID
    username: str
    email: str
    is_admin: bool
    is_active: bool
    banned_at: datetime | None
    banned_reason: str | None
    created_at: datetime
    endpoint_count: int = 0


class StatsView(View):
    current_connections: int = 0
    total_connections: int = 0
    total_messages: int = 0
    total_bytes: int = 0
    dropped_messages: int = 0
    last_active_at: datetime | None = None
    updated_at: datetime | None = None


class EndpointView(View):
    id: uuid.UUID
    endpoint_id: str
    name: str
    user_id: uuid.UUID
    owner_username: str | None = None
    forwarding_mode: str
    custom_header: str | None
    access_mode: str
    websocket_url: str
    created_at: datetime
    last_active_at: datetime | None
    is_disabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    stats: StatsView


class InviteView(View):
    code: str
    status: str
    grants_admin: bool
    expires_at: datetime | None
    used_by: uuid.UUID | None
    used_by_username: str | None
    used_at: datetime | None
    revoked_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime


class TokenView(View):
    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewTokenView(View):
    id: int
    name: str
    role: str
    token: str
    created_at: datetime


class MessageView(View):
    id: int
    timestamp: datetime
    connection_id: str
    device_id: str | None
    size: int
    binary: bool
    preview: str | None


class DeviceView(View):
    device_id: str
    name: str | None
    online: bool
    first_seen_at: datetime
    last_seen_at: datetime


class AuditView(View):
    id: int
    action: str
    target_type: str
    target_id: str
    actor_id: str | None
    reason: str | None
    created_at: datetime


class LoginView(View):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserView
