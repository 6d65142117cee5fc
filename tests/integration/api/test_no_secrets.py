"""No password, JWT, access token or invite code reaches a log line or an error answer."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.integration.api.client import ADMIN_PASSWORD, Api


def test_full_flow_leaves_no_secret_in_logs_or_errors(api: Api, server: tuple[str, Path]) -> None:
    """Register, login, endpoint, token and failing calls: the server log and error bodies hold no secret."""
    admin = api.admin()
    code = api.invite(admin)
    name = "s_" + uuid.uuid4().hex[:10]
    password = "Very-secret-pass-42"
    bodies: list[str] = []
    register = api.request("POST", "/api/auth/register", json={
        "invite_code": code, "username": name, "email": f"{name}@example.com", "password": password})
    assert register.status_code == 201
    user = api.login(name, password)
    endpoint = api.new_endpoint(user, access_mode="token")
    token = api.request("POST", f"/api/endpoints/{endpoint['endpoint_id']}/tokens", account=user,
                        json={"name": "t", "role": "both"}).json()["data"]["token"]
    failing = [
        api.request("POST", "/api/auth/register", json={
            "invite_code": code, "username": name, "email": f"{name}@example.com", "password": password}),
        api.request("POST", "/api/auth/login", json={"username": name, "password": password + "x"}),
        api.request("POST", "/api/auth/change-password", account=user,
                    json={"current_password": password + "x", "new_password": password}),
        api.request("POST", "/api/auth/change-password", account=user,
                    json={"current_password": password, "new_password": "short"}),
        api.request("GET", "/api/auth/me", token=user.token + "x"),
        api.request("POST", "/api/auth/register", json={"invite_code": code, "password": password, "extra": token}),
    ]
    for response in failing:
        assert response.status_code >= 400
        bodies.append(response.text)
    log = server[1].read_text(errors="replace")
    assert "audit action=invite_create" in log, "the log capture is not working"
    secrets = {"password": password, "admin password": ADMIN_PASSWORD, "jwt": user.token, "admin jwt": admin.token,
               "access token": token, "invite code": code}
    for label, secret in secrets.items():
        assert secret not in log, f"{label} found in the server log"
        for body in bodies:
            assert secret not in body, f"{label} found in an error answer: {body}"
