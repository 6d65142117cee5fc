"""The quick start guide: from an invite code to the first relayed message in a few minutes."""

from __future__ import annotations

import reflex as rx

from relay_app.components.layout import page_frame
from relay_app.state.session import t

_PYTHON_EXAMPLE = """# pip install websockets
import asyncio, json
from websockets.asyncio.client import connect

URL = "ws://localhost:3001/ws/YOUR_ENDPOINT_ID"

async def main():
    async with connect(URL) as a, connect(URL) as b:
        await a.recv()  # {"type":"system","code":"CONNECTED",...}
        await b.recv()
        await a.send(json.dumps({"type": "chat", "data": "hello"}))
        print(await b.recv())  # {"type":"message","data":"hello",...}

asyncio.run(main())"""


def _step(number: int, title_key: str, body_key: str, *extra: rx.Component) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.badge(str(number), size="3", radius="full"),
            rx.vstack(
                rx.heading(t(title_key), size="4"),
                rx.text(t(body_key), size="2"),
                *extra,
                spacing="2",
                width="100%",
                min_width="0",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def guide_page() -> rx.Component:
    return page_frame(
        rx.vstack(
            rx.heading(t("guide_title"), size="6"),
            rx.text(t("guide_intro"), size="3"),
            _step(1, "guide_1_title", "guide_1_body", rx.link(t("nav_register"), href="/register")),
            _step(2, "guide_2_title", "guide_2_body", rx.link(t("nav_dashboard"), href="/dashboard")),
            _step(3, "guide_3_title", "guide_3_body"),
            _step(4, "guide_4_title", "guide_4_body",
                  rx.el.pre(_PYTHON_EXAMPLE, style={"whiteSpace": "pre-wrap", "wordBreak": "break-all",
                                                    "fontSize": "12px", "padding": "8px", "margin": "0",
                                                    "background": "var(--gray-a3)", "borderRadius": "6px"})),
            _step(5, "guide_5_title", "guide_5_body"),
            spacing="3",
            width="100%",
            max_width="800px",
        ),
    )
