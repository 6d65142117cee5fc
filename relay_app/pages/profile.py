"""The profile page: the account, change email, change password (other sessions are signed out)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from relay_app.components.forms import form_error, form_notice, text_field
from relay_app.components.layout import page_frame, section, signed_in_only
from relay_app.i18n import describe_error
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError
from relay_core.security import create_jwt
from relay_core.services import users


class ProfileState(SessionState):
    email_errors: dict[str, str] = {}
    email_error: str = ""
    email_notice: str = ""
    password_errors: dict[str, str] = {}
    password_error: str = ""
    password_notice: str = ""
    endpoint_count: int = 0
    password_form_key: int = 0

    @rx.event
    def load(self) -> None:
        self.email_errors, self.email_error, self.email_notice = {}, "", ""
        self.password_errors, self.password_error, self.password_notice = {}, "", ""
        if not self.user_id:
            return
        with db() as session:
            user = self._current_user(session)
            if user is not None:
                self.endpoint_count = users.user_view(session=session, user=user).endpoint_count

    @rx.event
    def change_email(self, form: dict[str, Any]) -> None:
        self.email_errors, self.email_error, self.email_notice = {}, "", ""
        try:
            with db(write=True) as session:
                user = self._user_or_raise(session)
                users.update_email(session=session, user=user, email=str(form.get("email") or ""))
                self.email = user.email
        except RelayError as exc:
            self.email_errors, self.email_error = describe_error(exc, self.lang)
            return
        self.email_notice = self.tr["email_changed"]

    @rx.event
    def change_password(self, form: dict[str, Any]) -> None:
        self.password_errors, self.password_error, self.password_notice = {}, "", ""
        new_password = str(form.get("new_password") or "")
        if new_password != str(form.get("confirm_password") or ""):
            self.password_errors = {"confirm_password": self.tr["passwords_differ"]}
            return
        try:
            with db(write=True) as session:
                user = self._user_or_raise(session)
                users.change_password(session=session, user=user, current_password=str(form.get("current_password")
                                                                                         or ""),
                                      new_password=new_password)
                session.flush()
                # This tab keeps working with a fresh token; every older token stops working.
                token, _ = create_jwt(user_id=user.id, token_version=user.token_version,
                                      secret=settings().jwt_secret(), ttl_hours=settings().jwt_ttl_hours)
        except RelayError as exc:
            self.password_errors, self.password_error = describe_error(exc, self.lang)
            return
        self.token = token
        self.password_form_key += 1
        self.password_notice = self.tr["password_changed"]


def profile_page() -> rx.Component:
    return page_frame(
        signed_in_only(
            rx.vstack(
                rx.heading(t("profile_title"), size="6"),
                section(
                    "account_title",
                    rx.data_list.root(
                        rx.data_list.item(rx.data_list.label(t("username")),
                                          rx.data_list.value(SessionState.username, id="profile-username")),
                        rx.data_list.item(rx.data_list.label(t("email")),
                                          rx.data_list.value(SessionState.email, id="profile-email")),
                        rx.data_list.item(rx.data_list.label(t("role")), rx.data_list.value(
                            rx.cond(SessionState.is_admin, t("role_admin"), t("role_user")))),
                        rx.data_list.item(rx.data_list.label(t("summary_endpoints")),
                                          rx.data_list.value(ProfileState.endpoint_count)),
                        rx.data_list.item(rx.data_list.label(t("member_since")),
                                          rx.data_list.value(SessionState.user_created_at)),
                        orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                    ),
                ),
                section(
                    "change_email",
                    rx.form(
                        rx.vstack(
                            text_field("new_email", "email", ProfileState.email_errors, type="email",
                                       input_id="profile-new-email"),
                            form_error(ProfileState.email_error, id="email-error"),
                            form_notice(ProfileState.email_notice, id="email-notice"),
                            rx.button(t("save"), type="submit", id="email-save"),
                            width="100%",
                        ),
                        on_submit=ProfileState.change_email,
                        reset_on_submit=False,
                        width="100%",
                    ),
                ),
                section(
                    "change_password",
                    rx.form(
                        rx.vstack(
                            text_field("current_password", "current_password", ProfileState.password_errors,
                                       type="password", auto_complete="current-password"),
                            text_field("new_password", "new_password", ProfileState.password_errors,
                                       type="password", auto_complete="new-password"),
                            text_field("confirm_password", "confirm_password", ProfileState.password_errors,
                                       type="password", auto_complete="new-password"),
                            rx.text(t("password_rule"), size="1", color_scheme="gray"),
                            form_error(ProfileState.password_error, id="password-error"),
                            form_notice(ProfileState.password_notice, id="password-notice"),
                            rx.button(t("change_password"), type="submit", id="password-save"),
                            width="100%",
                        ),
                        on_submit=ProfileState.change_password,
                        reset_on_submit=False,
                        key=ProfileState.password_form_key.to_string(),
                        width="100%",
                    ),
                ),
                spacing="4",
                width="100%",
                max_width="640px",
            ),
        ),
    )
