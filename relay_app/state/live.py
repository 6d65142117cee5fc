"""The background refresh loop behind live numbers: about once a second while its page is open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import reflex as rx

from relay_app.state.session import client_connected

LIVE_INTERVAL_S = 1.0


async def run_live_loop(state: Any, generation: int, refresh: Callable[[], bool]) -> AsyncIterator[Any]:
    """Call `refresh` under the state lock every LIVE_INTERVAL_S seconds (it answers False once the
    session is no longer valid, e.g. after a ban: then the user is signed out and sent to /login).

    Stops when the page is left (its on_unmount clears `_live`), when a newer loop for the same state
    started (`_live_generation` moved on), or when the browser tab disconnected.
    """
    while True:
        await asyncio.sleep(LIVE_INTERVAL_S)
        async with state:
            if (
                not state._live
                or state._live_generation != generation
                or not client_connected(state.router.session.client_token)
            ):
                return
            still_signed_in = refresh()
            if not still_signed_in:
                state._live = False
                state._sign_out()
        if not still_signed_in:
            yield rx.redirect("/login", replace=True)
            return
