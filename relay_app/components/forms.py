"""Form pieces: labelled fields with their error shown in place, and the form-level error callout."""

from __future__ import annotations

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
