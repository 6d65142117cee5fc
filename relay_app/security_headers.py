"""Security headers on every answer of the web process (dashboard, Reflex backend and /api)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Swagger UI at /api/docs loads its script and style from jsDelivr (FastAPI's default).
_DOCS_SOURCES = "https://cdn.jsdelivr.net"


def content_security_policy(public_ws_url: str, *, docs: bool = False) -> str:
    """The dashboard's policy: scripts only from itself (React Router inlines its hydration data, hence
    'unsafe-inline'; Reflex runs call_script/set_clipboard code through eval, hence 'unsafe-eval'),
    Radix's inline styles, WebSockets to itself and to the relay, no framing, no plugins."""
    parts = urlsplit(public_ws_url)
    relay_origin = f"{parts.scheme}://{parts.netloc}"
    extra = f" {_DOCS_SOURCES}" if docs else ""
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'unsafe-inline' 'unsafe-eval'{extra}",
        f"style-src 'self' 'unsafe-inline'{extra}",
        "img-src 'self' data: https://fastapi.tiangolo.com" if docs else "img-src 'self' data:",
        "font-src 'self' data:",
        f"connect-src 'self' ws: wss: {relay_origin}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeadersMiddleware:
    """Adds CSP, frame, sniffing and referrer policies to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, public_ws_url: str) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        self._headers = [*common, (b"content-security-policy", content_security_policy(public_ws_url).encode())]
        self._docs_headers = [*common, (b"content-security-policy",
                                        content_security_policy(public_ws_url, docs=True).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self._docs_headers if scope["path"].startswith("/api/docs") else self._headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message.setdefault("headers", []).extend(h for h in headers if h[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)
