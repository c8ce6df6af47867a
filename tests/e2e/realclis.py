"""Helpers for the real-binary tier: where the pinned CLIs are, the agents' environment, RPC shortcuts.

The CLIs come from `.ci/install-clis` (<repo>/.clis/node_modules/.bin); a test
whose binary is missing is skipped, naming the install script. Every agent
talks only to 127.0.0.1: base URLs point at the fake model server, npm's
registry at a dead port (OpenCode tries a plugin install at start), and each
provider turns updaters and telemetry off (the isolated homes make that hold).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from caoctl.client import Client
from fakemodel.clis import ANTHROPIC_KEY, DEAD, SETUPS, CliSetup, all_env, codex_args  # noqa: F401
from fakemodel.server import ToolCall

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".clis" / "node_modules" / ".bin"

# Real CLIs take 0.5-9 s to start and a second or more per turn.
START_TIMEOUT = 60.0
TURN_TIMEOUT = 90.0


@dataclass(frozen=True)
class Cli:
    """A CLI's setup for the fake model (fakemodel.clis), and what these tests ask of it."""

    setup: CliSetup
    shell: ToolCall  # a shell command that needs approval (it creates MARK)

    @property
    def provider(self) -> str:
        return self.setup.provider

    @property
    def binary(self) -> str:
        return self.setup.binary

    @property
    def api(self) -> str:
        return self.setup.api

    def launch_args(self, url: str) -> list[str]:
        return self.setup.args(url)


MARK = "made-by-the-agent.txt"


CLIS = [
    Cli(SETUPS["claude_code"], ToolCall("Bash", {"command": f"touch {MARK}", "description": "create the file"})),
    Cli(SETUPS["codex"], ToolCall("exec_command", {
        "cmd": f"touch {MARK}", "sandbox_permissions": "require_escalated", "justification": "create the file"})),
    Cli(SETUPS["gemini_cli"], ToolCall("run_shell_command", {"command": f"touch {MARK}",
                                                               "description": "create the file"})),
    Cli(SETUPS["qwen_code"], ToolCall("run_shell_command", {"command": f"touch {MARK}",
                                                              "description": "create the file"})),
    Cli(SETUPS["opencode"], ToolCall("bash", {"command": f"touch {MARK}", "description": "create the file"})),
]
IDS = [c.provider for c in CLIS]


def binary(name: str) -> Path:
    """The pinned CLI binary, or skip the test."""
    path = BIN / name
    if not (path.exists() and os.access(path, os.X_OK)):
        pytest.skip(f"{name} is not installed in {BIN}: run .ci/install-clis")
    return path


def agent_env(url: str) -> dict[str, str]:
    """The daemon's (so every agent's) environment for the fake model at `url`: every CLI's
    variables (fakemodel.clis), the pinned CLIs first on PATH, isolated homes.
    No proxy variables are added (see the Qwen Code note in fakemodel.clis)."""
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "CAOD_ISOLATE_HOME": "1",
        **all_env(url),
    }


def opencode_project(url: str, workdir: Path) -> None:
    """OpenCode's project config (fakemodel.clis) in `workdir`."""
    for name, text in SETUPS["opencode"].files(url).items():
        (workdir / name).write_text(text)


def spawn(client: Client, provider: str, cwd: Path, args: list[str] | None = None, **kw: Any):
    return client.call("agent.spawn", {"provider": provider, "cwd": str(cwd), "args": args or [], **kw},
                       timeout=30)


def wait_for(client: Client, agent: str, *statuses: str, timeout: float = START_TIMEOUT):
    return client.call("agent.wait", {"agent": agent, "statuses": list(statuses), "timeout": timeout},
                       timeout=timeout + 10)


def turn(client: Client, agent: str, text: str, timeout: float = TURN_TIMEOUT):
    return client.call("agent.send", {"agent": agent, "text": text, "wait": True, "timeout": timeout},
                       timeout=timeout + 10)


def screen(client: Client, agent: str) -> str:
    """The rendered screen and the status trail: what a failed assertion should show."""
    events = client.call("events.list", {"agent": agent, "limit": 1000}).events
    trail = " ".join(f"{e.new.value}/{e.signal.value}@{e.ts:.3f}" for e in events if e.kind.value == "status")
    return (client.call("agent.output", {"agent": agent}).text or "") + "\nstatus trail: " + trail


def statuses(client: Client, agent: str) -> list[tuple[str, str]]:
    """(new status, signal) of every status change of `agent`, oldest first."""
    events = client.call("events.list", {"agent": agent, "limit": 1000}).events
    return [(e.new.value, e.signal.value) for e in events if e.kind.value == "status"]


def type_keys(daemon, agent: str, keys: str, gap: float = 0.2) -> None:
    """Type raw keys into the agent as a person attached to it would: one key at a time
    (Qwen Code takes two Ctrl-D sent in one write as one). Stops when the agent is gone."""
    with Client(daemon.socket) as c:
        c.call("agent.attach", {"agent": agent, "redraw": False}, timeout=10)
        for key in keys:
            try:
                c.send_raw(key.encode())
            except (BrokenPipeError, ConnectionResetError):
                return  # it exited on an earlier key: the daemon closed the attachment
            time.sleep(gap)


def caoctl(daemon, *args: str, timeout: float = TURN_TIMEOUT + 20) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAO")}
    env["CAOD_SOCKET"] = str(daemon.socket)
    return subprocess.run([sys.executable, "-m", "caoctl", *args], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=timeout)


def agent_processes(daemon) -> dict[int, str]:
    """pid -> command line of every process whose environment names `daemon`'s socket
    (its agents and everything they started)."""
    marker = f"CAOD_SOCKET={daemon.socket}".encode()
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if marker not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue  # a zombie: ended, not yet reaped
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                found[int(entry)] = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return found
