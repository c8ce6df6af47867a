"""The scripted agent as an MCP client, and its profile flags.

The agent runs in a real PTY (the harness of test_scripted_cli) with
--mcp-config pointing at echo_mcp_server.py, a tiny MCP stdio server started
by the agent itself through the SDK's stdio client.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from providers.scripted_cli import render
from providers.scripted_cli.mcp_client import McpConfigError, parse_config
from providers.scripted_cli.rules import RulesError, parse_rules

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_scripted_cli import BANNER, BUSY, TOP, idle, run_plain, spawn  # noqa: E402,F401 (spawn: the fixture)

HERE = Path(__file__).resolve().parent
ECHO_SERVER = HERE / "echo_mcp_server.py"
TIMEOUT = 20.0


@pytest.fixture
def mcp_config(tmp_path):
    """Path of an MCP config with the echo server (plus any extra servers given)."""

    def make(**extra):
        servers = {"echo": {"command": sys.executable, "args": [str(ECHO_SERVER)], "env": {"ECHO_MARK": "1"}}}
        servers.update(extra)
        path = tmp_path / f"mcp-{len(extra)}.json"
        path.write_text(json.dumps({"mcpServers": servers}))
        return str(path)

    return make


def call(tool, args=None, server="echo", **extra):
    spec = {"server": server, "tool": tool, "args": args or {}}
    spec.update(extra)
    return spec


def mcp_log_env(tmp_path):
    return {"CAO_SCRIPTED_MCP_LOG": str(tmp_path / "mcp.log")}


def pids_of_echo_servers(parent_pid):
    """Echo servers started by `parent_pid` (via /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent_pid and b"echo_mcp_server.py" in cmd:
            found.append(int(entry))
    return found


# -- mcp_call -------------------------------------------------------------------------


def test_mcp_call_reply_shows_the_tool_result(spawn, mcp_config, tmp_path):
    rules = {"rules": [{"match": r"^echo (?P<what>.+)$", "mcp_call": call("echo", {"text": "{what}#{turn}"}),
                        "reply": "server said: {result}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("echo hello")
    agent.wait_seq(["> echo hello", "", "● server said: ECHO:hello#1", ""] + idle(), timeout=TIMEOUT)


def test_spinner_turns_during_a_slow_call_and_progress_is_shown(spawn, mcp_config, tmp_path):
    rules = {"rules": [{"match": "^slow", "mcp_call": call("slow", {"text": "{text}"}),
                        "reply": "{result}", "think": 0}]}
    trace = tmp_path / "trace.jsonl"
    agent = spawn("--mcp-config", mcp_config(), "--trace", str(trace), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("slow one")
    agent.wait_for(lambda a: any(line.startswith("  ⎿ slow step") for line in a.lines()), "progress line",
                   timeout=TIMEOUT)
    busy_row = next(i for i, line in enumerate(agent.lines()) if BUSY.match(line))
    assert agent.lines()[busy_row + 1] == render.BUSY_FOOTER
    agent.wait_seq(["● SLOW:slow one", ""] + idle(), timeout=TIMEOUT)
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    start = next(e["t"] for e in events if e["event"] == "mcp_call")
    end = next(e["t"] for e in events if e["event"] == "mcp_result")
    assert end - start >= 1.0
    # the spinner redrew all along the call: many distinct frames, no long silent gap
    frames = re.findall("([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]) Thinking".encode(), agent.raw)
    assert len(frames) >= 8, len(frames)
    assert len(set(frames)) >= 5
    assert [e["event"] for e in events if e["event"].startswith("mcp")] == ["mcp_call", "mcp_result"]
    assert next(e for e in events if e["event"] == "mcp_result")["ok"] is True


def test_spinner_ticks_are_regular_during_the_call(spawn, mcp_config, tmp_path):
    """Read the PTY with timestamps: spinner frames keep coming (the call never blocks the loop)."""
    rules = {"rules": [{"match": "^slow", "mcp_call": call("slow", {"text": "x"}), "reply": "{result}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("slow")
    stamps = []
    deadline = time.monotonic() + TIMEOUT
    while "● SLOW:x" not in agent.lines():
        assert time.monotonic() < deadline, agent.dump()
        before = len(agent.raw)
        agent.pump(0.05)
        if re.search("[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Thinking".encode(), bytes(agent.raw[before:])):
            stamps.append(time.monotonic())
    assert len(stamps) >= 8
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert max(gaps) < 0.5, gaps            # an SDK import in the main thread would stall ~1 s


def test_server_process_is_kept_across_turns(spawn, mcp_config, tmp_path):
    rules = {"rules": [{"match": "^count", "mcp_call": call("count"), "reply": "count={result}", "think": 0},
                       {"match": "^pid", "mcp_call": call("pid"), "reply": "pid={result}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    assert pids_of_echo_servers(agent.proc.pid) == []           # started lazily, on the first call
    agent.submit("count")
    agent.wait_seq(["● count=1", ""] + idle(), timeout=TIMEOUT)
    agent.submit("count")
    agent.wait_seq(["● count=2", ""] + idle(), timeout=TIMEOUT)
    agent.submit("pid")
    agent.wait_for(lambda a: any(line.startswith("● pid=") for line in a.lines()), "pid reply", timeout=TIMEOUT)
    pid = int(next(line for line in agent.lines() if line.startswith("● pid="))[6:])
    assert pids_of_echo_servers(agent.proc.pid) == [pid]
    agent.send("\x04")                                           # Ctrl-D: the agent quits and stops its server
    assert agent.wait_exit() == 0
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


def test_timeout_keeps_the_server_a_crash_restarts_it(spawn, mcp_config, tmp_path):
    rules = {"rules": [
        {"match": "^slow", "mcp_call": call("slow", {"text": "x"}, timeout=0.3), "reply": "{result}", "think": 0},
        {"match": "^count", "mcp_call": call("count"), "reply": "count={result}", "think": 0},
        {"match": "^crash", "mcp_call": call("crash"), "reply": "never", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("count")
    agent.wait_seq(["● count=1", ""] + idle(), timeout=TIMEOUT)
    agent.submit("slow")
    agent.wait_seq(["● tool error: Request 'tools/call' timed out", ""] + idle(), timeout=TIMEOUT)
    agent.submit("count")
    agent.wait_seq(["● count=2", ""] + idle(), timeout=TIMEOUT)          # same server process
    agent.submit("crash")
    agent.wait_seq(["● tool error: Connection closed", ""] + idle(), timeout=TIMEOUT)
    agent.submit("count")
    agent.wait_seq(["> count", "", "● count=1", ""] + idle(), timeout=TIMEOUT)   # a new one


def test_json_output_field_result_json_and_env(spawn, mcp_config, tmp_path):
    rules = {"rules": [
        {"match": "^h (?P<m>.+)", "mcp_call": call("handoff_like", {"message": "{m}"}),
         "reply": "worker said: {result}\nraw: {result_json}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("h the job")
    agent.wait_for(lambda a: "● worker said: did the job" in a.lines(), "reply", timeout=TIMEOUT)
    agent.wait_seq(idle(), timeout=TIMEOUT)
    lines = agent.lines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  raw: "))
    end = lines.index("", start)
    raw = "\n".join([lines[start][len("  raw: "):]] + [line[2:] for line in lines[start + 1:end]])
    assert json.loads(raw) == {"success": True, "output": "did the job", "agent_id": "w1"}


def test_server_env_is_the_agents_plus_the_configs(spawn, mcp_config, tmp_path):
    rules = {"rules": [{"match": "^env (?P<var>\\w+)", "mcp_call": call("getenv", {"name": "{var}"}),
                        "reply": "{var}=[{result}]", "think": 0}]}
    env = dict(mcp_log_env(tmp_path), FROM_AGENT="agent-env")
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=env)
    agent.wait_ready()
    agent.submit("env ECHO_MARK")
    agent.wait_seq(["● ECHO_MARK=[1]", ""] + idle(), timeout=TIMEOUT)
    agent.submit("env FROM_AGENT")
    agent.wait_seq(["● FROM_AGENT=[agent-env]", ""] + idle(), timeout=TIMEOUT)
    agent.submit("env UNSET_VARIABLE")
    agent.wait_seq(["● UNSET_VARIABLE=[]", ""] + idle(), timeout=TIMEOUT)


def test_tool_error_uses_reply_error_or_the_default(spawn, mcp_config, tmp_path):
    rules = {"rules": [
        {"match": "^fail1", "mcp_call": call("fail", {"text": "a"}), "reply": "never", "reply_error": "oops: {error}",
         "think": 0},
        {"match": "^fail2", "mcp_call": call("fail", {"text": "b"}), "reply": "never", "think": 0},
        {"match": "^badargs", "mcp_call": call("echo", {"wrong": 1}), "reply": "never", "think": 0},
        {"match": "^after", "mcp_call": call("echo", {"text": "still up"}), "reply": "{result}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("fail1")
    agent.wait_seq(["● oops: Error executing tool fail: nope: a", ""] + idle(), timeout=TIMEOUT)
    agent.submit("fail2")
    agent.wait_seq(["● tool error: Error executing tool fail: nope: b", ""] + idle(), timeout=TIMEOUT)
    agent.submit("badargs")
    agent.wait_for(lambda a: any(line.startswith("● tool error: Error executing tool echo") for line in a.lines()),
                   "argument error", timeout=TIMEOUT)
    agent.submit("after")
    agent.wait_seq(["● ECHO:still up", ""] + idle(), timeout=TIMEOUT)
    assert "never" not in "\n".join(agent.lines())


def test_server_that_cannot_start_is_a_tool_error(spawn, mcp_config, tmp_path):
    rules = {"rules": [
        {"match": "^a", "mcp_call": call("x", server="broken"), "reply": "never", "think": 0},
        {"match": "^b", "mcp_call": call("x", server="web"), "reply": "never", "think": 0}]}
    config = mcp_config(broken={"command": str(tmp_path / "no-such-binary")}, web={"url": "http://localhost:1/mcp"})
    agent = spawn("--mcp-config", config, rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("a")
    agent.wait_for(lambda a: any(line.startswith("● tool error: cannot start MCP server 'broken'")
                                 for line in a.lines()), "start error", timeout=TIMEOUT)
    agent.submit("b")
    agent.wait_for(lambda a: any("only stdio servers" in line for line in a.lines()), "url error", timeout=TIMEOUT)


def test_no_config_fails_at_call_time(spawn):
    rules = {"rules": [{"match": "^go", "mcp_call": call("echo", {"text": "x"}, server="caod"),
                        "reply": "never", "reply_error": "E={error}", "think": 0}]}
    agent = spawn(rules=rules)
    agent.wait_ready()
    agent.submit("go")
    agent.wait_seq(["● E=no MCP server 'caod': the agent was started without --mcp-config", ""] + idle())


def test_esc_interrupts_a_call_and_the_late_result_is_dropped(spawn, mcp_config, tmp_path):
    rules = {"rules": [{"match": "^slow", "mcp_call": call("slow", {"text": "late"}), "reply": "{result}",
                        "think": 0},
                       {"match": "^echo", "mcp_call": call("echo", {"text": "next"}), "reply": "{result}",
                        "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("slow")
    agent.wait_for(lambda a: any(BUSY.match(line) for line in a.lines()), "spinner", timeout=TIMEOUT)
    agent.send(b"\x1b")
    agent.wait_seq(["> slow", "", "  ⎿ Interrupted"] + idle(), timeout=TIMEOUT)
    agent.submit("echo")
    agent.wait_seq(["● ECHO:next", ""] + idle(), timeout=TIMEOUT)
    time.sleep(1.2)                        # the interrupted call would have ended by now
    agent.pump(0.2)
    assert "● SLOW:late" not in agent.lines()


def test_approval_then_mcp_call(spawn, mcp_config, tmp_path):
    rules = {"rules": [{"match": "^run (?P<x>\\w+)", "approval": "Call echo with {x}?",
                        "mcp_call": call("echo", {"text": "{x}"}), "reply": "{result}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("run it")
    agent.wait_seq(["? Do you want to proceed? Call echo with it?"])
    agent.send("1")
    agent.wait_seq(["  ✓ approved", "● ECHO:it", ""] + idle(), timeout=TIMEOUT)


# -- start-up validation ------------------------------------------------------------


def test_unknown_server_in_rules_exits_2_when_a_config_is_given(mcp_config):
    rules = json.dumps({"rules": [{"match": "x", "mcp_call": call("echo", server="nope")}]})
    result = run_plain("--mcp-config", mcp_config(), env={"CAO_SCRIPTED_RULES": rules})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("scripted_cli: bad mcp config: rules[0].mcp_call: no MCP server 'nope'")
    assert "(known: echo)" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("text", ["not json", "[]", '{"mcpServers": []}', '{"mcpServers": {"a": {}}}',
                                  '{"mcpServers": {"a": {"command": "x", "args": "y"}}}',
                                  '{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}'])
def test_bad_mcp_config_exits_2(tmp_path, text):
    path = tmp_path / "mcp.json"
    path.write_text(text)
    result = run_plain("--mcp-config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("scripted_cli: bad mcp config:") and result.stderr.count("\n") == 1


def test_missing_files_exit_2(tmp_path):
    for flag in ("--mcp-config", "--system-prompt-file"):
        result = run_plain(flag, str(tmp_path / "nope"))
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


BAD_MCP_RULES = [
    {"match": "x", "mcp_call": "echo"},
    {"match": "x", "mcp_call": {"tool": "echo"}},
    {"match": "x", "mcp_call": {"server": "s", "tool": ""}},
    {"match": "x", "mcp_call": {"server": "s", "tool": "t", "args": []}},
    {"match": "x", "mcp_call": {"server": "s", "tool": "t", "argz": {}}},
    {"match": "x", "mcp_call": {"server": "s", "tool": "t", "timeout": 0}},
    {"match": "x", "mcp_call": {"server": "s", "tool": "t", "args": {"a": "{nope}"}}},
    {"match": "x", "mcp_call": {"server": "s", "tool": "t", "args": {"a": "{result}"}}},
    {"match": "x", "reply": "{result}"},
    {"match": "x", "reply_error": "{error}"},
]


@pytest.mark.parametrize("rule", BAD_MCP_RULES, ids=range(len(BAD_MCP_RULES)))
def test_bad_mcp_call_rules(rule):
    with pytest.raises(RulesError):
        parse_rules(json.dumps({"rules": [rule]}))


def test_mcp_call_rule_parsing():
    rules = parse_rules(json.dumps({"rules": [
        {"match": "^(?P<who>\\w+)", "approval": "ok?", "mcp_call": {
            "server": "caod", "tool": "handoff", "timeout": 30,
            "args": {"agent_profile": "developer", "message": "{text} for {who}", "n": 3, "l": ["{turn}", True]}},
         "reply": "worker said: {result} ({result_json}) {error}", "reply_error": "failed: {error}"}]}))
    rule = rules.rules[0]
    assert rule.steps == ["approval", "mcp_call", "reply"]
    call_spec = rule.params["mcp_call"]
    assert (call_spec.server, call_spec.tool, call_spec.timeout) == ("caod", "handoff", 30.0)
    assert call_spec.args["n"] == 3


def test_parse_config_keeps_url_servers_and_ignores_unknown_keys():
    servers = parse_config(json.dumps({"mcpServers": {
        "a": {"type": "stdio", "command": "x", "args": ["1"], "env": {"K": "v"}, "timeout": 5},
        "w": {"url": "http://x/mcp"}}}))
    assert servers["a"].command == "x" and servers["a"].args == ["1"] and servers["a"].env == {"K": "v"}
    assert servers["w"].command is None and servers["w"].url == "http://x/mcp"
    with pytest.raises(McpConfigError):
        parse_config('{"mcpServers": {"a": {"command": ""}}}')


# -- profile flags ----------------------------------------------------------------


def test_system_prompt_file_and_model_lines_after_the_banner(spawn, tmp_path):
    prompt = tmp_path / "prompt.md"
    prompt.write_text("\nYou are the developer of team X.\nSecond line is not shown.\n")
    agent = spawn("--system-prompt-file", str(prompt), "--model", "sonnet-9")
    agent.wait_ready()
    assert agent.lines()[:10] == BANNER[:3] + ["  system: You are the developer of team X.", "  model: sonnet-9",
                                               ""] + idle()
    assert "Second line" not in "\n".join(agent.lines())


def test_model_only(spawn):
    agent = spawn("--model", "m1")
    agent.wait_ready()
    assert agent.lines()[:5] == BANNER[:3] + ["  model: m1", ""]
    assert agent.lines()[5] == TOP


def test_yolo_auto_approves(spawn, tmp_path):
    trace = tmp_path / "trace.jsonl"
    rules = {"rules": [{"match": r"deploy (?P<what>\w+)", "approval": "Run deploy of {what}?",
                        "reply": "deployed {what}", "reply_declined": "not deployed"}]}
    agent = spawn("--yolo", "--trace", str(trace), rules=rules)
    agent.wait_ready()
    agent.submit("deploy prod")
    agent.wait_seq(["> deploy prod", "", render.YOLO_LINE, "● deployed prod", ""] + idle())
    assert b"Do you want to proceed" not in agent.raw
    kinds = [json.loads(line).get("kind") for line in trace.read_text().splitlines()]
    assert "approval" not in kinds


def test_without_yolo_the_prompt_still_shows(spawn):
    rules = {"rules": [{"match": "^go", "approval": "Go?", "reply": "went"}]}
    agent = spawn(rules=rules)
    agent.wait_ready()
    agent.submit("go")
    agent.wait_seq(["? Do you want to proceed? Go?"])
    agent.send("1")
    agent.wait_seq(["  ✓ approved", "● went", ""] + idle())


def test_the_sdk_is_not_imported_without_an_mcp_call():
    code = ("import sys; import providers.scripted_cli.app as a; "
            "print(any(m == 'mcp' or m.startswith('mcp.') for m in sys.modules), 'asyncio' in sys.modules)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], cwd=str(HERE.parents[1]), capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.split() == ["False", "False"], out


def test_sigterm_during_a_call_exits_and_stops_the_server(spawn, mcp_config, tmp_path):
    import signal

    rules = {"rules": [{"match": "^pid", "mcp_call": call("pid"), "reply": "pid={result}", "think": 0},
                       {"match": "^slow", "mcp_call": call("slow", {"text": "x"}), "reply": "{result}", "think": 0}]}
    agent = spawn("--mcp-config", mcp_config(), rules=rules, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("pid")
    agent.wait_for(lambda a: any(line.startswith("● pid=") for line in a.lines()), "pid reply", timeout=TIMEOUT)
    pid = int(next(line for line in agent.lines() if line.startswith("● pid="))[6:])
    agent.wait_seq(idle())
    agent.submit("slow")
    agent.wait_for(lambda a: any(BUSY.match(line) for line in a.lines()), "spinner", timeout=TIMEOUT)
    started = time.monotonic()
    agent.proc.kill(signal.SIGTERM)
    agent.wait_exit()
    assert agent.proc.exitstatus == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
    assert agent.raw.endswith(b"\x1b[?2004l")
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


# -- through caoctl mcp, the real bridge --------------------------------------------


class FakeCaod:
    """Answers orch.handoff on a Unix socket, like caod would (one thread per connection)."""

    def __init__(self, folder):
        import socket
        import threading

        self.path = os.path.join(folder, "caod.sock")
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn, conn.makefile("rb") as rfile:
            for line in rfile:
                req = json.loads(line)
                self.requests.append(req)
                p = req["params"]
                result = {"success": True, "output": f"done: {p['message']}", "agent_id": "w1"}
                conn.sendall(json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode() + b"\n")


def bridge_config(tmp_path, socket_path, token):
    path = tmp_path / "bridge.json"
    path.write_text(json.dumps({"mcpServers": {"caod": {
        "command": sys.executable, "args": ["-m", "caoctl", "mcp"],
        "env": {"CAO_AGENT_ID": "sup1", "CAO_AGENT_TOKEN": token, "CAOD_SOCKET": str(socket_path)}}}}))
    return str(path)


HANDOFF_RULE = {"match": "^delegate (?P<task>.+)",
                "mcp_call": {"server": "caod", "tool": "handoff",
                             "args": {"agent_profile": "developer", "message": "{task}", "timeout": 60}},
                "reply": "worker said: {result}", "reply_error": "refused: {error}", "think": 0}


@pytest.fixture
def fake_caod():
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="caofk-", dir="/tmp")    # short: a Unix socket path has ~100 bytes
    fake = FakeCaod(folder)
    yield fake
    fake.sock.close()
    shutil.rmtree(folder, ignore_errors=True)


def test_handoff_through_the_bridge(spawn, fake_caod, tmp_path):
    fake = fake_caod
    agent = spawn("--mcp-config", bridge_config(tmp_path, fake.path, "tok-123"), rules={"rules": [HANDOFF_RULE]},
                  env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("delegate fix the bug")
    agent.wait_seq(["● worker said: done: fix the bug", ""] + idle(), timeout=TIMEOUT)
    assert fake.requests[0]["method"] == "orch.handoff"
    assert fake.requests[0]["params"] == {"token": "tok-123", "agent_profile": "developer",
                                          "message": "fix the bug", "timeout": 60.0}


def test_daemon_refusal_through_the_bridge(daemon, spawn, tmp_path):
    # daemon first: its teardown (which looks for leftover processes) runs after the agent is gone
    agent = spawn("--mcp-config", bridge_config(tmp_path, daemon.socket, "bogus-token"),
                  rules={"rules": [HANDOFF_RULE]}, env=mcp_log_env(tmp_path))
    agent.wait_ready()
    agent.submit("delegate anything")
    agent.wait_for(lambda a: any(line.startswith("● refused: Error executing tool handoff: caod refused: ")
                                 for line in a.lines()), "refusal", timeout=TIMEOUT)
