"""What every route needs: settings, one session per request, the signed-in user, client limits."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from relay_core.db import session_scope
from relay_core.errors import Forbidden, Unauthorized, ValidationFailed
from relay_core.models import User
from relay_core.ratelimit import auth_limiter, client_address, parse_networks
from relay_core.security import decode_jwt
from relay_core.services.users import user_for_claims
from relay_core.settings import Settings

_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_bearer = HTTPBearer(auto_error=False, description="a JWT from POST /api/auth/login")


class ApiContext:
    """Per-app state: the settings and what is derived from them once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def limit(self, action: str, request: Request) -> None:
        """Count a login or register attempt against the caller's address (shared with the pages)."""
        peer = request.client.host if request.client else "unknown"
        address = client_address(peer, request.headers.get("x-forwarded-for"),
                                 parse_networks(tuple(self.settings.trusted_proxies)))
        auth_limiter(action, self.settings.auth_rate_limit_per_minute).hit(address)

    @cached_property
    def jwt_secret(self) -> str:
        return self.settings.jwt_secret()


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.relay
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def get_settings_dep(context: Context) -> Settings:
    return context.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def db_session(request: Request, context: Context) -> Iterator[Session]:
    """One session per request, committed before the answer is sent; writes lock SQLite up front."""
    with session_scope(context.settings.database_url, write=request.method not in _READ_METHODS) as session:
        yield session


Db = Annotated[Session, Depends(db_session, scope="function")]


def current_user(
    db: Db, context: Context, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    claims = decode_jwt(credentials.credentials, secret=context.jwt_secret)
    return user_for_claims(session=db, claims=claims)


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden()
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def limit_login(request: Request, context: Context) -> None:
    context.limit("login", request)


def limit_register(request: Request, context: Context) -> None:
    context.limit("register", request)


def reject_nul(request: Request) -> None:
    """Path and query values with NUL are a field error, never a database error."""
    for name, value in [*request.path_params.items(), *request.query_params.items()]:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationFailed.field(name, "must not contain NUL characters")
