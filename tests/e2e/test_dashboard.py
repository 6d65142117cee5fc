"""The dashboard in Chromium against the built app and the real relay: one user journey, in order
(each test builds on the accounts and endpoint the earlier ones created)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import SCREENSHOTS, Platform, screenshot
from tests.support import ROOT

pytestmark = pytest.mark.e2e

ADMIN = ("e2e_admin", "admin@example.com", "adminpass123")
USER = ("e2e_user", "user@example.com", "userpass123")
LIVE_TIMEOUT_MS = 5_000  # the UI promises 2 s; the extra covers the relay's 1 s stats flush on a busy machine
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"

NewContext = Callable[..., BrowserContext]


def _relay_required(platform: Platform) -> None:
    if platform.relay is None:
        pytest.skip("relay_ws is not in the tree yet")


def register(page: Page, code: str, account: tuple[str, str, str]) -> None:
    page.goto(f"/register?code={code}")
    expect(page.locator("#input-invite_code")).to_have_value(code)
    username, email, password = account
    page.fill("#input-username", username)
    page.fill("#input-email", email)
    page.fill("#input-password", password)
    page.click("#register-button")
    page.wait_for_url("**/dashboard")


def login(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("#input-username", username)
    page.fill("#input-password", password)
    page.click("#login-button")
    page.wait_for_url("**/dashboard")
    expect(page.locator("#create-endpoint-button")).to_be_enabled()




def recv_message(client: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = json.loads(client.recv(timeout=timeout))
        if frame.get("type") == "message":
            return frame


@pytest.fixture(scope="module")
def admin_page(new_context: NewContext) -> Page:
    return new_context().new_page()


@pytest.fixture(scope="module")
def user_context(new_context: NewContext) -> BrowserContext:
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return context


@pytest.fixture(scope="module")
def user_page(user_context: BrowserContext) -> Page:
    return user_context.new_page()


OpenClient = Callable[[Platform], ClientConnection]


@pytest.fixture
def ws_client() -> Iterator[OpenClient]:
    """Opens Python websockets clients on the test's endpoint (past the CONNECTED frame); closed after the test."""
    with contextlib.ExitStack() as stack:

        def open_client(platform: Platform) -> ClientConnection:
            client = stack.enter_context(connect(f"{platform.ws_url}/ws/{platform.endpoint_id}", open_timeout=5))
            assert json.loads(client.recv(timeout=5))["code"] == "CONNECTED"
            return client

        yield open_client


def test_bootstrap_invite_admin_invites_a_user_who_registers_and_signs_in(
    platform: Platform, admin_page: Page, user_page: Page,
) -> None:
    """The printed admin invite registers the admin; the admin's invite registers a user who can sign in."""
    register(admin_page, platform.bootstrap_code, ADMIN)
    expect(admin_page.get_by_role("link", name="Invites")).to_be_visible()
    screenshot(admin_page, "dashboard-empty")

    admin_page.goto("/admin/invites")
    admin_page.fill("#invite-count", "1")
    admin_page.click("#create-invites-button")
    code = admin_page.locator(".new-invite-code").first.inner_text()
    assert re.fullmatch(r"[A-Za-z0-9_-]{10}", code)

    # A bad password shows its error next to the field and keeps what was typed.
    user_page.goto(f"/register?code={code}")
    expect(user_page.locator("#input-invite_code")).to_have_value(code)
    user_page.fill("#input-username", USER[0])
    user_page.fill("#input-email", USER[1])
    user_page.fill("#input-password", "lettersonly")
    user_page.click("#register-button")
    expect(user_page.locator("#error-password")).to_contain_text("digit")
    expect(user_page.locator("#input-username")).to_have_value(USER[0])
    screenshot(user_page, "register")

    user_page.fill("#input-password", USER[2])
    user_page.click("#register-button")
    user_page.wait_for_url("**/dashboard")
    expect(user_page.get_by_role("link", name="Invites")).to_have_count(0)  # not an admin

    user_page.click("#logout-button")
    user_page.wait_for_url("**/login")
    user_page.fill("#input-username", USER[0])
    user_page.fill("#input-password", "wrongpass1")
    user_page.click("#login-button")
    expect(user_page.locator("#login-error")).to_contain_text("Wrong username or password")
    screenshot(user_page, "login")
    login(user_page, USER[0], USER[2])
    platform.accounts.update(admin=(ADMIN[0], ADMIN[2]), user=(USER[0], USER[2]))


def test_live_counts_and_recent_messages_update_without_reload(
    platform: Platform, user_page: Page, ws_client: OpenClient,
) -> None:
    """Two clients on a new endpoint: the dashboard row and the detail stats change live, the message shows."""
    _relay_required(platform)
    user_page.goto("/dashboard")
    user_page.fill("#create-endpoint-name", "Sensors")
    user_page.click("#create-endpoint-button")
    row = user_page.locator("[id^=endpoint-row-]").filter(has_text="Sensors")
    expect(row).to_have_count(1)
    platform.endpoint_id = (row.get_attribute("id") or "").removeprefix("endpoint-row-")
    url = f"{platform.ws_url}/ws/{platform.endpoint_id}"
    expect(row).to_contain_text(url)

    row.locator(".copy-url").click()
    # the copy is an event round trip to the backend and back: wait for it rather than read at once
    user_page.wait_for_function("async (url) => (await navigator.clipboard.readText()) === url", arg=url,
                                timeout=LIVE_TIMEOUT_MS)

    a, b = ws_client(platform), ws_client(platform)
    expect(row.locator(".row-connections")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    a.send(json.dumps({"type": "chat", "data": "hello from a"}))
    assert recv_message(b)["data"] == "hello from a"
    expect(row.locator(".row-messages")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(user_page.locator("#summary-connections")).to_have_text("2")
    screenshot(user_page, "dashboard")

    row.locator(".endpoint-link").click()
    user_page.wait_for_url(f"**/endpoints/{platform.endpoint_id}")
    expect(user_page.locator("#stat-current-connections")).to_have_text("2")
    expect(user_page.locator("#stat-total-connections")).to_have_text("2")
    expect(user_page.locator("#stat-total-messages")).to_have_text("1")
    expect(user_page.locator("#recent-messages")).to_contain_text("hello from a")

    b.send(json.dumps({"type": "chat", "data": "second message from b"}))
    assert recv_message(a)["data"] == "second message from b"
    expect(user_page.locator("#stat-total-messages")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    expect(user_page.locator("#recent-messages")).to_contain_text("second message from b", timeout=LIVE_TIMEOUT_MS)
    a.close()
    expect(user_page.locator("#stat-current-connections")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)


def test_console_sends_to_a_client_and_shows_what_it_sends(
    platform: Platform, user_page: Page, ws_client: OpenClient,
) -> None:
    """The browser console connects to the endpoint: its message reaches a Python client and vice versa."""
    _relay_required(platform)
    user_page.goto(f"/endpoints/{platform.endpoint_id}")
    expect(user_page.locator("#stat-total-messages")).to_be_visible()
    client = ws_client(platform)

    user_page.click("#console-connect")
    expect(user_page.locator("#console-status")).to_have_attribute("data-state", "open")
    user_page.fill("#console-input", json.dumps({"type": "chat", "data": "from the console"}))
    user_page.click("#console-send")
    assert recv_message(client)["data"] == "from the console"

    client.send(json.dumps({"type": "chat", "data": "from python to the console"}))
    expect(user_page.locator("#console-log")).to_contain_text("from python to the console")
    expect(user_page.locator("#stat-current-connections")).to_have_text("2", timeout=LIVE_TIMEOUT_MS)
    screenshot(user_page, "endpoint-detail")


def test_settings_errors_in_place_tokens_once_and_device_rename(
    platform: Platform, user_page: Page, ws_client: OpenClient,
) -> None:
    """A bad setting shows its field error and keeps the input; a token shows once and revokes; a device renames."""
    _relay_required(platform)
    user_page.goto(f"/endpoints/{platform.endpoint_id}")
    user_page.fill("#settings-name", "Sensors renamed")
    user_page.click("#settings-forwarding")
    user_page.get_by_role("option", name="custom header (prefix text frames)").click()
    user_page.click("#settings-save")
    expect(user_page.locator("#error-custom_header")).to_contain_text("required")
    expect(user_page.locator("#settings-name")).to_have_value("Sensors renamed")
    user_page.fill("#settings-header", "sensor:")
    user_page.click("#settings-save")
    expect(user_page.locator("#settings-notice")).to_be_visible()
    expect(user_page.locator("#endpoint-name")).to_have_text("Sensors renamed")
    user_page.click("#settings-forwarding")
    user_page.get_by_role("option", name="json (wrapped messages)").click()
    user_page.click("#settings-save")
    expect(user_page.locator("#settings-notice")).to_be_visible()

    user_page.fill("#token-name", "ci")
    user_page.click("#create-token-button")
    expect(user_page.locator("#new-token-value")).to_contain_text("rlt_")
    user_page.get_by_role("button", name="Revoke").click()
    expect(user_page.get_by_text("Revoked", exact=True)).to_be_visible()

    client = ws_client(platform)
    client.send(json.dumps({"type": "identify", "deviceId": "probe-1", "deviceName": "Probe"}))
    devices = user_page.locator("#devices")
    expect(devices).to_contain_text("probe-1", timeout=LIVE_TIMEOUT_MS)
    devices.get_by_role("button", name="Rename").click()
    user_page.fill("#device-name-input", "Kitchen probe")
    devices.get_by_role("button", name="Save").click()
    expect(devices).to_contain_text("Kitchen probe")


def test_dashboard_fits_a_390px_phone_screen(platform: Platform, new_context: NewContext) -> None:
    """At 390 px the dashboard and the endpoint page need no horizontal scrolling."""
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(page, *platform.accounts["user"])
    expect(page.locator("[id^=endpoint-row-]")).not_to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "dashboard-phone")
    if platform.endpoint_id:
        page.goto(f"/endpoints/{platform.endpoint_id}")
        expect(page.locator("#stat-total-messages")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "endpoint-detail-phone")
    page.close()


def test_language_switch_changes_the_text_and_is_remembered(platform: Platform, user_page: Page) -> None:
    """Choosing 简体中文 translates the page, survives a reload, and English comes back the same way."""
    user_page.goto("/dashboard")
    expect(user_page.get_by_role("heading", name="Your endpoints")).to_be_visible()
    user_page.click("#language-switch")
    user_page.get_by_role("option", name="简体中文").click()
    expect(user_page.get_by_role("heading", name="我的端点")).to_be_visible()
    expect(user_page.locator("#create-endpoint-button")).to_have_text("创建端点")
    user_page.reload()
    expect(user_page.get_by_role("heading", name="我的端点")).to_be_visible()
    screenshot(user_page, "dashboard-zh")
    user_page.click("#language-switch")
    user_page.get_by_role("option", name="English").click()
    expect(user_page.get_by_role("heading", name="Your endpoints")).to_be_visible()


def test_guards_keep_anonymous_and_non_admin_users_out(platform: Platform, user_page: Page,
                                                       new_context: NewContext) -> None:
    """Anonymous visitors land on /login; a non-admin asking for an admin page lands on /dashboard."""
    user_page.goto("/admin/users")
    user_page.wait_for_url("**/dashboard")
    expect(user_page.locator("body")).not_to_contain_text(ADMIN[1])
    anonymous = new_context().new_page()
    anonymous.goto("/dashboard")
    anonymous.wait_for_url("**/login")
    anonymous.goto("/")
    anonymous.wait_for_url("**/login")
    anonymous.close()


def test_ban_closes_the_users_client_with_4403_and_login_shows_the_reason(
    platform: Platform, admin_page: Page, user_page: Page, ws_client: OpenClient,
) -> None:
    """The admin bans the user: the live client closes with 4403, the open tab signs out, login shows why."""
    _relay_required(platform)
    client = ws_client(platform)
    user_page.goto("/dashboard")
    expect(user_page.locator("#create-endpoint-button")).to_be_enabled()

    admin_page.goto("/admin/users")
    card = admin_page.locator(f"#user-row-{USER[0]}")
    expect(card.locator(".endpoint-count")).to_contain_text("1")
    card.locator(".ban-user").click()
    admin_page.fill("#ban-reason", "spamming the relay")
    admin_page.click("#confirm-ban")
    expect(card.locator(".banned-badge")).to_be_visible()
    screenshot(admin_page, "admin-users")

    with pytest.raises(ConnectionClosed):
        while True:
            client.recv(timeout=10)
    assert client.close_code == 4403

    user_page.wait_for_url("**/login", timeout=LIVE_TIMEOUT_MS)
    user_page.fill("#input-username", USER[0])
    user_page.fill("#input-password", USER[2])
    user_page.click("#login-button")
    expect(user_page.locator("#login-error")).to_contain_text("spamming the relay")
    expect(user_page.locator("#input-username")).to_have_value(USER[0])


def test_invite_export_downloads_a_csv_with_the_listed_codes(platform: Platform, admin_page: Page) -> None:
    """Two new codes, then Export CSV: one row per listed invite with its code and status."""
    admin_page.goto("/admin/invites")
    admin_page.fill("#invite-count", "2")
    admin_page.fill("#invite-expiry", "24")
    admin_page.click("#create-invites-button")
    expect(admin_page.locator(".new-invite-code")).to_have_count(2)
    new_codes = set(admin_page.locator(".new-invite-code").all_inner_texts())
    listed = set(admin_page.locator(".invite-code").all_inner_texts())
    assert new_codes <= listed and len(listed) == 4  # bootstrap (used), the user's (used), two new

    with admin_page.expect_download() as download_info:
        admin_page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename == "invite-codes.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_text())))
    assert {r["code"] for r in rows} == listed
    statuses = {r["code"]: r["status"] for r in rows}
    assert all(statuses[c] == "unused" for c in new_codes)
    assert statuses[platform.bootstrap_code] == "used"
    screenshot(admin_page, "admin-invites")


def test_every_page_renders_for_the_admin(platform: Platform, admin_page: Page) -> None:
    """Profile, admin endpoints, audit log and the guide render; screenshots of each page are kept."""
    for path, name, marker in [
        ("/profile", "profile", "#profile-username"),
        ("/admin/endpoints", "admin-endpoints", "[id^=admin-endpoint-]"),
        ("/admin/audit", "admin-audit", ".audit-row"),
        ("/guide", "guide", "text=Quick start"),
        ("/dashboard", "dashboard-admin", "#create-endpoint-button"),
    ]:
        admin_page.goto(path)
        expect(admin_page.locator(marker).first).to_be_visible()
        screenshot(admin_page, name)
    if os.environ.get("RELAY_E2E_UPDATE_DOCS") == "1":  # opt-in, so a test run leaves the tree clean
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("dashboard", "endpoint-detail"):
            shutil.copyfile(SCREENSHOTS / f"{name}.png", DOCS_SCREENSHOTS / f"{name}.png")
