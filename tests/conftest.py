"""Suite-wide order: browser tests run last, because Playwright's sync API keeps an event loop running
in the main thread for as long as its session fixtures live, and asyncio.run() refuses to start then."""

from __future__ import annotations

import pytest

_LAST = ("tests/e2e/",)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: any(item.nodeid.startswith(prefix) for prefix in _LAST))
