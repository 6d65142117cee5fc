"""A thin HTTP client for API tests: unique client addresses (X-Forwarded-For from loopback) and helpers."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

ADMIN_USERNAME = "rootadmin"
ADMIN_PASSWORD = "admin-pass-123"
ADMIN_EMAIL = "root@example.com"
USER_PASSWORD = "user-pass-123"
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A distinct documentation-range address, so the per-address auth rate limit does not interfere."""
    n = next(_addresses)
    return f"198.51.{(n // 250) % 250}.{n % 250 + 1}"


@dataclass
class Account:
    username: str
    password: str
    token: str
    id: str
    email: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def request(self, method: str, path: str, *, account: Account | None = None, token: str | None = None,
                address: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if account is not None:
            headers.update(account.auth)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers["X-Forwarded-For"] = address or fresh_address()
        return self.http.request(method, path, headers=headers, **kwargs)

    def login(self, username: str, password: str) -> Account:
        response = self.request("POST", "/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        user = data["user"]
        return Account(username=username, password=password, token=data["token"], id=user["id"], email=user["email"])

    def admin(self) -> Account:
        return self.login(ADMIN_USERNAME, ADMIN_PASSWORD)

    def invite(self, admin: Account, **body: Any) -> str:
        response = self.request("POST", "/api/admin/invite-codes", account=admin, json={"count": 1, **body})
        assert response.status_code == 201, response.text
        return str(response.json()["data"][0]["code"])

    def new_user(self, admin: Account | None = None, *, grants_admin: bool = False) -> Account:
        admin = admin or self.admin()
        code = self.invite(admin, grants_admin=grants_admin)
        username = "u_" + uuid.uuid4().hex[:12]
        email = f"{username}@example.com"
        response = self.request("POST", "/api/auth/register", json={
            "invite_code": code, "username": username, "email": email, "password": USER_PASSWORD})
        assert response.status_code == 201, response.text
        return self.login(username, USER_PASSWORD)

    def new_endpoint(self, account: Account, **body: Any) -> dict[str, Any]:
        response = self.request("POST", "/api/endpoints", account=account, json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is the error envelope with this status and code; returns the error object."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert set(error) == {"code", "message", "details", "timestamp", "request_id"}, error
    assert error["message"] and error["request_id"].startswith("req_")
    return error
