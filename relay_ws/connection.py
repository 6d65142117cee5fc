"""The relay's websockets connection: complete data frames go straight to the handler from data_received.

websockets queues every incoming frame in an Assembler and wakes the coroutine waiting in recv(); for a relay
that is most of the cost of a small message (a queue, a future, a task step). RelayConnection offers each
complete text or binary frame to a synchronous `frame_sink` first. The sink relays it on the spot and returns
True, or returns False to let the frame take websockets' normal path to recv() — it does so for anything it
cannot finish without waiting (an identify stores the device), while it is still handling earlier frames,
and while the client is not reading (its transport paused): the read loop's send then waits for it.

Order is kept: a frame is offered to the sink only while nothing is queued for recv() ahead of it, and the
sink refuses frames while the read loop is busy. Fragmented messages, invalid UTF-8 (websockets closes with
1007), control frames and the opening handshake always take the normal path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

FrameSink = Callable[[Frame], bool]

_DATA = (Opcode.TEXT, Opcode.BINARY)
_LENGTH_16 = struct.Struct("!BBH")
_LENGTH_64 = struct.Struct("!BBQ")


def encode_frame(payload: bytes, *, text: bool) -> bytes:
    """The bytes of one data frame as a server sends it (final, unmasked, no extension: the relay serves with
    compression=None), built once and written to every receiver."""
    head = 0x81 if text else 0x82
    size = len(payload)
    if size < 126:
        return bytes((head, size)) + payload
    if size < 65536:
        return _LENGTH_16.pack(head, 126, size) + payload
    return _LENGTH_64.pack(head, 127, size) + payload


class RelayConnection(ServerConnection):
    """A ServerConnection whose handler may take frames synchronously (see the module docstring)."""

    frame_sink: FrameSink | None = None

    def process_event(self, event: Event) -> None:
        sink = self.frame_sink
        if (
            sink is not None
            and type(event) is Frame
            and event.fin
            and event.opcode in _DATA
            and not self.recv_messages.frames.queue
            and sink(event)
        ):
            return
        super().process_event(event)
