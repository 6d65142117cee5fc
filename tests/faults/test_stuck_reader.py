"""A raw TCP client that never reads (small receive buffer) on a streaming endpoint: it is dropped with
4408 and its connection cut, while the reading clients keep their rate. Complements
tests/integration/relay/test_relay_lifecycle.py::test_slow_consumer_is_closed_with_4408_while_others_keep_up,
whose stalled client still reads its backlog at the end and which does not measure the others' rate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay_core.protocol import SLOW_CONSUMER_CLOSE_TIMEOUT_SECONDS
from tests.faults.scenarios import StuckResult, stuck_reader

pytestmark = pytest.mark.timeout(120)
SECONDS, RATE, READERS = 15.0, 200.0, 2


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StuckResult]:
    tmp: Path = tmp_path_factory.mktemp("stuck")
    yield stuck_reader(tmp, seconds=SECONDS, rate=RATE, readers=READERS, stuck=1)


def test_never_reading_client_is_dropped_while_traffic_flows(stuck: StuckResult) -> None:
    """The stuck client joins, the relay drops it as a slow consumer with time to spare before the end."""
    assert stuck.stuck_connected
    assert stuck.first_drop_at is not None
    assert stuck.first_drop_at < SECONDS - SLOW_CONSUMER_CLOSE_TIMEOUT_SECONDS - 1


def test_never_reading_client_is_disconnected_after_the_close_timeout(stuck: StuckResult) -> None:
    """Its TCP connection is cut (it cannot read the 4408 close frame) and the connection count falls back."""
    assert stuck.connections_after == 1 + READERS
    closed = [line for line in stuck.relay_log.splitlines() if re.search(r"connection closed .*sent=0 ", line)
              and re.search(r"code=(4408|1006)", line)]
    assert closed, stuck.relay_log[-2000:]


def test_readers_get_every_message_at_rate_while_the_stuck_client_is_dropped(stuck: StuckResult) -> None:
    """Each reader receives all messages in order, ≥ 80 % of the send rate in every second, latency p99 < 0.25 s."""
    for index, deliveries in enumerate(stuck.per_reader):
        assert [seq for seq, _, _ in deliveries] == list(range(stuck.sent))
        per_second = stuck.rates(index)
        assert min(per_second[:-1]) >= 0.8 * RATE, per_second
        latencies = sorted(latency for _, latency, _ in deliveries)
        assert latencies[int(0.99 * len(latencies))] < 0.25 and latencies[-1] < 1.0, latencies[-5:]
