"""Programs that ask the terminal a question (cursor position, device attributes) get an answer."""

from __future__ import annotations

import json
import sys

PROBE = r"""
import os, sys, tty
tty.setraw(0)
os.write(1, b"asking\x1b[6n")
reply = os.read(0, 64)
os.write(1, b"\r\nreply=" + repr(reply).encode() + b"\r\n> ")
os.read(0, 64)
"""

PROVIDER = """
name = "probe"
description = "asks for the cursor position at start, as Codex does"
command = [{python}, "-c", {script}]
[[patterns]]
status = "idle"
regex = "^> ?$"
"""


def test_a_cursor_position_query_is_answered(daemon_factory, tmp_path, wait_status):
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "probe.toml").write_text(PROVIDER.format(python=json.dumps(sys.executable), script=json.dumps(PROBE)))
    d = daemon_factory.new(start=False)
    d.env["CAOD_PROVIDERS_DIR"] = str(folder)
    d.start()
    c = d.client()
    agent = c.call("agent.spawn", {"provider": "probe", "rows": 10, "cols": 40}).id
    wait_status(c, agent, "idle", timeout=20)
    screen = c.call("agent.output", {"agent": agent}).text
    assert "reply=b'\\x1b[1;7R'" in screen, screen  # row 1, column 7: just after "asking"
    c.call("agent.kill", {"agent": agent, "grace": 1})
