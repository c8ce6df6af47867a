"""The HTTP side: route a request to an API, record it, answer it (SSE or JSON)."""

from __future__ import annotations

import json
import re
import zlib
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import wire
from .script import (SIDE_TEXT, Fail, Reply, Request, ToolCall, estimate_tokens, fill_schema,
                     json_schema_wanted, tool_table)

if TYPE_CHECKING:
    from .server import FakeModel

_GEMINI = re.compile(r"/models/([^/:]+):([A-Za-z]+)$")


def route(method: str, path: str) -> tuple[str, str, str | None]:
    """(api, kind, model-from-path) for a request; kind "turn" is a model turn."""
    if path == "/" and method in ("GET", "HEAD"):
        return "other", "root", None
    if method == "GET" and path.rstrip("/").endswith("/models"):
        return "other", "models", None
    if method != "POST":
        return "other", "unknown", None
    if path.endswith("/messages"):
        return "anthropic", "turn", None
    if path.endswith("/messages/count_tokens"):
        return "anthropic", "count", None
    if path.endswith("/responses"):
        return "responses", "turn", None
    if path.endswith("/responses/compact"):
        return "responses", "compact", None
    if path.endswith("/chat/completions"):
        return "chat", "turn", None
    m = _GEMINI.search(path)
    if m:
        kind = {"streamGenerateContent": "turn", "generateContent": "turn",
                "countTokens": "count"}.get(m.group(2), "unknown")
        return "gemini", kind, m.group(1)
    return "other", "unknown", None


def _turn_for(req: Request) -> wire.Turn:
    """What the model says to this request (a Fail is handled before this)."""
    body = req.body if isinstance(req.body, dict) else {}
    turn = wire.Turn(model=req.model or "fake-model", input_tokens=estimate_tokens(body))
    item = req.reply
    if not req.main:
        schema = json_schema_wanted(req.api, body)
        turn.text = SIDE_TEXT if schema is None else json.dumps(
            fill_schema(schema or {"type": "object"}))
    elif isinstance(item, Reply):
        turn.text = item.text
    elif isinstance(item, ToolCall):
        declared = req.tools
        name = item.resolve(declared) or item.resolve(req.deferred_tools)
        if name is None:
            turn.text = f"(no declared tool like {item.like!r}; tools: {', '.join(declared)})"
        else:
            turn.text, turn.tool_name, turn.tool_args = item.text, name, item.args
            if req.api == "responses":  # Codex: namespaced (MCP) and freeform tools
                turn.namespace, turn.tool_name, kind = tool_table(body).get(
                    name, (None, name, "function"))
                turn.custom = kind == "custom"
    turn.output_tokens = estimate_tokens((turn.text or "") + turn.args_json)
    return turn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakemodel/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.fake._connected(self.connection, True)

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):  # the client went away: not an error here
            self.close_connection = True

    def finish(self) -> None:
        self.fake._connected(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ------------------------------------------------------------ request
    @property
    def fake(self) -> "FakeModel":
        return self.server.fake  # type: ignore[attr-defined]

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        enc = self.headers.get("Content-Encoding", "").lower()
        if enc in ("gzip", "deflate") and data:
            data = zlib.decompress(data, 47)  # 32 + 15: gzip or zlib header
        return data

    def _handle(self, method: str) -> None:
        path, _, qs = self.path.partition("?")
        try:
            raw = self._read_body()
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, zlib.error):
            body = None
        api, kind, model = route(method, path)
        if model is None and isinstance(body, dict) and isinstance(body.get("model"), str):
            model = body["model"]
        req = Request(api=api, method=method, path=path, query=dict(parse_qsl(qs)),
                      headers={k.lower(): v for k, v in self.headers.items()},
                      body=body, model=model, kind=kind)
        self.fake._arrive(req)
        try:
            self._respond(req)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    # ------------------------------------------------------------ response
    def _respond(self, req: Request) -> None:
        if req.kind == "root":
            return self._send_json(200, {"ok": True}, head=req.method == "HEAD")
        if req.kind == "models":
            return self._send_json(200, self._model_list())
        if req.kind == "count":
            n = estimate_tokens(req.body)
            key = "totalTokens" if req.api == "gemini" else "input_tokens"
            return self._send_json(200, {key: n})
        if req.kind not in ("turn", "compact"):
            return self._send_json(404, wire.error_body(
                req.api, 404, f"fakemodel: no route for {req.method} {req.path}"))
        item = req.reply
        if item is not None and item.delay > 0 and self.fake._pause(item.delay):
            self.close_connection = True
            return None
        if getattr(item, "until", None) is not None and self.fake._hold(item.until):
            self.close_connection = True
            return None
        if isinstance(item, Fail):
            return self._send_json(item.status, wire.error_body(req.api, item.status,
                                                                item.message))
        turn = _turn_for(req)
        body = req.body if isinstance(req.body, dict) else {}
        if req.api == "anthropic":
            if body.get("stream"):
                return self._send_sse(wire.anthropic_events(turn), named=True)
            return self._send_json(200, wire.anthropic_json(turn))
        if req.api == "responses":
            if body.get("stream"):
                return self._send_sse(wire.responses_events(turn), named=True)
            return self._send_json(200, wire.responses_json(turn))
        if req.api == "chat":
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return self._send_sse(wire.chat_events(turn, usage), named=False)
            return self._send_json(200, wire.chat_json(turn))
        # gemini
        if req.path.endswith(":streamGenerateContent"):
            events = wire.gemini_events(turn)
            if req.query.get("alt") == "sse":
                return self._send_sse(events, named=False)
            return self._send_json(200, [data for _, data in events])
        return self._send_json(200, wire.gemini_json(turn))

    def _model_list(self) -> dict:
        names = self.fake._known_models()
        data = [{"id": n, "object": "model", "type": "model", "display_name": n,
                 "created": 0, "created_at": "2025-01-01T00:00:00Z", "owned_by": "fakemodel",
                 "name": f"models/{n}", "displayName": n,
                 "supportedGenerationMethods": ["generateContent", "streamGenerateContent",
                                                "countTokens"]} for n in names]
        return {"object": "list", "data": data, "models": data, "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None}

    def _send_json(self, status: int, obj: Any, head: bool = False) -> None:
        raw = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("request-id", wire.new_id("req_"))
        self.end_headers()
        if not head:
            self.wfile.write(raw)
        self.wfile.flush()

    def _send_sse(self, events: wire.Events, named: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", wire.new_id("req_"))
        self.end_headers()
        for name, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            text = (f"event: {name}\n" if named and name else "") + f"data: {payload}\n\n"
            raw = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
