"""What a provider's launch line and files become for one agent (caod.launching, no process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import providers
from caod.launching import Launch, prepare_launch
from caod.profiles.parse import parse_profile
from caod.protocol import SpawnParams

PROFILE = """---
name: tooled
description: a developer with two extra MCP servers
mcpServers:
  files:
    command: /opt/files server
    args: ["--root", "/srv/a \\"b\\""]
    env: {LEVEL: "2"}
  search:
    type: http
    url: https://example.com/mcp
---
You write code.
"""


def launch(provider: str, tmp_path):
    spec = providers.get(provider).spec
    return prepare_launch(spec, home=tmp_path / "home", socket=tmp_path / "caod.sock", agent_id="a1",
                          token="secret-token", cwd=str(tmp_path), spawn=SpawnParams(provider=provider),
                          launch=Launch(profile=parse_profile(PROFILE, "test")), session_id=None)


def test_opencode_gets_the_bridge_and_the_profiles_command_servers(tmp_path):
    config = json.loads(launch("opencode", tmp_path).env["OPENCODE_CONFIG_CONTENT"])
    servers = config["mcp"]
    assert set(servers) == {"caod", "files"}  # a server given by URL has no OpenCode shape here
    assert servers["files"] == {"type": "local", "command": ["/opt/files server", "--root", '/srv/a "b"'],
                                "environment": {"LEVEL": "2"}, "enabled": True}
    bridge = servers["caod"]
    assert bridge["command"] == [sys.executable, "-P", "-m", "caoctl", "mcp"]  # -P: never from the cwd
    assert bridge["environment"] == {"CAO_AGENT_ID": "a1", "CAO_AGENT_TOKEN": "secret-token",
                                     "CAOD_SOCKET": str(tmp_path / "caod.sock")}
    assert config["instructions"] and open(config["instructions"][0]).read().strip() == "You write code."


def test_mcp_config_file_keeps_every_server_and_is_private(tmp_path):
    prepared = launch("claude_code", tmp_path)
    path = tmp_path / "home" / "agents" / "a1" / "mcp.json"
    assert prepared.args[prepared.args.index("--mcp-config") + 1] == str(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it holds the agent's token
    servers = json.loads(path.read_text())["mcpServers"]
    assert set(servers) == {"caod", "files", "search"}
    assert servers["search"]["url"] == "https://example.com/mcp"


def test_yolo_adds_the_providers_yolo_flags_and_environment_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("IS_SANDBOX", raising=False)
    spec = providers.get("claude_code").spec
    for yolo in (False, True):
        prepared = prepare_launch(spec, home=tmp_path / "home", socket=tmp_path / "caod.sock", agent_id="a1",
                                  token="t", cwd=str(tmp_path), spawn=SpawnParams(provider="claude_code"),
                                  launch=Launch(yolo=yolo), session_id=None)
        assert ("--dangerously-skip-permissions" in prepared.args) is yolo
        # as root, Claude Code takes its bypass flag only with IS_SANDBOX=1 (real 2.1.197)
        assert prepared.env.get("IS_SANDBOX") == ("1" if yolo else None)


def test_the_hook_lines_an_agents_cli_runs_work_from_a_folder_holding_our_package_names(tmp_path):
    """A CLI runs caoctl hook from its own folder; one holding caod/ or caoctl/ (a clone's parent)
    must not shadow the installed packages (python -m puts the cwd first on sys.path)."""
    shadowing = tmp_path / "work"
    for name in ("caod", "caoctl", "providers"):
        (shadowing / name).mkdir(parents=True)
        (shadowing / name / "__init__.py").write_text("raise ImportError('imported from the current folder')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAO_", "CAOD_"))}  # no agent: a clean refusal
    claude = launch("claude_code", tmp_path).args
    settings = json.loads(claude[claude.index("--settings") + 1])
    stop_line = settings["hooks"]["Stop"][0]["hooks"][0]["command"]
    codex = launch("codex", tmp_path).args
    notify = json.loads(next(a for a in codex if a.startswith("notify="))[len("notify="):])
    for argv in (["sh", "-c", stop_line], notify):
        r = subprocess.run(argv, cwd=shadowing, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "not inside a caod agent" in r.stderr, (argv, r.stderr)
    scripted = providers.get("scripted").spec.command
    r = subprocess.run([*scripted, "--help"], cwd=shadowing, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "scripted_cli" in r.stdout, r.stderr
