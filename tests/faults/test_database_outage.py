"""The relay's PostgreSQL database refuses connections for 10 s while clients stream through the relay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.scenarios import OutageResult, database_outage, log_lines
from tests.integration.api.client import assert_error

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
OUTAGE_SECONDS = 10.0


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutageResult]:
    tmp: Path = tmp_path_factory.mktemp("outage")
    yield database_outage(tmp, outage_seconds=OUTAGE_SECONDS)


def test_connected_clients_keep_relaying_through_the_outage(outage: OutageResult) -> None:
    """Every receiver gets every message, in order, including those sent while the database was gone."""
    assert outage.sent_during_outage >= 0.5 * OUTAGE_SECONDS * 50
    for got in outage.received:
        assert got == list(range(outage.sent)), f"{len(got)} of {outage.sent} received"


def test_healthz_and_api_health_are_503_during_the_outage_and_200_after(outage: OutageResult) -> None:
    """/healthz and /api/health answer 503 for the whole outage, and 200 before and after it."""
    assert outage.healthz_before == 200
    assert outage.healthz_during and set(outage.healthz_during) == {503}, outage.healthz_during
    assert outage.api_health_during and set(outage.api_health_during) == {503}, outage.api_health_during
    assert outage.healthz_after == 200 and outage.api_health_after == 200


def test_a_new_connection_during_the_outage_is_closed_1011(outage: OutageResult) -> None:
    """A client connecting while the database is gone is closed with 1011, not left hanging or crashed."""
    assert outage.new_connection_close_code == 1011


def test_stats_count_the_messages_sent_during_the_outage_after_recovery(outage: OutageResult) -> None:
    """After recovery the stored total_messages equals everything sent, outage included, within 10 s."""
    assert outage.stored_total_messages == outage.sent, (outage.stored_total_messages, outage.sent)


def test_relay_survives_the_outage_with_one_warning_per_fault_and_no_traceback(outage: OutageResult) -> None:
    """The relay stays up, logs the failing flush once and its recovery once, and prints no traceback."""
    assert outage.relay_alive
    assert "Traceback" not in outage.relay_log
    assert len(log_lines(outage.relay_log, "stats flush failed")) == 1
    assert len(log_lines(outage.relay_log, "stats flush recovered")) == 1
    assert len(log_lines(outage.relay_log, "control check failed")) <= 1


def test_api_call_during_the_outage_answers_a_5xx_error_envelope(outage: OutageResult) -> None:
    """An authenticated API read during the outage answers the error envelope with a 5xx status."""
    response = outage.api_list_during
    assert response is not None and response.status_code >= 500
    assert_error(response, response.status_code, response.json()["error"]["code"])


def test_api_call_during_the_outage_is_503_without_a_traceback(outage: OutageResult) -> None:
    """An API call while the database is unreachable is 503 SERVICE_UNAVAILABLE and logs no traceback."""
    assert outage.api_list_during is not None
    assert_error(outage.api_list_during, 503, "SERVICE_UNAVAILABLE")
    assert "Traceback" not in outage.api_log
