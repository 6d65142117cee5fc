"""First start: migrate the schema, then make sure an admin exists or can register (printed invite)."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session, col, select

from relay_core.db import migrate, session_scope, sqlite_path
from relay_core.models import InviteCode
from relay_core.services.invites import InviteStatus, create_invites, invite_status
from relay_core.services.users import admin_exists, create_user
from relay_core.settings import Settings

log = logging.getLogger(__name__)
_PG_BOOTSTRAP_LOCK = 0x52454C4160


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    admin_created: str | None = None
    invite_code: str | None = None


def _pending_bootstrap_invite(session: Session) -> InviteCode | None:
    candidates = session.exec(
        select(InviteCode).where(col(InviteCode.grants_admin).is_(True), col(InviteCode.created_by).is_(None))
    ).all()
    return next((c for c in candidates if invite_status(c) is InviteStatus.UNUSED), None)


def ensure_admin(settings: Settings) -> BootstrapResult:
    """Create the RELAY_ADMIN_* admin, or keep one admin invite ready, while no admin exists."""
    with session_scope(settings.database_url, write=True) as session:
        if sqlite_path(settings.database_url) is None:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_BOOTSTRAP_LOCK})
        if admin_exists(session=session):
            return BootstrapResult()
        if settings.admin_username and settings.admin_password and settings.admin_email:
            create_user(session=session, username=settings.admin_username, email=settings.admin_email,
                        password=settings.admin_password, is_admin=True)
            log.info("bootstrap admin created username=%s", settings.admin_username)
            return BootstrapResult(admin_created=settings.admin_username)
        invite = _pending_bootstrap_invite(session)
        if invite is None:
            invite = create_invites(session=session, created_by=None, count=1, grants_admin=True)[0]
        return BootstrapResult(invite_code=invite.code)


def announce(result: BootstrapResult, settings: Settings) -> None:
    """Print the one-time admin invite in a frame on the console (deliberately not through logging)."""
    if result.invite_code is None:
        return
    lines = [
        "No admin yet. The first admin registers with this one-time code:",
        f"  invite code: {result.invite_code}",
        f"  register at: {settings.web_base_url}/register?code={result.invite_code}",
    ]
    width = max(len(line) for line in lines) + 2
    frame = "+" + "-" * width + "+"
    sys.stdout.write("\n".join([frame, *(f"| {line.ljust(width - 1)}|" for line in lines), frame]) + "\n")
    sys.stdout.flush()


def prepare_database(settings: Settings, *, bootstrap: bool = True) -> BootstrapResult:
    """Migrate, then (for the web app and the CLI) bootstrap the admin."""
    migrate(settings.database_url)
    return ensure_admin(settings) if bootstrap else BootstrapResult()


def describe_database_error(exc: BaseException) -> str:
    """One line for the console about why the database cannot be prepared (no traceback)."""
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else ""
    return f"{type(orig or exc).__name__}: {text}" if text else type(orig or exc).__name__
