"""Admin: users — endpoint counts, ban/unban with a reason, and one user's endpoints."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import reflex as rx

from relay_app.components.forms import form_error
from relay_app.components.layout import admin_only, page_frame, section
from relay_app.i18n import describe_error
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError
from relay_core.services import endpoints as endpoint_service
from relay_core.services import users


@dataclasses.dataclass
class UserRow:
    id: str = ""
    username: str = ""
    email: str = ""
    is_admin: bool = False
    banned: bool = False
    banned_reason: str = ""
    endpoint_count: int = 0
    created_at: str = ""


@dataclasses.dataclass
class UserEndpointRow:
    endpoint_id: str = ""
    name: str = ""
    is_disabled: bool = False
    current_connections: int = 0
    total_messages: int = 0


class AdminUsersState(SessionState):
    rows: list[UserRow] = []
    error: str = ""
    banning: str = ""
    selected_user: str = ""
    selected_username: str = ""
    selected_endpoints: list[UserEndpointRow] = []

    def _read(self) -> None:
        with db() as session:
            if not self.is_admin or self._current_user(session) is None:
                self.rows = []
                return
            views = users.list_users(session=session)
        self.rows = [
            UserRow(id=str(v.id), username=v.username, email=v.email, is_admin=v.is_admin,
                    banned=v.banned_at is not None, banned_reason=v.banned_reason or "",
                    endpoint_count=v.endpoint_count, created_at=v.created_at.strftime("%Y-%m-%d"))
            for v in views
        ]

    @rx.event
    def load(self) -> None:
        self.error, self.banning, self.selected_user, self.selected_endpoints = "", "", "", []
        if self.is_admin:
            self._read()

    @rx.event
    def ask_ban(self, user_id: str) -> None:
        self.banning, self.error = user_id, ""

    @rx.event
    def cancel_ban(self) -> None:
        self.banning = ""

    @rx.event
    def ban(self, form: dict[str, Any]) -> Any:
        self.error = ""
        try:
            with db(write=True) as session:
                admin = self._admin_or_raise(session)
                users.ban_user(session=session, user_id=uuid.UUID(str(form.get("user_id"))), actor=admin,
                               reason=str(form.get("reason") or ""))
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self.banning = ""
        self._read()
        return rx.toast.success(self.tr["user_banned"])

    @rx.event
    def unban(self, user_id: str) -> Any:
        self.error = ""
        try:
            with db(write=True) as session:
                admin = self._admin_or_raise(session)
                users.unban_user(session=session, user_id=uuid.UUID(user_id), actor=admin)
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self._read()
        return rx.toast.success(self.tr["user_unbanned"])

    @rx.event
    def show_endpoints(self, user_id: str) -> None:
        self.error = ""
        try:
            with db() as session:
                self._admin_or_raise(session)
                owner = users.get_user(session=session, user_id=uuid.UUID(user_id))
                own = endpoint_service.list_endpoints(session=session, owner_id=owner.id)
                views = endpoint_service.endpoint_views(session=session, settings=settings(), endpoints=own)
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return
        self.selected_user, self.selected_username = user_id, owner.username
        self.selected_endpoints = [
            UserEndpointRow(endpoint_id=v.endpoint_id, name=v.name, is_disabled=v.is_disabled,
                            current_connections=v.stats.current_connections, total_messages=v.stats.total_messages)
            for v in views
        ]


def _user_card(row: rx.Var[UserRow]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.text(row.username, weight="bold"),
                rx.text(row.email, size="2", color_scheme="gray", word_break="break-all"),
                rx.cond(row.is_admin, rx.badge(t("role_admin"), color_scheme="purple")),
                rx.cond(row.banned, rx.badge(t("banned"), color_scheme="red", class_name="banned-badge")),
                rx.text(t("summary_endpoints"), ": ", row.endpoint_count, size="2", class_name="endpoint-count"),
                spacing="2",
                wrap="wrap",
                align="center",
            ),
            rx.cond(row.banned, rx.text(t("ban_reason"), ": ", row.banned_reason, size="2", color_scheme="red")),
            rx.cond(
                AdminUsersState.banning == row.id,
                rx.form(
                    rx.flex(
                        rx.input(type="hidden", name="user_id", value=row.id),
                        rx.input(name="reason", placeholder=t("ban_reason"), max_length=500, id="ban-reason",
                                 flex="1 1 200px"),
                        rx.button(t("confirm_ban"), type="submit", color_scheme="red", id="confirm-ban"),
                        rx.button(t("cancel"), type="button", variant="soft", on_click=AdminUsersState.cancel_ban),
                        spacing="2",
                        wrap="wrap",
                        width="100%",
                    ),
                    on_submit=AdminUsersState.ban,
                    reset_on_submit=False,
                    width="100%",
                ),
                rx.flex(
                    rx.button(t("show_endpoints"), size="1", variant="soft",
                              on_click=AdminUsersState.show_endpoints(row.id)),
                    rx.cond(
                        row.banned,
                        rx.button(t("unban"), size="1", class_name="unban-user",
                                  on_click=AdminUsersState.unban(row.id)),
                        rx.cond(
                            row.id != SessionState.user_id,
                            rx.button(t("ban"), size="1", color_scheme="red", variant="soft", class_name="ban-user",
                                      on_click=AdminUsersState.ask_ban(row.id)),
                        ),
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        id="user-row-" + row.username,
        width="100%",
    )


def _endpoint_line(row: rx.Var[UserEndpointRow]) -> rx.Component:
    return rx.flex(
        rx.code(row.endpoint_id),
        rx.text(row.name, size="2"),
        rx.cond(row.is_disabled, rx.badge(t("disabled"), color_scheme="red")),
        rx.text(t("connections"), ": ", row.current_connections, size="1"),
        rx.text(t("messages"), ": ", row.total_messages, size="1"),
        spacing="2",
        wrap="wrap",
        align="center",
    )


def admin_users_page() -> rx.Component:
    return page_frame(
        admin_only(
            rx.vstack(
                rx.heading(t("users_title"), size="6"),
                form_error(AdminUsersState.error, id="users-error"),
                rx.cond(
                    AdminUsersState.selected_user != "",
                    section(
                        "user_endpoints",
                        rx.text(AdminUsersState.selected_username, weight="bold"),
                        rx.cond(AdminUsersState.selected_endpoints.length() == 0, rx.text(t("no_endpoints_short"))),
                        rx.foreach(AdminUsersState.selected_endpoints, _endpoint_line),
                        id="selected-user-endpoints",
                    ),
                ),
                rx.foreach(AdminUsersState.rows, _user_card),
                spacing="3",
                width="100%",
            ),
        ),
    )
