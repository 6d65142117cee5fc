"""The page frame: navigation (with the language switch and sign-out), content width, guarded content."""

from __future__ import annotations

import reflex as rx

from relay_app.state.session import SessionState, t


def _nav_link(key: str, href: str) -> rx.Component:
    return rx.link(t(key), href=href, size="2", weight="medium", white_space="nowrap")


def language_switch() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Language", id="language-switch", variant="ghost"),
        rx.select.content(
            rx.select.item("English", value="en", id="lang-en"),
            rx.select.item("简体中文", value="zh", id="lang-zh"),
        ),
        value=SessionState.lang,
        on_change=SessionState.set_lang,
        size="1",
    )


def navbar() -> rx.Component:
    return rx.flex(
        rx.link(rx.heading(t("app_name"), size="4", white_space="nowrap"), href="/", underline="none"),
        rx.flex(
            rx.cond(
                SessionState.signed_in,
                rx.fragment(
                    _nav_link("nav_dashboard", "/dashboard"),
                    _nav_link("nav_guide", "/guide"),
                    rx.cond(
                        SessionState.is_admin,
                        rx.fragment(
                            _nav_link("nav_invites", "/admin/invites"),
                            _nav_link("nav_users", "/admin/users"),
                            _nav_link("nav_endpoints", "/admin/endpoints"),
                            _nav_link("nav_audit", "/admin/audit"),
                        ),
                    ),
                    _nav_link("nav_profile", "/profile"),
                    rx.button(t("nav_logout"), on_click=SessionState.logout, size="1", variant="soft",
                              id="logout-button"),
                ),
                rx.fragment(
                    _nav_link("nav_login", "/login"),
                    _nav_link("nav_register", "/register"),
                    _nav_link("nav_guide", "/guide"),
                ),
            ),
            language_switch(),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        justify="between",
        align="center",
        wrap="wrap",
        spacing="3",
        padding="12px 16px",
        border_bottom="1px solid var(--gray-a5)",
        width="100%",
    )


def page_frame(*children: rx.Component, **props: object) -> rx.Component:
    """Navigation on top, then the content at a readable width; never wider than the screen."""
    return rx.box(
        navbar(),
        rx.box(
            *children,
            max_width="1100px",
            width="100%",
            margin="0 auto",
            padding="16px",
            box_sizing="border-box",
        ),
        width="100%",
        max_width="100vw",
        overflow_x="hidden",
        min_height="100vh",
        **props,
    )


def signed_in_only(*children: rx.Component) -> rx.Component:
    """Render children only once the session is verified (no flash of private pages)."""
    return rx.cond(SessionState.signed_in, rx.fragment(*children), rx.center(rx.spinner(size="3"), padding="48px"))


def admin_only(*children: rx.Component) -> rx.Component:
    return rx.cond(
        SessionState.signed_in & SessionState.is_admin,
        rx.fragment(*children),
        rx.center(rx.spinner(size="3"), padding="48px"),
    )


def section(title_key: str, *children: rx.Component, **props: object) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(t(title_key), size="4"), *children, spacing="3", width="100%"),
        width="100%",
        **props,
    )
