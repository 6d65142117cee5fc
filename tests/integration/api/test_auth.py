"""/api/health and /api/auth/*: registration with invites, login, the signed-in user, password change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.api.client import USER_PASSWORD, Api, assert_error, fresh_address


def _register(api: Api, code: str, **overrides: str) -> tuple[dict[str, str], object]:
    name = "n_" + uuid.uuid4().hex[:10]
    body = {"invite_code": code, "username": name, "email": f"{name}@example.com", "password": "secret-pass-1"}
    body.update(overrides)
    return body, api.request("POST", "/api/auth/register", json=body)


def test_health_answers_ok_in_the_envelope(api: Api) -> None:
    """GET /api/health is enveloped and says the database is fine."""
    response = api.request("GET", "/api/health")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "ok" and data["database"] == "ok" and data["version"]
    assert response.headers["x-request-id"].startswith("req_")


def test_unknown_api_route_is_a_not_found_envelope(api: Api) -> None:
    """An unknown path under /api answers 404 NOT_FOUND in the error envelope, not an HTML page."""
    assert_error(api.request("GET", "/api/no/such/route"), 404, "NOT_FOUND")


def test_register_creates_the_user_and_uses_the_code(api: Api) -> None:
    """A valid invite registers a user (201) and the code then shows as used by that user."""
    admin = api.admin()
    code = api.invite(admin)
    body, response = _register(api, code)
    assert response.status_code == 201, response.text
    user = response.json()["data"]
    assert user["username"] == body["username"] and user["email"] == body["email"]
    assert user["is_admin"] is False and user["endpoint_count"] == 0
    assert "password" not in response.text and "password_hash" not in user
    invites = api.request("GET", "/api/admin/invite-codes", account=admin).json()["data"]
    used = next(i for i in invites if i["code"] == code)
    assert used["status"] == "used" and used["used_by_username"] == body["username"]


def test_register_accepts_the_camel_case_invite_field(api: Api) -> None:
    """`inviteCode` works like `invite_code`."""
    code = api.invite(api.admin())
    name = "c_" + uuid.uuid4().hex[:10]
    response = api.request("POST", "/api/auth/register", json={
        "inviteCode": code, "username": name, "email": f"{name}@example.com", "password": "secret-pass-1"})
    assert response.status_code == 201, response.text


def test_admin_invite_registers_an_admin(api: Api) -> None:
    """A code with grants_admin makes the new account an admin."""
    code = api.invite(api.admin(), grants_admin=True)
    _, response = _register(api, code)
    assert response.status_code == 201 and response.json()["data"]["is_admin"] is True


def test_register_with_an_unknown_code_says_unknown(api: Api) -> None:
    """An unknown code is INVALID_INVITE_CODE with reason unknown."""
    _, response = _register(api, "nosuchcode")
    assert assert_error(response, 400, "INVALID_INVITE_CODE")["details"]["reason"] == "unknown"


def test_register_with_a_used_code_says_used(api: Api) -> None:
    """A code already used is INVALID_INVITE_CODE with reason used."""
    code = api.invite(api.admin())
    assert _register(api, code)[1].status_code == 201
    assert assert_error(_register(api, code)[1], 400, "INVALID_INVITE_CODE")["details"]["reason"] == "used"


def test_register_with_a_revoked_code_says_revoked(api: Api) -> None:
    """A revoked code is INVALID_INVITE_CODE with reason revoked."""
    admin = api.admin()
    code = api.invite(admin)
    assert api.request("DELETE", f"/api/admin/invite-codes/{code}", account=admin).status_code == 204
    assert assert_error(_register(api, code)[1], 400, "INVALID_INVITE_CODE")["details"]["reason"] == "revoked"


def test_register_with_an_expired_code_says_expired(api: Api, database_url: str) -> None:
    """A code past its expiry is INVALID_INVITE_CODE with reason expired."""
    from relay_core.db import session_scope
    from relay_core.services.invites import get_invite

    code = api.invite(api.admin(), expires_in_hours=1)
    with session_scope(database_url, write=True) as session:
        invite = get_invite(session=session, code=code)
        invite.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.add(invite)
    assert assert_error(_register(api, code)[1], 400, "INVALID_INVITE_CODE")["details"]["reason"] == "expired"


def test_register_with_a_taken_username_is_a_conflict_and_keeps_the_code(api: Api) -> None:
    """USERNAME_TAKEN (409); the code stays usable after the failed registration."""
    admin = api.admin()
    first = api.new_user(admin)
    code = api.invite(admin)
    assert_error(_register(api, code, username=first.username.upper())[1], 409, "USERNAME_TAKEN")
    assert _register(api, code)[1].status_code == 201


def test_register_with_a_taken_email_is_a_conflict(api: Api) -> None:
    """EMAIL_TAKEN (409), whatever the case of the address."""
    admin = api.admin()
    first = api.new_user(admin)
    code = api.invite(admin)
    assert_error(_register(api, code, email=first.email.upper())[1], 409, "EMAIL_TAKEN")


def test_register_validates_each_field_in_place(api: Api) -> None:
    """Bad username, email and weak passwords are 422 naming the field; the code stays unused."""
    code = api.invite(api.admin())
    cases = [({"username": "ab"}, "username"), ({"username": "has space"}, "username"),
             ({"email": "not-an-email"}, "email"), ({"password": "short1"}, "password"),
             ({"password": "onlyletters"}, "password"), ({"password": "12345678901"}, "password")]
    for override, field in cases:
        error = assert_error(_register(api, code, **override)[1], 422, "VALIDATION_ERROR")
        assert field in error["details"], (override, error)
    assert _register(api, code)[1].status_code == 201


def test_register_rejects_unknown_fields_and_malformed_json(api: Api) -> None:
    """Strict bodies: an unknown field and broken JSON are 422 VALIDATION_ERROR with details."""
    code = api.invite(api.admin())
    body, _ = _register(api, "x")
    error = assert_error(api.request("POST", "/api/auth/register", json={**body, "invite_code": code, "role": "admin"}),
                         422, "VALIDATION_ERROR")
    assert "role" in error["details"]
    broken = api.request("POST", "/api/auth/register", content=b'{"invite_code": ', headers={
        "content-type": "application/json"})
    assert "body" in assert_error(broken, 422, "VALIDATION_ERROR")["details"]


def test_login_returns_a_bearer_token_with_expiry(api: Api) -> None:
    """Login by username or by email answers token, token_type, expires_at and the user."""
    user = api.new_user()
    for login in (user.username, user.email):
        response = api.request("POST", "/api/auth/login", json={"username": login, "password": USER_PASSWORD})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["token_type"] == "bearer" and data["token"].count(".") == 2
        expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
        assert timedelta(hours=167) < expires - datetime.now(UTC) <= timedelta(hours=168)
        assert data["user"]["username"] == user.username


def test_login_failures_look_the_same_for_unknown_users_and_wrong_passwords(api: Api) -> None:
    """Unknown user and wrong password get the same INVALID_CREDENTIALS error."""
    user = api.new_user()
    wrong = assert_error(api.request("POST", "/api/auth/login",
                                     json={"username": user.username, "password": "nope-12345"}),
                         401, "INVALID_CREDENTIALS")
    unknown = assert_error(api.request("POST", "/api/auth/login", json={"username": "ghost_user", "password": "x"}),
                           401, "INVALID_CREDENTIALS")
    assert wrong["message"] == unknown["message"] and wrong["details"] == unknown["details"]


def test_login_is_rate_limited_per_client_address(api: Api) -> None:
    """The 11th login within a minute from one address is 429 with a whole-second Retry-After."""
    address = fresh_address()
    for _ in range(10):
        response = api.request("POST", "/api/auth/login", address=address, json={"username": "ghost", "password": "x"})
        assert response.status_code == 401
    limited = api.request("POST", "/api/auth/login", address=address, json={"username": "ghost", "password": "x"})
    assert_error(limited, 429, "RATE_LIMITED")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert api.request("POST", "/api/auth/login", json={"username": "ghost", "password": "x"}).status_code == 401


def test_register_is_rate_limited_per_client_address(api: Api) -> None:
    """The 11th registration attempt within a minute from one address is 429 RATE_LIMITED."""
    address = fresh_address()
    for _ in range(10):
        response = api.request("POST", "/api/auth/register", address=address, json={
            "invite_code": "nosuchcode", "username": "someone", "email": "a@example.com", "password": "pass-1234"})
        assert response.status_code == 400
    limited = api.request("POST", "/api/auth/register", address=address, json={
        "invite_code": "nosuchcode", "username": "someone", "email": "a@example.com", "password": "pass-1234"})
    assert_error(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) >= 1


def test_me_shows_the_user_with_endpoint_count(api: Api) -> None:
    """GET /api/auth/me answers the signed-in user and how many endpoints they own."""
    user = api.new_user()
    api.new_endpoint(user)
    data = api.request("GET", "/api/auth/me", account=user).json()["data"]
    assert data["id"] == user.id and data["endpoint_count"] == 1


def test_me_needs_a_valid_token(api: Api) -> None:
    """Missing, malformed and forged tokens are 401 UNAUTHORIZED."""
    assert_error(api.request("GET", "/api/auth/me"), 401, "UNAUTHORIZED")
    assert_error(api.request("GET", "/api/auth/me", token="not.a.jwt"), 401, "UNAUTHORIZED")
    import jwt

    forged = jwt.encode({"sub": str(uuid.uuid4()), "exp": 9999999999, "tv": 0}, "x" * 40, algorithm="HS256")
    assert_error(api.request("GET", "/api/auth/me", token=forged), 401, "UNAUTHORIZED")


def test_expired_token_is_unauthorized(api: Api) -> None:
    """A correctly signed but expired token is 401."""
    import jwt

    from tests.support import TEST_SECRET

    user = api.new_user()
    expired = jwt.encode({"sub": user.id, "exp": 1_000_000, "tv": 0}, TEST_SECRET, algorithm="HS256")
    assert_error(api.request("GET", "/api/auth/me", token=expired), 401, "UNAUTHORIZED")


def test_patch_me_changes_the_email(api: Api) -> None:
    """PATCH /api/auth/me changes the email; a taken or invalid one is refused in place."""
    admin = api.admin()
    user, other = api.new_user(admin), api.new_user(admin)
    new_email = f"new_{uuid.uuid4().hex[:8]}@example.com"
    response = api.request("PATCH", "/api/auth/me", account=user, json={"email": new_email})
    assert response.status_code == 200 and response.json()["data"]["email"] == new_email
    assert_error(api.request("PATCH", "/api/auth/me", account=user, json={"email": other.email}), 409, "EMAIL_TAKEN")
    error = assert_error(api.request("PATCH", "/api/auth/me", account=user, json={"email": "nope"}), 422,
                         "VALIDATION_ERROR")
    assert "email" in error["details"]
    assert_error(api.request("PATCH", "/api/auth/me", account=user, json={"username": "x"}), 422, "VALIDATION_ERROR")


def test_change_password_signs_out_older_tokens(api: Api) -> None:
    """204; the old token answers 401 afterwards and the new password logs in."""
    user = api.new_user()
    response = api.request("POST", "/api/auth/change-password", account=user,
                           json={"current_password": USER_PASSWORD, "new_password": "brand-new-pass-9"})
    assert response.status_code == 204 and response.content == b""
    assert_error(api.request("GET", "/api/auth/me", account=user), 401, "UNAUTHORIZED")
    assert api.login(user.username, "brand-new-pass-9").token


def test_change_password_checks_the_current_one_and_the_policy(api: Api) -> None:
    """A wrong current password is 400 WRONG_PASSWORD; a weak new one is 422 on new_password."""
    user = api.new_user()
    assert_error(api.request("POST", "/api/auth/change-password", account=user,
                             json={"current_password": "wrong-pass-1", "new_password": "brand-new-pass-9"}),
                 400, "WRONG_PASSWORD")
    error = assert_error(api.request("POST", "/api/auth/change-password", account=user,
                                     json={"current_password": USER_PASSWORD, "new_password": "weak"}),
                         422, "VALIDATION_ERROR")
    assert "new_password" in error["details"]
    assert api.request("GET", "/api/auth/me", account=user).status_code == 200
