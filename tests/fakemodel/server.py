"""A scripted fake model server, so real agent CLIs run offline against answers a test writes.

One stdlib HTTP server on 127.0.0.1 (a free port) speaks four APIs, streamed
as SSE where the real API streams:

=============  ==========================================================  ==============
api            paths (any prefix before them is accepted)                  used by
=============  ==========================================================  ==============
"anthropic"    POST /v1/messages[?beta=true], POST /v1/messages/count_tokens  Claude Code
"responses"    POST /v1/responses, /responses (and .../responses/compact)  Codex
"chat"         POST /v1/chat/completions                                   Qwen, OpenCode
"gemini"       POST /v1beta/models/<m>:streamGenerateContent?alt=sse,      Gemini CLI
               :generateContent, :countTokens
=============  ==========================================================  ==============

plus ``HEAD /`` and ``GET /`` (200) and ``GET .../models`` (a model list
readable as OpenAI's, Anthropic's or Gemini's). Unknown paths get 404 and are
recorded too.

Scripting::

    from fakemodel.server import FakeModel, Reply, ToolCall, Fail

    with FakeModel() as fm:              # already listening; fm.url == "http://127.0.0.1:PORT"
        fm.script(Reply("PONG-42"))      # the next main request answers this text
        fm.script(ToolCall("Bash", {"command": "echo hi"}), Reply("done"))
        fm.script(ToolCall.named_like("handoff", {"agent": "w1"}))  # MCP prefix differs per CLI
        fm.script(Reply("slow", delay=2.0))      # waits 2 s before answering
        fm.script(Reply("held", until=event))    # waits until the test sets event
        fm.script(Fail(500, "overloaded"))       # HTTP 500 with the API's error body
        fm.requests                       # every Request, in arrival order (a snapshot)
        fm.main_requests(api=None)        # the main ones (optionally of one api)
        fm.wait_main_requests(2, timeout=30)   # blocks until 2 main requests arrived
        fm.last_tool_result(api=None)     # tool result text in the last main request
        fm.remaining                      # scripted items not yet used
        fm.rule(r"say (.+)", lambda m: Reply(m[1].upper()))  # keyed by the user's text

Rules serve several agents at once from one server: a main request whose
user text (after the model's last turn) matches a rule's regex is answered
by the rule (an item, or a function of the match giving one) and takes
nothing from the script. The first matching rule, in the order added, wins.

``Reply(text, delay=0.0, until=None)`` (``until``: a threading.Event the
answer waits for); ``ToolCall(name, args, delay=0.0, text=None)``
(``text`` is streamed before the call); ``ToolCall.named_like(fragment, args,
delay=0.0, text=None)``; ``Fail(status=500, message, delay=0.0)``. Each main
request takes the next item when it arrives (before its delay); with the
script empty it gets ``Reply("(no scripted reply)")``. A CLI that retries a
Fail takes the next item on its retry. A ``Request`` has ``api``
("anthropic" | "responses" | "chat" | "gemini" | "other"), ``kind`` ("turn",
"count", "compact", "models", "root", "unknown"), ``method``, ``path``,
``query``, ``headers``, ``body`` (parsed JSON), ``model``, ``main``, ``time``
(``time.monotonic()`` at arrival), ``reply`` (the item it took), and
``tools``, ``deferred_tools``, ``tool_results`` (after the model's last turn),
``user_text`` (user text after the model's last turn; OpenCode's ``run``
wraps the prompt in quotes, Claude Code and Gemini CLI prepend context).

Main or side. CLIs also send side requests (session titles, model routers,
summaries, quota checks, next-speaker checks). Those never take a script
item; they get the plain text ``"ok"`` or, when they ask for JSON, an object
filled from their schema (first enum value, "ok", integer 1, number 0,
false, []): Codex's title request gets ``{"title": "ok"}``, Gemini CLI's
router ``complexity_score: 1`` and its next-speaker check ``"user"``. A
request is **main** when it is a model turn that declares at least one tool
and does not ask for JSON output:

- anthropic: POST .../messages with ``tools`` and no JSON-schema output format;
- responses: POST .../responses with ``tools`` and no ``text.format``
  json_schema (Codex's title request has ``tools: []`` and a schema);
  .../responses/compact is always side;
- chat: POST .../chat/completions with ``tools`` and no JSON
  ``response_format`` (OpenCode's title request has no tools);
- gemini: :streamGenerateContent / :generateContent with
  ``functionDeclarations`` and no ``responseMimeType: application/json``
  (its router is a tool-less JSON :generateContent); :countTokens is side.

``FakeModel(is_main=fn)`` replaces the rule with ``fn(request) -> bool``.

Tool names. Claude Code: shell ``Bash {"command"}``, MCP
``mcp__<server>__<tool>``. Codex: ``exec_command {"cmd"}`` (add
``"sandbox_permissions": "require_escalated"`` and a ``"justification"`` to
make it ask for approval); it nests MCP tools in a Responses namespace
``mcp__<server>``, listed here as ``mcp__<server>__<tool>`` and called as
``{name: <tool>, namespace: mcp__<server>}``. Gemini CLI:
``run_shell_command {"command", "description"}``, MCP ``mcp_<server>_<tool>``.
Qwen Code: ``run_shell_command``; its MCP tools ``mcp__<server>__<tool>`` are
only named in a "Deferred Tools" list of the system prompt (``tool_search``
loads them, but a direct call works, and ``named_like`` looks there too).
OpenCode: ``bash {"command", "description"}``, MCP ``<server>_<tool>``.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import deque
from http.server import ThreadingHTTPServer
from typing import Any, Callable

from .handler import Handler
from .script import (EMPTY_TEXT, SIDE_TEXT, Fail, Item, Reply, Request, ToolCall,
                     json_schema_wanted)

__all__ = ["FakeModel", "Reply", "ToolCall", "Fail", "Request", "SIDE_TEXT", "EMPTY_TEXT"]

HOST = "127.0.0.1"


def default_is_main(req: Request) -> bool:
    """The documented main/side rule (see the module docstring)."""
    if req.kind != "turn" or not isinstance(req.body, dict):
        return False
    if json_schema_wanted(req.api, req.body) is not None:
        return False
    return bool(req.tools)


class FakeModel:
    """The server. Listens as soon as it is made; ``stop()`` (or leaving ``with``) ends it."""

    def __init__(self, *, is_main: Callable[[Request], bool] | None = None,
                 models: tuple[str, ...] = ("fake-model",), port: int = 0,
                 on_request: Callable[[Request], None] | None = None):
        """``port`` 0 takes a free one; ``on_request(req)`` is told of each request once recorded."""
        self._is_main = is_main or default_is_main
        self._on_request = on_request
        self._models = list(models)
        self._script: deque[Item] = deque()
        self._rules: list[tuple[re.Pattern[str], Item | Callable[[re.Match[str]], Item]]] = []
        self._requests: list[Request] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd = ThreadingHTTPServer((HOST, port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"fakemodel:{self.port}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ scripting
    def script(self, *items: Item) -> "FakeModel":
        """Append items; each main request takes the next one."""
        for item in items:
            if not isinstance(item, (Reply, ToolCall, Fail)):
                raise TypeError(f"not a Reply, ToolCall or Fail: {item!r}")
        with self._cond:
            self._script.extend(items)
        return self

    def rule(self, regex: str, answer: "Item | Callable[[re.Match[str]], Item]") -> "FakeModel":
        """Answer every main request whose user text matches ``regex`` with ``answer``
        (an item, or a function of the match returning one), without using the script."""
        compiled = re.compile(regex)
        if not callable(answer) and not isinstance(answer, (Reply, ToolCall, Fail)):
            raise TypeError(f"not a Reply, ToolCall, Fail or function: {answer!r}")
        with self._cond:
            self._rules.append((compiled, answer))
        return self

    def _ruled(self, req: Request) -> Item | None:
        """The answer of the first rule the request's user text matches (called with the lock held)."""
        if not self._rules:
            return None
        text = req.user_text
        for regex, answer in self._rules:
            m = regex.search(text)
            if m:
                return answer(m) if callable(answer) else answer
        return None

    @property
    def remaining(self) -> int:
        """How many scripted items no request has taken yet."""
        with self._cond:
            return len(self._script)

    @property
    def requests(self) -> list[Request]:
        """A snapshot of every request received, in arrival order."""
        with self._cond:
            return list(self._requests)

    def main_requests(self, api: str | None = None) -> list[Request]:
        """The requests that took a script item (of ``api`` if given)."""
        with self._cond:
            return [r for r in self._requests if r.main and api in (None, r.api)]

    def wait_main_requests(self, n: int, timeout: float = 30.0,
                           api: str | None = None) -> list[Request]:
        """Block until at least ``n`` main requests arrived; return them all.

        Raises TimeoutError (listing what did arrive) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._requests if r.main and api in (None, r.api)]
                left = deadline - time.monotonic()
                if len(got) >= n or left <= 0:
                    break
                self._cond.wait(left)
        if len(got) < n:
            seen = ", ".join(f"{r.method} {r.path} {r.api}{'*' if r.main else ''}"
                             for r in self.requests) or "nothing"
            raise TimeoutError(f"{len(got)}/{n} main requests after {timeout}s; seen: {seen}")
        return got

    def last_tool_result(self, api: str | None = None) -> str | None:
        """The last tool result text in the last main request (None if it carries none)."""
        reqs = self.main_requests(api)
        if not reqs:
            return None
        results = reqs[-1].tool_results
        return results[-1] if results else None

    # ------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        """Stop listening, cut pending delays short; idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._cond:  # kept-alive connections would otherwise still be served
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self) -> "FakeModel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<FakeModel {self.url} requests={len(self._requests)} left={self.remaining}>"

    # ------------------------------------------------------------ used by the handler
    def _connected(self, conn: socket.socket, alive: bool) -> None:
        with self._cond:
            (self._conns.add if alive else self._conns.discard)(conn)

    def _pause(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the server is stopping meanwhile."""
        return self._stopping.wait(seconds)

    def _hold(self, until: threading.Event) -> bool:
        """Wait until ``until`` is set; True if the server is stopping first."""
        while not until.wait(0.05):  # two events to wait on: look at the other now and then
            if self._stopping.is_set():
                return True
        return self._stopping.is_set()

    def _arrive(self, req: Request) -> None:
        """Classify, take a script item if main, record, wake waiters."""
        try:
            main = bool(self._is_main(req))
        except Exception:  # a broken custom rule should not kill the request
            main = False
        with self._cond:
            req.main = main
            if main:
                ruled = self._ruled(req)
                if ruled is not None:
                    req.reply = ruled
                else:
                    req.reply = self._script.popleft() if self._script else Reply(EMPTY_TEXT)
            self._requests.append(req)
            self._cond.notify_all()
        if self._on_request is not None:
            self._on_request(req)

    def _known_models(self) -> list[str]:
        names = list(self._models)
        for r in self.requests:
            if r.model and r.model not in names:
                names.append(r.model)
        return names
