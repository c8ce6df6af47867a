"""Processes an agent leaves behind are ended: by the next daemon when the daemon is killed
(caod.leftovers), and by the daemon itself when the agent exits or the daemon stops
(caod.strays)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from caod.status import Signal, Status

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="leftovers are found through /proc")

# The scripted agent, plus a child in its own session that ignores the PTY's hang-up, the way
# Gemini CLI's node processes outlive a kill -9 of the daemon. It inherits the agent's environment.
STRAY = f"{shlex.quote(sys.executable)} -c 'import os, time; os.setsid(); time.sleep(600)'"
# ... and one that ignores SIGTERM too: only SIGKILL ends it.
STUBBORN = (f"{shlex.quote(sys.executable)} -c 'import os, signal, time; os.setsid(); "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'")


def provider_toml(name: str, stray: str) -> str:
    return f"""
name = "{name}"
description = "the scripted agent with a stray child"
command = ["sh", "-c", {json.dumps(f"{stray} & exec {shlex.quote(sys.executable)} -m providers.scripted_cli")}]
verified = "scripted"

[[patterns]]
status = "idle"
regex = '^  ready · \\? for help'
region = 2
"""


TOML = provider_toml("leaves_a_child", STRAY)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_with(var: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if var.encode() in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_kill_9_leftovers_are_ended_on_recovery(daemon_factory, tmp_path):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "leaves_a_child.toml").write_text(TOML)
    first = daemon_factory.new(start=False)
    first.env["CAOD_PROVIDERS_DIR"] = str(folder)
    first.start()
    c = first.client()
    info = c.call("agent.spawn", {"provider": "leaves_a_child", "cwd": str(ROOT)}, timeout=30)
    c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 20}, timeout=30)
    mine = processes_with(f"CAO_AGENT_ID={info.id}")
    assert len(mine) >= 2, mine  # the agent and its stray child

    first.kill()
    deadline = time.monotonic() + 10
    while len([p for p in mine if alive(p)]) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the agent dies of the PTY's hang-up; its child does not
    strays = [p for p in mine if alive(p)]
    assert len(strays) == 1, "the stray child should outlive the daemon (the case under test)"

    again = daemon_factory.same(first, start=False)
    again.env = dict(first.env)
    again.start()
    deadline = time.monotonic() + 15
    while alive(strays[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(strays[0]), "the next daemon did not end the leftover process"
    events = again.client().call("events.list", {"agent": info.id, "limit": 100}).events
    assert (events[-1].new, events[-1].signal) == (Status.EXITED, Signal.RECOVERY)


@pytest.fixture
def stray_daemon(daemon_factory, tmp_path):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "leaves_a_child.toml").write_text(TOML)
    (folder / "leaves_a_stubborn_child.toml").write_text(provider_toml("leaves_a_stubborn_child", STUBBORN))
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    return d.start()


def agent_with_stray(c, provider: str) -> tuple[str, int]:
    info = c.call("agent.spawn", {"provider": provider, "cwd": str(ROOT)}, timeout=30)
    c.call("agent.wait", {"agent": info.id, "statuses": ["idle"], "timeout": 20}, timeout=30)
    strays = [p for p in processes_with(f"CAO_AGENT_ID={info.id}") if p != info.pid]
    assert len(strays) == 1, strays
    return info.id, strays[0]


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


@pytest.mark.parametrize("provider, within", [("leaves_a_child", 2.0), ("leaves_a_stubborn_child", 6.0)])
def test_what_an_exited_agent_left_running_is_ended(stray_daemon, provider, within):
    c = stray_daemon.client()
    agent, stray = agent_with_stray(c, provider)
    c.call("agent.kill", {"agent": agent, "grace": 2}, timeout=30)
    assert gone_within(stray, within), f"{provider}: its child {stray} outlived the agent"


def test_nothing_an_agent_started_outlives_the_daemon_that_stops(stray_daemon):
    c = stray_daemon.client()
    strays = [agent_with_stray(c, p)[1] for p in ("leaves_a_child", "leaves_a_stubborn_child")]
    assert stray_daemon.stop() == 0
    assert [p for p in strays if alive(p)] == []  # gone before the daemon's exit
