"""caoctl tmux, driven on a private tmux server per test (tmux -L NAME).

Each window runs `caoctl attach`: the tests read the windows with
`tmux capture-pane`, type into them with `tmux send-keys`, and close them,
checking the agents behind them each time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from ptyprocess import PtyProcess

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

# A supervisor that, told "hire", assigns a developer (through the real MCP bridge).
RULES = {"rules": [
    {"match": r"^hire$",
     "mcp_call": {"server": "caod", "tool": "assign", "args": {"agent_profile": "developer", "message": "stand by"}},
     "reply": "hired {result_json}", "reply_error": "assign failed: {error}"},
]}


class TmuxServer:
    def __init__(self):
        self.name = f"caodtest-{secrets.token_hex(4)}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, (args, r.stderr)
        return r

    def windows(self, session: str) -> dict[str, str]:
        """window name -> window id."""
        r = self.run("list-windows", "-t", f"={session}", "-F", "#{window_name}\t#{window_id}", check=False)
        if r.returncode != 0:
            return {}
        return dict(line.split("\t") for line in r.stdout.splitlines())

    def capture(self, window: str) -> str:
        return self.run("capture-pane", "-p", "-t", window).stdout

    def wait_for(self, pred, what: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while True:
            got = pred()
            if got:
                return got
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)


@pytest.fixture
def tmux_server(daemon_factory):
    # Set up after (so torn down before) the daemons: viewers go first.
    server = TmuxServer()
    yield server
    subprocess.run(["tmux", "-L", server.name, "kill-server"], capture_output=True, timeout=30)
    # tmux leaves its socket file behind: remove ours
    folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
    (folder / server.name).unlink(missing_ok=True)


@pytest.fixture
def team(daemon_factory):
    d = daemon_factory.new(start=False)
    d.env["CAO_SCRIPTED_RULES"] = json.dumps(RULES)
    return d.start()


def _settled(caoctl_json, daemon, agent: str) -> None:
    info = caoctl_json(daemon, "wait", agent, "-s", "idle", "-s", "completed", "--timeout", "30")
    assert info["status"] in ("idle", "completed"), info


@needs_tmux
def test_session_windows_show_the_agents_and_take_keys(team, tmux_server, caoctl, caoctl_json, tmp_path):
    r = caoctl(team, "launch", "--agents", "code_supervisor", "--provider", "scripted", "--session-name", "crew",
               "--working-directory", str(tmp_path), "--headless", "hire")
    assert r.returncode == 0, r.stderr
    session = tmux_server.wait_for(
        lambda: (s := caoctl_json(team, "session", "status", "crew")) and len(s["agents"]) == 2 and s,
        "the supervisor to hire a developer", timeout=30)
    roles = {a["role"]: a["id"] for a in session["agents"]}
    for agent in roles.values():
        _settled(caoctl_json, team, agent)
    bare = caoctl(team, "spawn", "-p", "scripted", "--name", "outsider", "--wait").stdout.strip()

    r = caoctl(team, "tmux", "crew", "--socket-name", tmux_server.name)
    assert r.returncode == 0, r.stderr
    assert f"attach with: tmux -L {tmux_server.name} attach -t =caod-crew" in r.stdout
    windows = tmux_server.windows("caod-crew")
    assert set(windows) == {f"supervisor-{roles['supervisor']}", f"developer-{roles['developer']}"}
    assert bare not in " ".join(windows)  # not of this session

    for window in windows.values():  # each window shows its agent's screen, via caoctl attach
        tmux_server.wait_for(lambda w=window: "ready · ? for help" in tmux_server.capture(w), f"{window} drawn")
    dev_window = windows[f"developer-{roles['developer']}"]
    tmux_server.run("send-keys", "-t", dev_window, "hello", "Enter")
    tmux_server.wait_for(lambda: "● echo: hello" in tmux_server.capture(dev_window), "the answer in the window")
    _settled(caoctl_json, team, roles["developer"])
    assert caoctl(team, "output", roles["developer"], "--last").stdout.strip() == "echo: hello"

    # An agent that exited gets no window again (the session still lists it).
    assert caoctl(team, "kill", roles["developer"]).returncode == 0
    tmux_server.wait_for(lambda: len(tmux_server.windows("caod-crew")) == 1, "the developer's window to go")
    data = caoctl_json(team, "tmux", "crew", "-L", tmux_server.name)
    assert [(w["agent"], w["new"]) for w in data["windows"]] == [(roles["supervisor"], False)]


@needs_tmux
def test_rerun_adds_new_agents_and_closing_windows_keeps_agents(daemon, tmux_server, caoctl, caoctl_json):
    ids = {name: caoctl(daemon, "spawn", "-p", "scripted", "--name", name, "--wait").stdout.strip()
           for name in ("alpha", "beta")}
    r = caoctl(daemon, "tmux", "--all", "-L", tmux_server.name)
    assert r.returncode == 0, r.stderr
    assert "2 agent windows (2 new)" in r.stdout
    first = tmux_server.windows("caod")
    assert set(first) == {"alpha", "beta"}

    ids["gamma"] = caoctl(daemon, "spawn", "-p", "scripted", "--name", "gamma", "--wait").stdout.strip()
    data = caoctl_json(daemon, "tmux", "-L", tmux_server.name)
    assert {w["name"]: w["new"] for w in data["windows"]} == {"alpha": False, "beta": False, "gamma": True}
    assert data["tmux_session"] == "caod"
    second = tmux_server.windows("caod")
    assert set(second) == {"alpha", "beta", "gamma"} and len(second) == 3  # none duplicated
    assert {k: second[k] for k in first} == first  # the old windows were kept as they were
    tmux_server.wait_for(lambda: "ready · ? for help" in tmux_server.capture(second["gamma"]), "gamma drawn")

    # Killing a window ends only its viewer; the agent keeps running and answers.
    tmux_server.run("kill-window", "-t", second["alpha"])
    tmux_server.wait_for(lambda: "alpha" not in tmux_server.windows("caod"), "alpha's window to go")
    r = caoctl(daemon, "send", "alpha", "still there", "--wait")
    assert r.returncode == 0 and r.stdout.strip() == "echo: still there", r.stderr

    # Ctrl-] in a window detaches its caoctl attach; the window closes, the agent stays.
    tmux_server.wait_for(lambda: "ready · ? for help" in tmux_server.capture(second["beta"]), "beta drawn")
    tmux_server.run("send-keys", "-t", second["beta"], "C-]")
    tmux_server.wait_for(lambda: "beta" not in tmux_server.windows("caod"), "beta's window to go")
    live = {a["name"]: a["status"] for a in caoctl_json(daemon, "ls")}
    assert live["alpha"] != "exited" and live["beta"] != "exited" and live["gamma"] != "exited", live

    # Re-running brings back windows for the agents that lost theirs.
    data = caoctl_json(daemon, "tmux", "-L", tmux_server.name)
    assert {w["name"]: w["new"] for w in data["windows"]} == {"alpha": True, "beta": True, "gamma": False}
    assert set(tmux_server.windows("caod")) == {"alpha", "beta", "gamma"}


def test_without_tmux_says_how_to_install_it(daemon, caoctl, one_line_error, tmp_path):
    caoctl(daemon, "spawn", "-p", "scripted")
    env = {**daemon.env, "PATH": str(tmp_path)}  # a PATH with no tmux on it
    r = caoctl(daemon, "tmux", env=env)
    one_line_error(r, 1, "tmux is not installed")
    assert "apt install tmux" in r.stderr and "brew install tmux" in r.stderr


@needs_tmux
def test_tmux_errors(daemon, tmux_server, caoctl, one_line_error):
    one_line_error(caoctl(daemon, "tmux", "nosuch", "-L", tmux_server.name), 1, "nosuch")
    one_line_error(caoctl(daemon, "tmux", "crew", "--all", "-L", tmux_server.name), 1, "not both")
    one_line_error(caoctl(daemon, "tmux", "-L", tmux_server.name), 1, "no live agents")


@needs_tmux
def test_windows_resize_an_agent_only_when_someone_looks(daemon, tmux_server, caoctl, caoctl_json):
    agents = {name: caoctl(daemon, "spawn", "-p", "scripted", "--name", name, "--rows", rows, "--cols", cols,
                           "--wait").stdout.strip()
              for name, rows, cols in (("wide", "30", "100"), ("tall", "45", "90"))}
    r = caoctl(daemon, "tmux", "-L", tmux_server.name)
    assert r.returncode == 0, r.stderr
    windows = tmux_server.windows("caod")
    for name in agents:
        tmux_server.wait_for(lambda w=windows[name]: "ready · ? for help" in tmux_server.capture(w), f"{name} drawn")
    # nobody attached: each agent keeps its size (tmux's own default would be 80x24)
    sizes = {n: (a["rows"], a["cols"]) for n, a in ((n, caoctl_json(daemon, "status", n)) for n in agents)}
    assert sizes == {"wide": (30, 100), "tall": (45, 90)}
    size = tmux_server.run("list-windows", "-t", "=caod", "-F", "#{window_name} #{window_width}x#{window_height}")
    assert sorted(size.stdout.split("\n")[:2]) == ["tall 90x45", "wide 100x30"], size.stdout
    # a person attaches from a 26x70 terminal: the window they look at fits it, and so does its agent
    viewer = PtyProcess.spawn(["tmux", "-L", tmux_server.name, "attach", "-t", "=caod"], dimensions=(26, 70))
    try:
        tmux_server.wait_for(lambda: tmux_server.run("list-clients").stdout.strip(), "the viewer to attach")
        active = tmux_server.run("list-windows", "-t", "=caod", "-F", "#{window_active} #{window_name}").stdout
        shown = next(line.split()[1] for line in active.splitlines() if line.startswith("1 "))
        tmux_server.wait_for(lambda: (caoctl_json(daemon, "status", shown)["cols"] == 70) or None,
                             "the viewed agent to fit the viewer")
        assert caoctl_json(daemon, "status", shown)["rows"] == 25  # tmux's status line takes one row
        other = next(n for n in agents if n != shown)
        assert (caoctl_json(daemon, "status", other)["rows"], caoctl_json(daemon, "status", other)["cols"]) == \
            sizes[other]  # not looked at: not resized
    finally:
        viewer.terminate(force=True)
