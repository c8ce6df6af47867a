"""First runs of the real CLIs with nothing configured: no API key, and either caod's isolated
home (its config files, no key) or a bare HOME (not even those). No agent stays `starting`:
each CLI is `waiting_user_answer` with its dialog's text, or `error` with what it printed,
within its start deadline. OpenCode has no first-run dialog (it starts on a free online
model), so it is ready, and its first turn ends in `error`.

The daemon runs in a network namespace of its own (`unshare -n`): a CLI with nothing
configured reaches for its vendor's servers, and no traffic may leave this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import providers
from realclis import CLIS, DEAD, START_TIMEOUT, TURN_TIMEOUT, agent_env, binary, caoctl, screen, turn

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# What each CLI shows, per home: (status, a phrase of its reason).
EXPECTED = {
    ("claude_code", "isolated"): ("error", "Not logged in"),
    ("claude_code", "bare"): ("error", "Unable to connect to Anthropic services"),  # its preflight, then it exits
    ("codex", "isolated"): ("waiting_user_answer", "Sign in with ChatGPT"),
    ("codex", "bare"): ("waiting_user_answer", "Sign in with ChatGPT"),
    ("gemini_cli", "isolated"): ("waiting_user_answer", "Enter Gemini API Key"),
    ("gemini_cli", "bare"): ("waiting_user_answer", "How would you like to authenticate"),
    ("qwen_code", "isolated"): ("waiting_user_answer", "Select Authentication Method"),
    ("qwen_code", "bare"): ("waiting_user_answer", "Select Authentication Method"),
    ("opencode", "isolated"): ("idle", None),
    ("opencode", "bare"): ("idle", None),
}
KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_MODEL")


def no_network() -> list[str]:
    """A command prefix that runs the daemon (and so its agents) with no network at all."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed: no network namespace for a first run")
    wrapper = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    probe = subprocess.run([*wrapper, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no network namespace here ({probe.stderr.strip()}): a first run would reach the internet")
    return wrapper


@pytest.fixture(params=["isolated", "bare"])
def first_run(request, daemon_factory):
    """A daemon with no API key anywhere and no network; isolated homes or the agents' own bare ones."""
    d = daemon_factory.new(start=False)
    for key in list(d.env):
        if key.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy") or key in KEYS:
            del d.env[key]
    env = agent_env(DEAD)  # base URLs at a dead port, in case a CLI reads them
    for key in KEYS:
        env.pop(key, None)
    if request.param == "bare":
        del env["CAOD_ISOLATE_HOME"]
    d.env.update(env)
    d.wrapper = no_network()
    d.start()
    workdir = Path(tempfile.mkdtemp(prefix="caod-first-", dir="/tmp"))
    homes: list[str] = []

    def spawn(provider: str):
        extra = {}
        if request.param == "bare":  # a HOME with nothing in it, as on a new machine
            home = tempfile.mkdtemp(prefix="caod-home-", dir="/tmp")
            homes.append(home)
            extra = {"HOME": home, "XDG_CONFIG_HOME": f"{home}/.config", "XDG_DATA_HOME": f"{home}/.local/share",
                     "XDG_STATE_HOME": f"{home}/.local/state", "XDG_CACHE_HOME": f"{home}/.cache"}
        return d.client().call("agent.spawn", {"provider": provider, "cwd": str(workdir), "env": extra}, timeout=30)

    try:
        yield request.param, d, spawn
    finally:
        d.stop()
        for path in [workdir, *homes]:
            shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("cli", CLIS, ids=[c.provider for c in CLIS])
def test_a_first_run_is_never_left_starting(cli, first_run):
    home, daemon, spawn = first_run
    binary(cli.binary)
    want, phrase = EXPECTED[(cli.provider, home)]
    c = daemon.client()
    deadline = providers.get(cli.provider).spec.start_timeout_ms / 1000
    started = time.monotonic()
    info = spawn(cli.provider)

    # Gemini CLI draws its input box a moment before its dialog: wait for what it settles on.
    reached = c.call("agent.wait", {"agent": info.id, "statuses": [want], "timeout": deadline + 10},
                     timeout=deadline + 20)

    assert time.monotonic() - started < deadline, screen(c, info.id)
    if phrase is not None:
        assert phrase in (reached.reason or ""), (reached.reason, screen(c, info.id))
    if want == "idle":  # ready, but nothing to answer with: the first turn is an error, not a hang
        done = turn(c, info.id, "Say hi.", timeout=TURN_TIMEOUT)
        assert done.ended.value == "error", screen(c, info.id)
        assert "Cannot connect to API" in (done.agent.reason or ""), screen(c, info.id)


def test_spawn_wait_at_a_login_dialog_exits_3_with_its_text(first_run):
    """What a person sees: `caoctl spawn --wait` returns at the dialog, with its text, exit 3."""
    home, daemon, _ = first_run
    binary("qwen")
    r = caoctl(daemon, "spawn", "-p", "qwen_code", "--cwd", "/tmp", "--wait", "--timeout", str(START_TIMEOUT))
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert len(r.stdout.strip()) == 8  # the agent's id
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith(f"caoctl: agent {r.stdout.strip()} is waiting for an answer: ")
    assert "Select Authentication Method" in line and "Custom Provider" in line, line  # the dialog, whole


@pytest.mark.skipif(os.geteuid() != 0, reason="Claude Code refuses its bypass flag only as root")
def test_yolo_refused_as_root_is_an_error_with_the_reason(daemon_factory, model_server, workdir):
    """Claude Code refuses --dangerously-skip-permissions as root unless IS_SANDBOX=1 (which
    caod's `yolo` adds): given the flag alone, it prints why and exits."""
    binary("claude")
    d = daemon_factory.new(start=False)
    d.env.pop("IS_SANDBOX", None)  # a sandbox (this one) may set it for everything it runs
    d.env.update(agent_env(model_server.url))
    c = d.start().client()
    info = c.call("agent.spawn", {"provider": "claude_code", "cwd": str(workdir),
                                  "args": ["--dangerously-skip-permissions"]}, timeout=30)
    gone = c.call("agent.wait", {"agent": info.id, "statuses": ["exited"], "timeout": START_TIMEOUT},
                  timeout=START_TIMEOUT + 10)
    events = [e for e in c.call("events.list", {"agent": info.id}).events if e.kind.value == "status"]
    assert [e.new.value for e in events] == ["error", "exited"], events
    assert "cannot be used with root/sudo privileges" in events[0].detail["reason"].replace("\n", " ")
    assert gone.exit_code != 0
