"""Every web answer carries the security headers: no framing, no sniffing, a content security policy."""

from __future__ import annotations

from tests.integration.api.client import Api


def test_api_answers_carry_security_headers(api: Api) -> None:
    """Success and error answers both say DENY framing, nosniff, and a CSP limited to self and the relay."""
    for response in (api.request("GET", "/api/health"), api.request("GET", "/api/nope")):
        headers = response.headers
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp
        assert "ws://localhost:3001" in csp and "cdn.jsdelivr.net" not in csp


def test_api_docs_may_load_swagger_from_its_cdn(api: Api) -> None:
    """/api/docs is served, and only its policy admits Swagger UI's CDN."""
    response = api.request("GET", "/api/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
    assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]
