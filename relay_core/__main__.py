"""The admin CLI: python -m relay_core init-db | create-admin | create-invite | list-users | reset-password."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlmodel import func, select

from relay_core.bootstrap import announce, prepare_database
from relay_core.db import session_scope
from relay_core.errors import RelayError
from relay_core.logs import configure_logging
from relay_core.models import User
from relay_core.services.invites import create_invites
from relay_core.services.users import create_user, list_users, set_password
from relay_core.settings import Settings, load_settings_or_exit


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise SystemExit("the passwords differ")
    return first


def _init_db(settings: Settings, _args: argparse.Namespace) -> None:
    announce(prepare_database(settings), settings)
    sys.stdout.write("database ready\n")


def _create_admin(settings: Settings, args: argparse.Namespace) -> None:
    prepare_database(settings, bootstrap=False)
    with session_scope(settings.database_url, write=True) as session:
        user = create_user(session=session, username=args.username, email=args.email,
                           password=_read_password(args), is_admin=True)
    sys.stdout.write(f"admin {user.username} created\n")


def _create_invite(settings: Settings, args: argparse.Namespace) -> None:
    prepare_database(settings, bootstrap=False)
    with session_scope(settings.database_url, write=True) as session:
        invites = create_invites(session=session, created_by=None, count=args.count,
                                 expires_in_hours=args.expires_in_hours, grants_admin=args.admin)
    for invite in invites:
        expiry = invite.expires_at.isoformat() if invite.expires_at else "never"
        sys.stdout.write(f"{invite.code}\texpires {expiry}\t{'admin' if invite.grants_admin else 'user'}\n")


def _list_users(settings: Settings, _args: argparse.Namespace) -> None:
    prepare_database(settings, bootstrap=False)
    with session_scope(settings.database_url) as session:
        for user in list_users(session=session):
            state = "banned" if user.banned_at else "active"
            role = "admin" if user.is_admin else "user"
            sys.stdout.write(f"{user.id}\t{user.username}\t{user.email}\t{role}\t{state}\t"
                             f"endpoints={user.endpoint_count}\n")


def _reset_password(settings: Settings, args: argparse.Namespace) -> None:
    prepare_database(settings, bootstrap=False)
    with session_scope(settings.database_url, write=True) as session:
        user = session.exec(select(User).where(func.lower(User.username) == args.username.lower())).first()
        if user is None:
            raise SystemExit(f"no user named {args.username}")
        set_password(session=session, user=user, new_password=_read_password(args))
    sys.stdout.write(f"password of {args.username} changed; their old sessions are signed out\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m relay_core", description="Administer the relay platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create or upgrade the schema; bootstrap the first admin").set_defaults(run=_init_db)
    admin = sub.add_parser("create-admin", help="create an admin account (password asked for)")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.set_defaults(run=_create_admin)
    invite = sub.add_parser("create-invite", help="create invite codes and print them")
    invite.add_argument("--count", type=int, default=1)
    invite.add_argument("--expires-in-hours", type=float, default=None)
    invite.add_argument("--admin", action="store_true", help="the codes grant admin rights")
    invite.set_defaults(run=_create_invite)
    sub.add_parser("list-users", help="list accounts").set_defaults(run=_list_users)
    reset = sub.add_parser("reset-password", help="set a user's password (asked for) and sign them out")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset.set_defaults(run=_reset_password)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings_or_exit()
    configure_logging(settings)
    try:
        args.run(settings, args)
    except RelayError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
