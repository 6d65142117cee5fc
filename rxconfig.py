"""Reflex configuration: the web process listens on RELAY_WEB_PORT (one port for UI, backend and /api)."""

import os

import reflex as rx

_port = int(os.environ.get("RELAY_WEB_PORT", "3000"))

config = rx.Config(
    app_name="relay_app",
    frontend_port=_port,
    backend_port=_port,
    api_url=os.environ.get("RELAY_PUBLIC_WEB_URL", f"http://localhost:{_port}"),
    deploy_url=os.environ.get("RELAY_PUBLIC_WEB_URL", f"http://localhost:{_port}"),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    redis_url=os.environ.get("RELAY_REDIS_URL") or None,
    plugins=[rx.plugins.RadixThemesPlugin()],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
