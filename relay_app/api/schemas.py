"""Request bodies of the REST API: strict (unknown fields are a 422), limits from relay_core.rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from relay_core import rules

ForwardingModeField = Literal["json", "direct", "custom_header"]
AccessModeField = Literal["public", "token"]
RoleField = Literal["publish", "subscribe", "both"]
Password = Annotated[str, Field(min_length=1, max_length=rules.PASSWORD_MAX_LENGTH)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # No text the platform stores may hold NUL (PostgreSQL refuses it): say so as a field error.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class RegisterBody(Body):
    invite_code: str = Field(min_length=1, max_length=64, validation_alias=AliasChoices("invite_code", "inviteCode"))
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=1, max_length=254)
    password: Password


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=254, description="username or email")
    password: Password


class MePatch(Body):
    email: str = Field(min_length=1, max_length=254)


class ChangePasswordBody(Body):
    current_password: Password
    new_password: Password


class EndpointCreate(Body):
    name: str | None = Field(None, max_length=rules.ENDPOINT_NAME_MAX)
    forwarding_mode: ForwardingModeField = "json"
    custom_header: str | None = Field(None, max_length=rules.CUSTOM_HEADER_MAX)
    access_mode: AccessModeField = "public"


class EndpointPatch(Body):
    name: str | None = Field(None, max_length=rules.ENDPOINT_NAME_MAX)
    forwarding_mode: ForwardingModeField | None = None
    custom_header: str | None = Field(None, max_length=rules.CUSTOM_HEADER_MAX)
    access_mode: AccessModeField | None = None


class DevicePatch(Body):
    name: str | None = Field(None, max_length=rules.DEVICE_NAME_MAX)


class TokenCreate(Body):
    name: str = Field(min_length=1, max_length=rules.TOKEN_NAME_MAX)
    role: RoleField = "both"


class InviteCreate(Body):
    count: int = Field(1, ge=1, le=rules.INVITE_BATCH_MAX)
    expires_at: datetime | None = None
    expires_in_hours: float | None = Field(None, gt=0, le=24 * 365)
    grants_admin: bool = False


class ReasonBody(Body):
    reason: str | None = Field(None, max_length=rules.REASON_MAX)
