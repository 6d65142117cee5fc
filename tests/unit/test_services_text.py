"""Services refuse NUL in stored text with a field error, whoever calls them (API, dashboard, CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay_core.db import migrate, session_scope
from relay_core.errors import InvalidCredentials, ValidationFailed
from relay_core.services import endpoints, tokens, users
from relay_core.settings import Settings


def test_nul_in_names_codes_and_logins_is_a_field_error(tmp_path: Path) -> None:
    """Endpoint names, token names, invite codes and logins with NUL raise ValidationFailed naming the field."""
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    migrate(url)
    settings = Settings(database_url=url, data_dir=tmp_path)
    with session_scope(url, write=True) as session:
        owner = users.create_user(session=session, username="owner", email="o@example.com", password="owner-pass-1")
        endpoint = endpoints.create_endpoint(session=session, owner=owner, settings=settings, name="ok")
        cases = [
            ("name", lambda: endpoints.create_endpoint(session=session, owner=owner, settings=settings, name="a\x00")),
            ("name", lambda: tokens.create_token(session=session, endpoint=endpoint, name="t\x00")),
            ("invite_code", lambda: users.register_user(session=session, invite_code="c\x00", username="newbie",
                                                        email="n@example.com", password="newbie-pass-1")),
            ("username", lambda: users.authenticate(session=session, login="owner\x00", password="x")),
        ]
        for field, call in cases:
            with pytest.raises(ValidationFailed) as caught:
                call()
            assert field in caught.value.details
        with pytest.raises(InvalidCredentials):
            users.authenticate(session=session, login="owner", password="wrong-pass-1")
