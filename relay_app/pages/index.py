"""`/`: sends the visitor to the dashboard when signed in, else to the login page."""

from __future__ import annotations

import reflex as rx


def index_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")
