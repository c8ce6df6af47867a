"""Notice a client that hung up while its connection reads nothing.

A connection paused for back-pressure reads none of its socket, so the end of
file stays unseen behind the requests the client sent first; one whose client
shut only its writing side goes on answering, and reads nothing more. Either
way, calls left waiting by a client that is gone would hold on until their own
timeouts. On Linux the kernel flags
a stream socket whose peer has closed (EPOLLHUP) at once, unread data or not:
a private epoll set watches the socket for that flag alone, and the event loop
watches that set's own fd. Where there is no epoll there is no watch: a paused
connection is noticed once one of its calls ends, and an end of file is taken
for a hang-up (a client that only shut its writing side gets no more replies).
"""

from __future__ import annotations

import asyncio
import select
from typing import Callable


class HangupWatch:
    """Calls `on_hangup` once when the peer of socket `fd` has closed (both ways)."""

    supported = hasattr(select, "epoll")

    def __init__(self, fd: int, on_hangup: Callable[[], None]):
        self._loop = asyncio.get_running_loop()
        self._on_hangup = on_hangup
        self._epoll: select.epoll | None = None
        if not self.supported:
            return
        epoll = select.epoll()
        try:
            # An empty mask: epoll always reports EPOLLHUP and EPOLLERR, and nothing
            # else is asked for, so pending requests (EPOLLIN) never wake us, and a
            # client that only shut its writing side (EPOLLRDHUP) still gets replies.
            epoll.register(fd, 0)
            self._loop.add_reader(epoll.fileno(), self._fire)
        except BaseException:
            epoll.close()
            raise
        self._epoll = epoll

    def _fire(self) -> None:
        self.close()
        self._on_hangup()

    def close(self) -> None:
        if self._epoll is not None:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._epoll = None
