"""Password hashing (passlib API from libpass), JWTs, access-token and invite secrets."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from passlib.context import CryptContext

from relay_core.errors import Unauthorized

_passwords = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")
# Verified against when the user does not exist, so both answers take the same time.
_DUMMY_HASH = _passwords.hash(secrets.token_urlsafe(16))
_JWT_ALGORITHM = "HS256"
_URL_SAFE = string.ascii_letters + string.digits + "-_"
ACCESS_TOKEN_PREFIX = "rlt_"


def hash_password(password: str) -> str:
    return str(_passwords.hash(password))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-work check: with no hash, a dummy one is verified so timing reveals nothing."""
    if password_hash is None:
        _passwords.verify(password, _DUMMY_HASH)
        return False
    try:
        return bool(_passwords.verify(password, password_hash))
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    token_version: int
    expires_at: datetime


def create_jwt(*, user_id: uuid.UUID, token_version: int, secret: str, ttl_hours: float) -> tuple[str, datetime]:
    """A signed HS256 token for the user and the moment it expires."""
    now = datetime.now(UTC)
    expires_at = now + timedelta(hours=ttl_hours)
    payload = {
        "sub": str(user_id), "tv": token_version, "iat": int(now.timestamp()), "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=_JWT_ALGORITHM), expires_at.replace(microsecond=0)


def decode_jwt(token: str, *, secret: str) -> TokenClaims:
    """The claims of a valid token; Unauthorized when it is malformed, forged or expired."""
    try:
        payload = jwt.decode(token, secret, algorithms=[_JWT_ALGORITHM], options={"require": ["sub", "exp"]})
        return TokenClaims(
            user_id=uuid.UUID(str(payload["sub"])),
            token_version=int(payload.get("tv", 0)),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise Unauthorized() from exc


def random_code(length: int = 10) -> str:
    """URL-safe random characters: invite codes and public endpoint ids."""
    return "".join(secrets.choice(_URL_SAFE) for _ in range(length))


def new_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for an access token: its SHA-256. Tokens are 256-bit random, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
