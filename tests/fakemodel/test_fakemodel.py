"""The fake model server, driven over real HTTP (urllib) in each of its four APIs."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from fakemodel import plugin
from fakemodel.client import ask, body_for, post, url_for
from fakemodel.server import EMPTY_TEXT, SIDE_TEXT, Fail, FakeModel, Reply, ToolCall

model_server = plugin.model_server  # the fixture, also before tests/conftest.py enables the plugin

APIS = ["anthropic", "responses", "chat", "gemini"]
FINISH = {"anthropic": ("end_turn", "tool_use"), "responses": ("completed", "completed"),
          "chat": ("stop", "tool_calls"), "gemini": ("STOP", "STOP")}


def ask_quietly(*args, **kw):
    """ask() in a background thread, where a server stopping under it is expected."""
    try:
        ask(*args, **kw)
    except OSError:
        pass


@pytest.fixture
def fm():
    with FakeModel() as server:
        yield server


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("api", APIS)
def test_scripted_reply(fm, api, stream):
    fm.script(Reply("PONG-42, a longer answer"))
    ans = ask(fm.url, api, [("user", "ping")], stream=stream)
    assert ans.status == 200
    assert ans.text == "PONG-42, a longer answer"
    assert ans.tool_name is None
    assert ans.finish == FINISH[api][0]
    assert ans.model == ("gemini-2.5-flash" if api == "gemini" else "fake-model")
    key = {"anthropic": "input_tokens", "gemini": "totalTokenCount"}.get(api, "total_tokens")
    assert ans.usage[key] > 0
    req, = fm.main_requests()
    assert (req.api, req.main, req.reply) == (api, True, Reply("PONG-42, a longer answer"))
    assert req.user_text == "ping"
    assert fm.remaining == 0


def test_event_sequences(fm):
    fm.script(Reply("hi"), Reply("hi"), Reply("hi"))
    assert ask(fm.url, "anthropic", [("user", "x")]).events == [
        "message_start", "ping", "content_block_start", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop"]
    assert ask(fm.url, "responses", [("user", "x")]).events == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert ask(fm.url, "chat", [("user", "x")]).events[-1] == "[DONE]"


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("api", APIS)
def test_tool_call_then_result(fm, api, stream):
    fm.script(ToolCall("shell", {"command": "echo hi"}, text="Running it."), Reply("done"))
    first = ask(fm.url, api, [("user", "run echo")], stream=stream)
    assert (first.tool_name, first.tool_args) == ("shell", {"command": "echo hi"})
    assert first.text == "Running it."
    assert first.finish == FINISH[api][1]
    assert fm.last_tool_result() is None
    call_id = first.call_id or "gemini-call"
    if api != "gemini":
        assert call_id.startswith("toolu_" if api == "anthropic" else "call_")
    history = [("user", "run echo"), ("call", "shell", first.tool_args, call_id),
               ("result", call_id, "hi\n")]
    second = ask(fm.url, api, history, stream=stream)
    assert (second.text, second.tool_name) == ("done", None)
    assert fm.last_tool_result() == "hi\n"
    assert fm.last_tool_result(api) == "hi\n"
    assert fm.last_tool_result("other-api") is None
    assert [r.reply for r in fm.main_requests(api)][1] == Reply("done")


def test_codex_exec_command_with_approval(fm):
    args = {"cmd": "echo hi", "sandbox_permissions": "require_escalated",
            "justification": "test"}
    fm.script(ToolCall("exec_command", args))
    ans = ask(fm.url, "responses", [("user", "x")], tools=["exec_command", "write_stdin"])
    assert (ans.tool_name, ans.tool_args) == ("exec_command", args)
    assert ans.call_id.startswith("call_")


def test_anthropic_tool_result_before_a_reminder(fm):
    """Claude Code may follow the tool_result with more user content: still found."""
    fm.script(Reply("done"))
    body = body_for("anthropic", [("user", "go"), ("call", "Bash", {}, "toolu_1"),
                                  ("result", "toolu_1", "first")], ["Bash"], True)
    body["messages"][-1]["content"].append({"type": "text", "text": "<system-reminder>x"})
    body["messages"].append({"role": "user", "content": "<system-reminder>y</system-reminder>"})
    body["messages"][-2]["content"][0]["content"] = "the output"  # a plain-string result
    assert ask(fm.url, "anthropic", [], body=body).text == "done"
    assert fm.last_tool_result("anthropic") == "the output"


def test_responses_output_as_content_items(fm):
    body = body_for("responses", [("user", "go"), ("call", "exec_command", {}, "c1"),
                                  ("result", "c1", "")], ["exec_command"], True)
    body["input"][-1]["output"] = [{"type": "input_text", "text": "line one"}]
    ask(fm.url, "responses", [], body=body)
    assert fm.last_tool_result() == "line one"


@pytest.mark.parametrize("api", APIS)
def test_side_request_does_not_consume_the_script(fm, api):
    fm.script(Reply("SCRIPTED"))
    side = ask(fm.url, api, [("user", "Generate a title")], tools=[])
    assert side.status == 200 and side.text == SIDE_TEXT
    assert fm.remaining == 1 and fm.main_requests() == []
    req, = fm.requests
    assert (req.api, req.main, req.reply) == (api, False, None)
    assert ask(fm.url, api, [("user", "real")]).text == "SCRIPTED"


def test_json_side_requests_get_schema_shaped_answers(fm):
    fm.script(Reply("SCRIPTED"))
    body = body_for("gemini", [("user", "who speaks next?")], ["run_shell_command"], False)
    body["generationConfig"] = {"responseMimeType": "application/json", "responseJsonSchema": {
        "type": "object", "properties": {"reasoning": {"type": "string"},
                                         "next_speaker": {"type": "string",
                                                          "enum": ["user", "model"]}}}}
    ans = ask(fm.url, "gemini", [], stream=False, body=body)
    assert json.loads(ans.text) == {"reasoning": "ok", "next_speaker": "user"}
    body["generationConfig"]["responseJsonSchema"] = {  # Gemini CLI's router
        "type": "OBJECT", "properties": {"complexity_reasoning": {"type": "STRING"},
                                         "complexity_score": {"type": "INTEGER"}}}
    ans = ask(fm.url, "gemini", [], stream=False, body=body)
    assert json.loads(ans.text) == {"complexity_reasoning": "ok", "complexity_score": 1}
    body = body_for("responses", [("user", "Generate a title")], [], True)
    body["text"] = {"format": {"type": "json_schema", "name": "codex_output_schema", "schema": {
        "type": "object", "properties": {"title": {"type": "string"}}}}}
    assert json.loads(ask(fm.url, "responses", [], body=body).text) == {"title": "ok"}
    body = body_for("chat", [("user", "x")], ["bash"], False)
    body["response_format"] = {"type": "json_object"}
    assert json.loads(ask(fm.url, "chat", [], stream=False, body=body).text) == {}
    assert fm.remaining == 1


@pytest.mark.parametrize("api", APIS)
def test_empty_script(fm, api):
    assert ask(fm.url, api, [("user", "x")]).text == EMPTY_TEXT
    assert fm.main_requests()[0].reply == Reply(EMPTY_TEXT)


@pytest.mark.parametrize("api", APIS)
def test_fail(fm, api):
    fm.script(Fail(529 if api == "anthropic" else 500, "overloaded"), Reply("after retry"))
    ans = ask(fm.url, api, [("user", "x")])
    assert ans.status == (529 if api == "anthropic" else 500)
    assert "overloaded" in json.dumps(ans.usage)
    if api == "anthropic":
        assert ans.usage["error"]["type"] == "overloaded_error"
    assert ask(fm.url, api, [("user", "x")]).text == "after retry"


@pytest.mark.parametrize("api", APIS)
def test_delay(fm, api):
    fm.script(Reply("slow", delay=0.5), Fail(503, "later", delay=0.3))
    start = time.monotonic()
    assert ask(fm.url, api, [("user", "x")]).text == "slow"
    assert time.monotonic() - start >= 0.5
    start = time.monotonic()
    assert ask(fm.url, api, [("user", "x")]).status == 503
    assert time.monotonic() - start >= 0.3


def test_a_reply_held_until_the_test_releases_it(fm):
    released = threading.Event()
    fm.script(Reply("held", until=released))
    answers = []
    t = threading.Thread(target=lambda: answers.append(ask(fm.url, "anthropic", [("user", "x")]).text), daemon=True)
    t.start()
    fm.wait_main_requests(1, timeout=5)
    t.join(1.0)
    assert t.is_alive() and answers == []  # still held
    released.set()
    t.join(5)
    assert answers == ["held"]


def test_stop_ends_a_held_reply():
    fm = FakeModel()
    fm.script(Reply("never", until=threading.Event()))
    t = threading.Thread(target=ask_quietly, args=(fm.url, "chat", [("user", "x")]), daemon=True)
    t.start()
    fm.wait_main_requests(1, timeout=5)
    fm.stop()
    t.join(5)
    assert not t.is_alive()


def test_wait_main_requests_wakes_on_arrival(fm):
    fm.script(Reply("a"))
    threading.Timer(0.3, lambda: ask(fm.url, "chat", [("user", "x")], tools=[])).start()
    threading.Timer(0.6, lambda: ask(fm.url, "chat", [("user", "x")])).start()
    start = time.monotonic()
    got = fm.wait_main_requests(1, timeout=10)
    waited = time.monotonic() - start
    assert 0.5 < waited < 3
    assert len(got) == 1 and got[0].api == "chat"
    assert len(fm.requests) == 2  # the side request came first and did not count
    with pytest.raises(TimeoutError, match="1/2 main requests"):
        fm.wait_main_requests(2, timeout=0.2)
    assert fm.wait_main_requests(1, timeout=0, api="chat") == got


def test_wait_sees_a_request_still_being_delayed(fm):
    fm.script(Reply("late", delay=2))
    threading.Thread(target=ask_quietly, args=(fm.url, "anthropic", [("user", "x")]), daemon=True).start()
    start = time.monotonic()
    fm.wait_main_requests(1, timeout=5)
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize("api,tools,expected", [
    ("anthropic", ["Bash", "mcp__caod__handoff", "mcp__caod__send"], "mcp__caod__handoff"),
    ("responses", ["exec_command", "caod__handoff"], "caod__handoff"),
    ("chat", ["bash", "caod_handoff_all", "caod_handoff"], "caod_handoff"),
    ("gemini", ["run_shell_command", "handoff"], "handoff"),
])
def test_named_like(fm, api, tools, expected):
    fm.script(ToolCall.named_like("handoff", {"agent": "w1"}))
    ans = ask(fm.url, api, [("user", "x")], tools=tools)
    assert (ans.tool_name, ans.tool_args) == (expected, {"agent": "w1"})
    assert fm.main_requests()[0].tools == tools


def test_codex_namespaced_mcp_tools(fm):
    """Codex 0.169 nests MCP tools in {type: namespace, name: mcp__<server>, tools: [...]}."""
    body = body_for("responses", [("user", "x")], ["exec_command"], True)
    body["tools"].append({"type": "namespace", "name": "mcp__caod", "description": "", "tools": [
        {"type": "function", "name": n, "parameters": {}} for n in ("send", "handoff")]})
    body["tools"].append({"type": "custom", "name": "apply_patch", "format": {}})
    body["tools"].append({"type": "web_search"})
    fm.script(ToolCall.named_like("handoff", {"a": 1}), ToolCall("mcp__caod__send", {}),
              ToolCall("apply_patch", "*** Begin Patch"))
    ans = ask(fm.url, "responses", [], body=body)
    assert (ans.namespace, ans.tool_name, ans.tool_args) == ("mcp__caod", "handoff", {"a": 1})
    assert fm.requests[0].tools == ["exec_command", "mcp__caod__send", "mcp__caod__handoff",
                                    "apply_patch"]
    ans = ask(fm.url, "responses", [], body=body)
    assert (ans.namespace, ans.tool_name) == ("mcp__caod", "send")
    ans = ask(fm.url, "responses", [], body=body)
    assert (ans.tool_name, ans.tool_args) == ("apply_patch", "*** Begin Patch")


def test_qwen_deferred_mcp_tools(fm):
    """Qwen 0.15 lists MCP tools only by name under "Deferred Tools" in the system prompt."""
    body = body_for("chat", [("user", "x")], ["tool_search", "run_shell_command"], True)
    body["messages"][0]["content"] = ('You are Qwen Code.\n## Deferred Tools\n\nText.\n'
                                      '- "ask_user_question": "Ask"\n'
                                      '- "mcp__caod__handoff": "Hand off"\n\n---\n')
    fm.script(ToolCall.named_like("handoff", {"to": "w"}), ToolCall.named_like("search"))
    assert ask(fm.url, "chat", [], body=body).tool_name == "mcp__caod__handoff"
    assert ask(fm.url, "chat", [], body=body).tool_name == "tool_search"  # declared first
    assert fm.requests[0].deferred_tools == ["ask_user_question", "mcp__caod__handoff"]


def test_named_like_without_a_match_says_so(fm):
    fm.script(ToolCall.named_like("handoff"))
    ans = ask(fm.url, "chat", [("user", "x")], tools=["bash"])
    assert ans.tool_name is None and "handoff" in ans.text and "bash" in ans.text


def test_other_endpoints(fm):
    for method in ("HEAD", "GET"):
        with urllib.request.urlopen(urllib.request.Request(fm.url + "/", method=method)) as r:
            assert r.status == 200
    ask(fm.url, "chat", [("user", "x")], body=dict(body_for("chat", [], [], True),
                                                  model="other-model"))
    with urllib.request.urlopen(fm.url + "/v1/models") as r:
        ids = [m["id"] for m in json.load(r)["data"]]
    assert ids == ["fake-model", "other-model"]
    body = body_for("anthropic", [("user", "count me")], ["Bash"], False)
    status, _, raw = post(fm.url + "/v1/messages/count_tokens?beta=true", body)
    assert status == 200 and json.loads(raw)["input_tokens"] > 0
    status, _, raw = post(fm.url + "/v1beta/models/gemini-2.5-flash:countTokens", {})
    assert status == 200 and "totalTokens" in json.loads(raw)
    status, _, raw = post(fm.url + "/nowhere", {})
    assert status == 404
    assert not any(r.main for r in fm.requests)
    assert fm.requests[-1].path == "/nowhere" and fm.requests[-1].api == "other"


def test_chat_usage_chunk_and_gemini_json_array(fm):
    body = dict(body_for("chat", [("user", "x")], ["bash"], True),
                stream_options={"include_usage": True})
    ans = ask(fm.url, "chat", [], body=body)
    assert ans.usage["total_tokens"] > 0 and ans.events[-1] == "[DONE]"
    url = url_for(fm.url, "gemini", True).replace("?alt=sse", "")
    status, _, raw = post(url, body_for("gemini", [("user", "x")], ["shell"], True))
    assert status == 200 and json.loads(raw)[-1]["candidates"][0]["finishReason"] == "STOP"


def test_keep_alive_connection_is_reused_and_cut_on_stop():
    import http.client
    fm = FakeModel()
    fm.script(Reply("one"), Reply("two"))
    conn = http.client.HTTPConnection("127.0.0.1", fm.port, timeout=5)
    for expected in ("one", "two"):
        conn.request("POST", "/v1/chat/completions",
                     json.dumps(body_for("chat", [("user", "x")], ["bash"], True)),
                     {"Content-Type": "application/json"})
        assert expected in conn.getresponse().read().decode()
    fm.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("POST", "/v1/chat/completions", "{}")
        conn.getresponse().read()
    conn.close()


def test_stop_cuts_a_delay_short_and_frees_the_port():
    fm = FakeModel()
    fm.script(Reply("never", delay=30))
    t = threading.Thread(target=ask_quietly, args=(fm.url, "chat", [("user", "x")]), daemon=True)
    t.start()
    fm.wait_main_requests(1, timeout=5)
    start = time.monotonic()
    fm.stop()
    fm.stop()  # idempotent
    t.join(5)
    assert not t.is_alive() and time.monotonic() - start < 5
    with pytest.raises(OSError):
        urllib.request.urlopen(fm.url + "/", timeout=2)


def test_custom_main_rule():
    with FakeModel(is_main=lambda r: r.kind == "turn") as fm:
        fm.script(Reply("even without tools"))
        assert ask(fm.url, "chat", [("user", "x")], tools=[]).text == "even without tools"


def test_script_rejects_other_things(fm):
    with pytest.raises(TypeError):
        fm.script("PONG")


def test_fixture(model_server):
    assert model_server.url.startswith("http://127.0.0.1:")
    model_server.script(Reply("via fixture"))
    assert ask(model_server.url, "gemini", [("user", "x")]).text == "via fixture"
