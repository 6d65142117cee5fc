"""The dashboard: the user's endpoints with live numbers, summary cards, create, copy URL, delete."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from relay_app.components.forms import field_error, form_error
from relay_app.components.layout import page_frame, signed_in_only
from relay_app.components.stats import stat_card
from relay_app.i18n import describe_error
from relay_app.state.live import run_live_loop
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError
from relay_core.models import User
from relay_core.services import endpoints as endpoint_service


@dataclasses.dataclass
class EndpointRow:
    endpoint_id: str = ""
    name: str = ""
    websocket_url: str = ""
    forwarding_mode: str = ""
    access_mode: str = ""
    is_disabled: bool = False
    current_connections: int = 0
    total_connections: int = 0
    total_messages: int = 0


def endpoint_rows(user: User, session: Any) -> list[EndpointRow]:
    own = endpoint_service.list_endpoints(session=session, owner_id=user.id)
    return [
        EndpointRow(
            endpoint_id=v.endpoint_id, name=v.name, websocket_url=v.websocket_url,
            forwarding_mode=v.forwarding_mode, access_mode=v.access_mode, is_disabled=v.is_disabled,
            current_connections=v.stats.current_connections, total_connections=v.stats.total_connections,
            total_messages=v.stats.total_messages,
        )
        for v in endpoint_service.endpoint_views(session=session, settings=settings(), endpoints=own)
    ]


class DashboardState(SessionState):
    rows: list[EndpointRow] = []
    loaded: bool = False
    errors: dict[str, str] = {}
    error: str = ""
    confirm_delete: str = ""
    form_key: int = 0
    _live: bool = False
    _live_generation: int = 0

    @rx.var
    def endpoint_count(self) -> int:
        return len(self.rows)

    @rx.var
    def connection_sum(self) -> int:
        return sum(r.current_connections for r in self.rows)

    @rx.var
    def message_sum(self) -> int:
        return sum(r.total_messages for r in self.rows)

    def _refresh(self) -> bool:
        with db() as session:
            user = self._current_user(session)
            if user is None:
                return False
            self.rows = endpoint_rows(user, session)
        self.loaded = True
        return True

    @rx.event
    def load(self) -> Any:
        self.error, self.errors, self.confirm_delete = "", {}, ""
        if not self.user_id or not self._refresh():
            return None
        self._live = True
        self._live_generation += 1
        return DashboardState.live_loop(self._live_generation)

    @rx.event
    def stop_live(self) -> None:
        self._live = False

    @rx.event(background=True)
    async def live_loop(self, generation: int) -> Any:
        async for event in run_live_loop(self, generation, self._refresh):
            yield event

    @rx.event
    def create(self, form: dict[str, Any]) -> Any:
        self.errors, self.error = {}, ""
        name = str(form.get("name") or "").strip() or None
        try:
            with db(write=True) as session:
                user = self._user_or_raise(session)
                endpoint = endpoint_service.create_endpoint(
                    session=session, owner=user, settings=settings(), name=name,
                    forwarding_mode=str(form.get("forwarding_mode") or "json"),
                    access_mode=str(form.get("access_mode") or "public"),
                )
                new_id = endpoint.endpoint_id
        except RelayError as exc:
            self.errors, self.error = describe_error(exc, self.lang)
            return None
        self.form_key += 1
        self._refresh()
        return rx.toast.success(self.tr["endpoint_created"] + ": " + new_id)

    @rx.event
    def ask_delete(self, endpoint_id: str) -> None:
        self.confirm_delete = endpoint_id

    @rx.event
    def cancel_delete(self) -> None:
        self.confirm_delete = ""

    @rx.event
    def delete(self, endpoint_id: str) -> Any:
        self.error = ""
        try:
            with db(write=True) as session:
                user = self._user_or_raise(session)
                endpoint = endpoint_service.get_owned_endpoint(session=session, owner=user, endpoint_id=endpoint_id)
                endpoint_service.delete_endpoint(session=session, endpoint=endpoint, actor=user)
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self.confirm_delete = ""
        self._refresh()
        return rx.toast.success(self.tr["endpoint_deleted"])

    @rx.event
    def copy_url(self, url: str) -> Any:
        return [rx.set_clipboard(url), rx.toast.info(self.tr["copied"])]


def _create_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.vstack(
                rx.input(name="name", placeholder=t("endpoint_name_placeholder"), id="create-endpoint-name",
                         max_length=100, width="100%"),
                field_error(DashboardState.errors, "name"),
                spacing="1",
                flex="1 1 200px",
                min_width="0",
            ),
            rx.select.root(
                rx.select.trigger(aria_label="forwarding mode"),
                rx.select.content(
                    rx.select.item("json", value="json"),
                    rx.select.item("direct", value="direct"),
                ),
                name="forwarding_mode",
                default_value="json",
            ),
            rx.select.root(
                rx.select.trigger(aria_label="access mode"),
                rx.select.content(
                    rx.select.item(t("access_public"), value="public"),
                    rx.select.item(t("access_token"), value="token"),
                ),
                name="access_mode",
                default_value="public",
            ),
            rx.button(t("create_endpoint"), type="submit", id="create-endpoint-button",
                      disabled=~DashboardState.loaded),
            spacing="2",
            wrap="wrap",
            align="start",
            width="100%",
        ),
        form_error(DashboardState.error, id="dashboard-error"),
        on_submit=DashboardState.create,
        key=DashboardState.form_key.to_string(),
        width="100%",
    )


def _row(row: rx.Var[EndpointRow]) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.hstack(
                    rx.link(row.name, href="/endpoints/" + row.endpoint_id, weight="bold", class_name="endpoint-link"),
                    rx.cond(row.is_disabled, rx.badge(t("disabled"), color_scheme="red")),
                    rx.badge(row.forwarding_mode, variant="soft"),
                    rx.badge(rx.cond(row.access_mode == "token", t("access_token"), t("access_public")),
                             variant="outline"),
                    wrap="wrap",
                    align="center",
                ),
                rx.code(row.websocket_url, size="1", word_break="break_all"),
                spacing="1",
                min_width="0",
                flex="1 1 260px",
            ),
            rx.hstack(
                rx.vstack(rx.text(t("connections"), size="1", color_scheme="gray"),
                          rx.text(row.current_connections, weight="bold", class_name="row-connections"),
                          spacing="0", align="center"),
                rx.vstack(rx.text(t("messages"), size="1", color_scheme="gray"),
                          rx.text(row.total_messages, weight="bold", class_name="row-messages"),
                          spacing="0", align="center"),
                spacing="4",
            ),
            rx.hstack(
                rx.button(t("copy_url"), size="1", variant="soft", class_name="copy-url",
                          on_click=DashboardState.copy_url(row.websocket_url)),
                rx.cond(
                    DashboardState.confirm_delete == row.endpoint_id,
                    rx.hstack(
                        rx.button(t("confirm_delete"), size="1", color_scheme="red", class_name="confirm-delete",
                                  on_click=DashboardState.delete(row.endpoint_id)),
                        rx.button(t("cancel"), size="1", variant="soft", on_click=DashboardState.cancel_delete),
                    ),
                    rx.button(t("delete"), size="1", color_scheme="red", variant="soft", class_name="delete-endpoint",
                              on_click=DashboardState.ask_delete(row.endpoint_id)),
                ),
                wrap="wrap",
            ),
            spacing="3",
            wrap="wrap",
            align="center",
            justify="between",
            width="100%",
        ),
        id="endpoint-row-" + row.endpoint_id,
        width="100%",
    )


def dashboard_page() -> rx.Component:
    return page_frame(
        signed_in_only(
            rx.vstack(
                rx.heading(t("dashboard_title"), size="6"),
                rx.grid(
                    stat_card("summary_endpoints", DashboardState.endpoint_count, "summary-endpoints"),
                    stat_card("summary_connections", DashboardState.connection_sum, "summary-connections"),
                    stat_card("summary_messages", DashboardState.message_sum, "summary-messages"),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.card(
                    rx.vstack(rx.heading(t("new_endpoint"), size="4"), _create_form(), width="100%"),
                    width="100%",
                ),
                rx.cond(
                    DashboardState.loaded & (DashboardState.endpoint_count == 0),
                    rx.callout(t("no_endpoints"), icon="info", width="100%"),
                ),
                rx.foreach(DashboardState.rows, _row),
                spacing="4",
                width="100%",
            ),
        ),
        on_unmount=DashboardState.stop_live,
    )
