"""The Unix socket: peer checks, NDJSON framing, concurrent requests, upgrades.

Every connection is bounded: at most MAX_IN_FLIGHT calls run at once (past it
no more requests are read until one ends), and at most OUTPUT_LIMIT bytes wait
for a client that does not read (past it the connection is dropped).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

import msgspec

from caod.hangup import HangupWatch
from caod.logs import log
from caod.protocol import EVENT_NOTIFICATION, MAX_FRAME, ErrorCode, Event, Notification, Response, encode_line, encoder
from caod.rpc import Call, Context, Dispatcher, error_response

if TYPE_CHECKING:
    from caod.daemon import Daemon

READ_SIZE = 65536
# Calls one connection may have running at once. Past it we read no more of its
# requests until one ends (back-pressure): a client that pipelines and reads its
# replies goes on at the pace they are answered; its writes wait in its kernel
# buffer. A batch counts as one call and holds at most this many.
MAX_IN_FLIGHT = 256
# Bytes of replies and events queued for a client that does not read them. Past
# it the connection is dropped. Checked before each write, so one large reply
# still goes to a client that reads.
OUTPUT_LIMIT = 8 << 20
EVENT_BATCH_S = 0.002
# How long a closing connection may take to hand its queued output to the client.
FLUSH_TIMEOUT_S = 2.0
# How long a refused peer has to send its request and read the refusal.
REFUSAL_LINGER_S = 2.0
# Calls that only wait for something to happen (a status, the end of a turn):
# once their connection is gone nobody is left to tell, so they are cancelled.
# Every other call runs to its end, so work it began (a message stored, a kill,
# a launch) is never left half done because a client went away.
WAITING_METHODS = frozenset({"agent.wait", "agent.send", "session.send", "orch.handoff"})


def peer_uid(sock: socket.socket) -> int | None:
    """The connecting process's uid, from the kernel (never from the client)."""
    if hasattr(socket, "SO_PEERCRED"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", raw)[1]
    if sys.platform == "darwin":  # LOCAL_PEERCRED gives a struct xucred
        raw = sock.getsockopt(0, 0x001, struct.calcsize("Ih16i"))
        return struct.unpack("Ih16i", raw)[2]
    return None


class Connection:
    def __init__(self, daemon: "Daemon", reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.daemon = daemon
        self.reader = reader
        self.writer = writer
        self._tasks: set[asyncio.Task] = set()
        self._waiting: set[asyncio.Task] = set()  # tasks inside a WAITING_METHODS call
        self._room = asyncio.Event()  # set when a call ends or the connection goes
        self._subscriptions: list[int] = []
        self._events: list[bytes] = []  # event lines not yet written (see push_event)
        self._events_since = 0.0

    @property
    def calls(self) -> int:
        """Calls of this connection still running."""
        return len(self._tasks)

    # ------------------------------------------------------------ writing

    def send(self, msg: Any) -> None:
        self._write(encode_line(msg))

    def _write(self, data: bytes) -> None:
        if self._events:  # events published before this reply go out before it
            self._flush_events()
        self._put(data)

    def _put(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        queued = self.writer.transport.get_write_buffer_size()
        if queued > OUTPUT_LIMIT:
            log.warning("dropped a client that does not read its replies", queued_bytes=queued, limit=OUTPUT_LIMIT)
            self.drop()
            return
        self.writer.write(data)

    def drop(self) -> None:
        """Close at once, discarding queued output (close() would first wait for a
        client that may never read it)."""
        self._events.clear()
        self.writer.transport.abort()
        self._room.set()

    def push_event(self, event: Event) -> None:
        """Events of one loop pass go out in one write: when many agents change at once
        (a burst of turns ending), one send per event was a syscall each. An event waits
        at most EVENT_BATCH_S behind others of the same pass."""
        now = time.monotonic()
        if not self._events:
            self._events_since = now
            asyncio.get_running_loop().call_soon(self._flush_events)
        self._events.append(encode_line(Notification(EVENT_NOTIFICATION, event)))
        if now - self._events_since >= EVENT_BATCH_S:
            self._flush_events()

    def _flush_events(self) -> None:
        if self._events:
            data = b"".join(self._events)
            self._events.clear()
            self._put(data)

    def subscribe(self, agent: str | None, replay: int) -> None:
        self._subscriptions.append(self.daemon.bus.subscribe(self.push_event, agent, replay))

    # ------------------------------------------------------------ reading

    async def serve(self) -> None:
        buf = bytearray()
        discarding = False  # skipping the rest of an oversize frame
        try:
            while not self.writer.is_closing():  # closing: dropped by us, or gone
                data = await self.reader.read(READ_SIZE)
                if not data:
                    if HangupWatch.supported:  # a client that only shut its writing side still reads
                        await self._wait_while(lambda: bool(self._tasks))
                    return
                buf += data
                while not self.writer.is_closing():
                    nl = buf.find(b"\n")
                    if nl < 0:
                        if len(buf) > MAX_FRAME:
                            if not discarding:
                                self._refuse_oversize()
                            discarding = True
                            buf.clear()
                        break
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    if discarding:
                        discarding = False
                        continue
                    if len(line) > MAX_FRAME:
                        self._refuse_oversize()
                        continue
                    if not line.strip():
                        continue
                    await self._wait_for_room()
                    if self.writer.is_closing():
                        return
                    upgrade = await self._handle_line(line)
                    if upgrade is not None:
                        await upgrade(self.reader, self.writer, bytes(buf))
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            await self._close()

    async def _wait_for_room(self) -> None:
        """Back-pressure: with MAX_IN_FLIGHT calls running, wait until one ends."""
        await self._wait_while(lambda: len(self._tasks) >= MAX_IN_FLIGHT)

    async def _wait_while(self, busy: Callable[[], bool]) -> None:
        """Wait while `busy()`, woken as calls end. The socket is not read meanwhile,
        so a client that hangs up is watched for apart (its waiting calls are cancelled)."""
        sock = self.writer.get_extra_info("socket")
        if not busy() or self.writer.is_closing() or sock is None or sock.fileno() < 0:
            return
        watch = HangupWatch(sock.fileno(), self._on_hangup)
        try:
            while busy() and not self.writer.is_closing():
                self._room.clear()
                await self._room.wait()
        finally:
            watch.close()

    def _on_hangup(self) -> None:
        log.info("a client hung up with calls running", calls=len(self._tasks))
        self.drop()

    def _refuse_oversize(self) -> None:
        self.send(error_response(None, ErrorCode.INVALID_REQUEST, f"frame too large (limit {MAX_FRAME} bytes)"))

    async def _handle_line(self, line: bytes):
        """Run one frame. Returns an upgrade coroutine function for agent.attach."""
        dispatcher: Dispatcher = self.daemon.dispatcher
        try:
            if line.lstrip()[:1] == b"[":
                self._spawn(self._run_batch(msgspec.json.decode(line, type=list[msgspec.Raw])))
                return None
            parsed = msgspec.json.decode(line, type=msgspec.Raw)
        except msgspec.DecodeError as e:  # any JSON value decodes as Raw: this is bad JSON
            self.send(error_response(None, ErrorCode.PARSE_ERROR, f"parse error: {e}"))
            return None
        except RecursionError:  # msgspec's depth limit is the interpreter's: about 1,000 levels
            self.send(error_response(None, ErrorCode.PARSE_ERROR, "parse error: JSON nested too deeply"))
            return None
        call = dispatcher.parse_object(parsed)
        if call is None:  # a notification that cannot run: no reply
            return None
        if isinstance(call, Response):
            self.send(call)
            return None
        if call.method == "agent.attach":  # runs inline: it may take the connection over
            ctx = Context(self.daemon, self)
            response = await dispatcher.run(call, ctx)
            self._reply(response, ctx)
            if ctx.upgrade is not None and response is not None and response.error is msgspec.UNSET:
                return ctx.upgrade
            return None
        self._spawn(self._run_one(call))
        return None

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._call_ended)

    def _call_ended(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._room.set()

    async def _run(self, call: Call, ctx: Context) -> Response | None:
        task = asyncio.current_task()
        waits = call.method in WAITING_METHODS and task is not None
        if waits:
            self._waiting.add(task)
        try:
            return await self.daemon.dispatcher.run(call, ctx)
        finally:
            if waits:
                self._waiting.discard(task)

    def _reply(self, response: Response | None, ctx: Context) -> None:
        if response is not None:
            self.send(response)
        for fn in ctx.after_reply:
            fn()

    async def _run_one(self, call: Call) -> None:
        ctx = Context(self.daemon, self)
        self._reply(await self._run(call, ctx), ctx)

    async def _run_batch(self, items: list[msgspec.Raw]) -> None:
        if not items:
            self.send(error_response(None, ErrorCode.INVALID_REQUEST, "invalid request: empty batch"))
            return
        if len(items) > MAX_IN_FLIGHT:
            self.send(error_response(None, ErrorCode.INVALID_REQUEST,
                                     f"invalid request: a batch of {len(items)} calls (limit {MAX_IN_FLIGHT})"))
            return
        ctx = Context(self.daemon, self)
        out: list[bytes] = []  # encoded as they come, so their size is known
        size = 0
        for item in items:
            call = self.daemon.dispatcher.parse_object(item)
            if call is None:
                continue
            if isinstance(call, Response):
                response: Response | None = call
            elif call.method == "agent.attach":
                response = error_response(call.id, ErrorCode.INVALID_REQUEST, "agent.attach cannot be batched")
            else:
                response = await self._run(call, ctx)
            if response is not None:
                out.append(encoder.encode(response))
                size += len(out[-1])
                if size > OUTPUT_LIMIT:
                    log.warning("dropped a client whose batch replies exceed the output limit", limit=OUTPUT_LIMIT)
                    self.drop()
                    return
        if out:
            self._write(b"[" + b",".join(out) + b"]\n")
        for fn in ctx.after_reply:
            fn()

    async def _close(self) -> None:
        for token in self._subscriptions:
            self.daemon.bus.unsubscribe(token)
        for task in list(self._waiting):
            task.cancel()
        self._flush_events()
        self.writer.close()  # sends what is queued first: a client that reads gets it all
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await self.writer.wait_closed()
        except TimeoutError:  # it does not read: waiting longer would hold the connection (and a shutdown)
            self.drop()
        except OSError:
            pass
        except asyncio.CancelledError:
            self.drop()
            raise


class Server:
    def __init__(self, daemon: "Daemon"):
        self.daemon = daemon
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()
        self.open: set[Connection] = set()  # the connections being served (daemon.status)

    async def start(self, path: str | None = None, sock: socket.socket | None = None) -> None:
        if sock is not None:
            self._server = await asyncio.start_unix_server(self._on_client, sock=sock, limit=READ_SIZE)
            return
        old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            self._server = await asyncio.start_unix_server(self._on_client, path=path, limit=READ_SIZE)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid != os.getuid():
                await _refuse(reader, writer, uid)
                return
            conn = Connection(self.daemon, reader, writer)
            self.open.add(conn)
            try:
                await conn.serve()
            finally:
                self.open.discard(conn)
        except asyncio.CancelledError:
            # close() cancels us at shutdown. Ending cancelled would make
            # asyncio's stream callback log a traceback (Python 3.11).
            pass
        finally:
            if task is not None:
                self._connections.discard(task)

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    async def close(self) -> None:
        """Drop every connection. Done last at shutdown, so a client waiting for
        EOF (caoctl daemon stop) knows the daemon has finished its work."""
        self.stop_listening()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uid: int | None) -> None:
    """Tell a peer of another user why, then close without resetting it."""
    log.warning("refused a connection from another user", peer_uid=uid)
    writer.write(encode_line(error_response(
        None, ErrorCode.PERMISSION_DENIED, "permission denied: this daemon serves only its own user")))
    try:
        writer.write_eof()  # the line, then end of file
        # Read (and discard) what it sends until it closes: closing with its
        # request unread would reset the connection, and a client that is told
        # ECONNRESET may never read the line.
        async with asyncio.timeout(REFUSAL_LINGER_S):
            while await reader.read(READ_SIZE):
                pass
    except OSError:  # it took too long, or went
        pass
    finally:
        writer.close()
