"""Admin: invite codes — batch create with expiry and admin flag, status filter, copy, revoke, export."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

import reflex as rx

from relay_app.components.forms import field_error, form_error
from relay_app.components.layout import admin_only, page_frame, section
from relay_app.i18n import describe_error
from relay_app.state.session import SessionState, db, settings, t
from relay_core.errors import RelayError, ValidationFailed
from relay_core.services import invites
from relay_core.services.invites import InviteStatus

EXPORT_FIELDS = ("code", "status", "grants_admin", "expires_at", "used_by_username", "used_at", "revoked_at",
                 "created_at")


@dataclasses.dataclass
class InviteRow:
    code: str = ""
    status: str = ""
    grants_admin: bool = False
    expires_at: str = ""
    used_by_username: str = ""
    used_at: str = ""
    revoked_at: str = ""
    created_at: str = ""
    register_url: str = ""


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


class AdminInvitesState(SessionState):
    rows: list[InviteRow] = []
    status_filter: str = "all"
    errors: dict[str, str] = {}
    error: str = ""
    created: list[str] = []

    def _read(self) -> None:
        status = None if self.status_filter == "all" else InviteStatus(self.status_filter)
        base = settings().web_base_url
        with db() as session:
            if not self.is_admin or self._current_user(session) is None:
                self.rows = []
                return
            views = invites.list_invites(session=session, status=status)
        self.rows = [
            InviteRow(code=v.code, status=v.status, grants_admin=v.grants_admin, expires_at=_iso(v.expires_at),
                      used_by_username=v.used_by_username or "", used_at=_iso(v.used_at),
                      revoked_at=_iso(v.revoked_at), created_at=_iso(v.created_at),
                      register_url=f"{base}/register?code={v.code}")
            for v in views
        ]

    @rx.event
    def load(self) -> None:
        self.errors, self.error, self.created = {}, "", []
        if self.is_admin:
            self._read()

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value
        self._read()

    @rx.event
    def create(self, form: dict[str, Any]) -> Any:
        self.errors, self.error = {}, ""
        errors: dict[str, str] = {}
        try:
            count = int(str(form.get("count") or "1"))
        except ValueError:
            count = 0
            errors["count"] = self.tr["must_be_number"]
        hours_text = str(form.get("expires_in_hours") or "").strip()
        hours: float | None = None
        if hours_text:
            try:
                hours = float(hours_text)
            except ValueError:
                errors["expires_in_hours"] = self.tr["must_be_number"]
        if errors:
            self.errors = errors
            return None
        try:
            with db(write=True) as session:
                admin = self._admin_or_raise(session)
                made = invites.create_invites(session=session, created_by=admin.id, count=count,
                                              expires_in_hours=hours, grants_admin=bool(form.get("grants_admin")))
                self.created = [i.code for i in made]
        except ValidationFailed as exc:
            self.errors, self.error = describe_error(exc, self.lang)
            return None
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self._read()
        return rx.toast.success(f"{self.tr['invites_created']}: {len(self.created)}")

    @rx.event
    def revoke(self, code: str) -> Any:
        self.error = ""
        try:
            with db(write=True) as session:
                admin = self._admin_or_raise(session)
                invites.revoke_invite(session=session, code=code, actor_id=admin.id)
        except RelayError as exc:
            self.error = describe_error(exc, self.lang)[1]
            return None
        self._read()
        return rx.toast.success(self.tr["invite_revoked"])

    @rx.event
    def copy(self, text: str) -> Any:
        return [rx.set_clipboard(text), rx.toast.info(self.tr["copied"])]

    def _export_rows(self) -> list[dict[str, Any]]:
        self._read()
        return [{k: getattr(r, k) for k in EXPORT_FIELDS} for r in self.rows]

    @rx.event
    def export_csv(self) -> Any:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._export_rows())
        return rx.download(data=buffer.getvalue(), filename="invite-codes.csv", mime_type="text/csv")

    @rx.event
    def export_json(self) -> Any:
        return rx.download(data=json.dumps(self._export_rows(), indent=2), filename="invite-codes.json",
                           mime_type="application/json")


def _row(row: rx.Var[InviteRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.code, class_name="invite-code")),
        rx.table.cell(rx.badge(row.status, class_name="invite-status")),
        rx.table.cell(rx.cond(row.grants_admin, t("yes"), t("no"))),
        rx.table.cell(rx.text(row.expires_at, size="1")),
        rx.table.cell(row.used_by_username),
        rx.table.cell(rx.text(row.created_at, size="1")),
        rx.table.cell(
            rx.hstack(
                rx.button(t("copy_link"), size="1", variant="soft", on_click=AdminInvitesState.copy(row.register_url)),
                rx.cond(
                    row.status == "unused",
                    rx.button(t("revoke"), size="1", color_scheme="red", variant="soft", class_name="revoke-invite",
                              on_click=AdminInvitesState.revoke(row.code)),
                ),
            ),
        ),
        id="invite-row-" + row.code,
    )


def admin_invites_page() -> rx.Component:
    return page_frame(
        admin_only(
            rx.vstack(
                rx.heading(t("invites_title"), size="6"),
                section(
                    "create_invites",
                    rx.form(
                        rx.flex(
                            rx.vstack(
                                rx.text(t("count"), size="2", as_="label"),
                                rx.input(name="count", type="number", default_value="1", min=1, max=50,
                                         id="invite-count", width="100px"),
                                field_error(AdminInvitesState.errors, "count"),
                                spacing="1",
                            ),
                            rx.vstack(
                                rx.text(t("expires_in_hours"), size="2", as_="label"),
                                rx.input(name="expires_in_hours", type="number", placeholder=t("never"),
                                         id="invite-expiry", width="160px", step="any"),
                                field_error(AdminInvitesState.errors, "expires_in_hours"),
                                field_error(AdminInvitesState.errors, "expires_at"),
                                spacing="1",
                            ),
                            rx.hstack(rx.checkbox(name="grants_admin", id="invite-admin"),
                                      rx.text(t("grants_admin"), size="2", as_="label", html_for="invite-admin"),
                                      align="center"),
                            rx.button(t("create"), type="submit", id="create-invites-button"),
                            spacing="3",
                            wrap="wrap",
                            align="end",
                        ),
                        on_submit=AdminInvitesState.create,
                        reset_on_submit=False,
                        width="100%",
                    ),
                    form_error(AdminInvitesState.error, id="invites-error"),
                    rx.cond(
                        AdminInvitesState.created.length() > 0,
                        rx.callout(
                            rx.vstack(
                                rx.text(t("new_codes")),
                                rx.foreach(AdminInvitesState.created,
                                           lambda code: rx.code(code, class_name="new-invite-code")),
                            ),
                            icon="ticket",
                            color_scheme="green",
                            width="100%",
                        ),
                    ),
                ),
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(id="invite-filter", aria_label="status"),
                        rx.select.content(
                            rx.select.item(t("all"), value="all"),
                            rx.select.item(t("status_unused"), value="unused"),
                            rx.select.item(t("status_used"), value="used"),
                            rx.select.item(t("status_expired"), value="expired"),
                            rx.select.item(t("status_revoked"), value="revoked"),
                        ),
                        value=AdminInvitesState.status_filter,
                        on_change=AdminInvitesState.set_status_filter,
                    ),
                    rx.button(t("export_csv"), on_click=AdminInvitesState.export_csv, variant="soft", id="export-csv"),
                    rx.button(t("export_json"), on_click=AdminInvitesState.export_json, variant="soft",
                              id="export-json"),
                    spacing="2",
                    wrap="wrap",
                ),
                rx.box(
                    rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell(t("code")),
                            rx.table.column_header_cell(t("status")),
                            rx.table.column_header_cell(t("admin")),
                            rx.table.column_header_cell(t("expires")),
                            rx.table.column_header_cell(t("used_by")),
                            rx.table.column_header_cell(t("created")),
                            rx.table.column_header_cell(""),
                        )),
                        rx.table.body(rx.foreach(AdminInvitesState.rows, _row)),
                        size="1",
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
        ),
    )
