"""The sign-in page: username or email and password; a banned user sees the ban reason here."""

from __future__ import annotations

from typing import Any

import reflex as rx

from relay_app.components.forms import form_error, narrow_form, text_field
from relay_app.components.layout import page_frame
from relay_app.i18n import describe_error
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError, ValidationFailed
from relay_core.security import create_jwt
from relay_core.services.users import authenticate


class LoginState(SessionState):
    errors: dict[str, str] = {}
    error: str = ""

    @rx.event
    def reset_form(self) -> None:
        self.errors, self.error = {}, ""

    @rx.event
    def submit(self, form: dict[str, Any]) -> Any:
        self.errors, self.error = {}, ""
        login, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
        missing = {k: self.tr["required"] for k, v in (("username", login), ("password", password)) if not v}
        if missing:
            self.errors = missing
            return None
        try:
            self._limit_auth("login")
            with db(write=False) as session:
                user = authenticate(session=session, login=login, password=password)
                token, _expires = create_jwt(user_id=user.id, token_version=user.token_version,
                                             secret=settings().jwt_secret(), ttl_hours=settings().jwt_ttl_hours)
        except ValidationFailed as exc:
            self.errors, self.error = describe_error(exc, self.lang)
            return None
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self._sign_in(token, user)
        return rx.redirect("/dashboard")


def login_page() -> rx.Component:
    return page_frame(
        narrow_form(
            rx.heading(t("login_title"), size="6"),
            text_field("username_or_email", "username", LoginState.errors, auto_complete="username"),
            text_field("password", "password", LoginState.errors, type="password",
                       auto_complete="current-password"),
            form_error(LoginState.error, id="login-error"),
            rx.button(t("sign_in"), type="submit", id="login-button", width="100%"),
            rx.text(t("no_account"), " ", rx.link(t("nav_register"), href="/register"), size="2"),
            on_submit=LoginState.submit,
        ),
    )
