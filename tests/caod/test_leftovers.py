"""Processes an agent leaves behind when the daemon is killed are ended by the next daemon."""

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
TOML = f"""
name = "leaves_a_child"
description = "the scripted agent with a stray child"
command = ["sh", "-c", {json.dumps(f"{STRAY} & exec {shlex.quote(sys.executable)} -m providers.scripted_cli")}]
verified = "scripted"

[[patterns]]
status = "idle"
regex = '^  ready · \\? for help'
region = 2
"""


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
