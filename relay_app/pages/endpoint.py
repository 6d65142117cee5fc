"""Endpoint detail: URL and connect snippets, live stats and chart, recent messages, devices, access
tokens, settings, and the live console."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import reflex as rx
from sqlmodel import Session

from relay_app.components.console import disconnect_console, live_console
from relay_app.components.forms import field_error, form_error, form_notice
from relay_app.components.layout import page_frame, section, signed_in_only
from relay_app.components.stats import stat_card
from relay_app.i18n import describe_error
from relay_app.state.live import run_live_loop
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError
from relay_core.models import Endpoint, User
from relay_core.services import activity, tokens
from relay_core.services import endpoints as endpoint_service
from relay_core.services.stats import messages_per_minute, stats_for

CHART_MINUTES = 10


@dataclasses.dataclass
class MessageRow:
    id: int = 0
    time: str = ""
    sender: str = ""
    size: int = 0
    preview: str = ""


@dataclasses.dataclass
class DeviceRow:
    device_id: str = ""
    name: str = ""
    online: bool = False
    last_seen: str = ""


@dataclasses.dataclass
class TokenRow:
    id: int = 0
    name: str = ""
    role: str = ""
    created: str = ""
    last_used: str = ""
    revoked: bool = False


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


class EndpointState(SessionState):
    found: bool = False
    loaded: bool = False
    eid: str = ""
    name: str = ""
    websocket_url: str = ""
    forwarding_mode: str = "json"
    custom_header: str = ""
    access_mode: str = "public"
    is_disabled: bool = False
    disabled_reason: str = ""
    current_connections: int = 0
    total_connections: int = 0
    total_messages: int = 0
    total_bytes: int = 0
    dropped_messages: int = 0
    chart: list[dict[str, Any]] = []
    messages: list[MessageRow] = []
    devices: list[DeviceRow] = []
    token_rows: list[TokenRow] = []
    new_token: str = ""
    settings_errors: dict[str, str] = {}
    settings_error: str = ""
    settings_notice: str = ""
    settings_key: int = 0
    token_errors: dict[str, str] = {}
    token_error: str = ""
    device_error: str = ""
    editing_device: str = ""
    _live: bool = False
    _live_generation: int = 0

    @rx.var
    def token_mode(self) -> bool:
        return self.access_mode == "token"

    @rx.var
    def snippet_js(self) -> str:
        return (
            f'const ws = new WebSocket("{self.websocket_url}");\n'
            'ws.onopen = () => ws.send(JSON.stringify({ type: "chat", data: "hello" }));\n'
            "ws.onmessage = (event) => console.log(JSON.parse(event.data));"
        )

    @rx.var
    def snippet_python(self) -> str:
        return (
            "# pip install websockets\n"
            "import asyncio, json\n"
            "from websockets.asyncio.client import connect\n\n"
            "async def main():\n"
            f'    async with connect("{self.websocket_url}") as ws:\n'
            '        await ws.send(json.dumps({"type": "chat", "data": "hello"}))\n'
            "        async for message in ws:\n"
            "            print(message)\n\n"
            "asyncio.run(main())"
        )

    @rx.var
    def snippet_cli(self) -> str:
        return f'websocat "{self.websocket_url}"\n# then type: {{"type":"chat","data":"hello"}}'

    def _endpoint(self, session: Session) -> tuple[User, Endpoint]:
        user = self._user_or_raise(session)
        return user, endpoint_service.get_owned_endpoint(session=session, owner=user, endpoint_id=self.eid)

    def _read_endpoint(self, endpoint: Endpoint) -> None:
        self.name, self.forwarding_mode = endpoint.name, endpoint.forwarding_mode
        self.custom_header, self.access_mode = endpoint.custom_header or "", endpoint.access_mode
        self.is_disabled, self.disabled_reason = endpoint.is_disabled, endpoint.disabled_reason or ""
        self.websocket_url = settings().websocket_url(endpoint.endpoint_id)

    def _read_tokens(self, session: Session, endpoint: Endpoint) -> None:
        self.token_rows = [
            TokenRow(id=tok.id or 0, name=tok.name, role=tok.role, created=_fmt(tok.created_at),
                     last_used=_fmt(tok.last_used_at), revoked=tok.revoked_at is not None)
            for tok in tokens.list_tokens(session=session, endpoint=endpoint)
        ]

    def _update_chart(self, per_minute: list[tuple[datetime, int]]) -> None:
        self.chart = [{"minute": minute.strftime("%H:%M"), "messages": count} for minute, count in per_minute]

    def _refresh(self) -> bool:
        """The live part: stats, recent messages, devices. False once the session is gone."""
        with db() as session:
            if self._current_user(session) is None:
                return False
            try:
                _user, endpoint = self._endpoint(session)
            except RelayError:
                self.found = False
                return True
            self._read_endpoint(endpoint)
            stats = stats_for(session=session, endpoint_pks=[endpoint.id])[endpoint.id]
            recent = activity.recent_messages(session=session, endpoint=endpoint)
            devices = activity.list_devices(session=session, endpoint=endpoint)
            per_minute = messages_per_minute(session=session, endpoint_pk=endpoint.id, minutes=CHART_MINUTES)
        self.current_connections, self.total_connections = stats.current_connections, stats.total_connections
        self.total_messages, self.total_bytes = stats.total_messages, stats.total_bytes
        self.dropped_messages = stats.dropped_messages
        self.messages = [
            MessageRow(id=m.id, time=_fmt(m.timestamp), sender=m.device_id or m.connection_id, size=m.size,
                       preview=("[binary]" if m.binary else (m.preview or "")))
            for m in recent
        ]
        self.devices = [
            DeviceRow(device_id=d.device_id, name=d.name or "", online=d.online, last_seen=_fmt(d.last_seen_at))
            for d in devices
        ]
        self._update_chart(per_minute)
        return True

    @rx.event
    def load(self) -> Any:
        self.eid = str(self.router.page.params.get("endpoint_id", ""))
        self.found = self.loaded = False
        self.new_token = self.settings_error = self.settings_notice = self.token_error = self.device_error = ""
        self.settings_errors, self.token_errors, self.editing_device = {}, {}, ""
        self.messages, self.devices, self.token_rows, self.chart = [], [], [], []
        if not self.user_id:
            return None
        with db() as session:
            try:
                _user, endpoint = self._endpoint(session)
            except RelayError:
                self.loaded = True
                return None
            self._read_endpoint(endpoint)
            self._read_tokens(session, endpoint)
        self.found = True
        self.settings_key += 1
        self._refresh()
        self.loaded = True
        self._live = True
        self._live_generation += 1
        return EndpointState.live_loop(self._live_generation)

    @rx.event
    def stop_live(self) -> Any:
        self._live = False
        return disconnect_console()

    @rx.event(background=True)
    async def live_loop(self, generation: int) -> Any:
        async for event in run_live_loop(self, generation, self._refresh):
            yield event

    @rx.event
    def copy(self, text: str) -> Any:
        return [rx.set_clipboard(text), rx.toast.info(self.tr["copied"])]

    @rx.event
    def save_settings(self, form: dict[str, Any]) -> Any:
        self.settings_errors, self.settings_error, self.settings_notice = {}, "", ""
        forwarding = str(form.get("forwarding_mode") or self.forwarding_mode)
        header = str(form.get("custom_header") or "")
        try:
            with db(write=True) as session:
                _user, endpoint = self._endpoint(session)
                endpoint_service.update_endpoint(
                    session=session, endpoint=endpoint, name=str(form.get("name") or ""),
                    forwarding_mode=forwarding, custom_header=header or None,
                    access_mode=str(form.get("access_mode") or self.access_mode),
                )
                session.flush()
                self._read_endpoint(endpoint)
        except RelayError as exc:
            self.settings_errors, self.settings_error = describe_error(exc, self.lang)
            return None
        self.settings_notice = self.tr["saved"]
        return None

    @rx.event
    def create_token(self, form: dict[str, Any]) -> Any:
        self.token_errors, self.token_error, self.new_token = {}, "", ""
        try:
            with db(write=True) as session:
                _user, endpoint = self._endpoint(session)
                created = tokens.create_token(session=session, endpoint=endpoint, name=str(form.get("name") or ""),
                                              role=str(form.get("role") or "both"))
                self.new_token = created.token
                self._read_tokens(session, endpoint)
        except RelayError as exc:
            self.token_errors, self.token_error = describe_error(exc, self.lang)
        return None

    @rx.event
    def revoke_token(self, token_id: int) -> Any:
        self.token_error = ""
        try:
            with db(write=True) as session:
                user, endpoint = self._endpoint(session)
                tokens.revoke_token(session=session, endpoint=endpoint, token_id=int(token_id), actor=user)
                session.flush()
                self._read_tokens(session, endpoint)
        except RelayError as exc:
            self.token_error = describe_error(exc, self.lang)[1]
        return None

    @rx.event
    def edit_device(self, device_id: str) -> None:
        self.editing_device, self.device_error = device_id, ""

    @rx.event
    def cancel_edit_device(self) -> None:
        self.editing_device, self.device_error = "", ""

    @rx.event
    def rename_device(self, form: dict[str, Any]) -> Any:
        self.device_error = ""
        try:
            with db(write=True) as session:
                _user, endpoint = self._endpoint(session)
                activity.rename_device(session=session, endpoint=endpoint, device_id=str(form.get("device_id") or ""),
                                       name=str(form.get("name") or ""))
        except RelayError as exc:
            self.device_error = describe_error(exc, self.lang)[1]
            return None
        self.editing_device = ""
        self._refresh()
        return None


def _snippet(title_key: str, code: rx.Var[str], snippet_id: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(t(title_key), weight="medium", size="2"),
            rx.button(t("copy"), size="1", variant="ghost", on_click=EndpointState.copy(code)),
            align="center",
        ),
        rx.el.pre(
            code,
            id=snippet_id,
            style={"whiteSpace": "pre-wrap", "wordBreak": "break-all", "fontSize": "12px", "margin": "0",
                   "padding": "8px", "background": "var(--gray-a3)", "borderRadius": "6px", "width": "100%",
                   "boxSizing": "border-box"},
        ),
        spacing="1",
        width="100%",
    )


def _stats() -> rx.Component:
    return rx.vstack(
        rx.grid(
            stat_card("stat_current", EndpointState.current_connections, "stat-current-connections"),
            stat_card("stat_total_connections", EndpointState.total_connections, "stat-total-connections"),
            stat_card("stat_total_messages", EndpointState.total_messages, "stat-total-messages"),
            stat_card("stat_dropped", EndpointState.dropped_messages, "stat-dropped-messages"),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.text(t("chart_title"), weight="medium", size="2"),
                rx.recharts.bar_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                    rx.recharts.x_axis(data_key="minute"),
                    rx.recharts.y_axis(allow_decimals=False, width=40),
                    rx.recharts.bar(data_key="messages", fill="var(--accent-9)", is_animation_active=False),
                    data=EndpointState.chart,
                    width="100%",
                    height=200,
                ),
                width="100%",
                id="messages-chart",
            ),
            width="100%",
        ),
        width="100%",
        spacing="3",
    )


def _message_row(row: rx.Var[MessageRow]) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.text(row.time, size="1", color_scheme="gray"),
            rx.text(row.sender, size="1", color_scheme="gray"),
            rx.text(row.size, " B", size="1", color_scheme="gray"),
            spacing="3",
            wrap="wrap",
        ),
        rx.text(row.preview, size="2", word_break="break-all", class_name="message-preview"),
        padding="6px 0",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def _device_row(row: rx.Var[DeviceRow]) -> rx.Component:
    return rx.flex(
        rx.badge(rx.cond(row.online, t("online"), t("offline")), color_scheme=rx.cond(row.online, "green", "gray")),
        rx.text(row.device_id, size="2", weight="medium", word_break="break-all"),
        rx.cond(
            EndpointState.editing_device == row.device_id,
            rx.form(
                rx.flex(
                    rx.input(type="hidden", name="device_id", value=row.device_id),
                    rx.input(name="name", default_value=row.name, placeholder=t("device_name"), max_length=100,
                             id="device-name-input"),
                    rx.button(t("save"), type="submit", size="1"),
                    rx.button(t("cancel"), size="1", variant="soft", type="button",
                              on_click=EndpointState.cancel_edit_device),
                    spacing="2",
                    wrap="wrap",
                ),
                on_submit=EndpointState.rename_device,
                reset_on_submit=False,
            ),
            rx.fragment(
                rx.text(row.name, size="2"),
                rx.button(t("rename"), size="1", variant="ghost", on_click=EndpointState.edit_device(row.device_id)),
            ),
        ),
        rx.text(t("last_seen"), " ", row.last_seen, size="1", color_scheme="gray"),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="6px 0",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def _token_row(row: rx.Var[TokenRow]) -> rx.Component:
    return rx.flex(
        rx.text(row.name, weight="medium", size="2"),
        rx.badge(row.role),
        rx.text(row.created, size="1", color_scheme="gray"),
        rx.cond(
            row.revoked,
            rx.badge(t("revoked"), color_scheme="red"),
            rx.button(t("revoke"), size="1", color_scheme="red", variant="soft",
                      on_click=EndpointState.revoke_token(row.id)),
        ),
        spacing="2",
        wrap="wrap",
        align="center",
        padding="6px 0",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def _tokens() -> rx.Component:
    return section(
        "tokens_title",
        rx.cond(~EndpointState.token_mode, rx.text(t("tokens_public_hint"), size="2", color_scheme="gray")),
        rx.form(
            rx.flex(
                rx.vstack(
                    rx.input(name="name", placeholder=t("token_name"), id="token-name", max_length=100,
                             width="100%"),
                    field_error(EndpointState.token_errors, "name"),
                    spacing="1",
                    flex="1 1 180px",
                ),
                rx.select.root(
                    rx.select.trigger(aria_label="role"),
                    rx.select.content(
                        rx.select.item(t("role_both"), value="both"),
                        rx.select.item(t("role_publish"), value="publish"),
                        rx.select.item(t("role_subscribe"), value="subscribe"),
                    ),
                    name="role",
                    default_value="both",
                ),
                rx.button(t("create_token"), type="submit", id="create-token-button"),
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            on_submit=EndpointState.create_token,
            reset_on_submit=False,
            width="100%",
        ),
        form_error(EndpointState.token_error, id="token-error"),
        rx.cond(
            EndpointState.new_token != "",
            rx.callout(
                rx.vstack(
                    rx.text(t("token_once")),
                    rx.code(EndpointState.new_token, id="new-token-value", word_break="break-all"),
                    rx.button(t("copy"), size="1", on_click=EndpointState.copy(EndpointState.new_token)),
                ),
                icon="key",
                color_scheme="amber",
                width="100%",
            ),
        ),
        rx.foreach(EndpointState.token_rows, _token_row),
    )


def _settings() -> rx.Component:
    return section(
        "settings_title",
        rx.form(
            rx.vstack(
                rx.text(t("endpoint_name"), as_="label", size="2", weight="medium"),
                rx.input(name="name", default_value=EndpointState.name, id="settings-name", max_length=100,
                         width="100%"),
                field_error(EndpointState.settings_errors, "name"),
                rx.text(t("forwarding_mode"), size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(aria_label="forwarding mode", id="settings-forwarding"),
                    rx.select.content(
                        rx.select.item(t("mode_json"), value="json"),
                        rx.select.item(t("mode_direct"), value="direct"),
                        rx.select.item(t("mode_custom_header"), value="custom_header"),
                    ),
                    name="forwarding_mode",
                    default_value=EndpointState.forwarding_mode,
                ),
                field_error(EndpointState.settings_errors, "forwarding_mode"),
                rx.text(t("custom_header"), as_="label", size="2", weight="medium"),
                rx.input(name="custom_header", default_value=EndpointState.custom_header, id="settings-header",
                         max_length=255, width="100%"),
                field_error(EndpointState.settings_errors, "custom_header"),
                rx.text(t("access_mode"), size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(aria_label="access mode", id="settings-access"),
                    rx.select.content(
                        rx.select.item(t("access_public"), value="public"),
                        rx.select.item(t("access_token"), value="token"),
                    ),
                    name="access_mode",
                    default_value=EndpointState.access_mode,
                ),
                field_error(EndpointState.settings_errors, "access_mode"),
                form_error(EndpointState.settings_error, id="settings-error"),
                form_notice(EndpointState.settings_notice, id="settings-notice"),
                rx.button(t("save"), type="submit", id="settings-save"),
                spacing="2",
                width="100%",
            ),
            on_submit=EndpointState.save_settings,
            reset_on_submit=False,
            key=EndpointState.settings_key.to_string(),
            width="100%",
        ),
    )


def _detail() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading(EndpointState.name, size="6", id="endpoint-name", word_break="break-all"),
            rx.cond(EndpointState.is_disabled,
                    rx.badge(t("disabled"), " ", EndpointState.disabled_reason, color_scheme="red")),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        rx.card(
            rx.flex(
                rx.code(EndpointState.websocket_url, id="endpoint-url", word_break="break-all"),
                rx.button(t("copy_url"), size="1", on_click=EndpointState.copy(EndpointState.websocket_url),
                          id="copy-endpoint-url"),
                spacing="2",
                wrap="wrap",
                align="center",
            ),
            width="100%",
        ),
        _stats(),
        section(
            "console_title",
            live_console(EndpointState.websocket_url, EndpointState.token_mode),
        ),
        section(
            "messages_title",
            rx.cond(EndpointState.messages.length() == 0, rx.text(t("no_messages"), size="2", color_scheme="gray")),
            rx.box(rx.foreach(EndpointState.messages, _message_row), id="recent-messages", width="100%"),
        ),
        section(
            "devices_title",
            rx.cond(EndpointState.devices.length() == 0, rx.text(t("no_devices"), size="2", color_scheme="gray")),
            form_error(EndpointState.device_error, id="device-error"),
            rx.box(rx.foreach(EndpointState.devices, _device_row), id="devices", width="100%"),
        ),
        section(
            "connect_title",
            _snippet("snippet_js", EndpointState.snippet_js, "snippet-js"),
            _snippet("snippet_python", EndpointState.snippet_python, "snippet-python"),
            _snippet("snippet_cli", EndpointState.snippet_cli, "snippet-cli"),
        ),
        _tokens(),
        _settings(),
        spacing="4",
        width="100%",
    )


def endpoint_page() -> rx.Component:
    return page_frame(
        signed_in_only(
            rx.cond(
                EndpointState.found,
                _detail(),
                rx.cond(
                    EndpointState.loaded,
                    rx.callout(t("endpoint_not_found"), icon="triangle_alert", color_scheme="red", id="not-found"),
                    rx.center(rx.spinner(size="3"), padding="48px"),
                ),
            ),
        ),
        on_unmount=EndpointState.stop_live,
    )
