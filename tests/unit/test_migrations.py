"""Migrations on start: idempotent, safe when processes start together, and keep existing data."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import inspect, text

from relay_core.db import dispose_engines, get_engine, migrate, session_scope
from relay_core.services.users import create_user


def test_migrate_creates_every_table_and_keeps_data_on_rerun(tmp_path: Path) -> None:
    """A second migrate() on a database holding data changes nothing and loses nothing."""
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    migrate(url)
    tables = set(inspect(get_engine(url)).get_table_names())
    assert {"users", "invite_codes", "endpoints", "endpoint_stats", "access_tokens", "devices", "messages",
            "audit_log"} <= tables
    with session_scope(url, write=True) as session:
        create_user(session=session, username="keeper", email="k@example.com", password="keep-pass-1")
    dispose_engines()
    migrate(url)
    with get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT username FROM users")).scalar_one() == "keeper"
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() >= 5000


def test_concurrent_migrations_do_not_collide(tmp_path: Path) -> None:
    """Four threads migrating one new database at once all succeed."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert "users" in inspect(get_engine(url)).get_table_names()


def _schema_diff(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    migrate(url)
    with get_engine(url).connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))


def test_migrations_build_exactly_the_models_schema_on_sqlite(tmp_path: Path) -> None:
    """Upgrading a new SQLite database yields the tables and indexes the models declare, nothing missing."""
    assert _schema_diff(f"sqlite:///{tmp_path / 'schema.db'}") == []


def test_migrations_build_exactly_the_models_schema_on_postgres() -> None:
    """The same holds on PostgreSQL."""
    from tests.support import postgres_database

    with postgres_database() as url:
        assert _schema_diff(url) == []
