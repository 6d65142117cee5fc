"""The live console: a browser WebSocket to the endpoint, a send box, and the traffic as it happens.

The socket lives in the browser (a few lines of JavaScript installed on first use as
`window.relayConsole`); lines are appended to #console-log directly so traffic never round-trips
through the Reflex backend.
"""

from __future__ import annotations

import reflex as rx

from relay_app.state.session import t

_CONSOLE_JS = """
if (!window.relayConsole) {
  const el = (id) => document.getElementById(id);
  const label = (name) => {
    const r = el('relay-console');
    return (r && r.getAttribute('data-label-' + name)) || name;
  };
  let ws = null;
  const log = (kind, text) => {
    const box = el('console-log');
    if (!box) return;
    const line = document.createElement('div');
    line.className = 'console-line console-' + kind;
    line.textContent = new Date().toLocaleTimeString() + '  ' + label(kind) + '  ' + text;
    box.appendChild(line);
    while (box.childNodes.length > 500) box.removeChild(box.firstChild);
    box.scrollTop = box.scrollHeight;
  };
  const status = (state) => {
    const s = el('console-status');
    if (s) { s.textContent = label(state); s.setAttribute('data-state', state); }
  };
  window.relayConsole = {
    connect() {
      const root = el('relay-console');
      if (!root) return;
      if (ws) { ws.onclose = null; ws.close(1000); ws = null; }
      let url = root.getAttribute('data-url');
      const token = (el('console-token') || {}).value;
      if (token) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
      status('connecting');
      const socket = new WebSocket(url);
      ws = socket;
      socket.onopen = () => { if (ws === socket) { status('open'); log('info', label('opened')); } };
      socket.onmessage = (ev) => {
        if (typeof ev.data === 'string') log('in', ev.data);
        else log('in', '[binary ' + (ev.data.size || ev.data.byteLength || 0) + ' bytes]');
      };
      socket.onclose = (ev) => {
        log('info', label('closed') + ' ' + ev.code + (ev.reason ? ' ' + ev.reason : ''));
        if (ws === socket) { ws = null; status('closed'); }
      };
    },
    send() {
      const input = el('console-input');
      if (!input) return;
      if (!ws || ws.readyState !== WebSocket.OPEN) { log('info', label('notconnected')); return; }
      ws.send(input.value);
      log('out', input.value);
    },
    disconnect() { if (ws) ws.close(1000); },
    clear() { const box = el('console-log'); if (box) box.textContent = ''; },
  };
}
"""


def _call(method: str) -> rx.event.EventSpec:
    return rx.call_script(_CONSOLE_JS + f"window.relayConsole.{method}();")


def disconnect_console() -> rx.event.EventSpec:
    return rx.call_script("window.relayConsole && window.relayConsole.disconnect();")


def live_console(websocket_url: rx.Var[str], token_mode: rx.Var[bool]) -> rx.Component:
    labels = {
        f"data-label-{name}": t(f"console_{name}")
        for name in ("in", "out", "info", "open", "closed", "connecting", "opened", "notconnected")
    }
    return rx.vstack(
        rx.flex(
            rx.button(t("console_connect"), on_click=_call("connect"), id="console-connect", size="2"),
            rx.button(t("console_disconnect"), on_click=_call("disconnect"), id="console-disconnect", size="2",
                      variant="soft"),
            rx.button(t("console_clear"), on_click=_call("clear"), size="2", variant="ghost"),
            rx.text(t("console_closed"), id="console-status", size="2", color_scheme="gray",
                    custom_attrs={"data-state": "closed"}),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        rx.cond(
            token_mode,
            rx.input(id="console-token", placeholder=t("console_token_placeholder"), width="100%"),
        ),
        rx.flex(
            rx.input(id="console-input", placeholder=t("console_input_placeholder"),
                     default_value='{"type":"chat","data":"hello"}', flex="1 1 200px", min_width="0"),
            rx.button(t("console_send"), on_click=_call("send"), id="console-send"),
            spacing="2",
            wrap="wrap",
            width="100%",
        ),
        rx.box(
            id="console-log",
            font_family="monospace",
            font_size="12px",
            height="240px",
            overflow_y="auto",
            overflow_x="hidden",
            word_break="break-all",
            white_space="pre-wrap",
            padding="8px",
            border="1px solid var(--gray-a6)",
            border_radius="6px",
            background="var(--gray-a2)",
            width="100%",
        ),
        id="relay-console",
        custom_attrs={"data-url": websocket_url, **labels},
        spacing="2",
        width="100%",
    )
