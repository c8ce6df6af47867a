"""The dashboard's side of the daemon: calls run in threads, events come into asyncio.

caoctl.client.Client is synchronous; each call opens its own connection in a
worker thread (a Unix socket connects in microseconds), so requests never
share a socket. One thread holds an events.subscribe connection and hands each
event to the asyncio loop, where Hub fans it out to the open event streams.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from caoctl.client import Client
from caod.protocol import Event, SubscribeParams
from caod.status import EventKind

REPLAY = 1000  # recent events read at start: which agents are stalled right now
QUEUE_LIMIT = 1000  # events one slow browser may fall behind before it is cut off
CLOSING = "closing"  # put in each stream's queue when the dashboard stops


class Hub:
    """The event streams open now, and what the events say about stalled agents."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue] = set()
        self.stalled: dict[str, float] = {}  # agent id -> when it stalled (until its status changes)
        self.daemon_gone = False
        self.closing = False
        self.feeds: set["ScreenFeed"] = set()  # the open screen streams' attachments

    def publish(self, item: Event | None) -> None:
        """Called on the loop for each event; None: the daemon closed the subscription."""
        if item is None:
            self.daemon_gone = True
        elif item.kind is EventKind.STALLED:
            self.stalled[item.agent] = item.ts
        elif item.kind is EventKind.STATUS:
            self.stalled.pop(item.agent, None)
        for q in list(self.queues):
            try:
                q.put_nowait(item)
            except asyncio.QueueFull:  # that reader is stuck: end its stream (the page reconnects)
                self.queues.discard(q)

    def shut(self) -> None:
        """End every open stream (we are stopping): a server waits for its responses to finish."""
        self.closing = True
        for q in list(self.queues):
            try:
                q.put_nowait(CLOSING)
            except asyncio.QueueFull:
                pass
        for feed in list(self.feeds):
            feed.closed = True
            feed.changed.set()

    def open(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.queues.add(q)
        return q

    def close(self, q: asyncio.Queue) -> None:
        self.queues.discard(q)


class DaemonLink:
    def __init__(self, socket_path: Path):
        self.socket_path = socket_path
        self.hub = Hub()
        self._events_client: Client | None = None

    def call_sync(self, method: str, params: Any = None, timeout: float | None = 30) -> Any:
        with Client(self.socket_path) as c:
            return c.call(method, params, timeout=timeout)

    async def call(self, method: str, params: Any = None, timeout: float | None = 30) -> Any:
        return await asyncio.to_thread(self.call_sync, method, params, timeout)

    def start_events(self, loop: asyncio.AbstractEventLoop) -> None:
        """Subscribe (raising DaemonUnavailable now if there is no daemon) and follow in a thread."""
        c = Client(self.socket_path)
        c.call("events.subscribe", SubscribeParams(replay=REPLAY))
        self._events_client = c
        threading.Thread(target=self._follow, args=(c, loop.call_soon_threadsafe), name="caod-events",
                         daemon=True).start()

    def _follow(self, c: Client, on_loop: Callable) -> None:
        try:
            for e in c.events():
                on_loop(self.hub.publish, e)
        except (OSError, ConnectionError, ValueError):
            pass
        try:
            on_loop(self.hub.publish, None)
        except RuntimeError:  # the loop is closed: we are shutting down
            pass

    def stop(self) -> None:
        if self._events_client is not None:
            try:
                self._events_client.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's recv
            except OSError:
                pass
            self._events_client.close()


class ScreenFeed:
    """An agent's output as it happens, through a read-only agent.attach: each chunk sets `changed`.

    The bytes are not rendered here: the daemon already keeps the screen, so a
    change is the cue to ask it for agent.output. Nothing is ever written to the
    attach connection, so a viewer cannot type into the agent.
    """

    def __init__(self, socket_path: Path, agent: str, loop: asyncio.AbstractEventLoop):
        self.changed = asyncio.Event()
        self.closed = False
        self._loop = loop
        self._client = Client(socket_path)
        self._client.call("agent.attach", {"agent": agent, "redraw": False})
        threading.Thread(target=self._read, name=f"caod-attach-{agent}", daemon=True).start()

    def _read(self) -> None:
        try:
            self._client.leftover()
            while self._client.sock.recv(65536):
                self._loop.call_soon_threadsafe(self.changed.set)
        except OSError:
            pass
        self.closed = True
        try:
            self._loop.call_soon_threadsafe(self.changed.set)
        except RuntimeError:
            pass

    def stop(self) -> None:
        try:
            self._client.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._client.close()
