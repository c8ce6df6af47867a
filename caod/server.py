"""The Unix socket: peer checks, NDJSON framing, concurrent requests, upgrades."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from typing import TYPE_CHECKING, Any

import msgspec

from caod.logs import log
from caod.protocol import EVENT_NOTIFICATION, MAX_FRAME, ErrorCode, Event, Notification, Response, encode_line
from caod.rpc import Call, Context, Dispatcher, error_response

if TYPE_CHECKING:
    from caod.daemon import Daemon

READ_SIZE = 65536
# How long a refused peer has to send its request and read the refusal.
REFUSAL_LINGER_S = 2.0
# A subscriber this far behind is cut off instead of buffering without bound.
NOTIFY_BUFFER_LIMIT = 8 << 20


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
        self._subscriptions: list[int] = []

    # ------------------------------------------------------------ writing

    def send(self, msg: Any) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_line(msg))

    def push_event(self, event: Event) -> None:
        if self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > NOTIFY_BUFFER_LIMIT:
            log.warning("dropping a slow subscriber")
            self.writer.close()
            return
        self.send(Notification(EVENT_NOTIFICATION, event))

    def subscribe(self, agent: str | None, replay: int) -> None:
        self._subscriptions.append(self.daemon.bus.subscribe(self.push_event, agent, replay))

    # ------------------------------------------------------------ reading

    async def serve(self) -> None:
        buf = bytearray()
        discarding = False  # skipping the rest of an oversize frame
        try:
            while True:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    return
                buf += data
                while True:
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
                    upgrade = await self._handle_line(line)
                    if upgrade is not None:
                        await upgrade(self.reader, self.writer, bytes(buf))
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            await self._close()

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
        task.add_done_callback(self._tasks.discard)

    def _reply(self, response: Response | None, ctx: Context) -> None:
        if response is not None:
            self.send(response)
        for fn in ctx.after_reply:
            fn()

    async def _run_one(self, call: Call) -> None:
        ctx = Context(self.daemon, self)
        self._reply(await self.daemon.dispatcher.run(call, ctx), ctx)

    async def _run_batch(self, items: list[msgspec.Raw]) -> None:
        if not items:
            self.send(error_response(None, ErrorCode.INVALID_REQUEST, "invalid request: empty batch"))
            return
        ctx = Context(self.daemon, self)
        out: list[Response] = []
        for item in items:
            call = self.daemon.dispatcher.parse_object(item)
            if call is None:
                continue
            if isinstance(call, Response):
                out.append(call)
            elif call.method == "agent.attach":
                out.append(error_response(call.id, ErrorCode.INVALID_REQUEST, "agent.attach cannot be batched"))
            else:
                response = await self.daemon.dispatcher.run(call, ctx)
                if response is not None:
                    out.append(response)
        if out:
            self.send(out)
        for fn in ctx.after_reply:
            fn()

    async def _close(self) -> None:
        for token in self._subscriptions:
            self.daemon.bus.unsubscribe(token)
        for task in list(self._tasks):
            task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class Server:
    def __init__(self, daemon: "Daemon"):
        self.daemon = daemon
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

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
            await Connection(self.daemon, reader, writer).serve()
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
