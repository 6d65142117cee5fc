"""SQLite on a read-only folder (read-only bind mount as root, chmod otherwise) and on a full disk (a 4 MiB
tmpfs filled with a filler file; needs root to mount, skipped otherwise)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.faults.scenarios import (
    DiskFullResult,
    StartResult,
    can_mount,
    disk_full,
    log_lines,
    start_on_read_only_database,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def read_only_start(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StartResult]:
    results = start_on_read_only_database(tmp_path_factory.mktemp("readonly"))
    return {result.name: result for result in results}


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DiskFullResult]:
    if not can_mount():
        pytest.skip("mounting a tiny tmpfs needs root")
    yield disk_full(tmp_path_factory.mktemp("diskfull"))


def test_relay_on_a_read_only_database_exits_1_with_one_line_naming_the_problem(
    read_only_start: dict[str, StartResult],
) -> None:
    """The relay refuses to start on a read-only database: exit 1 within 30 s, one log line saying why."""
    relay = read_only_start["relay"]
    assert relay.returncode == 1 and relay.seconds < 30
    lines = relay.output.strip().splitlines()
    assert len(lines) == 1 and re.search("read-only", lines[0], re.IGNORECASE), relay.output


def test_api_on_a_read_only_database_exits_non_zero_naming_the_problem(
    read_only_start: dict[str, StartResult],
) -> None:
    """The API refuses to start on a read-only database: a non-zero exit within 30 s whose output says why."""
    api = read_only_start["api"]
    assert api.returncode not in (0, None) and api.seconds < 30
    assert re.search("read-only", api.output, re.IGNORECASE), api.output


def test_api_on_a_read_only_database_prints_no_traceback(read_only_start: dict[str, StartResult]) -> None:
    """The API's start-up failure on a read-only database is a short message, not a traceback."""
    assert "Traceback" not in read_only_start["api"].output


def test_relay_keeps_relaying_while_the_disk_is_full(full: DiskFullResult) -> None:
    """With the database's disk full, every message still reaches the other client and the relay stays up."""
    assert full.sent > 0 and full.received == full.sent
    assert full.relay_alive


def test_relay_reports_the_full_disk_once_not_per_message(full: DiskFullResult) -> None:
    """The relay logs one failing flush and one recovery for the whole episode, and no traceback."""
    assert len(log_lines(full.relay_log, "stats flush failed")) == 1
    assert len(log_lines(full.relay_log, "stats flush recovered")) == 1
    assert "Traceback" not in full.relay_log


def test_api_write_on_a_full_disk_answers_a_5xx_error_envelope(full: DiskFullResult) -> None:
    """Creating an endpoint on a full disk answers a 5xx error envelope; the API process stays up."""
    assert full.write_statuses and all(status >= 500 for status in full.write_statuses), full.write_statuses
    assert all(set(body) == {"error"} and body["error"]["code"] for body in full.write_bodies)  # type: ignore[index]
    assert full.api_alive


def test_stats_catch_up_and_writes_work_once_the_disk_has_space(full: DiskFullResult) -> None:
    """After the filler is deleted the stored total_messages equals all sent, and a create answers 201."""
    assert full.stored_total_messages == full.sent
    assert full.write_after == 201


def test_api_failed_write_leaves_the_keep_alive_connection_usable(full: DiskFullResult) -> None:
    """A request right after a failed write, on the same client connection, succeeds."""
    assert full.followup_errors == []
