"""RELAY_LOG_FORMAT=json on the API server and the relay through a full session: every line either process
writes is a JSON object with level, message and ts, and no password, JWT, access token or invite code leaks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from relay_core.db import dispose_engines
from tests.integration.api.client import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, USER_PASSWORD, Api
from tests.integration.relay.conftest import _prepare, closed_with, join, open_ws, recv_json, run, start_relay
from tests.support import api_server

pytestmark = pytest.mark.timeout(180)
JSON_LOGS = {"RELAY_LOG_FORMAT": "json", "RELAY_LOG_LEVEL": "DEBUG"}
NEW_PASSWORD = "changed-pass-456"
WRONG_PASSWORD = "wrong-pass-789"
WRONG_TOKEN = "not-a-real-access-token-0123456789"


@dataclass
class Session:
    api_log: str = ""
    relay_log: str = ""
    secrets: dict[str, str] = field(default_factory=dict)


async def _relay_traffic(relay_url: str, publish: str, subscribe: str) -> None:
    """Query-string token, Authorization header token, a refused bad token, and a few relayed messages."""
    sender, _ = await join(f"{relay_url}?token={publish}")
    receiver, _ = await join(relay_url, additional_headers={"Authorization": f"Bearer {subscribe}"})
    for i in range(5):
        await sender.send(json.dumps({"type": "note", "data": {"n": i}}))
        assert (await recv_json(receiver))["data"] == {"n": i}
    intruder = await open_ws(f"{relay_url}?token={WRONG_TOKEN}")
    code, _ = await closed_with(intruder, 5)
    assert code == 4401
    await asyncio.gather(sender.close(), receiver.close())


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """Register, log in, create an endpoint and tokens, relay with them, change the password, revoke, stop."""
    tmp = tmp_path_factory.mktemp("jsonlogs")
    url = f"sqlite:///{tmp / 'relay.db'}"
    _prepare(url, tmp)
    dispose_engines()
    result = Session()
    relay = start_relay(tmp, url, **JSON_LOGS)
    try:
        with api_server(tmp, url, RELAY_ADMIN_USERNAME=ADMIN_USERNAME, RELAY_ADMIN_PASSWORD=ADMIN_PASSWORD,
                        RELAY_ADMIN_EMAIL=ADMIN_EMAIL, **JSON_LOGS) as (base, api_process):
            api = Api(base)
            admin = api.admin()
            code = api.invite(admin)
            api.invite(admin)  # an unused one is listed below too
            username = "jsonlog_user"
            registered = api.request("POST", "/api/auth/register", json={
                "inviteCode": code, "username": username, "email": "jsonlog@example.com", "password": USER_PASSWORD})
            assert registered.status_code == 201, registered.text
            assert api.request("POST", "/api/auth/login",
                               json={"username": username, "password": WRONG_PASSWORD}).status_code == 401
            user = api.login(username, USER_PASSWORD)
            endpoint = api.new_endpoint(user, name="logs", access_mode="token")
            tokens_path = f"/api/endpoints/{endpoint['endpoint_id']}/tokens"
            publish = api.request("POST", tokens_path, account=user, json={"name": "pub", "role": "publish"}).json()
            subscribe = api.request("POST", tokens_path, account=user, json={"name": "sub", "role": "subscribe"}).json()
            publish_value, subscribe_value = publish["data"]["token"], subscribe["data"]["token"]
            relay_url = f"{relay.base}/ws/{endpoint['endpoint_id']}"
            run(_relay_traffic(relay_url, publish_value, subscribe_value))
            endpoint_path = f"/api/endpoints/{endpoint['endpoint_id']}"
            for path in ("/api/auth/me", "/api/endpoints", tokens_path, f"{endpoint_path}/stats",
                         f"{endpoint_path}/messages"):
                assert api.request("GET", path, account=user).status_code == 200
            assert api.request("GET", "/api/admin/invite-codes", account=admin).status_code == 200
            assert api.request("GET", "/api/auth/me", token=WRONG_TOKEN).status_code == 401
            changed = api.request("POST", "/api/auth/change-password", account=user,
                                  json={"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD})
            assert changed.status_code == 204, changed.text
            again = api.login(username, NEW_PASSWORD)
            revoked = api.request("DELETE", f"{tokens_path}/{publish['data']['id']}", account=again)
            assert revoked.status_code == 204
            result.secrets = {
                "admin password": ADMIN_PASSWORD, "user password": USER_PASSWORD, "new password": NEW_PASSWORD,
                "wrong password": WRONG_PASSWORD, "admin JWT": admin.token, "user JWT": user.token,
                "new JWT": again.token, "publish token": publish_value, "subscribe token": subscribe_value,
                "wrong token": WRONG_TOKEN, "invite code": code,
            }
            api.http.close()
        result.api_log = api_process.output()
    finally:
        relay.terminate()
        result.relay_log = relay.output()
    yield result


def _not_json(log: str) -> list[str]:
    bad = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(entry, dict) or not {"level", "message", "ts"} <= set(entry):
            bad.append(line)
    return bad


@pytest.mark.parametrize("process", ["api", "relay"])
def test_every_log_line_is_a_json_object_with_level_message_and_ts(session: Session, process: str) -> None:
    """With RELAY_LOG_FORMAT=json every line the process wrote (stdout and stderr) is one JSON object."""
    log = session.api_log if process == "api" else session.relay_log
    assert log.strip(), f"the {process} wrote nothing"
    bad = _not_json(log)
    assert not bad, f"{len(bad)} non-JSON lines from the {process}, first ones:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("process", ["api", "relay"])
def test_no_secret_appears_in_the_log(session: Session, process: str) -> None:
    """No password, JWT, access token (query string or header) or invite code appears in the process's log."""
    log = session.api_log if process == "api" else session.relay_log
    assert len(session.secrets) == 11
    leaked = [name for name, value in session.secrets.items() if value in log]
    assert not leaked, f"the {process} log holds: {leaked}"


def test_the_session_was_logged(session: Session) -> None:
    """The logs are not trivially clean: the relay logged the connections and the API its start."""
    relay_messages = [json.loads(line)["message"] for line in session.relay_log.splitlines()
                      if line.startswith("{")]
    assert sum("connection open" in m for m in relay_messages) >= 2
    assert any("connection refused code=4401" in m for m in relay_messages)
    assert any("Application startup complete" in line for line in session.api_log.splitlines())
