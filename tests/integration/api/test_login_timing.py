"""Login does not reveal which usernames exist: same error, similar time (a dummy hash is verified)."""

from __future__ import annotations

import statistics
import time

from tests.integration.api.client import Api, assert_error


def _median_login_seconds(api: Api, username: str, rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = api.request("POST", "/api/auth/login", json={"username": username, "password": "wrong-pass-1"})
        times.append(time.perf_counter() - start)
        assert_error(response, 401, "INVALID_CREDENTIALS")
    return statistics.median(times)


def test_unknown_user_and_wrong_password_take_similar_time(api: Api) -> None:
    """Median times differ by less than 3x (without the dummy hash they differ by orders of magnitude)."""
    user = api.new_user()
    _median_login_seconds(api, user.username, rounds=2)  # warm-up
    known = _median_login_seconds(api, user.username)
    unknown = _median_login_seconds(api, "nobody_by_this_name")
    assert 1 / 3 < known / unknown < 3, (known, unknown)
