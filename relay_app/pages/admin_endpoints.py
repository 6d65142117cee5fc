"""Admin: every endpoint with its owner and live numbers; disable (with a reason) and enable."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from relay_app.components.forms import form_error
from relay_app.components.layout import admin_only, page_frame
from relay_app.i18n import describe_error
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError
from relay_core.services import endpoints as endpoint_service


@dataclasses.dataclass
class AdminEndpointRow:
    endpoint_id: str = ""
    name: str = ""
    owner: str = ""
    is_disabled: bool = False
    disabled_reason: str = ""
    current_connections: int = 0
    total_messages: int = 0


class AdminEndpointsState(SessionState):
    rows: list[AdminEndpointRow] = []
    error: str = ""
    disabling: str = ""

    def _read(self) -> None:
        with db() as session:
            if not self.is_admin or self._current_user(session) is None:
                self.rows = []
                return
            views = endpoint_service.endpoint_views(
                session=session, settings=settings(), endpoints=endpoint_service.list_endpoints(session=session),
                with_owner=True)
        self.rows = [
            AdminEndpointRow(endpoint_id=v.endpoint_id, name=v.name, owner=v.owner_username or "",
                             is_disabled=v.is_disabled, disabled_reason=v.disabled_reason or "",
                             current_connections=v.stats.current_connections, total_messages=v.stats.total_messages)
            for v in views
        ]

    @rx.event
    def load(self) -> None:
        self.error, self.disabling = "", ""
        if self.is_admin:
            self._read()

    @rx.event
    def ask_disable(self, endpoint_id: str) -> None:
        self.disabling, self.error = endpoint_id, ""

    @rx.event
    def cancel_disable(self) -> None:
        self.disabling = ""

    def _set(self, endpoint_id: str, disabled: bool, reason: str | None) -> Any:
        self.error = ""
        try:
            with db(write=True) as session:
                admin = self._admin_or_raise(session)
                endpoint_service.set_endpoint_disabled(session=session, endpoint_id=endpoint_id, actor=admin,
                                                       disabled=disabled, reason=reason)
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self.disabling = ""
        self._read()
        return rx.toast.success(self.tr["endpoint_disabled" if disabled else "endpoint_enabled"])

    @rx.event
    def disable(self, form: dict[str, Any]) -> Any:
        return self._set(str(form.get("endpoint_id") or ""), True, str(form.get("reason") or ""))

    @rx.event
    def enable(self, endpoint_id: str) -> Any:
        return self._set(endpoint_id, False, None)


def _row(row: rx.Var[AdminEndpointRow]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.code(row.endpoint_id),
                rx.text(row.name, weight="bold", word_break="break-all"),
                rx.text(t("owner"), ": ", row.owner, size="2", color_scheme="gray"),
                rx.cond(row.is_disabled, rx.badge(t("disabled"), color_scheme="red", class_name="disabled-badge")),
                rx.text(t("connections"), ": ", row.current_connections, size="2"),
                rx.text(t("messages"), ": ", row.total_messages, size="2"),
                spacing="2",
                wrap="wrap",
                align="center",
            ),
            rx.cond(row.is_disabled & (row.disabled_reason != ""),
                    rx.text(t("reason"), ": ", row.disabled_reason, size="2", color_scheme="red")),
            rx.cond(
                AdminEndpointsState.disabling == row.endpoint_id,
                rx.form(
                    rx.flex(
                        rx.input(type="hidden", name="endpoint_id", value=row.endpoint_id),
                        rx.input(name="reason", placeholder=t("reason"), max_length=500, flex="1 1 200px"),
                        rx.button(t("confirm_disable"), type="submit", color_scheme="red"),
                        rx.button(t("cancel"), type="button", variant="soft",
                                  on_click=AdminEndpointsState.cancel_disable),
                        spacing="2",
                        wrap="wrap",
                        width="100%",
                    ),
                    on_submit=AdminEndpointsState.disable,
                    reset_on_submit=False,
                    width="100%",
                ),
                rx.cond(
                    row.is_disabled,
                    rx.button(t("enable"), size="1", on_click=AdminEndpointsState.enable(row.endpoint_id),
                              class_name="enable-endpoint"),
                    rx.button(t("disable"), size="1", color_scheme="red", variant="soft", class_name="disable-endpoint",
                              on_click=AdminEndpointsState.ask_disable(row.endpoint_id)),
                ),
            ),
            spacing="2",
            width="100%",
        ),
        id="admin-endpoint-" + row.endpoint_id,
        width="100%",
    )


def admin_endpoints_page() -> rx.Component:
    return page_frame(
        admin_only(
            rx.vstack(
                rx.heading(t("admin_endpoints_title"), size="6"),
                form_error(AdminEndpointsState.error, id="admin-endpoints-error"),
                rx.cond(AdminEndpointsState.rows.length() == 0, rx.text(t("no_endpoints_short"))),
                rx.foreach(AdminEndpointsState.rows, _row),
                spacing="3",
                width="100%",
            ),
        ),
    )
