"""The relay process: build_server(settings) wires gate, hub, handler, stats and broker around the
websockets server; main() is `python -m relay_ws` (SIGTERM: close 1001 to all, flush stats, exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from http import HTTPStatus

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from relay_core.bootstrap import prepare_database
from relay_core.broker import Broker, create_broker
from relay_core.db import dispose_engines, ping, session_scope
from relay_core.logs import configure_logging
from relay_core.protocol import CLOSE_TIMEOUT_SECONDS, SLOW_CONSUMER_MIN_BYTES, CloseCode
from relay_core.services.relay_records import reset_node
from relay_core.settings import Settings, load_settings_or_exit
from relay_ws.connection import RelayConnection
from relay_ws.gate import ControlWatch, Gate
from relay_ws.handler import Handler
from relay_ws.hub import Hub
from relay_ws.stats import NodeStats, metrics_registry

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 2.0
"""/healthz answers 503 when the database takes longer than this."""
SHUTDOWN_TIMEOUT_SECONDS = 10.0
"""How long SIGTERM waits for connections to close before the final flush."""


class RelayServer:
    """One relay node. start() migrates, resets this node's stale numbers and listens; stop() shuts down."""

    def __init__(self, settings: Settings, *, broker: Broker | None = None) -> None:
        self.settings = settings
        self.node_id = settings.relay_node_id
        self.stats = NodeStats(database_url=settings.database_url, node_id=self.node_id)
        self.broker = broker or create_broker(node_id=self.node_id, redis_url=settings.redis_url)
        self.hub = Hub(stats=self.stats, broker=self.broker,
                       max_connections_per_endpoint=settings.max_connections_per_endpoint,
                       slow_consumer_bytes=max(SLOW_CONSUMER_MIN_BYTES, 2 * settings.max_message_bytes))
        self.gate = Gate(database_url=settings.database_url)
        self.control = ControlWatch(gate=self.gate, hub=self.hub, broker=self.broker)
        self.handler = Handler(settings=settings, gate=self.gate, hub=self.hub, stats=self.stats, broker=self.broker)
        self._registry = metrics_registry(self.stats)
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        """The bound port (useful with RELAY_WS_PORT=0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def _prepare(self) -> None:
        prepare_database(self.settings, bootstrap=False)
        with session_scope(self.settings.database_url, write=True) as session:
            reset_node(session=session, node_id=self.node_id)

    async def start(self) -> None:
        await asyncio.to_thread(self._prepare)
        await self.broker.start(on_frame=self.hub.deliver_remote, on_control=self.control.on_event)
        pi = self.settings.ping_interval
        self._server = await serve(
            self.handler, self.settings.ws_host, self.settings.ws_port,
            create_connection=RelayConnection, process_request=self._http, max_size=self.settings.max_message_bytes,
            ping_interval=pi, ping_timeout=pi, close_timeout=CLOSE_TIMEOUT_SECONDS,
            compression=None,  # one frame body for every receiver; deflate would compress per connection
        )
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.stats.run_flusher()), loop.create_task(self.control.run())]
        log.info("relay listening on ws://%s:%d node=%s", self.settings.ws_host, self.port, self.node_id)

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        route = request.path.split("?", 1)[0]
        if route == "/healthz":
            healthy = self.broker.healthy and await self._database_answers()
            if healthy:
                return connection.respond(HTTPStatus.OK, "ok")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable")
        if route == "/metrics":
            response = connection.respond(HTTPStatus.OK, generate_latest(self._registry).decode())
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response
        return None

    async def _database_answers(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.to_thread(ping, self.settings.database_url),
                                          HEALTH_TIMEOUT_SECONDS)
        except (TimeoutError, SQLAlchemyError):
            return False

    async def stop(self) -> None:
        """Close every connection with 1001, wait for them, write the last stats, release the database."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close(code=CloseCode.GOING_AWAY)
            try:
                await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("some connections did not close in %.0f s", SHUTDOWN_TIMEOUT_SECONDS)
        await self.hub.wait_closers(CLOSE_TIMEOUT_SECONDS)
        try:
            if not await self.stats.flush(force=True):
                log.warning("final stats flush failed")
        finally:
            self.stats.close()
        await self.broker.close()
        await asyncio.to_thread(dispose_engines)
        log.info("relay stopped node=%s", self.node_id)


def build_server(settings: Settings) -> RelayServer:
    return RelayServer(settings)


async def serve_until_signalled(settings: Settings) -> int:
    server = build_server(settings)
    try:
        await server.start()
    except (SQLAlchemyError, OSError) as exc:
        log.error("relay could not start: %s", exc.__class__.__name__ + (f": {exc}" if isinstance(exc, OSError)
                                                                       else ""))
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("relay shutting down")
    await server.stop()
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m relay_ws",
        description="The WebSocket relay: ws://HOST:PORT/ws/{endpoint_id}, GET /healthz, GET /metrics. "
                    "Every other setting is a RELAY_* environment variable (see docs/protocol.md).",
    )
    parser.add_argument("--host", help="interface to listen on (overrides RELAY_WS_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (overrides RELAY_WS_PORT, default 3001)")
    parser.add_argument("--node-id", help="this node's stable name (overrides RELAY_NODE_ID, default HOST:PORT)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="overrides RELAY_LOG_LEVEL")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings_or_exit()
    overrides = {key: value for key, value in (
        ("ws_host", args.host), ("ws_port", args.port), ("node_id", args.node_id), ("log_level", args.log_level),
    ) if value is not None}
    if args.port is not None and not 0 <= args.port <= 65535:
        sys.stderr.write("invalid option --port: must be 0 to 65535\n")
        return 2
    if overrides:
        settings = settings.model_copy(update=overrides)
    configure_logging(settings)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(serve_until_signalled(settings))
    return uvloop.run(serve_until_signalled(settings))
