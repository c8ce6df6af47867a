"""What a test scripts (Reply, ToolCall, Fail) and what the server records (Request).

Also the request readers shared by the four wire formats: which tools a
request declares, which tool results and user text it carries, and whether it
asks for a JSON answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SIDE_TEXT = "ok"
"""Plain text for side requests (titles, routers, summaries): never a scripted answer."""

EMPTY_TEXT = "(no scripted reply)"
"""Text for a main request that arrives when the script is empty."""


@dataclass(frozen=True)
class Reply:
    """Answer the next main request with ``text`` (streamed in a few deltas).

    ``until``, if given, holds the answer (after ``delay``) until the test sets that
    event, so the CLI stays busy exactly as long as a test needs it busy.
    """

    text: str
    delay: float = 0.0
    until: threading.Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ToolCall:
    """Answer the next main request with one call of tool ``name`` with ``args``.

    ``args`` is normally a dict (sent as the JSON arguments); a str is sent
    as-is (raw JSON arguments, or the input of a Codex freeform tool such as
    ``apply_patch``). ``text``, if given, is streamed as assistant text
    before the call. Use :meth:`named_like` when the exact name depends on
    the CLI (MCP prefixes).
    """

    name: str | None
    args: Any = field(default_factory=dict)
    delay: float = 0.0
    text: str | None = None
    like: str | None = None

    @classmethod
    def named_like(cls, fragment: str, args: Any = None, *, delay: float = 0.0,
                   text: str | None = None) -> "ToolCall":
        """A call of the declared tool whose name ends with (else contains) ``fragment``.

        Chosen when the request arrives, from the tools that request declares
        (then, failing those, its deferred tools): an exact (case-insensitive)
        match first, then a name ending with the fragment, then one containing
        it. With no such tool the request is answered with text naming the
        fragment and the declared tools.
        """
        return cls(None, {} if args is None else args, delay, text, fragment)

    def resolve(self, declared: list[str]) -> str | None:
        """The tool name to call, given the names a request declared."""
        if self.like is None:
            return self.name
        frag = self.like.lower()
        for test in (lambda n: n == frag, lambda n: n.endswith(frag), lambda n: frag in n):
            for name in declared:
                if test(name.lower()):
                    return name
        return None


@dataclass(frozen=True)
class Fail:
    """Answer the next main request with HTTP ``status`` and an error body in the API's shape.

    CLIs retry some statuses (429, 500, 529...): each retry is a new main
    request and takes the next scripted item.
    """

    status: int = 500
    message: str = "scripted failure"
    delay: float = 0.0


Item = Reply | ToolCall | Fail


@dataclass
class Request:
    """One HTTP request the server received.

    ``api`` is "anthropic", "responses", "chat", "gemini" or "other" (HEAD /,
    model lists, unknown paths); ``body`` the parsed JSON (None if there was
    none or it did not parse); ``main`` whether it took an item from the
    script; ``time`` is ``time.monotonic()`` at arrival; ``reply`` the item
    it was answered with (None for side and non-model requests).
    """

    api: str
    method: str
    path: str
    query: dict[str, str] = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    body: Any = field(repr=False)
    model: str | None = None
    kind: str = "other"
    main: bool = False
    time: float = field(default_factory=time.monotonic)
    reply: Item | None = None

    @property
    def tools(self) -> list[str]:
        """Names of the tools this request declares."""
        return declared_tools(self.body)

    @property
    def deferred_tools(self) -> list[str]:
        """Tools named only in the system prompt, callable without a schema (see deferred_tools)."""
        return deferred_tools(self.api, self.body)

    @property
    def tool_results(self) -> list[str]:
        """Texts of the tool results sent after the model's last turn in this request."""
        return tool_results(self.api, self.body)

    @property
    def user_text(self) -> str:
        """Text of the user messages after the model's last turn (tool results excluded)."""
        return user_text(self.api, self.body)


# ---------------------------------------------------------------- readers

def tool_table(body: Any) -> dict[str, tuple[str | None, str, str]]:
    """Declared tools: qualified name -> (namespace, name, type), in declaration order.

    Shapes: Anthropic ``{name}``, Responses ``{type, name}`` (Codex also nests
    tools in ``{type: "namespace", name, tools}``, e.g. its MCP tools in
    namespace ``mcp__<server>``: those are qualified ``<namespace>__<name>``),
    Chat ``{type: "function", function: {name}}``, Gemini
    ``{functionDeclarations: [{name}]}``.
    """
    table: dict[str, tuple[str | None, str, str]] = {}
    tools = body.get("tools") if isinstance(body, dict) else None
    for t in tools if isinstance(tools, list) else []:
        if not isinstance(t, dict):
            continue
        if isinstance(t.get("functionDeclarations"), list):
            for d in t["functionDeclarations"]:
                if isinstance(d, dict) and isinstance(d.get("name"), str):
                    table[d["name"]] = (None, d["name"], "function")
        elif isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str):
            table[t["function"]["name"]] = (None, t["function"]["name"], "function")
        elif isinstance(t.get("tools"), list) and isinstance(t.get("name"), str):
            for c in t["tools"]:
                if isinstance(c, dict) and isinstance(c.get("name"), str):
                    table[f"{t['name']}__{c['name']}"] = (t["name"], c["name"],
                                                          str(c.get("type", "function")))
        elif isinstance(t.get("name"), str):
            table[t["name"]] = (None, t["name"], str(t.get("type", "function")))
    return table


def declared_tools(body: Any) -> list[str]:
    """Names of the tools a request declares (namespaced ones qualified, see tool_table)."""
    return list(tool_table(body))


_DEFERRED = re.compile(r'^- "([\w.:-]+)":', re.M)


def deferred_tools(api: str, body: Any) -> list[str]:
    """Tool names listed after a "Deferred Tools" heading in the system prompt.

    Qwen Code (0.15) declares MCP tools that way (``- "mcp__caod__echo": ...``)
    behind a ``tool_search`` tool; calling such a name directly works.
    """
    if not isinstance(body, dict):
        return []
    if api == "gemini":
        system = _text_of((body.get("systemInstruction") or {}).get("parts"))
    elif api == "responses":
        system = str(body.get("instructions") or "") + _text_of(
            [m.get("content") for m in _messages(api, body) if m.get("role") == "developer"])
    elif api == "anthropic":
        system = _text_of(body.get("system"))
    else:
        system = _text_of([m.get("content") for m in _messages(api, body)
                           if m.get("role") == "system"])
    _, found, tail = system.partition("Deferred Tools")
    return _DEFERRED.findall(tail) if found else []


def _text_of(content: Any) -> str:
    """Text of a content value: a string, or a list of text-bearing parts/blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return content["text"]
        return _text_of(content.get("content"))
    if isinstance(content, list):
        return "\n".join(t for t in (_text_of(c) for c in content) if t)
    return str(content)


def _trailing(seq: list, is_model_turn) -> list:
    """Items after the last one that is a model turn."""
    for i in range(len(seq) - 1, -1, -1):
        if is_model_turn(seq[i]):
            return seq[i + 1:]
    return seq


def _messages(api: str, body: Any) -> list:
    if not isinstance(body, dict):
        return []
    key = {"anthropic": "messages", "chat": "messages", "responses": "input",
           "gemini": "contents"}.get(api)
    value = body.get(key) if key else None
    if isinstance(value, str):  # Responses: input may be a plain string
        return [{"role": "user", "content": value}]
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _is_model_turn(api: str, m: dict) -> bool:
    if api == "gemini":
        return m.get("role") == "model"
    if api == "responses":
        return m.get("role") == "assistant" or m.get("type") in (
            "function_call", "custom_tool_call", "reasoning", "local_shell_call")
    return m.get("role") == "assistant"


def tool_results(api: str, body: Any) -> list[str]:
    """Tool result texts sent after the model's last turn, oldest first."""
    msgs = _messages(api, body)
    out: list[str] = []
    for m in _trailing(msgs, lambda m: _is_model_turn(api, m)):
        if api == "anthropic" and isinstance(m.get("content"), list):
            out += [_text_of(b.get("content")) for b in m["content"]
                    if isinstance(b, dict) and b.get("type") == "tool_result"]
        elif api == "responses" and str(m.get("type", "")).endswith("_call_output"):
            out.append(_text_of(m.get("output")))
        elif api == "chat" and m.get("role") == "tool":
            out.append(_text_of(m.get("content")))
        elif api == "gemini":
            for p in m.get("parts") or []:
                fr = p.get("functionResponse") if isinstance(p, dict) else None
                if isinstance(fr, dict):
                    resp = fr.get("response")
                    if isinstance(resp, dict) and isinstance(resp.get("output"), str):
                        out.append(resp["output"])
                    else:
                        out.append(json.dumps(resp))
    return out


def user_text(api: str, body: Any) -> str:
    """Text of the user messages after the model's last turn."""
    parts: list[str] = []
    for m in _trailing(_messages(api, body), lambda m: _is_model_turn(api, m)):
        if m.get("role") != "user":
            continue
        if api == "gemini":
            parts += [p["text"] for p in m.get("parts") or []
                      if isinstance(p, dict) and isinstance(p.get("text"), str)]
        elif isinstance(m.get("content"), list):
            parts += [_text_of(b) for b in m["content"] if isinstance(b, dict)
                      and b.get("type") in ("text", "input_text")]
        else:
            parts.append(_text_of(m.get("content")))
    return "\n".join(p for p in parts if p)


def json_schema_wanted(api: str, body: Any) -> dict | None:
    """The JSON schema (or {}) if the request asks for a JSON answer, else None."""
    if not isinstance(body, dict):
        return None
    if api == "gemini":
        cfg = body.get("generationConfig") or {}
        if cfg.get("responseMimeType") == "application/json":
            return cfg.get("responseJsonSchema") or cfg.get("responseSchema") or {}
    elif api == "chat":
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema") or {}
        if fmt.get("type") == "json_object":
            return {}
    elif api == "responses":
        fmt = (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            return fmt.get("schema") or {}
    elif api == "anthropic":
        fmt = body.get("output_format") or (body.get("output_config") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            return fmt.get("schema") or {}
    return None


def fill_schema(schema: Any) -> Any:
    """A small value matching ``schema``: first enum value, "ok", integer 1 / number 0
    (or the minimum), False, [], objects filled.

    Side requests that want JSON get this: Gemini CLI's next-speaker check
    gets ``next_speaker: "user"`` (the first enum value), its router
    ``complexity_score: 1`` (valid 1-100, so the flash model) and its loop
    check ``confidence: 0``, so none of them changes the conversation.
    """
    if not isinstance(schema, dict):
        return SIDE_TEXT
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return fill_schema(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind or ("object" if "properties" in schema else "string")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: fill_schema(v) for k, v in props.items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):  # integers are scores (>= 1), numbers confidences (0)
        return schema.get("minimum", 1 if kind == "integer" else 0)
    if kind == "boolean":
        return False
    return SIDE_TEXT


def chunks(text: str, size: int = 6) -> list[str]:
    """``text`` cut into deltas of ``size`` characters (at least one, maybe empty)."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def estimate_tokens(value: Any) -> int:
    """A stable, plausible token count: about four characters a token."""
    raw = value if isinstance(value, str) else json.dumps(value, default=str)
    return max(1, len(raw) // 4)
