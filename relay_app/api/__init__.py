"""The REST API under /api, built as one FastAPI app that the Reflex backend mounts (or uvicorn serves)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from relay_app.api import admin, auth, endpoints
from relay_app.api.deps import ApiContext, reject_nul
from relay_app.api.envelope import (
    API_PREFIX,
    ERROR_RESPONSES,
    Envelope,
    ErrorEnvelope,
    RequestIdMiddleware,
    install_error_handlers,
)
from relay_app.security_headers import SecurityHeadersMiddleware
from relay_core.db import ping
from relay_core.errors import NotFound, ServiceUnavailable
from relay_core.settings import Settings

VERSION = "0.1.0"


def _health_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", responses={503: {"model": ErrorEnvelope, "description": "the database does not answer"}})
    async def health() -> Envelope[dict[str, str]]:
        if not await run_in_threadpool(ping, settings.database_url):
            raise ServiceUnavailable("The database does not answer.", details={"database": "error"})
        return Envelope(data={"status": "ok", "database": "ok", "version": VERSION})

    return router


def _not_found_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    async def unknown(path: str) -> None:
        raise NotFound("No such API route.")

    return router


def create_api(settings: Settings) -> FastAPI:
    """The API app; whoever serves it migrates the database first (Reflex's lifespan, or __main__)."""
    app = FastAPI(
        title="WebSocket Relay Platform API", version=VERSION, openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs", redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.relay = ApiContext(settings)
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, public_ws_url=settings.public_ws_url)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_nul)])
    api.include_router(_health_router(settings))
    api.include_router(auth.router)
    api.include_router(endpoints.router)
    api.include_router(admin.router)
    api.include_router(_not_found_router())
    app.include_router(api)
    return app


