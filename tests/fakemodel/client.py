"""A minimal urllib client for the four APIs, as the CLIs use them (for the self-tests).

``ask(url, api, history, tools=..., stream=...)`` sends one request built from
a neutral history and returns an :class:`Answer` assembled from the SSE stream
(or the JSON body). History entries: ``("user", text)``, ``("call", name,
args, call_id)`` (the model's earlier tool call) and ``("result", call_id,
text)`` (the tool result the CLI sends back).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

SHELL = {"type": "object", "properties": {"command": {"type": "string"}}}


@dataclass
class Answer:
    status: int = 200
    text: str = ""
    tool_name: str | None = None
    tool_args: Any = None
    call_id: str | None = None
    namespace: str | None = None
    finish: str | None = None
    model: str | None = None
    usage: dict | None = None
    events: list[str] = field(default_factory=list)


def body_for(api: str, history: list[tuple], tools: list[str], stream: bool,
             model: str = "fake-model") -> dict:
    """A request body in ``api``'s shape."""
    if api == "anthropic":
        msgs: list[dict] = []
        for h in history:
            if h[0] == "user":
                msgs.append({"role": "user", "content": [{"type": "text", "text": h[1]}]})
            elif h[0] == "call":
                msgs.append({"role": "assistant", "content": [
                    {"type": "tool_use", "id": h[3], "name": h[1], "input": h[2]}]})
            else:
                msgs.append({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": h[1],
                     "content": [{"type": "text", "text": h[2]}]}]})
        return {"model": model, "max_tokens": 1024, "stream": stream, "system": "sys",
                "messages": msgs,
                "tools": [{"name": n, "description": n, "input_schema": SHELL} for n in tools]}
    if api == "responses":
        items: list[dict] = []
        for h in history:
            if h[0] == "user":
                items.append({"type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": h[1]}]})
            elif h[0] == "call":
                items.append({"type": "function_call", "name": h[1],
                              "arguments": json.dumps(h[2]), "call_id": h[3]})
            else:
                items.append({"type": "function_call_output", "call_id": h[1], "output": h[2]})
        return {"model": model, "instructions": "sys", "input": items, "stream": stream,
                "tools": [{"type": "function", "name": n, "description": n, "strict": False,
                           "parameters": SHELL} for n in tools]}
    if api == "chat":
        msgs = [{"role": "system", "content": "sys"}]
        for h in history:
            if h[0] == "user":
                msgs.append({"role": "user", "content": h[1]})
            elif h[0] == "call":
                msgs.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": h[3], "type": "function",
                     "function": {"name": h[1], "arguments": json.dumps(h[2])}}]})
            else:
                msgs.append({"role": "tool", "tool_call_id": h[1], "content": h[2]})
        body: dict = {"model": model, "messages": msgs, "stream": stream}
        if tools:
            body["tools"] = [{"type": "function", "function": {
                "name": n, "description": n, "parameters": SHELL}} for n in tools]
        return body
    contents: list[dict] = []
    for h in history:
        if h[0] == "user":
            contents.append({"role": "user", "parts": [{"text": h[1]}]})
        elif h[0] == "call":
            contents.append({"role": "model", "parts": [
                {"functionCall": {"name": h[1], "args": h[2]}}]})
        else:
            contents.append({"role": "user", "parts": [{"functionResponse": {
                "id": h[1], "name": "run_shell_command", "response": {"output": h[2]}}}]})
    body = {"contents": contents, "systemInstruction": {"parts": [{"text": "sys"}]}}
    if tools:
        body["tools"] = [{"functionDeclarations": [
            {"name": n, "description": n, "parametersJsonSchema": SHELL} for n in tools]}]
    return body


def url_for(base: str, api: str, stream: bool, model: str = "gemini-2.5-flash") -> str:
    return base + {
        "anthropic": "/v1/messages?beta=true",
        "responses": "/v1/responses",
        "chat": "/v1/chat/completions",
        "gemini": f"/v1beta/models/{model}:"
                  + ("streamGenerateContent?alt=sse" if stream else "generateContent"),
    }[api]


def post(url: str, body: Any, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """POST JSON; returns (status, headers, raw body) also for HTTP errors."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event, data) pairs of an SSE stream."""
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            out.append((event, "\n".join(data)))
    return out


def ask(base: str, api: str, history: list[tuple], tools: list[str] | None = None,
        stream: bool = True, body: dict | None = None) -> Answer:
    """Send one request; assemble the answer."""
    tools = ["shell"] if tools is None else tools
    status, _, raw = post(url_for(base, api, stream), body or body_for(api, history, tools, stream))
    ans = Answer(status=status)
    if status != 200:
        ans.usage = json.loads(raw)
        return ans
    if not stream:
        _read_json(api, json.loads(raw), ans)
        return ans
    args = ""
    for event, data in sse(raw):
        ans.events.append(event or data[:20])
        if data == "[DONE]":
            continue
        d = json.loads(data)
        if api == "anthropic":
            if event == "message_start":
                ans.model, ans.usage = d["message"]["model"], d["message"]["usage"]
            elif event == "content_block_start" and d["content_block"]["type"] == "tool_use":
                ans.tool_name, ans.call_id = d["content_block"]["name"], d["content_block"]["id"]
            elif event == "content_block_delta":
                ans.text += d["delta"].get("text", "")
                args += d["delta"].get("partial_json", "")
            elif event == "message_delta":
                ans.finish = d["delta"]["stop_reason"]
        elif api == "responses":
            if event == "response.output_text.delta":
                ans.text += d["delta"]
            elif event == "response.output_item.done" and d["item"]["type"] == "function_call":
                it = d["item"]
                ans.tool_name, ans.call_id, args = it["name"], it["call_id"], it["arguments"]
                ans.namespace = it.get("namespace")
            elif event == "response.output_item.done" and d["item"]["type"] == "custom_tool_call":
                it = d["item"]
                ans.tool_name, ans.call_id, ans.tool_args = it["name"], it["call_id"], it["input"]
            elif event == "response.completed":
                ans.model, ans.usage = d["response"]["model"], d["response"]["usage"]
                ans.finish = d["response"]["status"]
        elif api == "chat":
            ans.model = d["model"]
            ans.usage = d.get("usage") or ans.usage
            for ch in d["choices"]:
                ans.text += ch["delta"].get("content") or ""
                for tc in ch["delta"].get("tool_calls") or []:
                    ans.call_id = tc.get("id") or ans.call_id
                    ans.tool_name = tc.get("function", {}).get("name") or ans.tool_name
                    args += tc.get("function", {}).get("arguments", "")
                ans.finish = ch.get("finish_reason") or ans.finish
        else:
            ans.model, ans.usage = d["modelVersion"], d["usageMetadata"]
            for cand in d["candidates"]:
                for part in cand["content"]["parts"]:
                    ans.text += part.get("text", "")
                    if "functionCall" in part:
                        ans.tool_name = part["functionCall"]["name"]
                        ans.tool_args = part["functionCall"]["args"]
                ans.finish = cand.get("finishReason") or ans.finish
    if args:
        ans.tool_args = json.loads(args)
    return ans


def _read_json(api: str, d: Any, ans: Answer) -> None:
    if api == "anthropic":
        ans.model, ans.usage, ans.finish = d["model"], d["usage"], d["stop_reason"]
        for block in d["content"]:
            ans.text += block.get("text", "")
            if block["type"] == "tool_use":
                ans.tool_name, ans.tool_args, ans.call_id = block["name"], block["input"], block["id"]
    elif api == "responses":
        ans.model, ans.usage, ans.finish = d["model"], d["usage"], d["status"]
        for item in d["output"]:
            if item["type"] == "message":
                ans.text += "".join(c["text"] for c in item["content"])
            elif item["type"] == "function_call":
                ans.tool_name, ans.call_id = item["name"], item["call_id"]
                ans.tool_args = json.loads(item["arguments"])
    elif api == "chat":
        ans.model, ans.usage = d["model"], d["usage"]
        ch = d["choices"][0]
        ans.text, ans.finish = ch["message"].get("content") or "", ch["finish_reason"]
        for tc in ch["message"].get("tool_calls") or []:
            ans.tool_name, ans.call_id = tc["function"]["name"], tc["id"]
            ans.tool_args = json.loads(tc["function"]["arguments"])
    else:
        ans.model, ans.usage = d["modelVersion"], d["usageMetadata"]
        cand = d["candidates"][0]
        ans.finish = cand.get("finishReason")
        for part in cand["content"]["parts"]:
            ans.text += part.get("text", "")
            if "functionCall" in part:
                ans.tool_name, ans.tool_args = (part["functionCall"]["name"],
                                                part["functionCall"]["args"])
