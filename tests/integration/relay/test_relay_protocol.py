"""The wire protocol of SPEC §4 against one real relay process: relaying, frame types, modes, tokens, refusals."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.integration.relay.conftest import (
    Relay,
    Seeder,
    close_all,
    closed_with,
    join,
    joined_direct,
    nothing_arrives,
    open_ws,
    recv,
    recv_json,
    run,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)


def test_message_reaches_every_other_client_but_not_the_sender(shared: tuple[Relay, Seeder]) -> None:
    """A message sent by one of three clients reaches the two others once, and never comes back to its sender."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, ca), (b, _), (c, _) = [await join(relay.url(endpoint)) for _ in range(3)]
        await a.send(orjson.dumps({"type": "chat", "data": {"text": "hi"}}).decode())
        for receiver in (b, c):
            frame = await recv_json(receiver)
            assert set(frame) == {"type", "data", "timestamp", "from"}
            assert frame["type"] == "message" and frame["data"] == {"text": "hi"}
            assert frame["from"] == ca["connection_id"] and isinstance(frame["timestamp"], int)
        assert await nothing_arrives(a)
        await close_all([a, b, c])

    run(scenario())


def test_two_endpoints_with_three_clients_each_stay_isolated(shared: tuple[Relay, Seeder]) -> None:
    """Each endpoint's clients get exactly the other two clients' messages of their own endpoint."""
    relay, seeder = shared
    eps = [seeder.endpoint(), seeder.endpoint()]

    async def scenario() -> None:
        rooms = [[await join(relay.url(ep)) for _ in range(3)] for ep in eps]
        for r, room in enumerate(rooms):
            for i, (ws, _) in enumerate(room):
                await ws.send(f"room{r}-client{i}")
        for r, room in enumerate(rooms):
            for i, (ws, _) in enumerate(room):
                got = sorted([(await recv_json(ws))["data"] for _ in range(2)])
                assert got == sorted(f"room{r}-client{j}" for j in range(3) if j != i)
                assert await nothing_arrives(ws, 0.2)
        await close_all([ws for room in rooms for ws, _ in room])

    run(scenario())


def test_connected_frame_names_the_connection_and_endpoint(shared: tuple[Relay, Seeder]) -> None:
    """In json mode the first frame is CONNECTED with connection_id, endpoint_id and a ms timestamp."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        ws, frame = await join(relay.url(endpoint))
        assert frame["level"] == "info" and frame["endpoint_id"] == endpoint.endpoint_id
        assert frame["connection_id"] and frame["timestamp"] > 1_700_000_000_000
        await ws.close()

    run(scenario())


def test_ping_gets_a_pong_for_the_sender_only(shared: tuple[Relay, Seeder]) -> None:
    """`{"type":"ping"}` is answered with a pong to its sender, is not relayed and is not counted."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send('{"type":"ping"}')
        pong = await recv_json(a)
        assert pong["type"] == "pong" and isinstance(pong["timestamp"], int)
        assert await nothing_arrives(b)
        await close_all([a, b])

    run(scenario())
    assert seeder.stats(endpoint).total_messages == 0


def test_identify_names_the_device_and_tags_its_messages(shared: tuple[Relay, Seeder]) -> None:
    """identify answers identified, later messages carry device_id, and the device shows online then offline."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send('{"type":"identify","deviceId":"phone-1","deviceName":"My phone"}')
        assert await recv_json(a) == {"type": "identified", "deviceId": "phone-1", "name": "My phone"}
        assert await nothing_arrives(b, 0.2)
        await a.send('{"type":"t","data":1}')
        frame = await recv_json(b)
        assert set(frame) == {"type", "data", "timestamp", "from", "device_id"} and frame["device_id"] == "phone-1"
        wait_until(lambda: [d.online for d in seeder.devices(endpoint)] == [True], timeout=2, what="device online")
        await close_all([a, b])

    run(scenario())
    devices = wait_until(lambda: [d for d in seeder.devices(endpoint) if not d.online], timeout=2.5,
                         what="device offline")
    assert devices[0].device_id == "phone-1" and devices[0].name == "My phone"


def test_device_name_survives_reconnect_and_owner_rename(shared: tuple[Relay, Seeder]) -> None:
    """A device identifying again without a name gets its stored name back, including the owner's rename."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def identify(payload: str) -> dict[str, object]:
        ws, _ = await join(relay.url(endpoint))
        await ws.send(payload)
        frame: dict[str, object] = await recv_json(ws)
        await ws.close()
        return frame

    assert run(identify('{"type":"identify","deviceId":"d","deviceName":"First"}'))["name"] == "First"
    assert run(identify('{"type":"identify","deviceId":"d"}'))["name"] == "First"
    seeder.rename_device(endpoint, "d", "Renamed")
    assert run(identify('{"type":"identify","deviceId":"d"}'))["name"] == "Renamed"


def test_client_timestamp_is_kept_else_now(shared: tuple[Relay, Seeder]) -> None:
    """A numeric client timestamp is relayed as is; a missing or non-numeric one becomes the relay's now."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send('{"type":"x","data":"d","timestamp":12345}')
        assert (await recv_json(b))["timestamp"] == 12345
        await a.send('{"type":"x","data":"d","timestamp":"yesterday"}')
        assert (await recv_json(b))["timestamp"] > 1_700_000_000_000
        await close_all([a, b])

    run(scenario())


@pytest.mark.parametrize("sent, data", [
    ("plain text, not JSON", "plain text, not JSON"),
    ("[1, 2, 3]", [1, 2, 3]),
    ("42", 42),
    ('"a string"', "a string"),
    ("null", None),
    ('{"no_type": true}', {"no_type": True}),
    ('{"type": "only-type"}', {"type": "only-type"}),
    ('{"type": "unknown-kind", "data": [1]}', [1]),
    ("{not json", "{not json"),
])
def test_any_other_text_is_wrapped_as_message_data(shared: tuple[Relay, Seeder], sent: str, data: object) -> None:
    """Text that is not a type+data object (other JSON values, malformed JSON, plain text) is relayed as data."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, ca), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send(sent)
        frame = await recv_json(b)
        assert frame == {"type": "message", "data": data, "timestamp": frame["timestamp"], "from": ca["connection_id"]}
        await close_all([a, b])

    run(scenario())


def test_binary_frames_are_relayed_unchanged(shared: tuple[Relay, Seeder]) -> None:
    """A binary frame arrives at the others as the same binary frame, in json mode too."""
    relay, seeder = shared
    endpoint = seeder.endpoint()
    blob = bytes(range(256)) * 10

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send(blob)
        assert await recv(b) == blob
        await close_all([a, b])

    run(scenario())
    stored = wait_until(lambda: seeder.messages(endpoint), timeout=2, what="stored message")
    assert stored[0].binary and stored[0].size == len(blob) and stored[0].preview is None


def test_direct_mode_relays_frames_verbatim_without_system_frames(shared: tuple[Relay, Seeder]) -> None:
    """direct mode: no CONNECTED frame, text stays the same text, binary the same binary; ping still works."""
    relay, seeder = shared
    endpoint = seeder.endpoint(forwarding_mode="direct")

    async def scenario() -> None:
        a = await joined_direct(relay.url(endpoint))
        b = await joined_direct(relay.url(endpoint))
        for message in ['{"type":"chat","data":1}', "just text", b"\x00\xffbinary"]:
            await a.send(message)
            assert await recv(b) == message
        await a.send('{"type":"identify","deviceId":"dev"}')
        assert (await recv_json(a))["type"] == "identified"
        assert await nothing_arrives(b, 0.2)
        await close_all([a, b])

    run(scenario())


def test_custom_header_mode_prefixes_text_but_not_binary(shared: tuple[Relay, Seeder]) -> None:
    """custom_header mode sends header + text for text frames and binary frames unchanged."""
    relay, seeder = shared
    endpoint = seeder.endpoint(forwarding_mode="custom_header", custom_header="HDR|")

    async def scenario() -> None:
        a = await joined_direct(relay.url(endpoint))
        b = await joined_direct(relay.url(endpoint))
        await a.send("payload ü")
        assert await recv(b) == "HDR|payload ü"
        await a.send(b"\x01\x02")
        assert await recv(b) == b"\x01\x02"
        await close_all([a, b])

    run(scenario())


def test_token_endpoint_accepts_query_and_bearer_tokens(shared: tuple[Relay, Seeder]) -> None:
    """On a token endpoint, a valid token in ?token= or in Authorization: Bearer connects, and they relay."""
    relay, seeder = shared
    endpoint = seeder.endpoint(access_mode="token")
    _, value = seeder.token(endpoint, "both")

    async def scenario() -> None:
        a, _ = await join(relay.url(endpoint, value))
        b, _ = await join(relay.url(endpoint), additional_headers={"Authorization": f"Bearer {value}"})
        await a.send("via token")
        assert (await recv_json(b))["data"] == "via token"
        await close_all([a, b])

    run(scenario())
    wait_until(lambda: seeder.stats(endpoint).total_messages == 1, timeout=2, what="stats")


def test_subscribe_token_receives_but_cannot_send(shared: tuple[Relay, Seeder]) -> None:
    """A subscribe-only token gets SEND_FORBIDDEN for its messages (not relayed, counted dropped) and stays open."""
    relay, seeder = shared
    endpoint = seeder.endpoint(access_mode="token")
    _, sub = seeder.token(endpoint, "subscribe")
    _, pub = seeder.token(endpoint, "publish")

    async def scenario() -> None:
        s, _ = await join(relay.url(endpoint, sub))
        p, _ = await join(relay.url(endpoint, pub))
        await s.send("I want to talk")
        await s.send(b"binary too")
        for _ in range(2):
            frame = await recv_json(s)
            assert frame["type"] == "system" and frame["level"] == "error" and frame["code"] == "SEND_FORBIDDEN"
        assert await nothing_arrives(p, 0.2)
        await p.send("news")
        assert (await recv_json(s))["data"] == "news"
        await close_all([s, p])

    run(scenario())
    wait_until(lambda: (seeder.stats(endpoint).dropped_messages, seeder.stats(endpoint).total_messages) == (2, 1),
               timeout=2, what="2 dropped and 1 accepted")


@pytest.mark.parametrize("path, code, close_code", [
    ("/", "INVALID_PATH", 4400),
    ("/other/abcdefghij", "INVALID_PATH", 4400),
    ("/ws/", "INVALID_PATH", 4400),
    ("/ws/a/b", "INVALID_PATH", 4400),
    ("/ws/abcdefghij", "ENDPOINT_NOT_FOUND", 4404),
    ("/ws/not-a-valid-id-at-all", "ENDPOINT_NOT_FOUND", 4404),
])
def test_bad_paths_are_refused_with_a_frame_and_close_code(
    shared: tuple[Relay, Seeder], path: str, code: str, close_code: int,
) -> None:
    """A wrong path gets INVALID_PATH/4400 and an unknown endpoint ENDPOINT_NOT_FOUND/4404, after the handshake."""
    relay, _ = shared

    async def scenario() -> None:
        ws = await open_ws(relay.base + path)
        got, frames = await closed_with(ws)
        assert got == close_code
        frame = orjson.loads(frames[0])
        assert frame["type"] == "system" and frame["level"] == "error" and frame["code"] == code
        assert frame["message"] and isinstance(frame["timestamp"], int)

    run(scenario())


@pytest.mark.parametrize("case", ["missing", "unknown", "other-endpoint", "revoked"])
def test_token_endpoint_refuses_bad_tokens_with_4401(shared: tuple[Relay, Seeder], case: str) -> None:
    """A token endpoint refuses a missing, unknown, another endpoint's or revoked token with UNAUTHORIZED/4401."""
    relay, seeder = shared
    endpoint = seeder.endpoint(access_mode="token")
    other = seeder.endpoint(access_mode="token")
    token_id, value = seeder.token(endpoint)
    token = {"missing": None, "unknown": "rlt_nope", "other-endpoint": seeder.token(other)[1], "revoked": value}[case]
    if case == "revoked":
        seeder.revoke(endpoint, token_id)

    async def scenario() -> None:
        ws = await open_ws(relay.url(endpoint, token))
        got, frames = await closed_with(ws)
        assert got == 4401 and orjson.loads(frames[0])["code"] == "UNAUTHORIZED"

    run(scenario())


@pytest.mark.parametrize("state", ["disabled", "banned"])
def test_disabled_or_banned_endpoint_is_refused_with_4403_and_reason(shared: tuple[Relay, Seeder], state: str) -> None:
    """A disabled endpoint (ENDPOINT_DISABLED) or a banned owner's (OWNER_BANNED) gets 4403 and the reason."""
    relay, seeder = shared
    owner = seeder.user()
    endpoint = seeder.endpoint(owner)
    if state == "disabled":
        seeder.disable(endpoint, "too loud")
    else:
        seeder.ban(owner, "spam bot")

    async def scenario() -> None:
        ws = await open_ws(relay.url(endpoint))
        got, frames = await closed_with(ws)
        frame = orjson.loads(frames[0])
        assert got == 4403
        if state == "disabled":
            assert frame["code"] == "ENDPOINT_DISABLED" and "too loud" in frame["message"]
        else:
            assert frame["code"] == "OWNER_BANNED" and "spam bot" in frame["message"]
        assert "since 20" in frame["message"]

    run(scenario())


def test_relayed_messages_and_stats_reach_the_database(shared: tuple[Relay, Seeder]) -> None:
    """Within 2 s the endpoint shows the totals, the newest messages (newest first, previews) and last_active_at."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        for i in range(60):
            await a.send(f"m{i}")
        for _ in range(60):
            await recv(b)
        wait_until(lambda: seeder.stats(endpoint).current_connections == 2, timeout=2, what="2 connected")
        await close_all([a, b])

    run(scenario())
    stats = wait_until(lambda: (s := seeder.stats(endpoint)).total_messages == 60 and s, timeout=2, what="stats")
    assert stats.total_connections == 2 and stats.total_bytes == sum(len(f"m{i}") for i in range(60))
    assert stats.last_active_at is not None
    wait_until(lambda: seeder.stats(endpoint).current_connections == 0, timeout=2, what="0 connected")
    messages = seeder.messages(endpoint)
    assert len(messages) == 50 and [m.preview for m in messages[:2]] == ["m59", "m58"]


def test_long_text_preview_is_cut_at_5000_characters(shared: tuple[Relay, Seeder]) -> None:
    """A stored message keeps at most 5000 characters of text and the full size in bytes."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        await a.send("é" * 6000)
        await recv(b)
        await close_all([a, b])

    run(scenario())
    stored = wait_until(lambda: seeder.messages(endpoint), timeout=2, what="stored message")
    assert len(stored[0].preview or "") == 5000 and stored[0].size == 12000


def test_healthz_and_metrics_answer(shared: tuple[Relay, Seeder]) -> None:
    """/healthz says ok and /metrics exposes the SPEC metric names in Prometheus text."""
    relay, _ = shared

    async def refused_once() -> None:  # so the refusal counter has a 4404 sample whatever ran before
        ws = await open_ws(relay.url("AAAAAAAAAA"))
        code, _frames = await closed_with(ws)
        assert code == 4404

    run(refused_once())
    health = relay.http("/healthz")
    assert health.status_code == 200 and health.text.strip() == "ok"
    metrics = relay.http("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    for name in ("relay_connections ", "relay_messages_received_total", "relay_messages_delivered_total",
                 "relay_bytes_received_total", "relay_messages_dropped_total", "relay_connections_refused_total",
                 "relay_delivery_seconds_bucket"):
        assert name in metrics.text, name
    assert 'relay_connections_refused_total{code="4404"}' in metrics.text


def test_bad_input_never_breaks_the_relay(shared: tuple[Relay, Seeder]) -> None:
    """Malformed JSON, unknown types, bad identify fields, invalid UTF-8 and half-open sockets leave others served."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        # a half-open TCP connection and a half-sent handshake sit there meanwhile
        _, silent = await asyncio.open_connection("127.0.0.1", relay.port)
        _, half = await asyncio.open_connection("127.0.0.1", relay.port)
        half.write(b"GET /ws/" + endpoint.endpoint_id.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        for bad in ['{"type":"identify","deviceId":5}', '{"type":"identify"}',
                    '{"type":"identify","deviceId":"' + "x" * 65 + '"}',
                    '{"type":"identify","deviceId":"ok","deviceName":["list"]}']:
            await a.send(bad)
            frame = await recv_json(a)
            assert frame["type"] == "system" and frame["code"] == "INVALID_MESSAGE"
        for odd in ['{"type":', '{"type":"ping"', "\x00\x01", '{"type":"weird","data":{"deep":' * 50]:
            await a.send(odd)
            assert (await recv_json(b))["type"] == "message"
        # invalid UTF-8 in a text frame: that one sender is closed with 1007 (RFC 6455), the rest carry on
        bad_utf8 = await open_ws(relay.url(endpoint))
        await recv_json(bad_utf8)
        await bad_utf8.send(b"\xff\xfe", text=True)
        code, _ = await closed_with(bad_utf8)
        assert code == 1007
        await b.send("still fine")
        assert (await recv_json(a))["data"] == "still fine"
        silent.close()
        half.close()
        await close_all([a, b])

    run(scenario())
    assert relay.http("/healthz").status_code == 200


def test_a_flood_from_one_client_does_not_stall_the_others(shared: tuple[Relay, Seeder]) -> None:
    """While one client floods an endpoint with 5,000 messages, a client of another endpoint still round-trips."""
    relay, seeder = shared
    busy, quiet = seeder.endpoint(), seeder.endpoint()

    async def scenario() -> None:
        flooder, _ = await join(relay.url(busy))
        listener, _ = await join(relay.url(busy))
        q1, _ = await join(relay.url(quiet))
        q2, _ = await join(relay.url(quiet))

        async def flood() -> None:
            for i in range(5000):
                await flooder.send(f"flood {i}")

        async def drain() -> int:
            count = 0
            while count < 5000:
                await recv(listener, 10)
                count += 1
            return count

        flooding = asyncio.gather(flood(), drain())
        for i in range(20):
            await q1.send(f"q{i}")
            assert (await recv_json(q2, 5))["data"] == f"q{i}"
        _, received = await flooding
        assert received == 5000
        await close_all([flooder, listener, q1, q2])

    run(scenario(), timeout=90)
