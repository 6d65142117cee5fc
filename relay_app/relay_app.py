"""The Reflex app: pages registered here, the REST API mounted through api_transformer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import reflex as rx
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from relay_app.api import create_api
from relay_app.pages.admin_audit import AdminAuditState, admin_audit_page
from relay_app.pages.admin_endpoints import AdminEndpointsState, admin_endpoints_page
from relay_app.pages.admin_invites import AdminInvitesState, admin_invites_page
from relay_app.pages.admin_users import AdminUsersState, admin_users_page
from relay_app.pages.dashboard import DashboardState, dashboard_page
from relay_app.pages.endpoint import EndpointState, endpoint_page
from relay_app.pages.guide import guide_page
from relay_app.pages.index import index_page
from relay_app.pages.login import LoginState, login_page
from relay_app.pages.profile import ProfileState, profile_page
from relay_app.pages.register import RegisterState, register_page
from relay_app.state.session import SessionState, register_app
from relay_core.bootstrap import announce, describe_database_error, prepare_database
from relay_core.logs import configure_logging
from relay_core.settings import load_settings_or_exit

log = logging.getLogger(__name__)
settings = load_settings_or_exit()


@contextlib.asynccontextmanager
async def _prepare_database() -> AsyncIterator[None]:
    configure_logging(settings)
    try:
        announce(await run_in_threadpool(prepare_database, settings), settings)
    except (OSError, SQLAlchemyError) as exc:
        log.error("the database is not usable: %s", describe_database_error(exc))
        raise SystemExit(1) from None
    yield


app = rx.App(api_transformer=create_api(settings))
app.register_lifespan_task(_prepare_database)
register_app(app)

_user = [SessionState.require_login]
_admin = [SessionState.require_admin]
app.add_page(index_page, route="/", title="Relay", on_load=SessionState.redirect_home)
app.add_page(login_page, route="/login", title="Sign in · Relay",
             on_load=[SessionState.redirect_if_signed_in, LoginState.reset_form])
app.add_page(register_page, route="/register", title="Register · Relay", on_load=RegisterState.load)
app.add_page(dashboard_page, route="/dashboard", title="Dashboard · Relay", on_load=[*_user, DashboardState.load])
app.add_page(endpoint_page, route="/endpoints/[endpoint_id]", title="Endpoint · Relay",
             on_load=[*_user, EndpointState.load])
app.add_page(profile_page, route="/profile", title="Profile · Relay", on_load=[*_user, ProfileState.load])
app.add_page(admin_invites_page, route="/admin/invites", title="Invite codes · Relay",
             on_load=[*_admin, AdminInvitesState.load])
app.add_page(admin_users_page, route="/admin/users", title="Users · Relay", on_load=[*_admin, AdminUsersState.load])
app.add_page(admin_endpoints_page, route="/admin/endpoints", title="Endpoints · Relay",
             on_load=[*_admin, AdminEndpointsState.load])
app.add_page(admin_audit_page, route="/admin/audit", title="Audit log · Relay",
             on_load=[*_admin, AdminAuditState.load])
app.add_page(guide_page, route="/guide", title="Quick start · Relay")
