"""Who may call what: every API route x {anonymous, owner, other user, banned user, admin} (SPEC §3, §7).

The route list is checked against the running app's own OpenAPI document, so a route added without a rule
here fails `test_rules_cover_every_route_in_openapi`. Each (route, role) check builds fresh accounts and
targets, sends a valid request (only the caller's identity differs), asserts the status and error code, and,
when the call is refused, that nothing changed in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from relay_core.db import session_scope
from relay_core.models import AccessToken, Device, Endpoint, InviteCode, User
from tests.integration.api.client import USER_PASSWORD, Account, Api, assert_error

ROLES = ("anonymous", "owner", "other", "banned", "admin")
NEW_PASSWORD = "changed-pass-456"


@dataclass
class Ctx:
    """Fresh accounts and targets for one (route, role) check."""

    api: Api
    root: Account
    database_url: str
    role: str
    owner: Account
    endpoint_id: str
    other: Account | None = None
    actor: Account | None = None
    invite_codes: list[str] = field(default_factory=list)

    @property
    def ep(self) -> str:
        return f"/api/endpoints/{self.endpoint_id}"

    def token_on_endpoint(self) -> int:
        response = self.api.request("POST", f"{self.ep}/tokens", account=self.owner,
                                    json={"name": "matrix", "role": "both"})
        assert response.status_code == 201, response.text
        return int(response.json()["data"]["id"])

    def device_on_endpoint(self) -> str:
        """A device row as the relay would keep it (the API has no route that creates one)."""
        device_id = "dev-" + uuid.uuid4().hex[:8]
        with session_scope(self.database_url, write=True) as db:
            endpoint = db.exec(select(Endpoint).where(Endpoint.endpoint_id == self.endpoint_id)).one()
            db.add(Device(endpoint_pk=endpoint.id, device_id=device_id, name="before"))
        return device_id

    def fresh_invite(self) -> str:
        code = self.api.invite(self.root)
        self.invite_codes.append(code)
        return code


Call = Callable[[Ctx], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Rule:
    """kind: public (anyone), self (any signed-in user, on their own account or list),
    owner (the endpoint's owner only), admin (admins only)."""

    kind: str
    success: int
    call: Call


def _plain(path: str, **kwargs: Any) -> Call:
    return lambda ctx: (path, kwargs)


def _on_endpoint(suffix: str = "", **kwargs: Any) -> Call:
    return lambda ctx: (ctx.ep + suffix, kwargs)


def _register(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    username = "r_" + uuid.uuid4().hex[:12]
    return "/api/auth/register", {"json": {
        "invite_code": ctx.fresh_invite(), "username": username, "email": f"{username}@example.com",
        "password": USER_PASSWORD}}


def _login(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    account = ctx.actor or ctx.owner  # anonymous signs in as a fresh user, without a bearer token
    return "/api/auth/login", {"json": {"username": account.username, "password": account.password}}


def _patch_me(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    return "/api/auth/me", {"json": {"email": f"new_{uuid.uuid4().hex[:12]}@example.com"}}


def _revoke_token(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    return f"{ctx.ep}/tokens/{ctx.token_on_endpoint()}", {}


def _rename_device(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    return f"{ctx.ep}/devices/{ctx.device_on_endpoint()}", {"json": {"name": "after"}}


def _revoke_invite(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    return f"/api/admin/invite-codes/{ctx.fresh_invite()}", {}


def _on_owner(suffix: str, **kwargs: Any) -> Call:
    return lambda ctx: (f"/api/admin/users/{ctx.owner.id}{suffix}", kwargs)


def _admin_endpoint(suffix: str, **kwargs: Any) -> Call:
    return lambda ctx: (f"/api/admin/endpoints/{ctx.endpoint_id}{suffix}", kwargs)


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/health"): Rule("public", 200, _plain("/api/health")),
    ("POST", "/api/auth/register"): Rule("public", 201, _register),
    ("POST", "/api/auth/login"): Rule("public", 200, _login),
    ("GET", "/api/auth/me"): Rule("self", 200, _plain("/api/auth/me")),
    ("PATCH", "/api/auth/me"): Rule("self", 200, _patch_me),
    ("POST", "/api/auth/change-password"): Rule("self", 204, _plain(
        "/api/auth/change-password", json={"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD})),
    ("GET", "/api/endpoints"): Rule("self", 200, _plain("/api/endpoints")),
    ("POST", "/api/endpoints"): Rule("self", 201, _plain(
        "/api/endpoints", json={"name": "matrix", "forwarding_mode": "json", "access_mode": "public"})),
    ("GET", "/api/endpoints/{endpoint_id}"): Rule("owner", 200, _on_endpoint()),
    ("PATCH", "/api/endpoints/{endpoint_id}"): Rule("owner", 200, _on_endpoint(json={"name": "renamed"})),
    ("DELETE", "/api/endpoints/{endpoint_id}"): Rule("owner", 204, _on_endpoint()),
    ("GET", "/api/endpoints/{endpoint_id}/stats"): Rule("owner", 200, _on_endpoint("/stats")),
    ("GET", "/api/endpoints/{endpoint_id}/messages"): Rule("owner", 200, _on_endpoint("/messages")),
    ("GET", "/api/endpoints/{endpoint_id}/devices"): Rule("owner", 200, _on_endpoint("/devices")),
    ("PATCH", "/api/endpoints/{endpoint_id}/devices/{device_id}"): Rule("owner", 200, _rename_device),
    ("GET", "/api/endpoints/{endpoint_id}/tokens"): Rule("owner", 200, _on_endpoint("/tokens")),
    ("POST", "/api/endpoints/{endpoint_id}/tokens"): Rule("owner", 201, _on_endpoint(
        "/tokens", json={"name": "matrix", "role": "subscribe"})),
    ("DELETE", "/api/endpoints/{endpoint_id}/tokens/{token_id}"): Rule("owner", 204, _revoke_token),
    ("GET", "/api/admin/invite-codes"): Rule("admin", 200, _plain("/api/admin/invite-codes",
                                                                   params={"status": "unused"})),
    ("POST", "/api/admin/invite-codes"): Rule("admin", 201, _plain(
        "/api/admin/invite-codes", json={"count": 2, "expires_in_hours": 24, "grants_admin": False})),
    ("DELETE", "/api/admin/invite-codes/{code}"): Rule("admin", 204, _revoke_invite),
    ("GET", "/api/admin/users"): Rule("admin", 200, _plain("/api/admin/users")),
    ("GET", "/api/admin/users/{user_id}/endpoints"): Rule("admin", 200, _on_owner("/endpoints")),
    ("POST", "/api/admin/users/{user_id}/ban"): Rule("admin", 200, _on_owner("/ban", json={"reason": "matrix"})),
    ("POST", "/api/admin/users/{user_id}/unban"): Rule("admin", 200, _on_owner("/unban", json={"reason": "ok"})),
    ("GET", "/api/admin/endpoints"): Rule("admin", 200, _plain("/api/admin/endpoints")),
    ("POST", "/api/admin/endpoints/{endpoint_id}/disable"): Rule("admin", 200, _admin_endpoint(
        "/disable", json={"reason": "matrix"})),
    ("POST", "/api/admin/endpoints/{endpoint_id}/enable"): Rule("admin", 200, _admin_endpoint("/enable", json={})),
    ("GET", "/api/admin/audit-log"): Rule("admin", 200, _plain(
        "/api/admin/audit-log", params={"page": 1, "page_size": 10})),
}


def expected(method: str, path: str, role: str) -> tuple[int, str | None]:
    """The status (and error code) SPEC §3 implies for this route and caller."""
    rule = RULES[(method, path)]
    if rule.kind == "public":
        if (method, path) == ("POST", "/api/auth/login") and role == "banned":
            return 403, "USER_BANNED"
        return rule.success, None
    if role == "anonymous":
        return 401, "UNAUTHORIZED"
    if role == "banned":
        return 403, "USER_BANNED"
    if rule.kind == "owner" and role in ("other", "admin"):
        return 404, "NOT_FOUND"  # owner-only routes: another user's endpoint looks absent, even to an admin
    if rule.kind == "admin" and role in ("owner", "other"):
        return 403, "FORBIDDEN"
    return rule.success, None


@pytest.fixture(scope="module")
def root(api: Api) -> Account:
    return api.admin()


def _build_ctx(api: Api, root: Account, database_url: str, role: str) -> Ctx:
    owner = api.new_user(root)
    endpoint = api.new_endpoint(owner, name="owned")
    ctx = Ctx(api=api, root=root, database_url=database_url, role=role, owner=owner,
              endpoint_id=endpoint["endpoint_id"])
    if role == "owner":
        ctx.actor = owner
    elif role == "other":
        ctx.other = ctx.actor = api.new_user(root)
    elif role == "banned":
        ctx.actor = owner  # the owner signed in; an admin bans them once the targets exist (see _ban)
    elif role == "admin":
        ctx.actor = api.new_user(root, grants_admin=True)  # a fresh admin: its password/email may change
    return ctx


def _ban(ctx: Ctx) -> None:
    response = ctx.api.request("POST", f"/api/admin/users/{ctx.owner.id}/ban", account=ctx.root,
                               json={"reason": "spam"})
    assert response.status_code == 200, response.text


def _snapshot(ctx: Ctx) -> dict[str, Any]:
    """Everything a refused call on this ctx could have changed, read straight from the database."""
    with session_scope(ctx.database_url) as db:
        users = db.exec(select(User).where(col(User.id).in_(
            [uuid.UUID(a.id) for a in (ctx.owner, ctx.other, ctx.actor) if a is not None]))).all()
        endpoints = db.exec(select(Endpoint).where(Endpoint.user_id == uuid.UUID(ctx.owner.id))).all()
        pks = [e.id for e in endpoints]
        tokens = db.exec(select(AccessToken).where(col(AccessToken.endpoint_pk).in_(pks))).all()
        devices = db.exec(select(Device).where(col(Device.endpoint_pk).in_(pks))).all()
        invites = db.exec(select(InviteCode).where(col(InviteCode.code).in_(ctx.invite_codes))).all()
        return {
            "users": sorted((str(u.id), u.email, u.password_hash, u.token_version, u.banned_at, u.is_admin)
                            for u in users),
            "endpoints": sorted((e.endpoint_id, e.name, e.forwarding_mode, e.access_mode, e.is_disabled)
                                for e in endpoints),
            "tokens": sorted((t.id or 0, t.revoked_at is None) for t in tokens),
            "devices": sorted((d.device_id, d.name) for d in devices),
            "invites": sorted((i.code, i.revoked_at is None, i.used_by is None) for i in invites),
            "invite_count": len(db.exec(select(InviteCode.id)).all()),
        }


def _assert_success(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    if status == 204:
        assert response.content == b"", response.content
    else:
        body = response.json()
        assert "data" in body and "error" not in body, body


def test_rules_cover_every_route_in_openapi(api: Api) -> None:
    """The rules table names exactly the (method, path) pairs of the running app's OpenAPI document."""
    response = api.request("GET", "/api/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item
                  if method in {"get", "put", "post", "patch", "delete", "head", "options", "trace"}}
    assert operations == set(RULES), (
        f"routes without a rule: {sorted(operations - set(RULES))}; rules without a route: "
        f"{sorted(set(RULES) - operations)}")


def test_openapi_security_matches_rules(api: Api) -> None:
    """Public routes declare no security in the OpenAPI document and every other route declares the bearer."""
    document = api.request("GET", "/api/openapi.json").json()
    for (method, path), rule in RULES.items():
        security = document["paths"][path][method.lower()].get("security")
        if rule.kind == "public":
            assert not security, (method, path, security)
        else:
            assert security and any("HTTPBearer" in s for s in security), (method, path, security)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), list(RULES), ids=[f"{m} {p}" for m, p in RULES])
def test_authz(api: Api, root: Account, database_url: str, method: str, path: str, role: str) -> None:
    """This caller gets exactly the status and error code SPEC §3 gives it, and a refusal changes nothing."""
    ctx = _build_ctx(api, root, database_url, role)
    url, kwargs = RULES[(method, path)].call(ctx)  # creates the route's target (token, device, invite)
    if role == "banned":
        _ban(ctx)
    before = _snapshot(ctx)
    response = api.request(method, url, account=ctx.actor, **kwargs)
    status, code = expected(method, path, role)
    if code is None:
        _assert_success(response, status)
        return
    assert_error(response, status, code)
    assert _snapshot(ctx) == before, "a refused call changed state"
