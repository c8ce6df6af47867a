"""The four wire formats: one model turn rendered as SSE events or as a JSON body.

A :class:`Turn` is what the model says: optional text, then optionally one
tool call. Each API has ``<api>_events(turn)`` (a list of ``(event, data)``;
``event`` None means a bare ``data:`` line) and ``<api>_json(turn)``, plus
:func:`error_body` for scripted failures.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .script import chunks


def new_id(prefix: str, n: int = 24) -> str:
    return prefix + uuid.uuid4().hex[:n]


@dataclass
class Turn:
    model: str
    text: str | None = None
    tool_name: str | None = None
    tool_args: Any = None
    input_tokens: int = 1
    output_tokens: int = 1
    call_id: str = field(default_factory=lambda: new_id("call_"))
    namespace: str | None = None  # Responses: the tool's namespace (Codex MCP tools)
    custom: bool = False  # Responses: a freeform "custom" tool (input is a string)

    @property
    def args_json(self) -> str:
        a = self.tool_args
        return a if isinstance(a, str) else json.dumps({} if a is None else a)

    @property
    def args_obj(self) -> Any:
        a = self.tool_args
        if isinstance(a, str):
            try:
                return json.loads(a)
            except ValueError:
                return {"input": a}
        return {} if a is None else a


Events = list[tuple[str | None, Any]]


# ---------------------------------------------------------------- Anthropic Messages

def _anthropic_usage(t: Turn) -> dict:
    return {"input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def anthropic_json(t: Turn) -> dict:
    content: list[dict] = []
    if t.text is not None:
        content.append({"type": "text", "text": t.text})
    if t.tool_name:
        content.append({"type": "tool_use", "id": "toolu_" + t.call_id.split("_", 1)[-1],
                        "name": t.tool_name,
                        "input": t.args_obj})
    return {"id": new_id("msg_"), "type": "message", "role": "assistant", "model": t.model,
            "content": content, "stop_reason": "tool_use" if t.tool_name else "end_turn",
            "stop_sequence": None, "usage": _anthropic_usage(t)}


def anthropic_events(t: Turn) -> Events:
    msg = anthropic_json(t)
    start = dict(msg, content=[], stop_reason=None,
                 usage=dict(_anthropic_usage(t), output_tokens=1))
    ev: Events = [("message_start", {"type": "message_start", "message": start}),
                  ("ping", {"type": "ping"})]
    for i, block in enumerate(msg["content"]):
        if block["type"] == "text":
            first, deltas = {"type": "text", "text": ""}, [
                {"type": "text_delta", "text": c} for c in chunks(block["text"])]
        else:
            first = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": c}
                      for c in chunks(t.args_json, 12)]
        ev.append(("content_block_start",
                   {"type": "content_block_start", "index": i, "content_block": first}))
        ev += [("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})
               for d in deltas]
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    ev.append(("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": t.output_tokens}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return ev


# ---------------------------------------------------------------- OpenAI Responses

def _responses_items(t: Turn) -> list[dict]:
    items: list[dict] = []
    if t.text is not None:
        items.append({"id": new_id("msg_"), "type": "message", "status": "completed",
                      "role": "assistant", "content": [
                          {"type": "output_text", "text": t.text, "annotations": []}]})
    if t.tool_name and t.custom:
        items.append({"id": new_id("ctc_"), "type": "custom_tool_call", "status": "completed",
                      "call_id": t.call_id, "name": t.tool_name,
                      "input": t.tool_args if isinstance(t.tool_args, str) else t.args_json})
    elif t.tool_name:
        items.append({"id": new_id("fc_"), "type": "function_call", "status": "completed",
                      "call_id": t.call_id, "name": t.tool_name, "arguments": t.args_json})
        if t.namespace:
            items[-1]["namespace"] = t.namespace
    return items


def responses_json(t: Turn) -> dict:
    return {"id": new_id("resp_"), "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": t.model, "output": _responses_items(t),
            "usage": {"input_tokens": t.input_tokens,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": t.output_tokens,
                      "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": t.input_tokens + t.output_tokens}}


def responses_events(t: Turn) -> Events:
    done = responses_json(t)
    pending = dict(done, status="in_progress", output=[], usage=None)
    ev: Events = [("response.created", {"type": "response.created", "response": pending}),
                  ("response.in_progress", {"type": "response.in_progress",
                                            "response": pending})]
    for idx, item in enumerate(done["output"]):
        common = {"item_id": item["id"], "output_index": idx}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": []}
            ev.append(("response.output_item.added", {
                "type": "response.output_item.added", "output_index": idx,
                "item": dict(item, status="in_progress", content=[])}))
            ev.append(("response.content_part.added", dict(
                common, type="response.content_part.added", content_index=0, part=part)))
            ev += [("response.output_text.delta", dict(
                common, type="response.output_text.delta", content_index=0, delta=c))
                for c in chunks(text)]
            ev.append(("response.output_text.done", dict(
                common, type="response.output_text.done", content_index=0, text=text)))
            ev.append(("response.content_part.done", dict(
                common, type="response.content_part.done", content_index=0,
                part=dict(part, text=text))))
        elif item["type"] == "function_call":
            ev.append(("response.output_item.added", {
                "type": "response.output_item.added", "output_index": idx,
                "item": dict(item, status="in_progress", arguments="")}))
            ev += [("response.function_call_arguments.delta", dict(
                common, type="response.function_call_arguments.delta", delta=c))
                for c in chunks(item["arguments"], 12)]
            ev.append(("response.function_call_arguments.done", dict(
                common, type="response.function_call_arguments.done",
                arguments=item["arguments"])))
        else:
            ev.append(("response.output_item.added", {
                "type": "response.output_item.added", "output_index": idx,
                "item": dict(item, status="in_progress", input="")}))
        ev.append(("response.output_item.done", {
            "type": "response.output_item.done", "output_index": idx, "item": item}))
    ev.append(("response.completed", {"type": "response.completed", "response": done}))
    for seq, (_, data) in enumerate(ev):
        data["sequence_number"] = seq
    return ev


# ---------------------------------------------------------------- OpenAI Chat Completions

def _chat_usage(t: Turn) -> dict:
    return {"prompt_tokens": t.input_tokens, "completion_tokens": t.output_tokens,
            "total_tokens": t.input_tokens + t.output_tokens}


def _chat_tool_call(t: Turn) -> dict:
    return {"id": t.call_id, "type": "function",
            "function": {"name": t.tool_name, "arguments": t.args_json}}


def chat_json(t: Turn) -> dict:
    message: dict = {"role": "assistant", "content": t.text}
    if t.tool_name:
        message["tool_calls"] = [_chat_tool_call(t)]
    return {"id": new_id("chatcmpl-"), "object": "chat.completion",
            "created": int(time.time()), "model": t.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if t.tool_name else "stop"}],
            "usage": _chat_usage(t)}


def chat_events(t: Turn, include_usage: bool = False) -> Events:
    base = {"id": new_id("chatcmpl-"), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": t.model}

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> tuple[None, dict]:
        return (None, dict(base, choices=[
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra))

    ev: Events = [chunk({"role": "assistant", "content": ""})]
    if t.text is not None:
        ev += [chunk({"content": c}) for c in chunks(t.text)]
    if t.tool_name:
        head = _chat_tool_call(t)
        head["function"] = dict(head["function"], arguments="")
        ev.append(chunk({"tool_calls": [dict(head, index=0)]}))
        ev += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": c}}]})
               for c in chunks(t.args_json, 12)]
    ev.append(chunk({}, "tool_calls" if t.tool_name else "stop", usage=_chat_usage(t)))
    if include_usage:
        ev.append((None, dict(base, choices=[], usage=_chat_usage(t))))
    ev.append((None, "[DONE]"))
    return ev


# ---------------------------------------------------------------- Gemini

def _gemini_usage(t: Turn) -> dict:
    return {"promptTokenCount": t.input_tokens, "candidatesTokenCount": t.output_tokens,
            "totalTokenCount": t.input_tokens + t.output_tokens}


def _gemini_chunk(t: Turn, parts: list[dict], finish: str | None, rid: str) -> dict:
    cand: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": _gemini_usage(t),
            "modelVersion": t.model, "responseId": rid}


def gemini_json(t: Turn) -> dict:
    parts: list[dict] = []
    if t.text is not None:
        parts.append({"text": t.text})
    if t.tool_name:
        parts.append({"functionCall": {"name": t.tool_name, "args": t.args_obj}})
    return _gemini_chunk(t, parts, "STOP", new_id("", 16))


def gemini_events(t: Turn) -> Events:
    rid = new_id("", 16)
    parts: list[dict] = [{"text": c} for c in chunks(t.text)] if t.text is not None else []
    if t.tool_name:
        parts.append({"functionCall": {"name": t.tool_name, "args": t.args_obj}})
    if not parts:
        parts = [{"text": ""}]
    return [(None, _gemini_chunk(t, [p], "STOP" if i == len(parts) - 1 else None, rid))
            for i, p in enumerate(parts)]


# ---------------------------------------------------------------- errors

_ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error",
                     403: "permission_error", 404: "not_found_error",
                     413: "request_too_large", 429: "rate_limit_error",
                     529: "overloaded_error"}
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                  503: "UNAVAILABLE"}


def error_body(api: str, status: int, message: str) -> dict:
    if api == "anthropic":
        return {"type": "error", "error": {
            "type": _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message}}
    if api == "gemini":
        return {"error": {"code": status, "message": message,
                          "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}}
    kind = "rate_limit_exceeded" if status == 429 else (
        "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
