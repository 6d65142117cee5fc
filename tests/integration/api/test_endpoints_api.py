"""/api/endpoints/*: an owner's endpoints, stats, messages, devices and access tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.client import Account, Api, assert_error

STAT_FIELDS = {"current_connections", "total_connections", "total_messages", "total_bytes", "dropped_messages",
               "last_active_at", "updated_at"}


@pytest.fixture
def owner(api: Api) -> Account:
    return api.new_user()


def _endpoint_pk(database_url: str, endpoint_id: str):  # type: ignore[no-untyped-def]
    from relay_core.db import session_scope
    from relay_core.services.endpoints import get_endpoint

    with session_scope(database_url) as session:
        return get_endpoint(session=session, endpoint_id=endpoint_id).id


def test_create_endpoint_with_defaults(api: Api, owner: Account) -> None:
    """POST answers 201 with the public id, the websocket_url and zeroed stats; defaults per SPEC."""
    response = api.request("POST", "/api/endpoints", account=owner, json={})
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert len(data["endpoint_id"]) == 10
    assert data["websocket_url"] == f"ws://localhost:3001/ws/{data['endpoint_id']}"
    assert data["name"] == "Untitled endpoint" and data["forwarding_mode"] == "json" and data["access_mode"] == "public"
    assert set(data["stats"]) == STAT_FIELDS and data["stats"]["total_messages"] == 0
    assert data["created_at"].endswith("Z")


def test_create_endpoint_with_every_option(api: Api, owner: Account) -> None:
    """name, custom_header mode and token access are kept as given."""
    data = api.new_endpoint(owner, name="Sensors", forwarding_mode="custom_header", custom_header="X: ",
                            access_mode="token")
    assert (data["name"], data["forwarding_mode"], data["custom_header"], data["access_mode"]) == (
        "Sensors", "custom_header", "X: ", "token")


def test_create_endpoint_validates_fields(api: Api, owner: Account) -> None:
    """Unknown modes, a missing custom header, empty or long names and unknown fields are 422 in place."""
    cases = [({"forwarding_mode": "carrier-pigeon"}, "forwarding_mode"), ({"access_mode": "open"}, "access_mode"),
             ({"forwarding_mode": "custom_header"}, "custom_header"), ({"name": "   "}, "name"),
             ({"name": "x" * 101}, "name"), ({"owner": "someone"}, "owner")]
    for body, field in cases:
        error = assert_error(api.request("POST", "/api/endpoints", account=owner, json=body), 422, "VALIDATION_ERROR")
        assert field in error["details"], (body, error)


def test_endpoint_limit_applies_to_users_not_admins(api: Api) -> None:
    """The sixth endpoint of a user is 409 ENDPOINT_LIMIT_REACHED; an admin has no limit."""
    user = api.new_user()
    for _ in range(5):
        api.new_endpoint(user)
    assert_error(api.request("POST", "/api/endpoints", account=user, json={}), 409, "ENDPOINT_LIMIT_REACHED")
    admin = api.new_user(grants_admin=True)
    for _ in range(6):
        api.new_endpoint(admin)


def test_list_shows_only_own_endpoints_newest_first(api: Api) -> None:
    """GET /api/endpoints lists the caller's endpoints, newest first, each with stats."""
    admin = api.admin()
    owner, other = api.new_user(admin), api.new_user(admin)
    first, second = api.new_endpoint(owner, name="first"), api.new_endpoint(owner, name="second")
    api.new_endpoint(other)
    data = api.request("GET", "/api/endpoints", account=owner).json()["data"]
    assert [e["endpoint_id"] for e in data] == [second["endpoint_id"], first["endpoint_id"]]
    assert all(set(e["stats"]) == STAT_FIELDS for e in data)


def test_read_patch_and_delete_an_endpoint(api: Api, owner: Account) -> None:
    """GET reads, PATCH changes name and modes, DELETE answers 204 and the endpoint is gone."""
    endpoint = api.new_endpoint(owner)
    path = f"/api/endpoints/{endpoint['endpoint_id']}"
    assert api.request("GET", path, account=owner).json()["data"]["endpoint_id"] == endpoint["endpoint_id"]
    patched = api.request("PATCH", path, account=owner, json={"name": "Renamed", "forwarding_mode": "direct",
                                                              "access_mode": "token"})
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert (data["name"], data["forwarding_mode"], data["access_mode"]) == ("Renamed", "direct", "token")
    error = assert_error(api.request("PATCH", path, account=owner, json={"forwarding_mode": "custom_header"}),
                         422, "VALIDATION_ERROR")
    assert "custom_header" in error["details"]
    assert api.request("GET", path, account=owner).json()["data"]["name"] == "Renamed"
    deleted = api.request("DELETE", path, account=owner)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(api.request("GET", path, account=owner), 404, "NOT_FOUND")
    assert_error(api.request("DELETE", path, account=owner), 404, "NOT_FOUND")


def test_another_users_endpoint_looks_absent(api: Api) -> None:
    """Every owner route answers 404 NOT_FOUND for someone else's endpoint, like an unknown id."""
    admin = api.admin()
    owner, other = api.new_user(admin), api.new_user(admin)
    endpoint_id = api.new_endpoint(owner)["endpoint_id"]
    for method, suffix, body in [("GET", "", None), ("PATCH", "", {"name": "mine"}), ("DELETE", "", None),
                                 ("GET", "/stats", None), ("GET", "/messages", None), ("GET", "/devices", None),
                                 ("PATCH", "/devices/dev1", {"name": "x"}), ("GET", "/tokens", None),
                                 ("POST", "/tokens", {"name": "t", "role": "both"}), ("DELETE", "/tokens/1", None)]:
        foreign = assert_error(api.request(method, f"/api/endpoints/{endpoint_id}{suffix}", account=other, json=body),
                               404, "NOT_FOUND")
        unknown = assert_error(api.request(method, f"/api/endpoints/AAAAAAAAAA{suffix}", account=other, json=body),
                               404, "NOT_FOUND")
        assert foreign["message"] == unknown["message"]
    assert api.request("GET", f"/api/endpoints/{endpoint_id}", account=owner).status_code == 200


def test_stats_read_the_relay_nodes_shares(api: Api, owner: Account, database_url: str) -> None:
    """…/stats sums every node's share and counts current connections only from live nodes."""
    from relay_core.db import session_scope
    from relay_core.models import EndpointStats, RelayNode

    endpoint = api.new_endpoint(owner)
    pk = _endpoint_pk(database_url, endpoint["endpoint_id"])
    now = datetime.now(UTC)
    with session_scope(database_url, write=True) as session:
        session.add(RelayNode(node_id="live-node", heartbeat_at=now))
        session.add(RelayNode(node_id="dead-node", heartbeat_at=now - timedelta(minutes=5)))
        session.flush()
        session.add(EndpointStats(endpoint_pk=pk, node_id="live-node", current_connections=2, total_connections=5,
                                  total_messages=7, total_bytes=70, dropped_messages=1))
        session.add(EndpointStats(endpoint_pk=pk, node_id="dead-node", current_connections=9, total_connections=10,
                                  total_messages=3, total_bytes=30, dropped_messages=0))
    stats = api.request("GET", f"/api/endpoints/{endpoint['endpoint_id']}/stats", account=owner).json()["data"]
    assert set(stats) == STAT_FIELDS
    assert (stats["current_connections"], stats["total_connections"], stats["total_messages"], stats["total_bytes"],
            stats["dropped_messages"]) == (2, 15, 10, 100, 1)
    listed = api.request("GET", f"/api/endpoints/{endpoint['endpoint_id']}", account=owner).json()["data"]["stats"]
    assert listed["total_messages"] == 10


def test_messages_list_the_newest_first(api: Api, owner: Account, database_url: str) -> None:
    """…/messages answers the stored messages newest first with the SPEC fields."""
    from relay_core.db import session_scope
    from relay_core.models import Message

    endpoint = api.new_endpoint(owner)
    path = f"/api/endpoints/{endpoint['endpoint_id']}/messages"
    assert api.request("GET", path, account=owner).json() == {"data": []}
    pk = _endpoint_pk(database_url, endpoint["endpoint_id"])
    base = datetime.now(UTC)
    with session_scope(database_url, write=True) as session:
        for i in range(3):
            session.add(Message(endpoint_pk=pk, timestamp=base + timedelta(seconds=i), connection_id=f"c{i}",
                                device_id=None, size=5, binary=False, preview=f"hello{i}"))
    data = api.request("GET", path, account=owner).json()["data"]
    assert [m["preview"] for m in data] == ["hello2", "hello1", "hello0"]
    assert set(data[0]) == {"id", "timestamp", "connection_id", "device_id", "size", "binary", "preview"}


def test_devices_list_and_rename(api: Api, owner: Account, database_url: str) -> None:
    """…/devices shows devices with online state; PATCH renames; an unknown device is 404."""
    from relay_core.db import session_scope
    from relay_core.models import Device, DevicePresence, RelayNode

    endpoint = api.new_endpoint(owner)
    base = f"/api/endpoints/{endpoint['endpoint_id']}/devices"
    pk = _endpoint_pk(database_url, endpoint["endpoint_id"])
    with session_scope(database_url, write=True) as session:
        session.merge(RelayNode(node_id="node-dev", heartbeat_at=datetime.now(UTC)))
        session.add(Device(endpoint_pk=pk, device_id="phone-1", name="Phone"))
        session.add(Device(endpoint_pk=pk, device_id="laptop-1"))
        session.flush()
        session.add(DevicePresence(endpoint_pk=pk, device_id="phone-1", node_id="node-dev", connections=1))
    devices = {d["device_id"]: d for d in api.request("GET", base, account=owner).json()["data"]}
    assert devices["phone-1"]["online"] is True and devices["laptop-1"]["online"] is False
    assert set(devices["phone-1"]) == {"device_id", "name", "online", "first_seen_at", "last_seen_at"}
    renamed = api.request("PATCH", f"{base}/laptop-1", account=owner, json={"name": "Work laptop"})
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Work laptop"
    assert_error(api.request("PATCH", f"{base}/nope", account=owner, json={"name": "x"}), 404, "NOT_FOUND")
    assert_error(api.request("PATCH", f"{base}/laptop-1", account=owner, json={"name": "x" * 101}), 422,
                 "VALIDATION_ERROR")


def test_tokens_are_shown_once_listed_and_revoked(api: Api, owner: Account) -> None:
    """POST answers the token value once; the list never shows it; DELETE revokes (204)."""
    endpoint = api.new_endpoint(owner, access_mode="token")
    base = f"/api/endpoints/{endpoint['endpoint_id']}/tokens"
    created = api.request("POST", base, account=owner, json={"name": "sensor", "role": "publish"})
    assert created.status_code == 201, created.text
    token = created.json()["data"]
    assert set(token) == {"id", "name", "role", "token", "created_at"} and token["role"] == "publish"
    listed = api.request("GET", base, account=owner)
    assert token["token"] not in listed.text
    [row] = listed.json()["data"]
    assert row["id"] == token["id"] and row["revoked_at"] is None
    assert api.request("DELETE", f"{base}/{token['id']}", account=owner).status_code == 204
    assert api.request("GET", base, account=owner).json()["data"][0]["revoked_at"] is not None
    assert_error(api.request("DELETE", f"{base}/999999", account=owner), 404, "NOT_FOUND")
    error = assert_error(api.request("POST", base, account=owner, json={"name": "x", "role": "root"}), 422,
                         "VALIDATION_ERROR")
    assert "role" in error["details"]
    assert "name" in assert_error(api.request("POST", base, account=owner, json={"role": "both"}), 422,
                                  "VALIDATION_ERROR")["details"]


def test_a_token_of_another_endpoint_cannot_be_revoked_through_mine(api: Api, owner: Account) -> None:
    """Revoking token N through endpoint B when N belongs to endpoint A is 404."""
    a, b = api.new_endpoint(owner), api.new_endpoint(owner)
    token = api.request("POST", f"/api/endpoints/{a['endpoint_id']}/tokens", account=owner,
                        json={"name": "t", "role": "both"}).json()["data"]
    assert_error(api.request("DELETE", f"/api/endpoints/{b['endpoint_id']}/tokens/{token['id']}", account=owner),
                 404, "NOT_FOUND")
