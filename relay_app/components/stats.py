"""Stat cards: one labelled live number with a stable element id for tests and tools."""

from __future__ import annotations

import reflex as rx

from relay_app.state.session import t


def stat_card(label_key: str, value: rx.Var | int, value_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(t(label_key), size="2", color_scheme="gray"),
            rx.heading(value, size="7", id=value_id),
            spacing="1",
        ),
        width="100%",
    )
