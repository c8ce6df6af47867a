"""caoctl attach, driven through a real PTY like a person at a terminal."""

from __future__ import annotations

import os
import select
import sys
import time

import pyte
import pytest
from ptyprocess import PtyProcess


class Terminal:
    """A PTY running a command, rendered by pyte, like a terminal window."""

    def __init__(self, argv, env, rows=30, cols=100):
        self.proc = PtyProcess.spawn(argv, env=env, dimensions=(rows, cols))
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def pump(self, until, timeout=15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until(self):
                return True
            r, _, _ = select.select([self.proc.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.proc.fd, 65536)
                except OSError:
                    return until(self)
                if not data:
                    return until(self)
                self.raw += data
                self.stream.feed(data)
        return until(self)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)


def test_attach_shows_screen_types_and_detaches(daemon, caoctl, caoctl_json):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--name", "watched", "--wait").stdout.strip()
    caoctl(daemon, "send", agent, "before attach", "--wait")
    term = Terminal([sys.executable, "-m", "caoctl", "attach", "watched"], daemon.env)
    # the screen is redrawn on attach: the earlier answer is visible at once
    assert term.pump(lambda t: "ready · ? for help" in t.text()), term.text()
    assert "echo: before attach" in term.text()
    assert caoctl_json(daemon, "status", agent)["cols"] == 100  # fitted to the viewer
    term.proc.setwinsize(24, 80)  # the viewer's window changes size (SIGWINCH): the agent follows
    deadline = time.monotonic() + 10
    while (size := caoctl_json(daemon, "status", agent))["cols"] != 80:
        assert time.monotonic() < deadline, size
        time.sleep(0.1)
    assert size["rows"] == 24

    term.proc.write(b"typed in attach\r")  # keys go straight to the agent
    assert term.pump(lambda t: "● echo: typed in attach" in t.text()), term.text()
    assert caoctl(daemon, "wait", agent, "-s", "completed").returncode == 0

    term.proc.write(b"draft\x1d")  # Ctrl-] detaches; the keys before it still reach the agent
    assert term.pump(lambda t: b"detached from" in t.raw), term.raw[-300:]
    term.proc.wait()
    assert term.proc.exitstatus == 0
    info = caoctl_json(daemon, "status", agent)
    assert info["status"] == "completed"  # still running after the viewer left
    assert caoctl(daemon, "output", agent, "--last").stdout.strip() == "echo: typed in attach"
    assert "> draft" in caoctl(daemon, "output", agent).stdout


def test_attach_ends_when_the_agent_exits(daemon, caoctl, caoctl_json):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--wait").stdout.strip()
    term = Terminal([sys.executable, "-m", "caoctl", "attach", "--no-resize", agent], daemon.env)
    assert term.pump(lambda t: "ready · ? for help" in t.text())
    term.proc.setwinsize(24, 80)
    time.sleep(0.5)  # give a (wrong) resize time to land
    assert caoctl_json(daemon, "status", agent)["cols"] == 120  # --no-resize: the agent keeps its size
    term.proc.write(b"\x04")  # Ctrl-D at an empty prompt: the scripted agent quits
    assert term.pump(lambda t: b"exited: exit code 0" in t.raw), term.raw[-300:]
    term.proc.wait()


@pytest.mark.parametrize("args, message", [(["nobody"], "no such agent"), ([], "missing argument 'AGENT'")])
def test_attach_errors(daemon, args, message):
    term = Terminal([sys.executable, "-m", "caoctl", "attach", *args], daemon.env)
    assert term.pump(lambda t: message.encode() in t.raw), term.raw
    term.proc.wait()
    assert term.proc.exitstatus != 0
    assert b"Traceback" not in term.raw


def test_attach_needs_a_terminal(daemon, caoctl, one_line_error):
    agent = caoctl(daemon, "spawn", "-p", "scripted").stdout.strip()
    one_line_error(caoctl(daemon, "attach", agent), 1, "needs a terminal")
