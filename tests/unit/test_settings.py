"""Settings: defaults, parsing, and a bad value stopping the process with one line naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from relay_core.settings import Settings
from tests.support import ROOT


def _env(**values: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(values)
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every default of SPEC §1 holds when nothing is set."""
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.database_url == "sqlite:///data/relay.db" and settings.redis_url is None
    assert (settings.web_port, settings.ws_port, settings.public_ws_url) == (3000, 3001, "ws://localhost:3001")
    assert settings.jwt_ttl_hours == 168 and settings.max_message_bytes == 1024 * 1024
    assert settings.max_endpoints_per_user == 5 and settings.max_connections_per_endpoint == 1000
    assert settings.rate_limit_per_connection == 100 and settings.ping_interval == 15
    assert settings.log_format == "text"


def test_secret_is_generated_once_and_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With no RELAY_SECRET_KEY a key is generated into the data folder and reused."""
    first = Settings(data_dir=tmp_path / "d").jwt_secret()
    assert len(first) >= 32 and Settings(data_dir=tmp_path / "d").jwt_secret() == first
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("variable", "value"), [
    ("RELAY_WEB_PORT", "abc"), ("RELAY_WS_PORT", "70000"), ("RELAY_DATABASE_URL", "mysql://x"),
    ("RELAY_SECRET_KEY", "changeme"), ("RELAY_LOG_FORMAT", "xml"), ("RELAY_PUBLIC_WS_URL", "http://x"),
    ("RELAY_REDIS_URL", "localhost:6379"), ("RELAY_TRUSTED_PROXIES", "not-a-net"), ("RELAY_PING_INTERVAL", "0"),
])
def test_a_bad_setting_exits_2_with_one_line_naming_it(variable: str, value: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The admin CLI refuses to start: exit status 2, one stderr line with the variable name, no traceback."""
    result = subprocess.run([sys.executable, "-m", "relay_core", "list-users"], env=_env(**{variable: value}),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "Traceback" not in result.stderr


def test_trusted_proxies_parse_from_a_comma_list() -> None:
    """RELAY_TRUSTED_PROXIES accepts a comma-separated list of networks."""
    assert Settings(trusted_proxies="10.0.0.0/8, 192.168.1.1").trusted_proxies == ["10.0.0.0/8", "192.168.1.1"]
