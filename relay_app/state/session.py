"""SessionState: the JWT kept in LocalStorage, the signed-in user, the UI language and the route guards."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import reflex as rx
from sqlmodel import Session

from relay_app.i18n import LANGUAGES, TRANSLATIONS, describe_error
from relay_core.db import session_scope
from relay_core.errors import Forbidden, RelayError, Unauthorized
from relay_core.models import User
from relay_core.ratelimit import auth_limiter, client_address, parse_networks
from relay_core.security import decode_jwt
from relay_core.services.users import user_for_claims
from relay_core.settings import Settings, get_settings

log = logging.getLogger(__name__)


def settings() -> Settings:
    return get_settings()


@contextlib.contextmanager
def db(*, write: bool = False) -> Iterator[Session]:
    """A session on the platform database (pages call relay_core.services with it, never HTTP)."""
    with session_scope(settings().database_url, write=write) as session:
        yield session


_app: rx.App | None = None


def register_app(app: rx.App) -> None:
    """relay_app.py hands over the app so background loops can tell whether their tab is still there."""
    global _app
    _app = app


def client_connected(client_token: str) -> bool:
    """Whether the browser tab behind client_token still has its socket open (background loops stop if not)."""
    namespace = _app.event_namespace if _app is not None else None
    if namespace is None:
        return True
    return client_token in namespace.token_to_sid


class SessionState(rx.State):
    """Who is signed in. The token lives in the browser; every page load verifies it against the database."""

    token: str = rx.LocalStorage("", name="relay_token")
    lang: str = rx.LocalStorage("en", name="relay_lang")
    user_id: str = ""
    username: str = ""
    email: str = ""
    is_admin: bool = False
    user_created_at: str = ""
    checked: bool = False
    notice: str = ""

    @rx.var
    def tr(self) -> dict[str, str]:
        """Every UI string in the chosen language."""
        return TRANSLATIONS.get(self.lang, TRANSLATIONS["en"])

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.user_id)

    @rx.event
    def set_lang(self, lang: str) -> None:
        if lang in LANGUAGES:
            self.lang = lang

    def _error_text(self, exc: RelayError) -> str:
        return describe_error(exc, self.lang)[1]

    def _current_user(self, session: Session) -> User | None:
        """The live user behind the stored token, or None (bad token, older token_version, banned, deleted)."""
        if not self.token:
            return None
        try:
            claims = decode_jwt(self.token, secret=settings().jwt_secret())
            return user_for_claims(session=session, claims=claims)
        except RelayError:
            return None

    def _user_or_raise(self, session: Session) -> User:
        user = self._current_user(session)
        if user is None:
            raise Unauthorized()
        return user

    def _admin_or_raise(self, session: Session) -> User:
        """The signed-in admin; Forbidden for anyone else (admin pages' actions check this every time)."""
        user = self._user_or_raise(session)
        if not user.is_admin:
            raise Forbidden()
        return user

    def _remember(self, user: User | None) -> None:
        if user is None:
            self.user_id = self.username = self.email = self.user_created_at = ""
            self.is_admin = False
        else:
            self.user_id, self.username, self.email = str(user.id), user.username, user.email
            self.is_admin = user.is_admin
            self.user_created_at = user.created_at.strftime("%Y-%m-%d %H:%M UTC")
        self.checked = True

    def _limit_auth(self, action: str) -> None:
        """Count a login or register attempt against this browser's address, the same limit as the API's."""
        peer = self.router.session.client_ip or "unknown"
        forwarded = self.router.headers.raw_headers.get("x-forwarded-for")
        address = client_address(peer, forwarded, parse_networks(tuple(settings().trusted_proxies)))
        auth_limiter(action, settings().auth_rate_limit_per_minute).hit(address)

    def _sign_in(self, token: str, user: User) -> None:
        self.token = token
        self._remember(user)

    def _sign_out(self) -> None:
        self.token = ""
        self._remember(None)

    def _refresh_user(self) -> bool:
        with db() as session:
            user = self._current_user(session)
            self._remember(user)
        if user is None and self.token:
            self.token = ""
        return user is not None

    @rx.event
    def require_login(self) -> Any:
        """on_load guard: anonymous (or signed-out by a ban or password change) → /login."""
        if not self._refresh_user():
            return rx.redirect("/login", replace=True)
        return None

    @rx.event
    def require_admin(self) -> Any:
        """on_load guard for admin pages: anonymous → /login, non-admins → /dashboard."""
        if not self._refresh_user():
            return rx.redirect("/login", replace=True)
        if not self.is_admin:
            return rx.redirect("/dashboard", replace=True)
        return None

    @rx.event
    def redirect_home(self) -> Any:
        """`/`: the dashboard when signed in, else the login page."""
        return rx.redirect("/dashboard" if self._refresh_user() else "/login", replace=True)

    @rx.event
    def redirect_if_signed_in(self) -> Any:
        if self._refresh_user():
            return rx.redirect("/dashboard", replace=True)
        return None

    @rx.event
    def logout(self) -> Any:
        self._sign_out()
        return rx.redirect("/login")

    def _user_uuid(self) -> uuid.UUID | None:
        return uuid.UUID(self.user_id) if self.user_id else None


def t(key: str) -> rx.Var[str]:
    """The UI string `key` in the current language (a frontend Var); an unknown key fails at compile time."""
    if key not in TRANSLATIONS["en"]:
        raise KeyError(f"no UI string {key!r} in relay_app.i18n")
    return SessionState.tr[key].to(str)
