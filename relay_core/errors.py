"""The error catalogue: each RelayError has a stable code, an HTTP status and a message safe to show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar


def _iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, like every timestamp the API answers."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RelayError(Exception):
    """Base of every error a user can cause. `message` is safe for any audience; `details` too."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)


class ValidationFailed(RelayError):
    code = "VALIDATION_ERROR"
    status = 422
    default_message = "Some fields are not valid."

    @classmethod
    def field(cls, name: str, problem: str) -> ValidationFailed:
        return cls(f"{name}: {problem}", details={name: problem})


class InvalidInviteCode(RelayError):
    code = "INVALID_INVITE_CODE"
    status = 400
    default_message = "This invite code is not valid."

    def __init__(self, reason: str) -> None:
        super().__init__(details={"reason": reason})


class UsernameTaken(RelayError):
    code = "USERNAME_TAKEN"
    status = 409
    default_message = "This username is already taken."


class EmailTaken(RelayError):
    code = "EMAIL_TAKEN"
    status = 409
    default_message = "This email is already registered."


class InvalidCredentials(RelayError):
    code = "INVALID_CREDENTIALS"
    status = 401
    default_message = "Wrong username or password."


class Unauthorized(RelayError):
    code = "UNAUTHORIZED"
    status = 401
    default_message = "Sign in to continue: the token is missing, invalid or expired."


class UserBanned(RelayError):
    code = "USER_BANNED"
    status = 403

    def __init__(self, *, reason: str | None, banned_at: datetime | None) -> None:
        shown = reason or "no reason given"
        super().__init__(
            f"This account is banned: {shown}.",
            details={"reason": reason, "banned_at": _iso_utc(banned_at)},
        )


class Forbidden(RelayError):
    code = "FORBIDDEN"
    status = 403
    default_message = "Only administrators can do this."


class NotFound(RelayError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Not found."


class EndpointLimitReached(RelayError):
    code = "ENDPOINT_LIMIT_REACHED"
    status = 409

    def __init__(self, limit: int) -> None:
        super().__init__(f"You already have {limit} endpoints, the most allowed.", details={"limit": limit})


class InviteNotRevocable(RelayError):
    code = "INVITE_NOT_REVOCABLE"
    status = 409

    def __init__(self, status: str) -> None:
        super().__init__(f"Only an unused code can be revoked; this one is {status}.", details={"status": status})


class WrongPassword(RelayError):
    code = "WRONG_PASSWORD"
    status = 400
    default_message = "The current password is wrong."


class RateLimited(RelayError):
    code = "RATE_LIMITED"
    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(
            f"Too many requests; try again in {self.retry_after} s.", details={"retry_after": self.retry_after}
        )


class InternalError(RelayError):
    """Not caused by the user; the message never says more than that."""


class ServiceUnavailable(RelayError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "A service the platform needs does not answer."
