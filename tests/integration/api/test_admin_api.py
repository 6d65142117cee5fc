"""/api/admin/*: invite codes, users and bans, all endpoints, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.api.client import USER_PASSWORD, Api, assert_error

INVITE_FIELDS = {"code", "status", "grants_admin", "expires_at", "used_by", "used_by_username", "used_at",
                 "revoked_at", "created_by", "created_at"}


def test_create_a_batch_of_invites_with_expiry(api: Api) -> None:
    """POST creates count codes (201 list) of 10 URL-safe characters, with the expiry asked for."""
    admin = api.admin()
    response = api.request("POST", "/api/admin/invite-codes", account=admin,
                           json={"count": 3, "expires_in_hours": 2, "grants_admin": False})
    assert response.status_code == 201, response.text
    invites = response.json()["data"]
    assert len(invites) == 3 and len({i["code"] for i in invites}) == 3
    for invite in invites:
        assert set(invite) == INVITE_FIELDS and invite["status"] == "unused" and len(invite["code"]) == 10
        expires = datetime.fromisoformat(invite["expires_at"].replace("Z", "+00:00"))
        assert timedelta(hours=1.9) < expires - datetime.now(UTC) < timedelta(hours=2.1)
        assert invite["created_by"] == admin.id
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    explicit = api.request("POST", "/api/admin/invite-codes", account=admin, json={"expires_at": at})
    assert explicit.status_code == 201 and explicit.json()["data"][0]["expires_at"][:16] == at[:16]


def test_invite_creation_validates_its_fields(api: Api) -> None:
    """count outside 1-50, a past expiry and both expiry forms at once are 422 in place."""
    admin = api.admin()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for body, field in [({"count": 0}, "count"), ({"count": 51}, "count"), ({"expires_at": past}, "expires_at"),
                        ({"expires_at": future, "expires_in_hours": 1}, "expires_at"),
                        ({"expires_in_hours": -1}, "expires_in_hours"), ({"uses": 3}, "uses")]:
        error = assert_error(api.request("POST", "/api/admin/invite-codes", account=admin, json=body), 422,
                             "VALIDATION_ERROR")
        assert field in error["details"], (body, error)


def test_invite_list_filters_by_status(api: Api) -> None:
    """?status= keeps only codes of that status; used ones name who used them."""
    admin = api.admin()
    revoked = api.invite(admin)
    api.request("DELETE", f"/api/admin/invite-codes/{revoked}", account=admin)
    user = api.new_user(admin)
    by_status = {s: api.request("GET", f"/api/admin/invite-codes?status={s}", account=admin).json()["data"]
                 for s in ("unused", "used", "revoked", "expired")}
    assert all(i["status"] == s for s, rows in by_status.items() for i in rows)
    assert revoked in {i["code"] for i in by_status["revoked"]}
    assert user.username in {i["used_by_username"] for i in by_status["used"]}
    assert "status" in assert_error(api.request("GET", "/api/admin/invite-codes?status=lost", account=admin), 422,
                                    "VALIDATION_ERROR")["details"]


def test_only_unused_invites_can_be_revoked(api: Api) -> None:
    """Revoking a used or already revoked code is 409 INVITE_NOT_REVOCABLE; an unknown one 404."""
    admin = api.admin()
    code = api.invite(admin)
    assert api.request("DELETE", f"/api/admin/invite-codes/{code}", account=admin).status_code == 204
    assert_error(api.request("DELETE", f"/api/admin/invite-codes/{code}", account=admin), 409, "INVITE_NOT_REVOCABLE")
    used = next(i["code"] for i in api.request("GET", "/api/admin/invite-codes?status=used", account=admin)
                .json()["data"]) if api.new_user(admin) else ""
    assert_error(api.request("DELETE", f"/api/admin/invite-codes/{used}", account=admin), 409, "INVITE_NOT_REVOCABLE")
    assert_error(api.request("DELETE", "/api/admin/invite-codes/nosuchcode", account=admin), 404, "NOT_FOUND")


def test_users_list_with_endpoint_counts_and_a_users_endpoints(api: Api) -> None:
    """Admins see every user with endpoint_count, and one user's endpoints; unknown users are 404."""
    admin = api.admin()
    user = api.new_user(admin)
    endpoint = api.new_endpoint(user)
    users = {u["id"]: u for u in api.request("GET", "/api/admin/users", account=admin).json()["data"]}
    assert users[user.id]["endpoint_count"] == 1 and "password_hash" not in users[user.id]
    owned = api.request("GET", f"/api/admin/users/{user.id}/endpoints", account=admin).json()["data"]
    assert [e["endpoint_id"] for e in owned] == [endpoint["endpoint_id"]]
    assert_error(api.request("GET", "/api/admin/users/00000000-0000-0000-0000-000000000000/endpoints", account=admin),
                 404, "NOT_FOUND")
    assert_error(api.request("GET", "/api/admin/users/not-a-uuid/endpoints", account=admin), 422, "VALIDATION_ERROR")


def test_ban_blocks_login_and_every_call_with_the_reason(api: Api) -> None:
    """A banned user gets USER_BANNED (reason and time) at login and on any call with an old token."""
    admin = api.admin()
    user = api.new_user(admin)
    response = api.request("POST", f"/api/admin/users/{user.id}/ban", account=admin, json={"reason": "spamming"})
    assert response.status_code == 200, response.text
    banned = response.json()["data"]
    assert banned["banned_reason"] == "spamming" and banned["banned_at"]
    error = assert_error(api.request("POST", "/api/auth/login", json={"username": user.username,
                                                                       "password": USER_PASSWORD}), 403, "USER_BANNED")
    assert error["details"]["reason"] == "spamming" and error["details"]["banned_at"] and "spamming" in error["message"]
    for method, path in [("GET", "/api/auth/me"), ("GET", "/api/endpoints"), ("POST", "/api/endpoints")]:
        assert_error(api.request(method, path, account=user, json={} if method == "POST" else None), 403,
                     "USER_BANNED")


def test_unban_requires_a_fresh_login(api: Api) -> None:
    """After an unban the pre-ban token answers 401; logging in again works."""
    admin = api.admin()
    user = api.new_user(admin)
    api.request("POST", f"/api/admin/users/{user.id}/ban", account=admin)
    response = api.request("POST", f"/api/admin/users/{user.id}/unban", account=admin, json={"reason": "appeal"})
    assert response.status_code == 200 and response.json()["data"]["banned_at"] is None
    assert_error(api.request("GET", "/api/auth/me", account=user), 401, "UNAUTHORIZED")
    assert api.request("GET", "/api/auth/me", account=api.login(user.username, USER_PASSWORD)).status_code == 200


def test_ban_of_unknown_user_or_self_is_refused(api: Api) -> None:
    """Unknown users are 404; an admin cannot ban themselves (422); reasons over 500 chars are 422."""
    admin = api.admin()
    assert_error(api.request("POST", "/api/admin/users/00000000-0000-0000-0000-000000000000/ban", account=admin),
                 404, "NOT_FOUND")
    assert_error(api.request("POST", f"/api/admin/users/{admin.id}/ban", account=admin), 422, "VALIDATION_ERROR")
    user = api.new_user(admin)
    assert_error(api.request("POST", f"/api/admin/users/{user.id}/ban", account=admin, json={"reason": "x" * 501}),
                 422, "VALIDATION_ERROR")


def test_admin_endpoints_list_disable_and_enable(api: Api) -> None:
    """Admins list all endpoints with owners; disable/enable answer 200 with the updated endpoint."""
    admin = api.admin()
    user = api.new_user(admin)
    endpoint = api.new_endpoint(user)
    every = {e["endpoint_id"]: e for e in api.request("GET", "/api/admin/endpoints", account=admin).json()["data"]}
    assert every[endpoint["endpoint_id"]]["owner_username"] == user.username
    path = f"/api/admin/endpoints/{endpoint['endpoint_id']}"
    disabled = api.request("POST", f"{path}/disable", account=admin, json={"reason": "abuse"})
    assert disabled.status_code == 200
    assert disabled.json()["data"]["is_disabled"] is True and disabled.json()["data"]["disabled_reason"] == "abuse"
    assert api.request("GET", f"/api/endpoints/{endpoint['endpoint_id']}", account=user).json()["data"]["is_disabled"]
    enabled = api.request("POST", f"{path}/enable", account=admin)
    assert enabled.status_code == 200 and enabled.json()["data"]["is_disabled"] is False
    assert_error(api.request("POST", "/api/admin/endpoints/AAAAAAAAAA/disable", account=admin), 404, "NOT_FOUND")


def test_audit_log_records_admin_actions_with_filters_and_pages(api: Api) -> None:
    """Ban, disable and invite actions appear in the audit log; filters and page meta work."""
    admin = api.admin()
    user = api.new_user(admin)
    endpoint = api.new_endpoint(user)
    api.request("POST", f"/api/admin/users/{user.id}/ban", account=admin, json={"reason": "audit-me"})
    api.request("POST", f"/api/admin/endpoints/{endpoint['endpoint_id']}/disable", account=admin)
    bans = api.request("GET", "/api/admin/audit-log?action=ban&target_type=user", account=admin).json()
    assert any(e["target_id"] == user.id and e["reason"] == "audit-me" and e["actor_id"] == admin.id
               for e in bans["data"])
    assert all(e["action"] == "ban" for e in bans["data"])
    page = api.request("GET", "/api/admin/audit-log?page=1&page_size=2", account=admin).json()
    assert len(page["data"]) == 2 and page["meta"]["page"] == 1 and page["meta"]["page_size"] == 2
    assert page["meta"]["total"] >= 3
    for query in ("page=0", "page_size=0", "page_size=101", "page=abc"):
        assert_error(api.request("GET", f"/api/admin/audit-log?{query}", account=admin), 422, "VALIDATION_ERROR")


def test_audit_entries_survive_the_deletion_of_their_target(api: Api) -> None:
    """Deleting an endpoint leaves an endpoint_delete entry naming it."""
    admin = api.admin()
    user = api.new_user(admin)
    endpoint = api.new_endpoint(user)
    api.request("DELETE", f"/api/endpoints/{endpoint['endpoint_id']}", account=user)
    entries = api.request("GET", "/api/admin/audit-log?action=endpoint_delete", account=admin).json()["data"]
    assert any(e["target_id"] == endpoint["endpoint_id"] and e["actor_id"] == user.id for e in entries)


def test_non_admins_are_forbidden_on_admin_routes(api: Api) -> None:
    """A signed-in user gets 403 FORBIDDEN on the admin API."""
    user = api.new_user()
    for path in ("/api/admin/users", "/api/admin/invite-codes", "/api/admin/endpoints", "/api/admin/audit-log"):
        assert_error(api.request("GET", path, account=user), 403, "FORBIDDEN")
