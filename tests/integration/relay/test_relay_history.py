"""The per-minute message history behind the dashboard chart, written by the relay's batched flush."""

from __future__ import annotations

from relay_core.db import session_scope
from relay_core.services.stats import messages_per_minute
from tests.integration.relay.conftest import Relay, Seeder, close_all, join, recv, run, wait_until


def test_accepted_messages_are_counted_per_minute(shared: tuple[Relay, Seeder]) -> None:
    """Within 2 s, the last 30 minutes of history hold exactly the 25 messages sent, in the newest minutes."""
    relay, seeder = shared
    endpoint = seeder.endpoint()

    async def scenario() -> None:
        (a, _), (b, _) = await join(relay.url(endpoint)), await join(relay.url(endpoint))
        for i in range(25):
            await a.send(f"tick {i}")
        for _ in range(25):
            await recv(b)
        await close_all([a, b])

    run(scenario())

    def history() -> list[tuple[object, int]]:
        with session_scope(seeder.url) as session:
            return list(messages_per_minute(session=session, endpoint_pk=endpoint.id, minutes=30))

    counts = wait_until(lambda: (h := history()) and sum(n for _, n in h) == 25 and h, timeout=2,
                        what="25 messages in the minute history")
    assert len(counts) == 30 and sum(n for _, n in counts[-2:]) == 25
