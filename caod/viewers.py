"""The people attached to one agent (`caoctl attach`): raw PTY bytes out to each of them.

A viewer that cannot keep up is dropped rather than slowing the agent down. Parts of
the daemon that only need to know that output came (caod.notices' stall timer) add a
callback to `listeners`, so the agent's output path stays as it is.
"""

from __future__ import annotations

import asyncio
from typing import Callable

# Bytes a viewer may have waiting in its socket buffer before it is dropped.
VIEWER_BUFFER_LIMIT = 4 << 20


class Viewers:
    def __init__(self) -> None:
        self._writers: set[asyncio.StreamWriter] = set()
        self.listeners: list[Callable[[], None]] = []  # called on each output; must not block

    def __bool__(self) -> bool:
        return bool(self._writers)

    def add(self, writer: asyncio.StreamWriter, first: bytes = b"") -> None:
        if first:
            writer.write(first)
        self._writers.add(writer)

    def remove(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)

    def send(self, data: bytes) -> None:
        for listener in self.listeners:
            listener()
        for writer in list(self._writers):
            if writer.is_closing() or writer.transport.get_write_buffer_size() > VIEWER_BUFFER_LIMIT:
                self._writers.discard(writer)
                writer.transport.abort()  # close() would hold the connection until the viewer read it all
            else:
                writer.write(data)

    def close(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
