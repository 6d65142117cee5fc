"""All database tables (plain SQLModel, shared by the web app and the relay)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, ForeignKey, Index, UniqueConstraint, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC now; every timestamp the platform stores is UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware UTC in Python, whatever the database keeps (SQLite keeps naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _fk(
    target: str, *, ondelete: str, nullable: bool = False, index: bool = True, primary_key: bool = False
) -> Column[uuid.UUID]:
    return Column(
        Uuid(), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index, primary_key=primary_key
    )


class ForwardingMode(StrEnum):
    JSON = "json"
    DIRECT = "direct"
    CUSTOM_HEADER = "custom_header"


class AccessMode(StrEnum):
    PUBLIC = "public"
    TOKEN = "token"


class TokenRole(StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    BOTH = "both"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=30, unique=True, index=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    is_admin: bool = False
    is_active: bool = True
    banned_at: datetime | None = Field(default=None, sa_column=_ts())
    banned_reason: str | None = Field(default=None, max_length=500)
    token_version: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class InviteCode(SQLModel, table=True):
    __tablename__ = "invite_codes"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=10, unique=True, index=True)
    grants_admin: bool = False
    expires_at: datetime | None = Field(default=None, sa_column=_ts())
    used_by: uuid.UUID | None = Field(default=None, sa_column=_fk("users.id", ondelete="SET NULL", nullable=True))
    used_at: datetime | None = Field(default=None, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts())
    created_by: uuid.UUID | None = Field(default=None, sa_column=_fk("users.id", ondelete="SET NULL", nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Endpoint(SQLModel, table=True):
    __tablename__ = "endpoints"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    endpoint_id: str = Field(max_length=10, unique=True, index=True)
    name: str = Field(default="Untitled endpoint", max_length=100)
    user_id: uuid.UUID = Field(sa_column=_fk("users.id", ondelete="CASCADE"))
    forwarding_mode: str = Field(default=ForwardingMode.JSON.value, max_length=20)
    custom_header: str | None = Field(default=None, max_length=255)
    access_mode: str = Field(default=AccessMode.PUBLIC.value, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_active_at: datetime | None = Field(default=None, sa_column=_ts())
    is_disabled: bool = False
    disabled_at: datetime | None = Field(default=None, sa_column=_ts())
    disabled_reason: str | None = Field(default=None, max_length=500)


class EndpointStats(SQLModel, table=True):
    """One relay node's share of an endpoint's numbers; the endpoint's figures are the sum over nodes,
    with current_connections counted only from nodes whose heartbeat is fresh."""

    __tablename__ = "endpoint_stats"

    endpoint_pk: uuid.UUID = Field(sa_column=_fk("endpoints.id", ondelete="CASCADE", index=False, primary_key=True))
    node_id: str = Field(max_length=100, primary_key=True)
    current_connections: int = 0
    total_connections: int = 0
    total_messages: int = 0
    total_bytes: int = 0
    dropped_messages: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class EndpointMinute(SQLModel, table=True):
    """Messages one node accepted for an endpoint in one UTC minute (the dashboard's per-minute chart);
    kept for a day."""

    __tablename__ = "endpoint_minutes"

    endpoint_pk: uuid.UUID = Field(sa_column=_fk("endpoints.id", ondelete="CASCADE", index=False, primary_key=True))
    node_id: str = Field(max_length=100, primary_key=True)
    minute: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    messages: int = 0


class RelayNode(SQLModel, table=True):
    """A relay process's heartbeat: its shares stop counting when this goes stale."""

    __tablename__ = "relay_nodes"

    node_id: str = Field(max_length=100, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_tokens"

    id: int | None = Field(default=None, primary_key=True)
    endpoint_pk: uuid.UUID = Field(sa_column=_fk("endpoints.id", ondelete="CASCADE"))
    name: str = Field(max_length=100)
    role: str = Field(default=TokenRole.BOTH.value, max_length=10)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts())
    last_used_at: datetime | None = Field(default=None, sa_column=_ts())


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("endpoint_pk", "device_id", name="uq_devices_endpoint_device"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_pk: uuid.UUID = Field(sa_column=_fk("endpoints.id", ondelete="CASCADE"))
    device_id: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=100)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class DevicePresence(SQLModel, table=True):
    """How many live connections one node holds for a device; online = any fresh node with one."""

    __tablename__ = "device_presence"

    endpoint_pk: uuid.UUID = Field(sa_column=_fk("endpoints.id", ondelete="CASCADE", index=False, primary_key=True))
    device_id: str = Field(max_length=64, primary_key=True)
    node_id: str = Field(max_length=100, primary_key=True)
    connections: int = 0


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_endpoint_timestamp", "endpoint_pk", "timestamp"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_pk: uuid.UUID = Field(sa_column=_fk("endpoints.id", ondelete="CASCADE", index=False))
    timestamp: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    connection_id: str = Field(max_length=40)
    device_id: str | None = Field(default=None, max_length=64)
    size: int = 0
    binary: bool = False
    preview: str | None = Field(default=None, max_length=5000)


class AuditLog(SQLModel, table=True):
    """Admin and owner actions; plain ids, no foreign keys, so entries outlive what they name."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=40, index=True)
    target_type: str = Field(max_length=40, index=True)
    target_id: str = Field(max_length=100)
    actor_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False, index=True))
