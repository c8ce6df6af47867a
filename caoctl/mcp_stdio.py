"""A small MCP server on stdin/stdout: the part of the protocol the bridge serves.

Newline-delimited JSON-RPC 2.0 (the MCP stdio transport): `initialize` (the version
handshake), `ping`, `tools/list` and `tools/call`, the notifications `initialized`
and `cancelled`, and empty resource and prompt lists; anything else is "method not
found". Each tool call runs in a thread
of its own, so a handoff that waits minutes does not hold up a `list_agents`; it may
send progress notifications, and a cancelled call is told to stop (the bridge hangs
up on the daemon) and gets no answer, as the spec asks.

Why not the MCP SDK: importing it (pydantic models of every protocol revision) took
about 0.5 s of the bridge's 1 s start, and every CLI starts the bridge at launch or
at its first handoff; this serves the first `tools/list` in well under 0.1 s.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import IO, Any, Callable

from caoctl.mcp_tool import Tool, ToolError

# The revisions with the initialize handshake, oldest first; a client asking for
# another gets the newest, and decides itself whether it can go on.
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
# What the bridge offered while it ran on the SDK: no resources or prompts, but the
# capabilities said and their lists answered (empty), as some CLIs ask regardless.
CAPABILITIES = {"prompts": {"listChanged": False}, "resources": {"listChanged": False, "subscribe": False},
                "tools": {"listChanged": False}}
EMPTY_LISTS = {"resources/list": "resources", "resources/templates/list": "resourceTemplates",
               "prompts/list": "prompts"}
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


class Call:
    """One running tools/call: progress for the client, and whether it was cancelled."""

    def __init__(self, server: "StdioServer", request_id: Any, progress_token: Any):
        self._server = server
        self.request_id = request_id
        self._token = progress_token
        self._lock = threading.Lock()
        self._on_cancel: Callable[[], None] | None = None
        self.cancelled = False

    def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self._token is None:
            return
        params: dict[str, Any] = {"progressToken": self._token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self._server.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    def on_cancel(self, stop: Callable[[], None] | None) -> None:
        """Run `stop` if the client cancels (at once if it already has); None forgets it."""
        with self._lock:
            self._on_cancel = stop
            run_now = stop is not None and self.cancelled
        if run_now:
            stop()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            stop = self._on_cancel
        if stop is not None:
            stop()


class StdioServer:
    def __init__(self, name: str, version: str, instructions: str, tools: list[Tool]):
        self.info = {"name": name, "version": version}
        self.instructions = instructions
        self.tools = {t.name: t for t in tools}
        self._listing = [t.listing() for t in tools]
        self._out: IO[bytes] | None = None
        self._write_lock = threading.Lock()
        self._calls: dict[Any, Call] = {}
        self._calls_lock = threading.Lock()

    # ------------------------------------------------------------ transport

    def send(self, message: dict) -> None:
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        with self._write_lock:
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, ValueError, OSError):  # the client went away: nothing to tell it
                pass

    def serve(self, stdin: IO[bytes] | None = None) -> None:
        """Answer requests until stdin closes. fd 1 is kept for MCP alone: anything else
        printed goes to stderr (a stray print must not corrupt the protocol)."""
        self._out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        source = stdin or sys.stdin.buffer
        for line in source:
            if line.strip():
                self.handle_line(line)
        with self._calls_lock:
            running = list(self._calls.values())
        for call in running:  # the client is gone: stop what it started
            call.cancel()

    def handle_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError as e:
            self.send(_error(None, PARSE_ERROR, f"parse error: {e}"))
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(
                message.get("method", ""), str):
            if isinstance(message, dict) and "method" not in message and ("result" in message or "error" in message):
                return  # an answer to a request of ours: we send none
            self.send(_error(message.get("id") if isinstance(message, dict) else None, INVALID_REQUEST,
                             "invalid request"))
            return
        method = message.get("method")
        params = message.get("params") or {}
        if "id" not in message:
            self._notification(method, params)
            return
        rid = message["id"]
        if method == "tools/call":
            self._start_call(rid, params)
            return
        try:
            result = self._answer(method, params)
        except LookupError:
            self.send(_error(rid, METHOD_NOT_FOUND, f"method not found: {method}"))
            return
        self.send({"jsonrpc": "2.0", "id": rid, "result": result})

    # ------------------------------------------------------------ methods

    def _answer(self, method: str, params: dict) -> dict:
        if method == "initialize":
            asked = params.get("protocolVersion") if isinstance(params, dict) else None
            version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[-1]
            return {"capabilities": CAPABILITIES, "instructions": self.instructions,
                    "protocolVersion": version, "serverInfo": self.info}
        if method == "ping":
            return {}
        if method == "tools/list":
            return {"tools": self._listing}
        if method in EMPTY_LISTS:
            return {EMPTY_LISTS[method]: []}
        raise LookupError(method)

    def _notification(self, method: str, params: Any) -> None:
        if method == "notifications/cancelled" and isinstance(params, dict):
            with self._calls_lock:
                call = self._calls.get(_key(params.get("requestId")))
            if call is not None:
                call.cancel()
        # notifications/initialized and any other: nothing to do

    def _start_call(self, rid: Any, params: Any) -> None:
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            self.send(_error(rid, INVALID_PARAMS, "tools/call needs a tool name"))
            return
        meta = params.get("_meta")
        call = Call(self, rid, meta.get("progressToken") if isinstance(meta, dict) else None)
        with self._calls_lock:
            self._calls[_key(rid)] = call
        threading.Thread(target=self._run_call, args=(call, params), name=f"mcp-call-{rid}", daemon=True).start()

    def _run_call(self, call: Call, params: dict) -> None:
        name = params["name"]
        tool = self.tools.get(name)
        try:
            if tool is None:
                result = _tool_error(f"Unknown tool: {name}")
            else:
                out = tool.run(call, **tool.arguments(params.get("arguments")))
                result = {"content": [{"type": "text", "text": json.dumps(out, ensure_ascii=False, indent=2)}],
                          "structuredContent": out, "isError": False}
        except ToolError as e:  # worded as the SDK did: agents' prompts and tests read this prefix
            result = _tool_error(f"Error executing tool {name}: {e}")
        except Exception as e:  # a bug of ours: the model gets one line, the bridge keeps serving
            result = _tool_error(f"caoctl mcp failed in {name}: {type(e).__name__}: {e}")
        finally:
            with self._calls_lock:
                self._calls.pop(_key(call.request_id), None)
        if not call.cancelled:
            self.send({"jsonrpc": "2.0", "id": call.request_id, "result": result})


def _key(request_id: Any) -> str:
    """Ids may be numbers or strings; 3 and "3" are different requests."""
    return f"{type(request_id).__name__}:{request_id}"


def _error(rid: Any, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def _tool_error(message: str) -> dict:
    return {"content": [{"type": "text", "text": message}], "isError": True}
