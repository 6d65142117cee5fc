"""Admin: the audit log, newest first, filtered by target type and action, a page at a time."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx

from relay_app.components.layout import admin_only, page_frame
from relay_app.state.session import SessionState, db, t
from relay_core.services import audit

PAGE_SIZE = 50
ACTIONS = ("ban", "unban", "disable", "enable", "invite_create", "invite_revoke", "endpoint_delete", "token_revoke")
TARGET_TYPES = ("user", "endpoint", "invite", "token")


@dataclasses.dataclass
class AuditRow:
    id: int = 0
    created_at: str = ""
    action: str = ""
    target: str = ""
    actor: str = ""
    reason: str = ""


class AdminAuditState(SessionState):
    rows: list[AuditRow] = []
    action: str = "all"
    target_type: str = "all"
    page: int = 1
    total: int = 0

    @rx.var
    def page_count(self) -> int:
        return max(1, (self.total + PAGE_SIZE - 1) // PAGE_SIZE)

    def _read(self) -> None:
        with db() as session:
            if not self.is_admin or self._current_user(session) is None:
                self.rows = []
                return
            entries, self.total = audit.list_audit_log(
                session=session, target_type=None if self.target_type == "all" else self.target_type,
                action=None if self.action == "all" else self.action, page=self.page, page_size=PAGE_SIZE)
        self.rows = [
            AuditRow(id=e.id or 0, created_at=e.created_at.strftime("%Y-%m-%d %H:%M:%S"), action=e.action,
                     target=f"{e.target_type}:{e.target_id}", actor=e.actor_id or "", reason=e.reason or "")
            for e in entries
        ]

    @rx.event
    def load(self) -> None:
        self.page = 1
        if self.is_admin:
            self._read()

    @rx.event
    def set_action(self, value: str) -> None:
        self.action, self.page = value, 1
        self._read()

    @rx.event
    def set_target_type(self, value: str) -> None:
        self.target_type, self.page = value, 1
        self._read()

    @rx.event
    def go(self, delta: int) -> Any:
        self.page = min(max(1, self.page + delta), self.page_count)
        self._read()


def _filter(value: rx.Var[str], on_change: Any, options: tuple[str, ...], element_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=element_id),
        rx.select.content(rx.select.item(t("all"), value="all"), *[rx.select.item(o, value=o) for o in options]),
        value=value,
        on_change=on_change,
    )


def _row(row: rx.Var[AuditRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.created_at, size="1", white_space="nowrap")),
        rx.table.cell(rx.badge(row.action)),
        rx.table.cell(rx.text(row.target, size="1", word_break="break-all")),
        rx.table.cell(rx.text(row.actor, size="1", word_break="break-all")),
        rx.table.cell(rx.text(row.reason, size="1")),
        class_name="audit-row",
    )


def admin_audit_page() -> rx.Component:
    return page_frame(
        admin_only(
            rx.vstack(
                rx.heading(t("audit_title"), size="6"),
                rx.flex(
                    rx.text(t("action"), size="2"),
                    _filter(AdminAuditState.action, AdminAuditState.set_action, ACTIONS, "audit-action"),
                    rx.text(t("target_type"), size="2"),
                    _filter(AdminAuditState.target_type, AdminAuditState.set_target_type, TARGET_TYPES,
                            "audit-target"),
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                rx.box(
                    rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell(t("time")),
                            rx.table.column_header_cell(t("action")),
                            rx.table.column_header_cell(t("target")),
                            rx.table.column_header_cell(t("actor")),
                            rx.table.column_header_cell(t("reason")),
                        )),
                        rx.table.body(rx.foreach(AdminAuditState.rows, _row)),
                        size="1",
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.flex(
                    rx.button(t("previous"), size="1", variant="soft", on_click=AdminAuditState.go(-1),
                              disabled=AdminAuditState.page <= 1),
                    rx.text(AdminAuditState.page, " / ", AdminAuditState.page_count, " (", AdminAuditState.total, ")",
                            size="2"),
                    rx.button(t("next"), size="1", variant="soft", on_click=AdminAuditState.go(1),
                              disabled=AdminAuditState.page >= AdminAuditState.page_count),
                    spacing="3",
                    align="center",
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )
