"""The answer shapes of the REST API: {"data": ...} on success, {"error": {...}} on failure, request ids."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay_core.errors import InternalError, RateLimited, RelayError, ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
API_PREFIX = "/api"


class Envelope(BaseModel, Generic[T]):
    data: T


class PageMeta(BaseModel):
    page: int
    page_size: int
    total: int


class PagedEnvelope(BaseModel, Generic[T]):
    data: list[T]
    meta: PageMeta


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]
    timestamp: str
    request_id: str


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class RequestIdMiddleware:
    """Gives every /api request an id (X-Request-ID on the answer, request_id in errors and logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_response(request: Request, *, status: int, code: str, message: str,
                   details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {
        "code": code, "message": message, "details": jsonable_encoder(details or {}),
        "timestamp": _now_iso(), "request_id": getattr(request.state, "request_id", ""),
    }}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _on_relay_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RelayError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return error_response(request, status=exc.status, code=exc.code, message=exc.message,
                          details=exc.details, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details: dict[str, str] = {}
    for problem in exc.errors():
        field = "body" if problem.get("type") == "json_invalid" else _field_name(tuple(problem.get("loc", ())))
        details.setdefault(field, str(problem.get("msg", "invalid")))
    message = "Invalid fields: " + ", ".join(details) if details else "The request is not valid."
    return error_response(request, status=422, code="VALIDATION_ERROR", message=message, details=details)


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework's only 400 is a body it could not parse (e.g. not UTF-8): a validation error here.
        detail = exc.detail if isinstance(exc.detail, str) else "The body could not be parsed."
        return error_response(request, status=422, code="VALIDATION_ERROR", message=detail, details={"body": detail})
    code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return error_response(request, status=exc.status_code, code=code, message=message, headers=exc.headers)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database is unreachable, full or read-only: 503, one log line, and the connection stays usable
    (a handler for a specific class runs in ExceptionMiddleware, which does not re-raise like the 500 path)."""
    reason = type(getattr(exc, "orig", None) or exc).__name__
    log.warning("database error request_id=%s path=%s: %s", getattr(request.state, "request_id", ""),
                request.url.path, reason)
    return error_response(request, status=503, code=ServiceUnavailable.code,
                          message="The database is not available right now; try again shortly.",
                          details={"database": "error"}, headers={"Retry-After": "5"})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error request_id=%s path=%s", getattr(request.state, "request_id", ""),
                  request.url.path)
    return error_response(request, status=500, code=InternalError.code, message=InternalError.default_message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RelayError, _on_relay_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope} for status in (400, 401, 403, 404, 409, 422, 429, 500, 503)
}
