"""Two registrations racing for one invite code: exactly one wins and nothing half-made remains."""

from __future__ import annotations

import threading
import uuid

import httpx

from tests.integration.api.client import Api, assert_error, fresh_address


def _race(api: Api, code: str, names: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(names))
    results: list[httpx.Response | None] = [None] * len(names)

    def register(i: int) -> None:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            body = {"invite_code": code, "username": names[i], "email": f"{names[i]}@example.com",
                    "password": "race-pass-123"}
            barrier.wait()
            results[i] = client.post("/api/auth/register", json=body, headers={"X-Forwarded-For": fresh_address()})

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_racing_registrations_for_one_code_have_one_winner(api: Api) -> None:
    """Over several rounds of 2 (and 4) racers, one gets 201, the rest INVALID_INVITE_CODE 'used', no stray user."""
    admin = api.admin()
    for racers in (2, 2, 2, 4, 4):
        code = api.invite(admin)
        names = ["r_" + uuid.uuid4().hex[:10] for _ in range(racers)]
        responses = _race(api, code, names)
        winners = [r for r in responses if r.status_code == 201]
        assert len(winners) == 1, [r.text for r in responses]
        for loser in (r for r in responses if r.status_code != 201):
            assert assert_error(loser, 400, "INVALID_INVITE_CODE")["details"]["reason"] == "used"
        usernames = {u["username"] for u in api.request("GET", "/api/admin/users", account=admin).json()["data"]}
        assert len(usernames & set(names)) == 1
        invite = next(i for i in api.request("GET", "/api/admin/invite-codes", account=admin).json()["data"]
                      if i["code"] == code)
        assert invite["used_by_username"] == winners[0].json()["data"]["username"]
