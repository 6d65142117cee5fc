"""A bare reference relay for benchmarks: plain websockets + websockets.broadcast, no database, no checks.

Same behaviour on the hot path as relay_ws in `direct` mode (every other client of /ws/{id} gets the frame),
so the load generator can report relay_ws / reference ratios. Run: python bench/reference_relay.py --port P
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: dict[str, set[ServerConnection]] = defaultdict(set)


async def handler(ws: ServerConnection) -> None:
    assert ws.request is not None
    room = rooms[ws.request.path.split("?", 1)[0]]
    room.add(ws)
    try:
        async for message in ws:
            broadcast([peer for peer in room if peer is not ws], message)
    finally:
        room.discard(ws)


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=1 << 20, ping_interval=15,
                     ping_timeout=15):
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    try:
        import uvloop
        uvloop.run(main(parser.parse_args().port))
    except ImportError:
        asyncio.run(main(parser.parse_args().port))
