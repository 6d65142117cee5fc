"""The relay's batched flush (relay_core.services.relay_flush) against real SQLite and PostgreSQL, with
batches large enough to be cut into several multi-row statements: what the API later reads must be
exactly what the batches said, whatever the chunking."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from relay_core.db import session_scope
from relay_core.models import AccessToken, Endpoint, EndpointMinute, EndpointStats, Message
from relay_core.services.activity import RECENT_MESSAGES
from relay_core.services.relay_flush import EndpointDelta, RecentMessage, StatsBatch, flush_stats
from tests.integration.relay.conftest import Seeder, _prepare, _sqlite_url
from tests.support import postgres_database

pytestmark = pytest.mark.timeout(300)

ENDPOINTS = 600  # stats rows on SQLite: 9 statements of 64, then 16 and 8
BASE_MS = 1_764_870_483_982


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Seeder, list[Endpoint], int]]:
    """A database with ENDPOINTS endpoints of one owner and one token on the first endpoint."""
    tmp: Path = tmp_path_factory.mktemp("flush-" + request.param)

    def seed(url: str) -> tuple[Seeder, list[Endpoint], int]:
        seeder = _prepare(url, tmp)
        owner = seeder.user(is_admin=True)
        eps = [seeder.endpoint(owner) for _ in range(ENDPOINTS)]
        token_id, _ = seeder.token(eps[0])
        return seeder, eps, token_id

    if request.param == "sqlite":
        yield seed(_sqlite_url(tmp))
        return
    with postgres_database() as url:
        yield seed(url)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _flush(url: str, batch: StatsBatch) -> None:
    with session_scope(url, write=True) as session:
        flush_stats(session=session, node_id="node-a", batch=batch)


def _messages(url: str, pk: uuid.UUID) -> list[Message]:
    with session_scope(url) as session:
        return list(session.exec(select(Message).where(Message.endpoint_pk == pk)
                                 .order_by(Message.timestamp.desc(), Message.id.desc())).all())  # type: ignore[attr-defined]


def test_large_batches_land_exactly(seeded: tuple[Seeder, list[Endpoint], int]) -> None:
    """Two flushes of 600 endpoints: stats add up, last_active_at and token last_used_at are the exact ms,
    the minute counts add up, every message is stored as sent, and each endpoint keeps its 50 newest."""
    seeder, eps, token_id = seeded
    url = seeder.url
    pks = [ep.id for ep in eps]
    first = StatsBatch()
    for n, pk in enumerate(pks):
        first.endpoints[pk] = EndpointDelta(current=2, connections=2, messages=3, bytes=30, dropped=1,
                                            last_active_ms=BASE_MS + n)
        first.messages[pk] = [(BASE_MS + i, f"conn-{n}", None if i else "dev", 10, f"m{i}") for i in range(3)]
    first.token_last_used_ms[token_id] = BASE_MS + 7
    _flush(url, first)

    busy = pks[0]
    second = StatsBatch()
    for n, pk in enumerate(pks):
        second.endpoints[pk] = EndpointDelta(current=1, messages=2, bytes=5, last_active_ms=BASE_MS + 1000 + n)
        second.messages[pk] = [(BASE_MS + 1000, "late", None, 1, "x\x00y"), (BASE_MS + 1001, "late", None, 4, None)]
    # the busiest endpoint sends more than it keeps, with several messages in the same millisecond
    recent: list[RecentMessage] = [(BASE_MS + 2000 + i // 3, "burst", None, 2, f"b{i}") for i in range(70)]
    second.messages[busy] = recent[-RECENT_MESSAGES:]
    _flush(url, second)

    with session_scope(url) as session:
        stats = {s.endpoint_pk: s for s in session.exec(select(EndpointStats)).all()}
        assert len(stats) == ENDPOINTS
        for pk in pks:
            s = stats[pk]
            assert (s.current_connections, s.total_connections, s.total_messages, s.total_bytes,
                    s.dropped_messages) == (1, 2, 5, 35, 1)
        active = {e.id: e.last_active_at for e in session.exec(select(Endpoint)).all()}
        assert all(active[pk] == _at(BASE_MS + 1000 + n) for n, pk in enumerate(pks))
        token = session.get(AccessToken, token_id)
        assert token is not None and token.last_used_at == _at(BASE_MS + 7)
        minutes = session.exec(select(EndpointMinute)).all()
        assert sum(m.messages for m in minutes) == ENDPOINTS * 5

    quiet = _messages(url, pks[-1])
    assert [(m.timestamp, m.connection_id, m.device_id, m.size, m.binary, m.preview) for m in quiet] == [
        (_at(BASE_MS + 1001), "late", None, 4, True, None),
        (_at(BASE_MS + 1000), "late", None, 1, False, "x\ufffdy"),
        *[(_at(BASE_MS + i), f"conn-{ENDPOINTS - 1}", None if i else "dev", 10, False, f"m{i}") for i in (2, 1, 0)],
    ]
    kept = _messages(url, busy)
    assert [m.preview for m in kept] == [f"b{i}" for i in range(69, 19, -1)]


def test_a_deleted_endpoint_is_skipped(seeded: tuple[Seeder, list[Endpoint], int]) -> None:
    """An endpoint deleted between two flushes: the batch still lands for the others, nothing for it."""
    seeder, eps, _ = seeded
    gone, kept = eps[-1], eps[-2]
    seeder.delete(gone)
    batch = StatsBatch()
    for pk in (gone.id, kept.id):
        batch.endpoints[pk] = EndpointDelta(current=0, messages=1, bytes=1, last_active_ms=BASE_MS + 5000)
        batch.messages[pk] = [(BASE_MS + 5000, "c", None, 1, "after delete")]
    _flush(seeder.url, batch)
    assert _messages(seeder.url, gone.id) == []
    assert _messages(seeder.url, kept.id)[0].preview == "after delete"
