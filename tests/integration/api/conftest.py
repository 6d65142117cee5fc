"""The API suite runs twice: against a real uvicorn server on SQLite, and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api.client import ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME, Api
from tests.support import api_server, postgres_database


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'relay.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("api")
    with api_server(tmp, database_url, RELAY_ADMIN_USERNAME=ADMIN_USERNAME, RELAY_ADMIN_PASSWORD=ADMIN_PASSWORD,
                    RELAY_ADMIN_EMAIL=ADMIN_EMAIL, RELAY_LOG_LEVEL="DEBUG") as (base_url, process):
        yield base_url, process.log_path


@pytest.fixture(scope="session")
def api(server: tuple[str, Path]) -> Api:
    return Api(server[0])
