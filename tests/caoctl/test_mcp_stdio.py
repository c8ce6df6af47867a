"""The bridge's own MCP server (caoctl.mcp_stdio, caoctl.mcp_tool) on raw stdio lines.

test_mcp_bridge.py drives the bridge with the SDK's client; here the wire itself:
the version handshake, what `caoctl mcp` imports, malformed lines, concurrent calls
answered out of order, and the arguments checked the lenient way pydantic did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from caoctl.mcp_bridge import build_server
from caoctl.mcp_tool import BOOLEAN, INTEGER, STRING, Arg, Shape, Tool, ToolError, nullable

ROOT = Path(__file__).resolve().parents[2]
SDK_STACK = {"mcp", "mcp_types", "pydantic", "pydantic_core", "anyio", "asyncio", "starlette", "httpx2",
             "pyte", "structlog", "rich"}

TOOL_NAMES = {"handoff", "assign", "send_message", "answer_user_prompt", "list_agents", "diff", "merge",
              "get_result", "end_worker", "memory_store", "memory_recall", "memory_forget"}


def init(rid=1, version="2025-06-18"):
    return {"jsonrpc": "2.0", "id": rid, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}


class RawBridge:
    """`python -X importtime -m caoctl mcp` with JSON lines written and read by hand."""

    def __init__(self, tmp_path: Path, **env: str):
        full = {k: v for k, v in os.environ.items() if not k.startswith(("CAO_", "CAOD_", "CAOCTL_"))}
        full.update({"CAOD_SOCKET": str(tmp_path / "none.sock"), **env})
        self.err = open(tmp_path / "bridge.err", "w+")
        self.proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "caoctl", "mcp"], env=full,
                                     cwd=str(ROOT), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)

    def write(self, message) -> None:
        raw = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.proc.stdin.write(raw + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, "the bridge closed stdout"
        return json.loads(line)

    def close(self) -> tuple[int, str]:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=15)
        rest = self.proc.stdout.read()
        self.proc.stdout.close()
        assert rest == b""
        self.err.seek(0)
        return code, self.err.read()


@pytest.fixture
def raw_bridge(tmp_path):
    made = []

    def make(**env):
        made.append(RawBridge(tmp_path, **env))
        return made[-1]

    yield make
    for b in made:
        if b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
        b.err.close()


def test_handshake_and_list_without_the_sdk(raw_bridge):
    bridge = raw_bridge()
    bridge.write(init(1, "2025-06-18"))
    first = bridge.read()["result"]
    assert first["protocolVersion"] == "2025-06-18" and first["serverInfo"]["name"] == "caod"
    assert "tools" in first["capabilities"] and first["instructions"].startswith("These tools connect you")
    bridge.write({"jsonrpc": "2.0", "method": "notifications/initialized"})
    bridge.write({"jsonrpc": "2.0", "id": "two", "method": "tools/list"})
    listed = bridge.read()
    assert listed["id"] == "two" and {t["name"] for t in listed["result"]["tools"]} == TOOL_NAMES
    bridge.write(init(3, "1999-01-01"))  # a version it does not know: it offers its newest
    assert bridge.read()["result"]["protocolVersion"] == "2025-11-25"
    bridge.write({"jsonrpc": "2.0", "id": 4, "method": "ping"})
    assert bridge.read() == {"jsonrpc": "2.0", "id": 4, "result": {}}
    bridge.write({"jsonrpc": "2.0", "id": 5, "method": "resources/list"})
    assert bridge.read()["result"] == {"resources": []}
    code, err = bridge.close()
    assert code == 0
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in err.splitlines()
                if line.startswith("import time:") and line.count("|") == 2}
    assert "msgspec" in imported and "caoctl" in imported  # the check reads real imports
    assert not imported & SDK_STACK, sorted(imported & SDK_STACK)
    assert "Traceback" not in err


def test_malformed_lines_get_errors_and_the_bridge_goes_on(raw_bridge):
    bridge = raw_bridge()
    bridge.write(b"{not json")
    assert bridge.read()["error"]["code"] == -32700
    bridge.write([1, 2])
    assert bridge.read()["error"]["code"] == -32600
    bridge.write({"jsonrpc": "2.0", "id": 7, "method": "no/such"})
    assert bridge.read() == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32601, "message": "method not found: no/such"}}
    bridge.write({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {}})
    assert bridge.read()["error"]["code"] == -32602
    bridge.write({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "nope"}})
    answer = bridge.read()["result"]
    assert answer["isError"] and answer["content"][0]["text"] == "Unknown tool: nope"
    bridge.write({"jsonrpc": "2.0", "id": 10, "method": "tools/list"})
    assert {t["name"] for t in bridge.read()["result"]["tools"]} == TOOL_NAMES
    code, err = bridge.close()
    assert code == 0 and "Traceback" not in err


def test_the_listing_keeps_the_sdk_shapes():
    listing = {t["name"]: t for t in build_server()._listing}
    handoff = listing["handoff"]
    assert handoff["inputSchema"]["properties"]["working_directory"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}], "default": None,
        "description": "Folder the worker runs in", "title": "Working Directory"}
    assert handoff["inputSchema"]["properties"]["timeout"] == {
        "default": 600, "description": "Seconds to wait for the worker's answer", "minimum": 1,
        "title": "Timeout", "type": "integer"}
    assert handoff["outputSchema"]["required"] == ["success", "output", "agent_id"]
    agents = listing["list_agents"]["outputSchema"]
    assert agents["properties"]["agents"]["items"] == {"$ref": "#/$defs/AgentOut"}
    assert agents["$defs"]["AgentOut"]["required"] == ["id", "name", "profile", "role", "status", "provider"]
    assert listing["list_agents"]["annotations"] == {"title": "List my team", "readOnlyHint": True}
    assert "required" not in listing["list_agents"]["inputSchema"]


SAMPLE = Tool("sample", "A sample tool.", "Sample", [
    Arg("name", STRING, "a name"), Arg("count", INTEGER, "how many", 3, minimum=1),
    Arg("flag", BOOLEAN, "a flag", False), Arg("where", nullable(STRING), "a folder", None),
], Shape("SampleOut", {"ok": BOOLEAN}), lambda call, **kw: {"ok": True})


@pytest.mark.parametrize("given, expected", [
    ({"name": "a"}, {"name": "a", "count": 3, "flag": False, "where": None}),
    ({"name": "a", "count": "7", "flag": "true", "where": "/tmp"}, {"name": "a", "count": 7, "flag": True,
                                                                   "where": "/tmp"}),
    ({"name": "a", "count": 5.0, "flag": 0, "where": None, "extra": 1}, {"name": "a", "count": 5, "flag": False,
                                                                         "where": None}),
])
def test_arguments_are_converted_as_pydantic_did(given, expected):
    assert SAMPLE.arguments(given) == expected


@pytest.mark.parametrize("given, says", [
    ({}, "name: field required"),
    ({"name": 5}, "name: expected a string, got 5"),
    ({"name": "a", "count": "many"}, "count: expected an integer, got 'many'"),
    ({"name": "a", "count": 0}, "count: must be at least 1, got 0"),
    ({"name": "a", "count": True}, "count: expected an integer, got True"),
    ({"name": "a", "count": 2.5}, "count: expected an integer, got 2.5"),
    ({"name": "a", "flag": "maybe"}, "flag: expected a boolean, got 'maybe'"),
    ({"name": "a", "where": 3}, "where: expected a string, got 3"),
    (["a"], "expected an object"),
])
def test_bad_arguments_name_the_argument(given, says):
    with pytest.raises(ToolError) as e:
        SAMPLE.arguments(given)
    assert says in str(e.value) and str(e.value).startswith("invalid arguments for sample")


def test_a_slow_call_does_not_hold_up_the_next(raw_bridge, tmp_path):
    """Calls run side by side: list_agents is answered while a handoff still waits on the daemon."""
    import socket
    import threading

    release = threading.Event()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = f"/tmp/caofk-{os.getpid()}.sock"
    listener.bind(path)
    listener.listen(4)

    def serve(conn):
        with conn, conn.makefile("rb") as rfile:
            for line in rfile:
                req = json.loads(line)
                if req["method"] == "orch.handoff":
                    release.wait(20)
                    result = {"success": True, "output": "late", "agent_id": "w1"}
                else:
                    result = {"agents": []}
                conn.sendall(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode() + b"\n")

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        bridge = raw_bridge(CAO_AGENT_TOKEN="t", CAOD_SOCKET=path)
        bridge.write(init())
        bridge.read()
        bridge.write({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "handoff", "arguments": {"agent_profile": "d", "message": "m"}}})
        bridge.write({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "list_agents", "arguments": {}}})
        second = bridge.read()
        assert second["id"] == 2 and second["result"]["structuredContent"] == {"agents": []}
        release.set()
        first = bridge.read()
        assert first["id"] == 1 and first["result"]["structuredContent"]["output"] == "late"
        assert bridge.close()[0] == 0
    finally:
        release.set()
        listener.close()
        os.unlink(path)


def test_lists_and_choices_are_checked_like_the_sdk_did():
    from caoctl.mcp_tool import array, one_of

    tool = Tool("t", "d", "T", [Arg("names", nullable(array(STRING)), "n", None),
                                Arg("scope", one_of("a", "b"), "s", "a")],
                Shape("Out", {}), lambda call, names, scope: {})
    assert tool.arguments({"names": ["x", "y"], "scope": "b"}) == {"names": ["x", "y"], "scope": "b"}
    assert tool.arguments({}) == {"names": None, "scope": "a"}
    for bad, words in (({"names": "x"}, "names: expected a list"), ({"names": [1]}, "names: expected a string"),
                       ({"scope": "c"}, "scope: expected one of a, b")):
        with pytest.raises(ToolError) as e:
            tool.arguments(bad)
        assert words in str(e.value)
