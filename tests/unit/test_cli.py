"""The admin CLI (python -m relay_core) against a real SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def _cli(tmp: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    full.update({"PYTHONPATH": str(ROOT), "RELAY_DATA_DIR": str(tmp / "data"),
                 "RELAY_DATABASE_URL": f"sqlite:///{tmp / 'data' / 'relay.db'}", **env})
    return subprocess.run([sys.executable, "-m", "relay_core", *args], env=full, cwd=tmp, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_init_db_prints_a_framed_admin_invite_once_per_pending_code(tmp_path: Path) -> None:
    """With no admin, init-db prints one framed admin invite with the register URL; a rerun shows the same code."""
    first = _cli(tmp_path, "init-db")
    assert first.returncode == 0, first.stderr
    assert "+---" in first.stdout and "/register?code=" in first.stdout
    code = first.stdout.split("invite code: ")[1].split()[0]
    assert len(code) == 10
    again = _cli(tmp_path, "init-db")
    assert f"invite code: {code}" in again.stdout


def test_admin_variables_create_the_admin_instead_of_an_invite(tmp_path: Path) -> None:
    """RELAY_ADMIN_* create the admin on first start; no invite is printed."""
    result = _cli(tmp_path, "init-db", RELAY_ADMIN_USERNAME="boss", RELAY_ADMIN_PASSWORD="boss-pass-1",
                  RELAY_ADMIN_EMAIL="boss@example.com")
    assert result.returncode == 0 and "invite code" not in result.stdout
    listed = _cli(tmp_path, "list-users")
    assert "boss" in listed.stdout and "admin" in listed.stdout


def test_create_invite_prints_the_codes(tmp_path: Path) -> None:
    """create-invite --count 3 --expires-in-hours 2 --admin prints three admin codes with their expiry."""
    result = _cli(tmp_path, "create-invite", "--count", "3", "--expires-in-hours", "2", "--admin")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert len(rows) == 3 and all(len(r[0]) == 10 and r[2] == "admin" and "expires 20" in r[1] for r in rows)
    assert "error" in _cli(tmp_path, "create-invite", "--count", "99").stderr


def test_create_admin_and_reset_password(tmp_path: Path) -> None:
    """create-admin and reset-password read the password from stdin; a weak one is refused clearly."""
    made = _cli(tmp_path, "create-admin", "--username", "ops", "--email", "ops@example.com", "--password-stdin",
                stdin="ops-pass-123\n")
    assert made.returncode == 0, made.stderr
    weak = _cli(tmp_path, "reset-password", "ops", "--password-stdin", stdin="weak\n")
    assert weak.returncode == 1 and "new_password" in weak.stderr
    reset = _cli(tmp_path, "reset-password", "ops", "--password-stdin", stdin="new-ops-pass-9\n")
    assert reset.returncode == 0 and "signed out" in reset.stdout
    missing = _cli(tmp_path, "reset-password", "ghost", "--password-stdin", stdin="x\n")
    assert missing.returncode != 0 and "ghost" in missing.stderr
