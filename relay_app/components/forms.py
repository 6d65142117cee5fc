"""Form pieces: labelled fields with their error shown in place, and the form-level error callout."""

from __future__ import annotations

from typing import Any

import reflex as rx

from relay_app.state.session import t


def field_error(errors: rx.Var, name: str) -> rx.Component:
    return rx.cond(
        errors.contains(name),
        rx.text(errors[name], color="red", size="1", id=f"error-{name}"),
    )


def text_field(
    label_key: str, name: str, errors: rx.Var, *, type: str = "text", default_value: rx.Var | str | None = None,
    key: rx.Var | str | None = None, input_id: str | None = None, **props: object,
) -> rx.Component:
    extra: dict[str, object] = {}
    if default_value is not None:
        extra["default_value"] = default_value
    if key is not None:
        extra["key"] = key
    return rx.vstack(
        rx.text(t(label_key), as_="label", size="2", weight="medium", html_for=input_id or f"input-{name}"),
        rx.input(name=name, type=type, id=input_id or f"input-{name}", width="100%", **extra, **props),
        field_error(errors, name),
        spacing="1",
        width="100%",
    )


def form_error(message: rx.Var, *, id: str = "form-error") -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", size="1", id=id, width="100%"),
    )


def form_notice(message: rx.Var, *, id: str = "form-notice") -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="check", color_scheme="green", size="1", id=id, width="100%"),
    )


def narrow_form(*children: rx.Component, on_submit: Any) -> rx.Component:
    """A centred card holding one form (sign-in, register): typed values survive a failed submit."""
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(*children, spacing="3", width="100%"),
                on_submit=on_submit,
                reset_on_submit=False,
                width="100%",
            ),
            width="100%",
            max_width="420px",
        ),
        width="100%",
        padding_top="24px",
    )
