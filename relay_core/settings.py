"""Every setting of both processes: RELAY_* environment variables (and a .env file), validated once."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "RELAY_"
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "changethis", "password", "test"}
_MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """The platform's configuration. Units are in the field names' descriptions; None means "unset"."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(Path("data"), description="folder for the SQLite file and the generated secret")
    database_url: str = Field("sqlite:///data/relay.db", description="SQLAlchemy URL")
    redis_url: str | None = Field(None, description="unset = single node, in-process broker")
    secret_key: str | None = Field(None, description="JWT signing key; unset = generated once into data_dir")
    web_port: int = Field(3000, ge=1, le=65535)
    public_web_url: str | None = Field(None, description="base URL of the dashboard; default http://localhost:WEB_PORT")
    ws_host: str = "127.0.0.1"
    ws_port: int = Field(3001, ge=0, le=65535)
    public_ws_url: str = Field("ws://localhost:3001", description="base of the URLs the UI and API show")
    node_id: str | None = Field(None, description="this relay node's stable name; default HOST:WS_PORT")
    jwt_ttl_hours: float = Field(168, gt=0, le=24 * 365)
    max_message_bytes: int = Field(1024 * 1024, ge=1, le=64 * 1024 * 1024)
    max_endpoints_per_user: int = Field(5, ge=0)
    max_connections_per_endpoint: int = Field(1000, ge=1)
    rate_limit_per_connection: float = Field(100, gt=0, description="messages per second; burst twice that")
    ping_interval: float = Field(15, gt=0, description="seconds between server pings; also the pong timeout")
    auth_rate_limit_per_minute: int = Field(10, ge=1, description="login and register requests per client address")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="comma-separated networks whose X-Forwarded-For is believed",
    )
    admin_username: str | None = None
    admin_password: str | None = None
    admin_email: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for network in value:
                ipaddress.ip_network(str(network), strict=False)
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("redis_url", "secret_key", "admin_username", "admin_password", "admin_email",
                     "public_web_url", "node_id", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("public_ws_url")
    @classmethod
    def _ws_scheme(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _strong_secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() in _PLACEHOLDER_SECRETS or len(value) < _MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {_MIN_SECRET_LENGTH} random characters, not a placeholder")
        return value

    @property
    def web_base_url(self) -> str:
        return (self.public_web_url or f"http://localhost:{self.web_port}").rstrip("/")

    @property
    def relay_node_id(self) -> str:
        return self.node_id or f"{socket.gethostname()}:{self.ws_port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def websocket_url(self, endpoint_id: str) -> str:
        return f"{self.public_ws_url}/ws/{endpoint_id}"

    def jwt_secret(self) -> str:
        """The signing key: RELAY_SECRET_KEY, else one generated on first use and kept in data_dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        self.data_dir.mkdir(parents=True, exist_ok=True)
        candidate = secrets.token_urlsafe(48)
        try:
            # O_EXCL: when two processes start together, the first writer wins and both use its key.
            with path.open("x") as handle:
                path.chmod(0o600)
                handle.write(candidate)
        except FileExistsError:
            pass
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call get_settings.cache_clear() after changing the environment."""
    return Settings()


def describe_error(exc: ValidationError) -> str:
    """One line naming the first bad variable, for the console."""
    first = exc.errors()[0]
    name = ENV_PREFIX + "_".join(str(part) for part in first["loc"][:1]).upper()
    value_hint = first.get("msg", "invalid value")
    return f"invalid setting {name}: {value_hint}"


def load_settings_or_exit() -> Settings:
    """Entry points call this: a bad setting ends the process with status 2 and one line on stderr."""
    try:
        return get_settings()
    except ValidationError as exc:
        sys.stderr.write(describe_error(exc) + "\n")
        raise SystemExit(2) from None
