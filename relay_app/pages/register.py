"""The register page: invite code (prefilled from ?code=), username, email, password."""

from __future__ import annotations

from typing import Any

import reflex as rx

from relay_app.components.forms import form_error, narrow_form, text_field
from relay_app.components.layout import page_frame
from relay_app.i18n import describe_error
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError
from relay_core.security import create_jwt
from relay_core.services.users import register_user

_FIELDS = ("invite_code", "username", "email", "password")


class RegisterState(SessionState):
    errors: dict[str, str] = {}
    error: str = ""
    code_from_url: str = ""

    @rx.event
    def load(self) -> None:
        self.errors, self.error = {}, ""
        self.code_from_url = str(self.router.url.query_parameters.get("code", ""))

    @rx.event
    def submit(self, form: dict[str, Any]) -> Any:
        self.errors, self.error = {}, ""
        values = {k: str(form.get(k) or "") for k in _FIELDS}
        values["invite_code"] = values["invite_code"].strip()
        missing = {k: self.tr["required"] for k, v in values.items() if not v}
        if missing:
            self.errors = missing
            return None
        try:
            self._limit_auth("register")
            with db(write=True) as session:
                user = register_user(session=session, **values)
                token, _expires = create_jwt(user_id=user.id, token_version=user.token_version,
                                             secret=settings().jwt_secret(), ttl_hours=settings().jwt_ttl_hours)
        except RelayError as exc:
            self.errors, self.error = describe_error(exc, self.lang)
            return None
        self._sign_in(token, user)
        return rx.redirect("/dashboard")


def register_page() -> rx.Component:
    return page_frame(
        narrow_form(
            rx.heading(t("register_title"), size="6"),
            text_field("invite_code", "invite_code", RegisterState.errors,
                       default_value=RegisterState.code_from_url, key=RegisterState.code_from_url),
            text_field("username", "username", RegisterState.errors, auto_complete="username"),
            text_field("email", "email", RegisterState.errors, type="email", auto_complete="email"),
            text_field("password", "password", RegisterState.errors, type="password",
                       auto_complete="new-password"),
            rx.text(t("password_rule"), size="1", color_scheme="gray"),
            form_error(RegisterState.error, id="register-error"),
            rx.button(t("create_account"), type="submit", id="register-button", width="100%"),
            rx.text(t("have_account"), " ", rx.link(t("nav_login"), href="/login"), size="2"),
            on_submit=RegisterState.submit,
        ),
    )
