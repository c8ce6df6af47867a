"""A real Claude Code outside any caod session, given the ops server (`caoctl mcp --ops`)
in its own MCP config, launches a scripted team through its model's tool calls, then
reads the team's answer back through the same server.

Claude runs in print mode (`claude -p`), as a person's agent in a script would; its
model is the fake model server on 127.0.0.1, its home a fresh folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fakemodel.clis import SETUPS
from fakemodel.server import Reply, ToolCall
from realclis import ROOT, TURN_TIMEOUT, binary

pytestmark = pytest.mark.e2e


def test_claude_code_launches_a_team_through_the_ops_server(real_daemon, model_server, workdir, tmp_path, wait_for):
    claude = binary("claude")
    model_server.script(
        ToolCall.named_like("launch_session", {"agent_profile": "code_supervisor", "provider": "scripted",
                                               "task": "say hello to the user", "working_directory": str(workdir),
                                               "session_name": "from-claude"}),
        Reply("I launched the team."),
    )
    config = tmp_path / "ops.json"
    config.write_text(json.dumps({"mcpServers": {"caod-ops": {
        "command": sys.executable, "args": ["-m", "caoctl", "mcp", "--ops"],
        "env": {"CAOD_SOCKET": str(real_daemon.socket), "PYTHONPATH": str(ROOT)}}}}))
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CAO_", "CAOD_")) and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(SETUPS["claude_code"].env(model_server.url), HOME=str(home))
    done = subprocess.run(
        [str(claude), "-p", "Start a team of agents that says hello.", "--mcp-config", str(config),
         "--strict-mcp-config", "--allowedTools", "mcp__caod-ops__launch_session"],
        env=env, cwd=str(workdir), capture_output=True, text=True, timeout=TURN_TIMEOUT)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert done.stdout.strip() == "I launched the team."
    calls = [r for r in model_server.main_requests(api="anthropic")]
    assert any(t.endswith("launch_session") for t in calls[0].tools), calls[0].tools
    result = model_server.last_tool_result(api="anthropic")
    assert result is not None and "from-claude" in result and "error" not in result.lower(), result

    c = real_daemon.client()
    session = c.call("session.get", {"session": "from-claude"})
    assert session.cwd == str(workdir) and session.active
    sup = session.supervisor
    wait_for(lambda: c.call("agent.get", {"agent": sup}).status.value == "completed", "the team's turn", timeout=30)
    assert c.call("agent.output", {"agent": sup, "mode": "last"}).text == "echo: say hello to the user"
