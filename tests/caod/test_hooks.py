"""CLI-native hooks: `caoctl hook EVENT` run as the agent; the screen stays the check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from caoctl.client import RpcFailure
from caod.protocol import ErrorCode

PROVIDER_TOML = """
name = "hooked"
description = "the scripted agent, with hook events declared"
command = [{python}, "-m", "providers.scripted_cli"]
verified = "scripted"

[[patterns]]
status = "processing"
regex = "esc to interrupt"
region = 3

[[patterns]]
status = "idle"
regex = "^  ready · \\\\? for help"
region = 2

[answer]
start = "^● "
stop = "^(╭|> )"
indent = "  "

[[patterns]]
status = "waiting_user_answer"
regex = "^\\\\? Do you want to proceed\\\\?"
region = 6

[hook_events]
UserPromptSubmit = "processing"
PermissionRequest = "waiting_user_answer"
Stop = "completed"
agent-turn-complete = "completed"
"""


@pytest.fixture
def hooked(daemon_factory, tmp_path):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "hooked.toml").write_text(PROVIDER_TOML.format(python=json.dumps(sys.executable)))
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps({"rules": [
        {"match": "^slow", "reply": "slow done", "think": 3},
        {"match": "^deploy$", "approval": "Deploy?", "reply": "deployed", "think": 2},
    ]})
    return d.start()


def agent_env(pid: int) -> dict[str, str]:
    raw = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def idle_agent(c, wait_status):
    """A hooked agent that is ready: (its info, its process environment)."""
    info = wait_status(c, c.call("agent.spawn", {"provider": "hooked"}).id, "idle", timeout=20)
    return info, agent_env(info.pid)


def hook(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "caoctl", "hook", *args], env=env,
                          capture_output=True, text=True, timeout=30)


def test_hooks_drive_status_and_a_stop_during_work_is_ignored(hooked, wait_status, send):
    c = hooked.client()
    info, env = idle_agent(c, wait_status)
    agent = info.id

    r = hook(env, "Stop")  # the screen is idle: a turn (a person's, typed in attach) is over
    assert r.returncode == 0 and r.stderr == ""
    assert c.call("agent.get", {"agent": agent}).status.value == "completed"
    events = c.call("events.list", {"agent": agent}).events
    assert (events[-1].new.value, events[-1].signal.value) == ("completed", "hook")

    c.call("agent.send", {"agent": agent, "text": "slow"})
    wait_status(c, agent, "processing")
    hook(env, "Stop")  # Claude's Stop with background work: the screen still shows it
    assert c.call("agent.get", {"agent": agent}).status.value == "processing"
    done = wait_status(c, agent, "completed", timeout=20)
    last = c.call("events.list", {"agent": agent}).events[-1]
    assert (last.new.value, last.signal.value) == ("completed", "screen") and done.status.value == "completed"

    # a UserPromptSubmit that lands after the turn is over (hooks are processes) is a late one
    hook(env, "UserPromptSubmit")
    assert c.call("agent.get", {"agent": agent}).status.value == "completed"
    assert c.call("events.list", {"agent": agent}).events[-1].seq == last.seq

    # Codex's notify passes one JSON argument whose "type" names the event
    other, other_env = idle_agent(c, wait_status)
    hook(other_env, "notify", json.dumps({"type": "agent-turn-complete", "turn-id": "1"}))
    last = c.call("events.list", {"agent": other.id}).events[-1]
    assert (last.new.value, last.signal.value) == ("completed", "hook")


def test_a_late_permission_hook_does_not_end_the_answered_turn(hooked, wait_status):
    c = hooked.client()
    info, env = idle_agent(c, wait_status)
    agent, token = info.id, env["CAO_AGENT_TOKEN"]
    asked = c.call("agent.send", {"agent": agent, "text": "deploy", "wait": True, "timeout": 20})
    assert asked.ended.value == "waiting_user_answer"
    # Claude's PermissionRequest hook can reach the daemon after `1` was typed and the
    # work it approved is on screen: it must not turn that work into a new question.
    c.call("agent.send", {"agent": agent, "text": "1"})
    wait_status(c, agent, "processing")
    late = c.call("agent.hook", {"token": token, "event": "PermissionRequest"})
    assert late.applied is False and late.status.value == "processing"
    assert wait_status(c, agent, "completed", timeout=20).status.value == "completed"
    assert c.call("agent.output", {"agent": agent, "mode": "last"}).text == "deployed"


def test_a_stop_before_the_new_turn_shows_is_a_late_one(hooked, wait_status):
    c = hooked.client()
    info, env = idle_agent(c, wait_status)
    agent, token = info.id, env["CAO_AGENT_TOKEN"]
    # Stopped, the agent cannot draw the turn it was given: a Stop now is the previous
    # turn's (Codex notify lags), and must not end this one before it starts.
    os.kill(info.pid, signal.SIGSTOP)
    try:
        c.call("agent.send", {"agent": agent, "text": "hello"})
        late = c.call("agent.hook", {"token": token, "event": "Stop"})
        assert late.applied is False and late.status.value == "idle"
    finally:
        os.kill(info.pid, signal.SIGCONT)
    wait_status(c, agent, "completed", timeout=20)
    assert c.call("agent.output", {"agent": agent, "mode": "last"}).text == "echo: hello"


def test_hook_refusals(hooked, wait_status):
    c = hooked.client()
    info, env = idle_agent(c, wait_status)
    agent, token = info.id, env["CAO_AGENT_TOKEN"]
    unknown = c.call("agent.hook", {"token": token, "event": "SomethingElse"})
    assert unknown.applied is False and unknown.status.value == "idle"
    with pytest.raises(RpcFailure) as e:
        c.call("agent.hook", {"token": "forged", "event": "Stop"})
    assert e.value.code == ErrorCode.PERMISSION_DENIED
    # outside an agent, or with no daemon, the hook never fails the CLI that runs it
    outside = {k: v for k, v in env.items() if k != "CAO_AGENT_TOKEN"}
    r = hook(outside, "Stop")
    assert r.returncode == 0 and "not inside a caod agent" in r.stderr
    gone = dict(env, CAOD_SOCKET="/nonexistent/caod.sock")
    r = hook(gone, "Stop")
    assert r.returncode == 0 and "no daemon answers" in r.stderr
