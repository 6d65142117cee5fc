"""Field rules shared by the services, the REST schemas and the UI forms (one place for each limit)."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from relay_core.errors import ValidationFailed

USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,30}$"
ENDPOINT_ID_PATTERN = r"^[A-Za-z0-9_-]{10}$"
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
ENDPOINT_NAME_MAX = 100
CUSTOM_HEADER_MAX = 255
TOKEN_NAME_MAX = 100
DEVICE_ID_MAX = 64
DEVICE_NAME_MAX = 100
REASON_MAX = 500
INVITE_BATCH_MAX = 50
INVITE_CODE_LENGTH = 10
ENDPOINT_ID_LENGTH = 10

_USERNAME_RE = re.compile(USERNAME_PATTERN)
_ENDPOINT_ID_RE = re.compile(ENDPOINT_ID_PATTERN)


def check_text(field: str, value: str) -> str:
    """Free text the platform stores may not hold NUL (PostgreSQL refuses it): a field error, not a crash."""
    if "\x00" in value:
        raise ValidationFailed.field(field, "must not contain NUL characters")
    return value


def check_username(username: str) -> str:
    if not _USERNAME_RE.fullmatch(username):
        raise ValidationFailed.field("username", "3 to 30 characters: letters, digits and underscores")
    return username


def check_email(email: str) -> str:
    """The normalized address (domain lower-cased); no DNS look-up."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed.field("email", str(exc)) from None


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < PASSWORD_MIN_LENGTH or len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationFailed.field(field, f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        raise ValidationFailed.field(field, "needs at least one letter and one digit")
    return password


def check_endpoint_name(name: str) -> str:
    name = check_text("name", name).strip()
    if not 1 <= len(name) <= ENDPOINT_NAME_MAX:
        raise ValidationFailed.field("name", f"1 to {ENDPOINT_NAME_MAX} characters")
    return name


def is_endpoint_id(value: str) -> bool:
    return bool(_ENDPOINT_ID_RE.fullmatch(value))
