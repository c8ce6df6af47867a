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
from fakemodel.server import ToolCall

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".clis" / "node_modules" / ".bin"
DEAD = "http://127.0.0.1:9"  # nothing listens there: a request to it fails at once
ANTHROPIC_KEY = "sk-ant-e2e-fake-key-0123456789abcdef"

# Real CLIs take 0.5-9 s to start and a second or more per turn.
START_TIMEOUT = 60.0
TURN_TIMEOUT = 90.0


@dataclass(frozen=True)
class Cli:
    provider: str
    binary: str
    api: str  # the fake model's name for the API this CLI speaks
    shell: ToolCall  # a shell command that needs approval (it creates MARK)
    args: tuple[str, ...] = ()  # extra launch arguments

    def launch_args(self, url: str) -> list[str]:
        return codex_args(url) if self.provider == "codex" else list(self.args)


MARK = "made-by-the-agent.txt"


CLIS = [
    Cli("claude_code", "claude", "anthropic", ToolCall("Bash", {"command": f"touch {MARK}",
                                                                 "description": "create the file"})),
    Cli("codex", "codex", "responses", ToolCall("exec_command", {
        "cmd": f"touch {MARK}", "sandbox_permissions": "require_escalated",
        "justification": "create the file"})),
    Cli("gemini_cli", "gemini", "gemini", ToolCall("run_shell_command", {"command": f"touch {MARK}",
                                                                           "description": "create the file"}),
        args=("-m", "gemini-2.5-flash")),
    Cli("qwen_code", "qwen", "chat", ToolCall("run_shell_command", {"command": f"touch {MARK}",
                                                                      "description": "create the file"})),
    Cli("opencode", "opencode", "chat", ToolCall("bash", {"command": f"touch {MARK}",
                                                          "description": "create the file"})),
]
IDS = [c.provider for c in CLIS]


def binary(name: str) -> Path:
    """The pinned CLI binary, or skip the test."""
    path = BIN / name
    if not (path.exists() and os.access(path, os.X_OK)):
        pytest.skip(f"{name} is not installed in {BIN}: run .ci/install-clis")
    return path


def agent_env(url: str) -> dict[str, str]:
    """The daemon's (so every agent's) environment for the fake model at `url`."""
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "CAOD_ISOLATE_HOME": "1",
        # Claude Code
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        # Qwen Code (OpenAI Chat); Codex signs in with OPENAI_API_KEY (its base URL is an argument)
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_KEY": "sk-e2e-fake",
        "OPENAI_MODEL": "fake-model",
        # Gemini CLI
        "GEMINI_API_KEY": "e2e-fake",
        "GOOGLE_GEMINI_BASE_URL": url,
        # OpenCode: no models.dev download, no plugin install
        "OPENCODE_DISABLE_MODELS_FETCH": "true",
        "npm_config_registry": f"{DEAD}/",
        # No proxy variables: Qwen Code 0.15.10 sends 127.0.0.1 through HTTPS_PROXY despite NO_PROXY.
    }


def codex_args(url: str) -> list[str]:
    """Codex 0.169 reads no base-URL variable: a model provider on the command line."""
    provider = (f'{{name = "fakemodel", base_url = "{url}/v1", env_key = "OPENAI_API_KEY", '
                f'wire_api = "responses", request_max_retries = 0, stream_max_retries = 0}}')
    return ["-c", 'model_provider="fakemodel"', "-c", f"model_providers.fakemodel={provider}",
            "-m", "fake-model"]


def opencode_project(url: str, workdir: Path) -> None:
    """OpenCode's project config: the fake model as an OpenAI-compatible provider, bash asks first."""
    config = {
        "$schema": "https://opencode.ai/config.json",
        "model": "fake/fake-model",
        "small_model": "fake/fake-model",
        "permission": {"bash": "ask"},
        "provider": {"fake": {
            "npm": "@ai-sdk/openai-compatible", "name": "Fake LLM",
            "options": {"baseURL": f"{url}/v1", "apiKey": "fake"},
            "models": {"fake-model": {"name": "Fake Model", "limit": {"context": 128000, "output": 8192}}},
        }},
    }
    (workdir / "opencode.json").write_text(json.dumps(config, indent=2))




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
