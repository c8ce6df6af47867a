"""MCP client side of the scripted agent: ``--mcp-config`` and ``mcp_call``.

The agent starts the servers of its MCP config the way a real CLI does: each
one is a subprocess spoken to over stdio by the MCP SDK's client (initialize
handshake, then ``tools/call``).  A server is started on its first call and
kept running, with its session open, for the agent's lifetime.

The SDK is async and heavy to import, while the agent is a synchronous
select() loop that must keep its spinner turning.  So :class:`McpHub` runs an
asyncio event loop in a background thread, imports the SDK there on the first
call, and hands results back through a queue, writing a byte to its own pipe
(:attr:`McpHub.fd`, which the agent's select() watches) when one is ready.

Nothing here may write to the terminal: the servers' stderr and the SDK's
logs go to ``$CAO_SCRIPTED_MCP_LOG`` (appended) or nowhere.
"""

from __future__ import annotations

import collections
import json
import os
import threading

# asyncio and logging are imported where they are needed: an agent that never
# makes an MCP call does not pay for them at start-up.

LOG_ENV = "CAO_SCRIPTED_MCP_LOG"
CLOSE_TIMEOUT = 5.0            # seconds to stop every server on exit


class McpConfigError(ValueError):
    """An MCP config that cannot be used; the message is one line."""


class McpUnavailable(Exception):
    """A call that cannot even start (unknown server, not a stdio server)."""


class ServerSpec:
    __slots__ = ("name", "command", "args", "env", "url")

    def __init__(self, name, command=None, args=(), env=None, url=None):
        self.name = name
        self.command = command
        self.args = list(args)
        self.env = dict(env or {})
        self.url = url


def parse_config(text, source="the MCP config"):
    """``{"mcpServers": {name: {command, args?, env?} | {url, ...}}}`` -> {name: ServerSpec}.

    Unknown keys in a server entry are ignored, as real CLIs do; servers with
    only a ``url`` are kept (a call to them fails: stdio only here)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise McpConfigError(f"{source}: invalid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("mcpServers"), dict):
        raise McpConfigError(f"{source}: expected an object with \"mcpServers\": {{name: {{command, args, env}}}}")
    servers = {}
    for name, entry in doc["mcpServers"].items():
        where = f"{source}: server {name!r}"
        if not isinstance(entry, dict):
            raise McpConfigError(f"{where}: expected an object")
        command, url = entry.get("command"), entry.get("url")
        if command is None and url is None:
            raise McpConfigError(f"{where}: needs a \"command\"")
        if command is not None and (not isinstance(command, str) or not command):
            raise McpConfigError(f"{where}: \"command\" must be a non-empty string")
        args = entry.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise McpConfigError(f"{where}: \"args\" must be a list of strings")
        env = entry.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise McpConfigError(f"{where}: \"env\" must map names to strings")
        servers[name] = ServerSpec(name, command, args, env, url)
    return servers


def load_config(path):
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise McpConfigError(f"cannot read {path!r}: {exc}") from None
    return parse_config(text, path)


# -- results ------------------------------------------------------------------

def outcome_from_result(result):
    """Template fields from a CallToolResult: result, result_json, error."""
    parts = []
    for block in result.content or []:
        kind = getattr(block, "type", None)
        parts.append(block.text if kind == "text" else f"[{kind}]")
    raw = "\n".join(parts)
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        raw = json.dumps(structured, ensure_ascii=False)
    if result.is_error:
        return {"result": "", "result_json": raw, "error": raw or "the tool failed"}
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = structured
    text = raw
    if isinstance(doc, dict) and "output" in doc:
        output = doc["output"]
        text = "" if output is None else output if isinstance(output, str) else json.dumps(output)
    return {"result": text, "result_json": raw, "error": ""}


def error_outcome(message):
    return {"result": "", "result_json": "", "error": message}


def describe(exc):
    """One line for an exception, looking inside exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    if isinstance(exc, TimeoutError):
        return f"timed out{': ' + text if text else ''}"
    return text or type(exc).__name__


CONNECTION_CLOSED = -32000          # MCP's JSON-RPC code for a transport that went away
REQUEST_TIMEOUT = -32001


def _connection_lost(exc):
    """Whether a failed call means the server's session is gone (not a timeout or a refusal)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    code = getattr(exc, "code", None)
    if isinstance(code, int):             # an MCPError: only a closed connection is fatal
        return code == CONNECTION_CLOSED
    return not isinstance(exc, TimeoutError)


# -- the hub --------------------------------------------------------------------

class _Session:
    """One running server: its SDK client, and the event that ends it."""

    def __init__(self):
        import asyncio

        self.ready = asyncio.get_running_loop().create_future()    # -> the SDK client
        self.stop = asyncio.Event()
        self.task = None


class McpHub:
    """The agent's MCP servers, called from the select() loop without blocking it.

    :meth:`start_call` returns a job id at once; later :meth:`take` yields
    ``("result", job, fields)`` and ``("progress", job, message)`` items."""

    def __init__(self, servers=None, cwd=None):
        self.servers = dict(servers or {})
        self.cwd = cwd
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._items = collections.deque()
        self._loop = None
        self._thread = None
        self._sessions = {}            # name -> _Session (touched in the loop thread only)
        self._futures = {}             # job -> concurrent.futures.Future
        self._next_job = 0
        self._closed = False
        self._errlog = None

    @property
    def fd(self):
        """Readable when items are waiting in :meth:`take`."""
        return self._read_fd

    # -- main thread --

    def start_call(self, server, tool, args, timeout=None):
        spec = self.servers.get(server)
        if spec is None:
            if not self.servers:
                raise McpUnavailable(f"no MCP server {server!r}: the agent was started without --mcp-config")
            raise McpUnavailable(f"no MCP server {server!r} in the MCP config (known: {', '.join(self.servers)})")
        if spec.command is None:
            raise McpUnavailable(f"MCP server {server!r} has no command: only stdio servers are supported")
        import asyncio

        self._start_loop()
        self._next_job += 1
        job = self._next_job
        self._futures[job] = asyncio.run_coroutine_threadsafe(self._call(job, spec, tool, args, timeout), self._loop)
        return job

    def cancel(self, job):
        future = self._futures.pop(job, None)
        if future is not None:
            future.cancel()

    def take(self):
        """Items that arrived since the last call (drains the wake pipe)."""
        try:
            while os.read(self._read_fd, 512):
                pass
        except (BlockingIOError, OSError):
            pass
        items = []
        while self._items:
            item = self._items.popleft()
            if item[0] == "result":
                self._futures.pop(item[1], None)
            items.append(item)
        return items

    def close(self, timeout=CLOSE_TIMEOUT):
        """Stop every server (stdin closed, then SIGTERM/SIGKILL by the SDK)."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None:
            import asyncio

            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(1.0)
        if self._errlog is not None and (self._thread is None or not self._thread.is_alive()):
            self._errlog.close()

    # -- loop thread --

    def _start_loop(self):
        import asyncio

        if self._loop is not None:
            return
        try:
            self._errlog = open(os.environ.get(LOG_ENV) or os.devnull, "a", encoding="utf-8")
        except OSError:
            self._errlog = open(os.devnull, "a", encoding="utf-8")
        self._quiet_logging()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="scripted-mcp", daemon=True)
        self._thread.start()

    def _quiet_logging(self):
        """SDK logs and warnings go to the MCP log, never to the terminal."""
        import logging

        handler = logging.StreamHandler(self._errlog)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name in ("mcp", "mcp_types", "py.warnings", "asyncio"):
            log = logging.getLogger(name)
            log.addHandler(handler)
            log.propagate = False
        logging.captureWarnings(True)

    def _post(self, item):
        if self._closed:
            return
        self._items.append(item)
        try:
            os.write(self._write_fd, b"m")
        except (BlockingIOError, OSError):
            pass

    async def _client(self, spec):
        """The running session of `spec`, started on first use."""
        import asyncio

        session = self._sessions.get(spec.name)
        if session is None:
            session = self._sessions[spec.name] = _Session()
            session.task = asyncio.create_task(self._run_session(spec, session))
        return await asyncio.shield(session.ready)

    async def _run_session(self, spec, session):
        """Hold one server's client open until it is stopped (in this one task)."""
        import asyncio

        try:
            from mcp import Client, StdioServerParameters
            from mcp.client.stdio import stdio_client
            from mcp.types import Implementation

            params = StdioServerParameters(command=spec.command, args=spec.args, env={**os.environ, **spec.env},
                                           cwd=self.cwd)
            info = Implementation(name="scripted-agent", version="1.0")
            async with Client(stdio_client(params, errlog=self._errlog), mode="legacy", client_info=info) as client:
                session.ready.set_result(client)
                await session.stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting call
            if not session.ready.done():
                session.ready.set_exception(Exception(f"cannot start MCP server {spec.name!r}: {describe(exc)}"))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if self._sessions.get(spec.name) is session:
                del self._sessions[spec.name]

    async def _call(self, job, spec, tool, args, timeout):
        import asyncio

        async def progress(value, total, message):
            if message:
                self._post(("progress", job, message))

        try:
            client = await self._client(spec)
            result = await client.call_tool(tool, args, read_timeout_seconds=timeout, progress_callback=progress)
            fields = outcome_from_result(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the rule's reply_error shows it
            fields = error_outcome(describe(exc))
            session = self._sessions.get(spec.name)
            if session is not None and session.ready.done() and _connection_lost(exc):
                del self._sessions[spec.name]    # the next call starts the server again
                session.stop.set()
        self._post(("result", job, fields))

    async def _shutdown(self):
        import asyncio

        for future in list(self._futures.values()):
            future.cancel()
        sessions = list(self._sessions.values())
        for session in sessions:
            session.stop.set()
        tasks = [s.task for s in sessions if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT - 0.5)
