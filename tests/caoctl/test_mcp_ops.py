"""`caoctl mcp --ops` through the MCP SDK's own client against a real daemon: a person's
agent launches, watches, steers and ends a scripted team; `install-mcp --ops` registers
it in each CLI's configuration; `skill print ops` ships the guide."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
OPS_TOOLS = {"launch_session", "list_sessions", "session_status", "send_to_session", "session_output",
             "shutdown_session", "list_profiles", "list_flows", "run_flow", "memory_recall", "memory_store",
             "run_workflow"}


@asynccontextmanager
async def ops(daemon, errlog: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAO_", "CAOD_", "CAOCTL_"))}
    env["CAOD_SOCKET"] = str(daemon.socket)
    params = StdioServerParameters(command=sys.executable, args=["-m", "caoctl", "mcp", "--ops"], env=env,
                                   cwd=str(ROOT))
    with open(errlog, "w") as err:
        async with Client(stdio_client(params, errlog=err), mode="legacy") as client:
            yield client


async def call(client, tool: str, **args):
    result = await client.call_tool(tool, args)
    text = "\n".join(b.text for b in result.content if getattr(b, "type", None) == "text")
    if result.is_error:
        return {"error": text}
    return result.structured_content if result.structured_content is not None else json.loads(text)


def test_a_team_launched_watched_steered_and_ended_through_the_ops_server(daemon, tmp_path):
    async def main():
        async with ops(daemon, tmp_path / "ops.err") as client:
            assert client.server_info.name == "caod-ops"
            assert {t.name for t in (await client.list_tools()).tools} == OPS_TOOLS
            profiles = await call(client, "list_profiles")
            assert "code_supervisor" in {p["name"] for p in profiles["profiles"]}

            launched = await call(client, "launch_session", agent_profile="code_supervisor", provider="scripted",
                                  task="first task", working_directory=str(tmp_path), session_name="opsdemo")
            assert launched["session"] == "opsdemo" and launched["cwd"] == str(tmp_path), launched
            status = {}
            with anyio.fail_after(30):
                while status.get("agents", [{}])[0].get("status") != "completed":
                    status = await call(client, "session_status", session="opsdemo")
                    await anyio.sleep(0.2)
            assert status["supervisor"] == launched["supervisor"] and status["active"]
            out = await call(client, "session_output", session="opsdemo")
            assert out["last_answer"] == "echo: first task" and "first task" in out["screen"]

            sent = await call(client, "send_to_session", session="opsdemo", message="second task", wait=True,
                              timeout=30)
            assert (sent["ended"], sent["answer"]) == ("completed", "echo: second task"), sent
            listed = await call(client, "list_sessions")
            assert [s["name"] for s in listed["sessions"]] == ["opsdemo"]

            ended = await call(client, "shutdown_session", session="opsdemo")
            assert ended == {"sessions": ["opsdemo"], "agents_stopped": 1}
            assert (await call(client, "list_sessions"))["sessions"] == []
            gone = await call(client, "session_status", session="nope")
            assert "error" in gone and "no such session" in gone["error"] and "\n" not in gone["error"]

    anyio.run(main)


def test_bad_folders_are_tool_errors_of_one_line(daemon, tmp_path):
    async def main():
        async with ops(daemon, tmp_path / "ops.err") as client:
            relative = await call(client, "launch_session", agent_profile="code_supervisor", task="x",
                                  working_directory="some/where")
            assert "must be an absolute path" in relative["error"]
            system = await call(client, "launch_session", agent_profile="code_supervisor", task="x",
                                working_directory="/etc")
            assert "system folder" in system["error"] and "\n" not in system["error"]
            assert (await call(client, "list_sessions"))["sessions"] == []

    anyio.run(main)


def test_memories_through_the_ops_server(daemon, tmp_path):
    async def main():
        async with ops(daemon, tmp_path / "ops.err") as client:
            stored = await call(client, "memory_store", content="tests run with make check", key="tests",
                                working_directory=str(tmp_path))
            assert stored == {"key": "tests", "scope": "project", "content": "tests run with make check"}
            found = await call(client, "memory_recall", query="how do tests run", working_directory=str(tmp_path))
            assert [m["key"] for m in found["memories"]] == ["tests"]
            assert (await call(client, "list_flows")) == {"flows": []}

    anyio.run(main)


def test_install_mcp_writes_each_clis_file_after_a_backup(daemon, caoctl, one_line_error, tmp_path):
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps({"theme": "dark", "mcpServers": {"other": {}}}))
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text('model = "o4"\n\n[mcp_servers.other]\ncommand = "x"\n')
    env = {**daemon.env, "HOME": str(home)}
    printed = caoctl(daemon, "install-mcp", "claude_code", "--ops", env=env)
    assert printed.returncode == 0 and '"caod-ops"' in printed.stdout and not (home / ".claude.json").exists()
    for cli in ("claude_code", "codex", "gemini_cli", "qwen_code", "opencode"):
        r = caoctl(daemon, "install-mcp", cli, "--ops", "--write", env=env)
        assert r.returncode == 0 and "registered caod-ops" in r.stdout, (cli, r.stderr)
    gemini = json.loads((home / ".gemini" / "settings.json").read_text())
    assert gemini["theme"] == "dark" and set(gemini["mcpServers"]) == {"other", "caod-ops"}
    assert gemini["mcpServers"]["caod-ops"]["args"][-2:] == ["mcp", "--ops"]
    assert len(list((home / ".gemini").glob("settings.json.bak-*"))) == 1
    codex = tomllib.loads((home / ".codex" / "config.toml").read_text())
    assert codex["model"] == "o4" and set(codex["mcp_servers"]) == {"other", "caod-ops"}
    again = caoctl(daemon, "install-mcp", "codex", "--ops", "--write", env=env)  # replaced, not doubled
    assert again.returncode == 0
    assert tomllib.loads((home / ".codex" / "config.toml").read_text())["mcp_servers"]["caod-ops"] == \
        codex["mcp_servers"]["caod-ops"]
    opencode = json.loads((home / ".config" / "opencode" / "opencode.json").read_text())
    assert opencode["mcp"]["caod-ops"]["type"] == "local" and opencode["mcp"]["caod-ops"]["command"][-1] == "--ops"
    assert json.loads((home / ".claude.json").read_text())["mcpServers"]["caod-ops"]["type"] == "stdio"
    assert oct((home / ".claude.json").stat().st_mode & 0o777) == "0o600"
    (home / ".qwen" / "settings.json").write_text("{not json")
    one_line_error(caoctl(daemon, "install-mcp", "qwen_code", "--ops", "--write", env=env),
                   contains="is not valid JSON")
    assert (home / ".qwen" / "settings.json").read_text() == "{not json"


def test_the_ops_skill_ships_with_caod(daemon, caoctl):
    r = caoctl(daemon, "skill", "print", "ops")
    assert r.returncode == 0 and r.stdout.startswith("# Driving caod teams from your own agent")
    for word in ("working_directory", "session_status", "handoff", "assign", "shutdown_session"):
        assert word in r.stdout, word


def test_a_workflow_through_the_ops_server(daemon, tmp_path):
    async def main():
        async with ops(daemon, tmp_path / "ops.err") as client:
            run = await call(client, "run_workflow", workflow="handshake", task="is 2+2 4?",
                             participants=["scripted", "scripted"], working_directory=str(tmp_path), timeout=60)
            assert run["status"] == "completed", run
            assert [s["status"] for s in run["steps"]] == ["done"] * len(run["steps"])
            assert "is 2+2 4?" in run["steps"][-1]["output"]  # the scripted agent echoes what it was sent
            assert run["handover_dir"] and os.path.isdir(run["handover_dir"])
            bad = await call(client, "run_workflow", workflow="nope", task="x", participants=["scripted"],
                             working_directory=str(tmp_path))
            assert "error" in bad and "\n" not in bad["error"]

    anyio.run(main)
