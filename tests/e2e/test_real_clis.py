"""The real CLIs through caod: the pinned binaries, offline, against a scripted fake model.

Per CLI: start -> idle; a task -> processing -> completed with the scripted
answer; a shell command that needs approval -> waiting_user_answer,
answered with `caoctl send AGENT 1` -> completed; the provider's exit keys
typed through agent.attach -> exited. Declining with the "No" option's
number; a relaunch after `kill -9` of the daemon resuming the conversation
(CLIs whose session id caod can pin). Then a team: a real Claude Code
supervisor hands off to a real Qwen Code worker through caod's MCP bridge.

Run `.ci/install-clis` first; a missing binary skips its tests. The whole
tier takes about three minutes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import providers
from fakemodel.server import Reply, ToolCall

from realclis import (CLIS, IDS, MARK, START_TIMEOUT, TURN_TIMEOUT, Cli, binary, caoctl, agent_processes, screen,
                      spawn, statuses, turn, type_keys, wait_for)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]



def start(c, cli: Cli, url: str, workdir: Path) -> str:
    binary(cli.binary)
    info = spawn(c, cli.provider, workdir, cli.launch_args(url))
    wait_for(c, info.id, "idle", timeout=START_TIMEOUT)
    return info.id


@pytest.mark.parametrize("cli", CLIS, ids=IDS)
def test_task_is_answered_then_exit(cli, real_daemon, model_server, workdir):
    c = real_daemon.client()
    agent = start(c, cli, model_server.url, workdir)
    model_server.script(Reply("PONG-42", delay=0.5))

    done = turn(c, agent, "Reply with the word PONG-42.")

    assert done.ended.value == "completed", screen(c, agent)
    mains = model_server.main_requests()
    assert [r.api for r in mains] == [cli.api], (model_server.requests, screen(c, agent))
    assert "PONG-42" in mains[0].user_text
    seen = statuses(c, agent)
    assert ("idle", "screen") in seen
    after_idle = [s for s, _ in seen[seen.index(("idle", "screen")):]]
    assert after_idle[-2:] == ["processing", "completed"], seen
    last_screen = screen(c, agent)

    type_keys(real_daemon, agent, providers.get(cli.provider).spec.exit_keys)
    gone = wait_for(c, agent, "exited", timeout=20)
    assert gone.exit_code == 0, screen(c, agent)

    assert done.answer == "PONG-42", last_screen


@pytest.mark.parametrize("cli", CLIS, ids=IDS)
def test_approval_is_answered_with_caoctl_send_1(cli, real_daemon, model_server, workdir):
    c = real_daemon.client()
    agent = start(c, cli, model_server.url, workdir)
    model_server.script(cli.shell, Reply("done"))

    asked = turn(c, agent, "Create the file.")

    assert asked.ended.value == "waiting_user_answer", screen(c, agent)
    assert not (workdir / MARK).exists()
    answered = caoctl(real_daemon, "send", agent, "1", "--wait", "--timeout", str(TURN_TIMEOUT))
    assert answered.returncode == 0, (answered.stdout, answered.stderr, screen(c, agent))
    assert (workdir / MARK).exists()
    mains = model_server.main_requests()
    assert len(mains) == 2 and model_server.last_tool_result() is not None, mains
    assert answered.stdout.strip() == "done", screen(c, agent)


# The option that declines, per CLI (OpenCode's box has no numbers: `Allow once  Allow always  Reject`).
DECLINE = {"claude_code": "3", "codex": "3", "gemini_cli": "3", "qwen_code": "4"}
# Claude Code's and Codex's select prompts ignore a pasted digit (and an Enter after it would
# confirm the preselected "Yes"): their providers set choice_keys, so the digit is typed alone.
DECLINERS = [pytest.param(c, id=c.provider) for c in CLIS if c.provider in DECLINE]


@pytest.mark.parametrize("cli", DECLINERS)
def test_declining_an_approval_with_caoctl_send(cli, real_daemon, model_server, workdir):
    c = real_daemon.client()
    agent = start(c, cli, model_server.url, workdir)
    model_server.script(cli.shell, Reply("declined"))
    assert turn(c, agent, "Create the file.").ended.value == "waiting_user_answer", screen(c, agent)

    sent = caoctl(real_daemon, "send", agent, DECLINE[cli.provider])
    assert sent.returncode == 0, sent.stderr
    wait_for(c, agent, "idle", "completed", timeout=TURN_TIMEOUT)
    time.sleep(1.0)  # an approved command would have run by now

    assert not (workdir / MARK).exists(), f"{DECLINE[cli.provider]!r} approved the command:\n{screen(c, agent)}"


def test_claude_supervisor_hands_off_to_a_qwen_worker(real_daemon, model_server, workdir):
    """session.launch starts a real Claude Code supervisor; its scripted model calls the
    bridge's handoff tool; a real Qwen Code worker answers; the answer reaches the
    supervisor's next model request as the tool's result."""
    binary("claude")
    binary("qwen")
    model_server.script(
        # The task is typed as soon as Claude is idle, about a second before caod's bridge is
        # connected; Claude then offers WaitForMcpServers (declared whether or not it is needed).
        ToolCall("WaitForMcpServers", {"servers": ["caod"]}),
        ToolCall.named_like("handoff", {"agent_profile": "developer", "provider": "qwen_code",
                                        "message": "Reply with the word WORKER-SAYS-7."}),
        Reply("WORKER-SAYS-7"),  # the worker's turn (Qwen Code, OpenAI Chat)
        Reply("The developer said WORKER-SAYS-7."),  # the supervisor, after the tool result
    )
    c = real_daemon.client()
    launched = c.call("session.launch", {"profile": "code_supervisor", "provider": "claude_code",
                                         "session": "e2e", "cwd": str(workdir),
                                         "task": "Ask a developer for the magic word."}, timeout=30)
    sup = launched.supervisor.id

    done = wait_for(c, sup, "completed", timeout=TURN_TIMEOUT)

    mains = model_server.main_requests()
    assert c.call("agent.output", {"agent": sup, "mode": "last"}).text == "The developer said WORKER-SAYS-7.", \
        ([(r.api, r.tool_results) for r in mains], screen(c, sup))
    assert [r.api for r in mains] == ["anthropic", "anthropic", "chat", "anthropic"], mains
    assert "mcp__caod__handoff" in mains[1].tools
    result = model_server.last_tool_result(api="anthropic")
    assert result is not None and "WORKER-SAYS-7" in result, result
    (worker,) = [a for a in c.call("agent.list", {}).agents if a.parent == sup]
    assert (worker.provider, worker.profile, worker.session) == ("qwen_code", "developer", "e2e")
    assert wait_for(c, worker.id, "exited", timeout=30).status.value == "exited"  # ended after its answer
    assert done.session == "e2e"


# Gemini CLI and Qwen Code draw their input box before the resumed conversation; their
# providers' resume_wait_ms keeps the agent `starting` until the old answer is drawn.
RESUMABLE = [pytest.param(c, id=c.provider) for c in CLIS if providers.get(c.provider).spec.resume_args]


@pytest.mark.parametrize("cli", RESUMABLE)
def test_relaunch_after_a_crash_resumes_the_conversation(cli, daemon_factory, real_daemon, model_server,
                                                         workdir):
    """The provider pins a session id at launch; after `kill -9` of the daemon, the next daemon
    starts the session's agent again with the resume flags, and the model sees the old turn."""
    binary(cli.binary)
    c = real_daemon.client()
    launched = c.call("session.launch", {"profile": "developer", "provider": cli.provider, "session": "resume",
                                         "cwd": str(workdir)}, timeout=30)
    agent = launched.supervisor.id
    wait_for(c, agent, "idle")
    model_server.script(Reply("NOTED-APPLE-9"))
    assert turn(c, agent, "Remember the word APPLE-9.").answer == "NOTED-APPLE-9"

    before = agent_processes(real_daemon)
    assert before
    real_daemon.kill()
    again = daemon_factory.same(real_daemon, start=False)
    again.env = dict(real_daemon.env)  # the same PATH, isolation and fake-model settings
    again.start()
    c = again.client()
    deadline = time.monotonic() + 30
    while not any(a.id == agent and a.status.live for a in c.call("agent.list", {}).agents):
        assert time.monotonic() < deadline, "the session's agent was not started again"
        time.sleep(0.1)
    wait_for(c, agent, "idle")
    # Gemini CLI 0.61.0 outlives the PTY the dead daemon held (its node processes are re-parented
    # to init, with the MCP bridge): the new daemon ends such leftovers before relaunching.
    left = {pid: cmd for pid, cmd in agent_processes(again).items() if pid in before}
    assert not left, left
    model_server.script(Reply("IT-WAS-APPLE-9"))
    done = turn(c, agent, "Which word?")

    assert done.answer == "IT-WAS-APPLE-9", (statuses(c, agent), screen(c, agent))
    last = model_server.main_requests()[-1]
    assert "Remember the word APPLE-9." in json.dumps(last.body), "the old turn is not in the resumed conversation"


@pytest.mark.parametrize("cli", [pytest.param(c, id=c.provider) for c in CLIS if c.provider == "opencode"])
def test_the_model_calls_caods_mcp_bridge(cli, real_daemon, model_server, workdir):
    """caod's bridge reaches the CLI through the provider's MCP registration (OpenCode: its inline
    config's `mcp` entries): the model's list_agents call returns this agent, as itself."""
    c = real_daemon.client()
    agent = start(c, cli, model_server.url, workdir)
    model_server.script(ToolCall.named_like("list_agents", {}), Reply("LISTED"))

    done = turn(c, agent, "List the agents.")

    assert done.ended.value == "completed", screen(c, agent)
    mains = model_server.main_requests()
    assert any(name.endswith("list_agents") for name in mains[0].tools), mains[0].tools
    result = model_server.last_tool_result()
    assert result is not None and agent in result, (result, screen(c, agent))
    assert done.answer == "LISTED", screen(c, agent)
