"""Live enforcement: a delete, disable, ban or token revoke made by another process (this test process,
through relay_core.services) closes the relay's live connections within 5 s — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from relay_core.db import session_scope
from relay_core.services.relay_records import control_check
from relay_core.services.tokens import list_tokens
from relay_core.settings import Settings
from relay_ws.server import RelayServer
from tests.integration.relay.conftest import (
    Relay,
    Seeder,
    close_all,
    closed_with,
    join,
    joined_direct,
    nothing_arrives,
    open_ws,
    recv_json,
    run,
    wait_until,
)
from tests.support import TEST_SECRET

pytestmark = pytest.mark.timeout(120)
ENFORCEMENT_SECONDS = 5


def _refusal(frames: list[str | bytes]) -> dict[str, object]:
    assert frames, "no refusal frame before the close"
    frame: dict[str, object] = orjson.loads(frames[-1])
    assert frame["type"] == "system" and frame["level"] == "error"
    return frame


def test_delete_closes_live_connections_with_4404(any_db_relay: tuple[Relay, Seeder]) -> None:
    """Deleting an endpoint closes its json clients with ENDPOINT_NOT_FOUND then 4404, within 5 s."""
    relay, seeder = any_db_relay
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        clients = [(await join(relay.url(endpoint)))[0] for _ in range(2)]
        started = time.monotonic()
        seeder.delete(endpoint)
        for ws in clients:
            code, frames = await closed_with(ws, ENFORCEMENT_SECONDS + 1)
            assert code == 4404 and _refusal(frames)["code"] == "ENDPOINT_NOT_FOUND"
        assert time.monotonic() - started <= ENFORCEMENT_SECONDS

    run(scenario())


def test_disable_closes_with_4403_and_enable_lets_clients_back(any_db_relay: tuple[Relay, Seeder]) -> None:
    """Disabling closes live clients with ENDPOINT_DISABLED (with the reason) and 4403; after enabling they connect."""
    relay, seeder = any_db_relay
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        ws, _ = await join(relay.url(endpoint))
        started = time.monotonic()
        seeder.disable(endpoint, "maintenance")
        code, frames = await closed_with(ws, ENFORCEMENT_SECONDS + 1)
        frame = _refusal(frames)
        assert code == 4403 and frame["code"] == "ENDPOINT_DISABLED" and "maintenance" in str(frame["message"])
        assert time.monotonic() - started <= ENFORCEMENT_SECONDS
        seeder.disable(endpoint, disabled=False)
        deadline = time.monotonic() + 3
        while True:  # the relay may reuse its 1 s endpoint cache once
            again = await open_ws(relay.url(endpoint))
            first = await recv_json(again)
            if first["code"] == "CONNECTED":
                break
            assert time.monotonic() < deadline, first
        await again.close()

    run(scenario())


def test_ban_closes_every_endpoint_of_the_owner_with_4403(any_db_relay: tuple[Relay, Seeder]) -> None:
    """Banning a user closes the live clients of all their endpoints with OWNER_BANNED and 4403; others stay."""
    relay, seeder = any_db_relay
    owner = seeder.user()
    mine = [seeder.endpoint(owner), seeder.endpoint(owner, forwarding_mode="direct")]
    bystander = seeder.endpoint()

    async def scenario() -> None:
        json_ws, _ = await join(relay.url(mine[0]))
        direct_ws = await joined_direct(relay.url(mine[1]))
        other, _ = await join(relay.url(bystander))
        started = time.monotonic()
        seeder.ban(owner, "terms violation")
        code, frames = await closed_with(json_ws, ENFORCEMENT_SECONDS + 1)
        frame = _refusal(frames)
        assert code == 4403 and frame["code"] == "OWNER_BANNED" and "terms violation" in str(frame["message"])
        code, frames = await closed_with(direct_ws, ENFORCEMENT_SECONDS + 1)
        assert code == 4403 and frames == []  # direct mode: only the close
        assert time.monotonic() - started <= ENFORCEMENT_SECONDS
        await other.send('{"type":"ping"}')
        assert (await recv_json(other))["type"] == "pong"
        await other.close()

    run(scenario())


def test_revoke_closes_only_that_tokens_connections_with_4401(any_db_relay: tuple[Relay, Seeder]) -> None:
    """Revoking a token closes the connections that used it with UNAUTHORIZED/4401; another token's stays open."""
    relay, seeder = any_db_relay
    endpoint = seeder.endpoint(access_mode="token")
    revoked_id, revoked = seeder.token(endpoint)
    _, kept = seeder.token(endpoint)

    async def scenario() -> None:
        gone, _ = await join(relay.url(endpoint, revoked))
        stays, _ = await join(relay.url(endpoint, kept))
        started = time.monotonic()
        seeder.revoke(endpoint, revoked_id)
        code, frames = await closed_with(gone, ENFORCEMENT_SECONDS + 1)
        assert code == 4401 and _refusal(frames)["code"] == "UNAUTHORIZED"
        assert time.monotonic() - started <= ENFORCEMENT_SECONDS
        assert await nothing_arrives(stays, 1.5)
        await stays.send('{"type":"ping"}')
        assert (await recv_json(stays))["type"] == "pong"
        await stays.close()

    run(scenario())


def test_relay_and_stats_work_on_this_database(any_db_relay: tuple[Relay, Seeder]) -> None:
    """Relaying, token last_used_at, messages, devices and stats are written correctly on this database."""
    relay, seeder = any_db_relay
    endpoint = seeder.endpoint(access_mode="token")
    _, value = seeder.token(endpoint)

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint, value)), await join(relay.url(endpoint, value))
        await a.send('{"type":"identify","deviceId":"sensor","deviceName":"Sensor"}')
        await recv_json(a)
        for i in range(3):
            await a.send(f'{{"type":"reading","data":{i}}}')
            assert (await recv_json(b))["data"] == i
        wait_until(lambda: seeder.stats(endpoint).current_connections == 2, timeout=2, what="2 connected")
        await close_all([a, b])

    run(scenario())
    stats = wait_until(lambda: (s := seeder.stats(endpoint)).current_connections == 0 and s.total_messages == 3
                       and s, timeout=2, what="final stats")
    assert stats.total_connections == 2
    assert [m.device_id for m in seeder.messages(endpoint)] == ["sensor"] * 3
    assert [(d.device_id, d.name, d.online) for d in seeder.devices(endpoint)] == [("sensor", "Sensor", False)]
    with session_scope(seeder.url) as session:
        assert all(t.last_used_at is not None for t in list_tokens(session=session, endpoint=seeder.fresh(endpoint)))


def test_room_opened_while_the_control_check_queries_is_left_open(fresh_db: Seeder, tmp_path: Path) -> None:
    """A connection whose endpoint got its first client while the control query ran is not closed 4404
    (regression for b47dbf9): the relay runs in this process so the connection can be opened exactly then."""
    settings = Settings(database_url=fresh_db.url, data_dir=tmp_path / "data", secret_key=TEST_SECRET,
                        ws_host="127.0.0.1", ws_port=0, _env_file=None)  # type: ignore[call-arg]
    watched, late = fresh_db.endpoint(), fresh_db.endpoint()

    async def scenario() -> None:
        server = RelayServer(settings)
        await server.start()
        base = f"ws://127.0.0.1:{server.port}/ws/"
        query = server.gate.run_read
        opened: list[ClientConnection] = []

        async def query_then_open_late_room(work: Callable[..., Any], **kwargs: object) -> Any:
            result = await query(work, **kwargs)
            if work is control_check and not opened:
                opened.append((await join(base + late.endpoint_id))[0])  # the answer is in, not yet applied
            return result

        server.gate.run_read = query_then_open_late_room  # type: ignore[method-assign]
        try:
            first, _ = await join(base + watched.endpoint_id)  # a room, so the check has something to ask
            await server.control.check()
            assert opened, "the control check did not run its query"
            ws = opened[0]
            assert await nothing_arrives(ws, 1.5)  # also spans the next periodic check
            await ws.send('{"type":"ping"}')
            assert (await recv_json(ws))["type"] == "pong"
            await close_all([first, ws])
        finally:
            await server.stop()

    run(scenario())
