"""The Reflex app: pages registered here, the REST API mounted through api_transformer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import reflex as rx
from starlette.concurrency import run_in_threadpool

from relay_app.api import create_api
from relay_core.bootstrap import announce, prepare_database
from relay_core.logs import configure_logging
from relay_core.settings import load_settings_or_exit

settings = load_settings_or_exit()


@contextlib.asynccontextmanager
async def _prepare_database() -> AsyncIterator[None]:
    configure_logging(settings)
    announce(await run_in_threadpool(prepare_database, settings), settings)
    yield


def index() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("WebSocket Relay Platform"),
            rx.link("API documentation", href="/api/docs"),
        ),
        height="100vh",
    )


app = rx.App(api_transformer=create_api(settings))
app.register_lifespan_task(_prepare_database)
app.add_page(index, route="/", title="Relay")
