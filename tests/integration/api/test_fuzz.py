"""Property-based fuzz of the REST API from its own OpenAPI document (schemathesis + hypothesis).

Every operation of the running server's /api/openapi.json gets valid and invalid requests (positive and
negative generation), signed in as a normal user who owns endpoints; the admin operations get a second run
signed in as an admin. Path parameters are sometimes swapped for ids that exist (the user's endpoints, its
tokens and device, real users and invite codes) so the fuzz reaches past the 404s. Every answer must be
no 5xx, the envelope (`{"data": ...}`, `"meta"` only on the audit log, or the five-field error whose code
has that status in SPEC §3's catalogue), a 204 has no body, and the status, content type and body match
what the document declares. Deterministic companions: NUL characters and non-UTF-8 bodies on every
string-taking route (test_hostile_input) and forged bearer values (test_fuzz_bearer_tokens).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import select

from relay_core.db import session_scope
from relay_core.models import Device, Endpoint
from tests.integration.api.client import USER_PASSWORD, Account, Api, assert_error, fresh_address

MAX_EXAMPLES = 40
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                         print_blob=True)
SCHEMA_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
AUDIT_LOG = "/api/admin/audit-log"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
ERROR_CATALOGUE = {  # SPEC §3 and §7: code -> HTTP status
    "VALIDATION_ERROR": 422, "INVALID_INVITE_CODE": 400, "USERNAME_TAKEN": 409, "EMAIL_TAKEN": 409,
    "INVALID_CREDENTIALS": 401, "UNAUTHORIZED": 401, "USER_BANNED": 403, "FORBIDDEN": 403, "NOT_FOUND": 404,
    "ENDPOINT_LIMIT_REACHED": 409, "RATE_LIMITED": 429, "INTERNAL_ERROR": 500, "INVITE_NOT_REVOCABLE": 409,
    "WRONG_PASSWORD": 400,
}
ERROR_FIELDS = {"code", "message", "details", "timestamp", "request_id"}


@dataclass
class World:
    """The accounts and objects the fuzz signs in as and aims at."""

    user: Account
    admin: Account
    victim: Account
    endpoint_ids: list[str]  # the user's endpoints; the first is never deleted by the fuzz
    spare_endpoint_id: str  # the user's endpoint that DELETE may hit
    victim_endpoint_id: str
    token_ids: list[int]
    device_id: str
    invite_codes: list[str]


def _add_device(database_url: str, endpoint_id: str, device_id: str) -> str:
    """A device row as the relay keeps it (no API route creates one)."""
    with session_scope(database_url, write=True) as db:
        endpoint = db.exec(select(Endpoint).where(Endpoint.endpoint_id == endpoint_id)).one()
        db.add(Device(endpoint_pk=endpoint.id, device_id=device_id, name="phone"))
    return device_id


@pytest.fixture(scope="module")
def root(api: Api) -> Account:
    return api.admin()


@pytest.fixture(scope="module")
def world(api: Api, root: Account, database_url: str) -> World:
    user = api.new_user(root)
    admin = api.new_user(root, grants_admin=True)  # not the bootstrap admin: the fuzz may change its email
    victim = api.new_user(root)
    main = api.new_endpoint(user, name="fuzz main")["endpoint_id"]
    spare = api.new_endpoint(user, name="fuzz spare")["endpoint_id"]
    victim_endpoint = api.new_endpoint(victim, name="fuzz victim")["endpoint_id"]
    token_ids = []
    for name in ("t1", "t2", "t3"):
        response = api.request("POST", f"/api/endpoints/{main}/tokens", account=user, json={"name": name})
        assert response.status_code == 201, response.text
        token_ids.append(int(response.json()["data"]["id"]))
    device_id = _add_device(database_url, main, "fuzz-device")
    codes = [api.invite(root) for _ in range(3)]
    return World(user=user, admin=admin, victim=victim, endpoint_ids=[main, spare], spare_endpoint_id=spare,
                 victim_endpoint_id=victim_endpoint, token_ids=token_ids, device_id=device_id, invite_codes=codes)


def _known_values(world: World, method: str, path: str) -> dict[str, list[Any]]:
    """Ids that exist, per path parameter, for this operation."""
    if path.startswith("/api/admin/"):
        return {
            "endpoint_id": [world.victim_endpoint_id, *world.endpoint_ids],
            "user_id": [world.victim.id, world.admin.id, world.user.id],
            "code": world.invite_codes,
        }
    endpoint_ids = [world.spare_endpoint_id] if (method, path) == ("DELETE", "/api/endpoints/{endpoint_id}") \
        else [world.endpoint_ids[0], world.victim_endpoint_id]
    return {"endpoint_id": endpoint_ids, "token_id": world.token_ids, "device_id": [world.device_id, "nope"]}


def _make_schema(base_url: str, world: World) -> Any:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    # The bearer is always the fuzzing account's: missing and bad tokens are the authz matrix's and
    # test_fuzz_bearer_tokens' business, so no budget goes to dropping the Authorization header.
    schema.config.generation.update(with_security_parameters=False)

    @schema.hook("flatmap_path_parameters")
    def aim_at_real_objects(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        if not path_parameters:
            return st.just(path_parameters)
        operation = context.operation
        known = _known_values(world, operation.method.upper(), operation.path)
        options = {name: st.sampled_from(known[name]) for name in path_parameters if known.get(name)}
        if not options:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters), st.fixed_dictionaries({**{
            k: st.just(v) for k, v in path_parameters.items()}, **options}))

    @schema.hook("filter_body")
    def keep_own_password(context: Any, body: Any) -> bool:
        """Never send the fuzzing user's real current password: that would sign it out mid-run."""
        return not (isinstance(body, dict) and body.get("current_password") == USER_PASSWORD)

    return schema


@pytest.fixture(scope="module")
def user_schema(server: tuple[str, Path], world: World) -> Any:
    return _make_schema(server[0], world)


def _header(headers: Any, name: str) -> str:
    """One header, from httpx headers or a schemathesis response's (lowercase keys, list values)."""
    value = headers.get(name) or ""
    return str(value[0] if isinstance(value, list) else value)


def check_envelope(request: str, path: str, status: int, headers: Any, content: bytes) -> None:
    """No 5xx; a 204 is empty; any other answer is the JSON envelope: {"data"} ({"data", "meta"} on the audit
    log) or {"error": {code, message, details, timestamp, request_id}} whose code has that status in SPEC §3."""
    assert status < 500, f"{request} -> {status} {content[:1000]!r}"
    if status == 204:
        assert content == b"", f"{request} -> 204 with a body: {content!r}"
        return
    content_type = _header(headers, "content-type")
    assert content_type.startswith("application/json"), f"{request} -> {status} {content_type} {content[:500]!r}"
    body = json.loads(content)
    assert isinstance(body, dict), f"{request} -> {status} {body!r}"
    if status < 400:
        allowed = {"data", "meta"} if path == AUDIT_LOG else {"data"}
        assert "data" in body and set(body) <= allowed, f"{request} -> {status} {body!r}"
        if path == AUDIT_LOG:
            assert set(body["meta"]) == {"page", "page_size", "total"}, f"{request} -> {body!r}"
        return
    assert set(body) == {"error"}, f"{request} -> {status} {body!r}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == ERROR_FIELDS, f"{request} -> {status} {body!r}"
    assert isinstance(error["message"], str) and error["message"], f"{request} -> {status} {body!r}"
    assert isinstance(error["details"], dict), f"{request} -> {status} {body!r}"
    assert ERROR_CATALOGUE.get(error["code"]) == status, (
        f"{request} -> {status} {error['code']}: not SPEC §3's code for that status: {body!r}")
    assert error["request_id"] == _header(headers, "x-request-id"), f"{request} -> {body!r}"


def check_answer(case: Case, response: Any) -> None:
    request = f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
    check_envelope(request, case.path, response.status_code, response.headers, response.content)


def _headers(account: Account) -> dict[str, str]:
    return {**account.auth, "X-Forwarded-For": fresh_address()}


def _documented_operations() -> list[tuple[str, str]]:
    """The app's operations, built in-process only to name the tests; the fuzz itself reads the live document
    (and test_operation_list_matches_live_document checks the two agree)."""
    from relay_app.api import create_api
    from relay_core.settings import Settings

    return _operations(create_api(Settings.model_construct()).openapi())


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((method.upper(), path) for path, item in document["paths"].items() for method in item
                  if method in HTTP_METHODS)


def _fuzz(schema: Any, method: str, path: str, account: Account) -> None:
    operation = schema[path][method]
    strategy = st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode))

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case: Case) -> None:
        response = case.call(headers=_headers(account), timeout=30)
        check_answer(case, response)
        case.validate_response(response, checks=SCHEMA_CHECKS)

    run()


OPERATIONS = _documented_operations()
ADMIN_OPERATIONS = [(m, p) for m, p in OPERATIONS if p.startswith("/api/admin/")]


def _ids(operations: list[tuple[str, str]]) -> list[str]:
    return [f"{m} {p}" for m, p in operations]


def test_operation_list_matches_live_document(user_schema: Any) -> None:
    """The operations the fuzz tests are named after are exactly those of the running server's document."""
    assert _operations(user_schema.raw_schema) == OPERATIONS


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=_ids(OPERATIONS))
def test_fuzz_as_user(user_schema: Any, world: World, method: str, path: str) -> None:
    """Generated requests (valid and invalid) from a signed-in endpoint owner get the envelope, never a 5xx."""
    _fuzz(user_schema, method, path, world.user)


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS, ids=_ids(ADMIN_OPERATIONS))
def test_fuzz_admin_operations_as_admin(user_schema: Any, world: World, method: str, path: str) -> None:
    """Generated requests to an admin operation from an admin get the envelope, never a 5xx."""
    _fuzz(user_schema, method, path, world.admin)


NUL = "a\x00b"
HOSTILE_INPUTS: list[tuple[str, str, str, Any]] = [
    # (who, method, path with {ep} {victim_ep} {victim} {device}: a fresh user's, JSON body or raw bytes)
    ("anonymous", "POST", "/api/auth/login", {"username": NUL, "password": "abcdefgh1"}),
    ("anonymous", "POST", "/api/auth/register", {"invite_code": NUL, "username": "abc_def", "email": "a@example.com",
                                                 "password": "abcdefgh1"}),
    ("user", "POST", "/api/endpoints", {"name": NUL}),
    ("user", "PATCH", "/api/endpoints/{ep}", {"name": NUL}),
    ("user", "PATCH", "/api/endpoints/{ep}", {"forwarding_mode": "custom_header", "custom_header": NUL}),
    ("user", "POST", "/api/endpoints/{ep}/tokens", {"name": NUL}),
    ("user", "PATCH", "/api/endpoints/{ep}/devices/{device}", {"name": NUL}),
    ("user", "PATCH", "/api/endpoints/{ep}/devices/a%00b", {"name": "x"}),
    ("user", "PATCH", "/api/auth/me", {"email": "a\x00b@example.com"}),
    ("admin", "POST", "/api/admin/users/{victim}/ban", {"reason": NUL}),
    ("admin", "POST", "/api/admin/users/{victim}/unban", {"reason": NUL}),
    ("admin", "POST", "/api/admin/endpoints/{victim_ep}/disable", {"reason": NUL}),
    ("admin", "POST", "/api/admin/endpoints/{victim_ep}/enable", {"reason": NUL}),
    ("admin", "DELETE", "/api/admin/invite-codes/a%00b", None),
    ("admin", "GET", "/api/admin/audit-log?action=a%00b", None),
    ("admin", "GET", "/api/admin/audit-log?target_type=a%00b", None),
    ("anonymous", "POST", "/api/auth/login", b'{"username": "\xe9", "password": "abcdefgh1"}'),
    ("user", "POST", "/api/endpoints", b"\x00\x00\x00\x00\x00"),
    ("user", "PATCH", "/api/auth/me", b"\xff\xfe\x00"),
]


@pytest.mark.parametrize(("who", "method", "path", "body"), HOSTILE_INPUTS,
                         ids=[f"{m} {p} {b!r:.40}" for _, m, p, b in HOSTILE_INPUTS])
def test_hostile_input(api: Api, root: Account, database_url: str, who: str, method: str, path: str,
                       body: Any) -> None:
    """NUL characters in any string and bodies that are not UTF-8 (inputs the fuzz finds only by luck) are a
    4xx envelope from SPEC §3's catalogue on both databases, never a 5xx or an off-catalogue code."""
    user = api.new_user(root)  # fresh targets: the fuzz tests may have used up or changed the shared ones
    endpoint_id = api.new_endpoint(user)["endpoint_id"]
    device_id = _add_device(database_url, endpoint_id, "phone")
    account = {"anonymous": None, "user": user, "admin": root}[who]
    url = path.format(ep=endpoint_id, victim_ep=endpoint_id, victim=user.id, device=device_id)
    if isinstance(body, bytes):
        kwargs: dict[str, Any] = {"content": body, "headers": {"Content-Type": "application/json"}}
    else:
        kwargs = {} if body is None else {"json": body}
    fresh = Api(api.base_url)  # a 500 makes the server drop its keep-alive connection: one client per case
    try:
        response = fresh.request(method, url, account=account, **kwargs)
    finally:
        fresh.http.close()
    check_envelope(f"{method} {url} body={body!r}", path.split("?")[0], response.status_code, response.headers,
                   response.content)


PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(token=st.one_of(
    st.text(PRINTABLE, max_size=300),
    st.from_regex(r"[A-Za-z0-9_\-]{1,60}\.[A-Za-z0-9_\-]{1,200}\.[A-Za-z0-9_\-]{0,60}", fullmatch=True),
))
def test_fuzz_bearer_tokens(api: Api, token: str) -> None:
    """Any bearer value the server did not issue is a 401 UNAUTHORIZED envelope, never a 5xx."""
    response = api.request("GET", "/api/auth/me", headers={"Authorization": ("Bearer " + token).strip()})
    assert_error(response, 401, "UNAUTHORIZED")
