"""`caoctl mcp`, the MCP stdio bridge, driven by the SDK's real stdio client.

Each test starts `python -m caoctl mcp` as a subprocess, exactly as an agent's
CLI does, and talks MCP to it. The daemon side is either a real caod (the
`daemon` fixture), no daemon at all, or a small fake caod on a Unix socket
that answers orch.* the way the protocol says, so the success paths and the
progress notifications can be checked without real workers.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Callable

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"handoff", "assign", "send_message", "answer_user_prompt", "list_agents", "diff", "merge",
         "get_result", "end_worker", "memory_store", "memory_recall", "memory_forget"}


def bridge_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAO_", "CAOD_", "CAOCTL_"))}
    env.update(extra)
    return env


@asynccontextmanager
async def bridge(env: dict[str, str], errlog_path: Path | None = None):
    """A connected MCP client session on a fresh `caoctl mcp` process (initialize handshake)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "caoctl", "mcp"], env=env, cwd=str(ROOT))
    with open(errlog_path or os.devnull, "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            yield client


def run(fn: Callable[[], Any]) -> Any:
    return anyio.run(fn)


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")


# ---------------------------------------------------------------- a fake caod


class FakeCaod:
    """A Unix-socket JSON-RPC server that answers orch.* from a table, in a thread."""

    def __init__(self, answers: dict[str, Callable[[dict], dict]]):
        self.dir = tempfile.mkdtemp(prefix="caofk-", dir="/tmp")
        self.path = os.path.join(self.dir, "caod.sock")
        self.answers = answers
        self.requests: list[dict] = []
        self.hangups: list[str] = []          # methods whose caller hung up before the answer
        self.local = threading.local()        # .conn: the connection being answered
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as rfile:
            for line in rfile:
                req = json.loads(line)
                self.requests.append(req)
                self.local.conn = conn
                answer = self.answers.get(req["method"])
                if answer is None:
                    reply = {"jsonrpc": "2.0", "id": req["id"],
                             "error": {"code": -32601, "message": f"unknown method {req['method']}"}}
                else:
                    try:
                        reply = {"jsonrpc": "2.0", "id": req["id"], "result": answer(req["params"])}
                    except LookupError as e:
                        reply = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32002, "message": str(e)}}
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:          # the caller hung up
                    return

    def wait_unless_hung_up(self, seconds: float, method: str) -> None:
        """Sleep like a slow worker, but notice a caller that hangs up."""
        import select

        conn = self.local.conn
        readable, _, _ = select.select([conn], [], [], seconds)
        if readable and not conn.recv(1, socket.MSG_PEEK):
            self.hangups.append(method)

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


@pytest.fixture
def fake_caod():
    made: list[FakeCaod] = []

    def make(answers):
        made.append(FakeCaod(answers))
        return made[-1]

    yield make
    for f in made:
        f.close()


AGENT = {"id": "w1a2b3c4", "name": "dev-1", "provider": "scripted", "status": "completed", "status_since": 1.0,
         "pid": 42, "cwd": "/tmp", "command": ["x"], "created_at": 1.0, "rows": 40, "cols": 120,
         "session": "s1", "profile": "developer", "role": "developer", "parent": "sup1"}


# ---------------------------------------------------------------- outside an agent


def test_lists_tools_and_refuses_calls_without_a_token(tmp_path):
    errlog = tmp_path / "bridge.err"

    async def main():
        async with bridge(bridge_env(CAOD_SOCKET=str(tmp_path / "none.sock")), errlog) as client:
            assert client.server_info.name == "caod"
            listed = (await client.list_tools()).tools
            assert {t.name for t in listed} == TOOLS
            by_name = {t.name: t for t in listed}
            for tool in listed:
                assert len(tool.description) > 80, tool.name
                assert tool.input_schema["type"] == "object"
            handoff = by_name["handoff"]
            assert set(handoff.input_schema["required"]) == {"agent_profile", "message"}
            assert handoff.input_schema["properties"]["timeout"]["type"] == "integer"
            assert handoff.input_schema["properties"]["timeout"]["default"] == 600
            assert set(handoff.input_schema["properties"]) == {
                "agent_profile", "message", "timeout", "working_directory", "provider", "model", "use_worktree"}
            assert by_name["assign"].input_schema["properties"]["use_worktree"]["default"] is False
            assert {"providers", "count"} <= set(by_name["assign"].input_schema["properties"])  # fan-out
            assert "agent_ids" in by_name["assign"].description and "get_result" in by_name["assign"].description
            assert set(by_name["merge"].input_schema["required"]) == {"agent_id"}
            assert set(by_name["diff"].input_schema["required"]) == {"agent_id"}
            assert "wait" in handoff.description and "synchronous" in handoff.description
            assert "send_message" in by_name["assign"].description
            assert "message in your input" in by_name["assign"].description
            assert set(by_name["send_message"].input_schema["required"]) == {"receiver_id", "message"}
            assert set(by_name["answer_user_prompt"].input_schema["required"]) == {"agent_id", "answer"}
            assert by_name["list_agents"].input_schema.get("required", []) == []
            for name, args in [("list_agents", {}), ("handoff", {"agent_profile": "developer", "message": "hi"}),
                               ("send_message", {"receiver_id": "abcd", "message": "hi"})]:
                result = await client.call_tool(name, args)
                assert result.is_error, name
                assert "started outside a caod agent: no CAO_AGENT_TOKEN" in text_of(result)

    run(main)
    assert "Traceback" not in errlog.read_text()


def test_bad_arguments_are_tool_errors():
    async def main():
        async with bridge(bridge_env(CAO_AGENT_TOKEN="tok", CAOD_SOCKET="/nonexistent/caod.sock")) as client:
            missing = await client.call_tool("handoff", {"agent_profile": "developer"})
            assert missing.is_error and "message" in text_of(missing) and "required" in text_of(missing).lower()
            bad_type = await client.call_tool("handoff", {"agent_profile": "d", "message": "m", "timeout": "x"})
            assert bad_type.is_error and "timeout" in text_of(bad_type)
            bad_range = await client.call_tool("handoff", {"agent_profile": "d", "message": "m", "timeout": 0})
            assert bad_range.is_error and "timeout" in text_of(bad_range)
            wrong = await client.call_tool("send_message", {"receiver_id": 5, "message": ["x"]})
            assert wrong.is_error
            unknown = await client.call_tool("no_such_tool", {})
            assert unknown.is_error
            # the bridge is still there
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS

    run(main)


def test_no_daemon_is_a_clear_tool_error_and_the_bridge_keeps_running(tmp_path):
    errlog = tmp_path / "bridge.err"

    async def main():
        env = bridge_env(CAO_AGENT_TOKEN="tok", CAO_AGENT_ID="a1", CAOD_SOCKET=str(tmp_path / "caod.sock"))
        async with bridge(env, errlog) as client:
            for _ in range(2):
                result = await client.call_tool("list_agents", {})
                assert result.is_error
                assert "caod is not running" in text_of(result)
                assert str(tmp_path / "caod.sock") in text_of(result)
            result = await client.call_tool("handoff", {"agent_profile": "developer", "message": "x"})
            assert result.is_error and "caod is not running" in text_of(result)

    run(main)
    assert "Traceback" not in errlog.read_text()


# ---------------------------------------------------------------- against a real caod


def test_bogus_token_is_refused_by_the_daemon(daemon, tmp_path):
    errlog = tmp_path / "bridge.err"

    async def main():
        env = bridge_env(CAO_AGENT_TOKEN="not-a-real-token", CAO_AGENT_ID="nobody", CAOD_SOCKET=str(daemon.socket))
        async with bridge(env, errlog) as client:
            for name, args in [("list_agents", {}),
                               ("send_message", {"receiver_id": "abcd", "message": "hello"}),
                               ("handoff", {"agent_profile": "developer", "message": "x", "timeout": 5})]:
                result = await client.call_tool(name, args)
                assert result.is_error, (name, result)
                assert "caod refused: permission denied: unknown or stale agent token" in text_of(result), \
                    text_of(result)

    run(main)
    assert "Traceback" not in errlog.read_text()


# ---------------------------------------------------------------- against a fake caod


def test_every_tool_maps_to_its_orch_method(fake_caod):
    def handoff(p):
        time.sleep(1.2)
        return {"success": True, "output": f"done: {p['message']}", "agent_id": "w1a2b3c4"}

    fake = fake_caod({
        "orch.handoff": handoff,
        "orch.assign": lambda p: ({"agent_id": "w9", "session": "s1"} if "count" not in p else
                                  {"agent_id": "w9", "session": "s1", "agent_ids": ["w9", "w10"]}),
        "orch.send_message": lambda p: {"id": 7, "sender": "sup1", "receiver": p["receiver_id"],
                                        "status": "pending", "created_at": 1.0},
        "orch.answer_user_prompt": lambda p: dict(AGENT, status="processing"),
        "orch.list_agents": lambda p: {"agents": [dict(AGENT, last_answer="built it")]},
        "orch.get_result": lambda p: {"agent_id": p["agent_id"], "status": "completed", "done": True,
                                      "output": "built it", "ended": "completed", "ended_at": 2.0},
        "orch.end_worker": lambda p: dict(AGENT, status="exited"),
    })
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async def main():
        env = bridge_env(CAO_AGENT_TOKEN="sekrit", CAO_AGENT_ID="sup1", CAOD_SOCKET=fake.path,
                         CAOCTL_MCP_PROGRESS_INTERVAL="0.3")
        async with bridge(env) as client:
            assert client.instructions.startswith("You are caod agent sup1.\n")  # who it works for
            result = await client.call_tool("handoff", {"agent_profile": "developer", "message": "fix it",
                                                        "timeout": 30, "provider": "codex", "model": "m1"},
                                            progress_callback=on_progress)
            assert not result.is_error, result
            assert result.structured_content == {"success": True, "output": "done: fix it",
                                                 "agent_id": "w1a2b3c4"}
            assert json.loads(text_of(result)) == result.structured_content

            result = await client.call_tool("assign", {"agent_profile": "reviewer", "message": "review",
                                                       "working_directory": "/tmp", "provider": "codex",
                                                       "model": "m2"})
            assert result.structured_content == {"agent_id": "w9", "session": "s1", "agent_ids": ["w9"]}
            result = await client.call_tool("assign", {"agent_profile": "reviewer", "message": "compare", "count": 2})
            assert result.structured_content == {"agent_id": "w9", "session": "s1", "agent_ids": ["w9", "w10"]}
            result = await client.call_tool("send_message", {"receiver_id": "w9", "message": "hi"})
            assert result.structured_content == {"message_id": 7, "status": "pending"}
            result = await client.call_tool("answer_user_prompt", {"agent_id": "w1a2b3c4", "answer": "1"})
            assert result.structured_content["status"] == "processing"
            result = await client.call_tool("list_agents", {})
            assert result.structured_content == {"agents": [
                {"id": "w1a2b3c4", "name": "dev-1", "profile": "developer", "role": "developer",
                 "status": "completed", "provider": "scripted", "parent": "sup1", "last_answer": "built it"}]}
            result = await client.call_tool("get_result", {"agent_id": "w1a2b3c4", "timeout": 5})
            assert result.structured_content == {"agent_id": "w1a2b3c4", "status": "completed", "done": True,
                                                 "output": "built it", "ended": "completed", "ended_at": 2.0}
            result = await client.call_tool("end_worker", {"agent_id": "w1a2b3c4"})
            assert result.structured_content["status"] == "exited"

    run(main)
    # progress every 0.3 s while the 1.2 s handoff ran: elapsed seconds of the timeout
    assert len(progress) >= 2, progress
    assert all(total == 30 for _, total, _ in progress)
    assert all(msg.startswith("waiting for the worker (") for _, _, msg in progress)
    assert [r["params"] for r in fake.requests if r["params"].get("count")] == [
        {"token": "sekrit", "agent_profile": "reviewer", "message": "compare", "count": 2}]
    by_method = {r["method"]: r["params"] for r in fake.requests if not r["params"].get("count")}
    assert by_method["orch.handoff"] == {"token": "sekrit", "agent_profile": "developer", "message": "fix it",
                                         "timeout": 30.0, "provider": "codex", "model": "m1"}
    assert by_method["orch.assign"] == {"token": "sekrit", "agent_profile": "reviewer", "message": "review",
                                        "working_directory": "/tmp", "provider": "codex", "model": "m2"}
    assert by_method["orch.send_message"] == {"token": "sekrit", "receiver_id": "w9", "message": "hi"}
    assert by_method["orch.answer_user_prompt"] == {"token": "sekrit", "agent_id": "w1a2b3c4", "answer": "1"}
    assert by_method["orch.list_agents"] == {"token": "sekrit"}
    assert by_method["orch.get_result"] == {"token": "sekrit", "agent_id": "w1a2b3c4", "timeout": 5.0}
    assert by_method["orch.end_worker"] == {"token": "sekrit", "agent_id": "w1a2b3c4"}
    assert all(r["params"]["token"] == "sekrit" for r in fake.requests)


def test_failed_handoff_and_refusals(fake_caod):
    def busy(p):
        raise LookupError(f"agent {p['receiver_id']} is busy")

    fake = fake_caod({
        "orch.handoff": lambda p: {"success": False, "output": None, "agent_id": "w2",
                                   "error": "the worker timed out"},
        "orch.send_message": busy,
    })

    async def main():
        async with bridge(bridge_env(CAO_AGENT_TOKEN="t", CAOD_SOCKET=fake.path)) as client:
            result = await client.call_tool("handoff", {"agent_profile": "developer", "message": "x"})
            assert not result.is_error
            assert result.structured_content == {"success": False, "output": None, "agent_id": "w2",
                                                 "error": "the worker timed out"}
            result = await client.call_tool("send_message", {"receiver_id": "abc", "message": "x"})
            assert result.is_error and "caod refused: agent abc is busy" in text_of(result)
            result = await client.call_tool("list_agents", {})       # not implemented by this daemon
            assert result.is_error and "caod refused: unknown method orch.list_agents" in text_of(result)

    run(main)


def test_stdout_carries_only_mcp_and_start_is_quick(tmp_path):
    """Raw stdio: every line the bridge writes is a JSON-RPC message; stdin EOF ends it cleanly."""
    import subprocess

    env = bridge_env(CAOD_SOCKET=str(tmp_path / "none.sock"))
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    calls = [init, {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
             {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_agents", "arguments": {}}}]
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "caoctl", "mcp"], env=env, cwd=str(ROOT), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        replies = []
        for message in calls:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            if "id" in message:
                replies.append(json.loads(proc.stdout.readline()))
        elapsed = time.monotonic() - started
        proc.stdin.close()
        assert proc.wait(timeout=15) == 0, proc.stderr.read()
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert [r.get("id") for r in replies] == [1, 2, 3]
    assert replies[0]["result"]["serverInfo"]["name"] == "caod"
    assert replies[2]["result"]["isError"] is True
    assert elapsed < 10


def test_a_cancelled_handoff_hangs_up_on_the_daemon(fake_caod):
    """The CLI gives up on a handoff (its request timeout): the bridge closes its daemon connection."""
    fake = fake_caod({})

    def slow_handoff(p):
        fake.wait_unless_hung_up(10, "orch.handoff")
        return {"success": True, "output": "late", "agent_id": "w1"}

    fake.answers["orch.handoff"] = slow_handoff
    fake.answers["orch.list_agents"] = lambda p: {"agents": []}

    async def main():
        async with bridge(bridge_env(CAO_AGENT_TOKEN="t", CAOD_SOCKET=fake.path)) as client:
            started = time.monotonic()
            with pytest.raises(Exception, match="timed out"):
                await client.call_tool("handoff", {"agent_profile": "developer", "message": "x"},
                                       read_timeout_seconds=0.5)
            assert time.monotonic() - started < 5
            deadline = time.monotonic() + 5
            while not fake.hangups and time.monotonic() < deadline:
                await anyio.sleep(0.05)
            assert fake.hangups == ["orch.handoff"]
            result = await client.call_tool("list_agents", {})        # the bridge still answers
            assert result.structured_content == {"agents": []}

    run(main)
