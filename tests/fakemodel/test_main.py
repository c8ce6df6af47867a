"""`python -m tests.fakemodel`: the fake model on its own, as a person starts it, over real HTTP."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakemodel.clis import SETUPS
from fakemodel.client import ask

ROOT = Path(__file__).resolve().parents[2]


class Served:
    """`python -m tests.fakemodel ARGS` from the repository's root."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fakemodel", *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _line(self, stream, timeout: float = 20.0) -> str:
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0 and select.select([stream], [], [], left)[0], f"no line; got {buf!r}"
            byte = os.read(stream.fileno(), 1)
            assert byte, f"the server ended: {self.proc.wait(10)}, {buf!r}, {self.proc.stderr.read()!r}"
            buf += byte
        return buf.decode().rstrip("\n")

    def serving(self) -> str:
        """The URL, once it serves (and has printed its setup)."""
        line = self._line(self.proc.stderr)
        assert line.startswith("serving on http://127.0.0.1:") and line.endswith("; Ctrl-C stops"), line
        return line.split()[2].rstrip(";")

    def printed(self) -> str:
        """What it printed on stdout so far (all of it, once it serves)."""
        os.set_blocking(self.proc.stdout.fileno(), False)
        try:
            return (self.proc.stdout.read() or b"").decode()
        finally:
            os.set_blocking(self.proc.stdout.fileno(), True)

    def log_line(self) -> str:
        return self._line(self.proc.stderr)

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serves_a_script_on_the_port_asked(tmp_path):
    script = tmp_path / "answers.json"
    script.write_text(json.dumps({"script": [{"reply": "PONG-7"}, {"tool": "Bash", "args": {"command": "ls"}}],
                                  "rules": [{"match": r"say (\w+)", "reply": "said {1}"}]}))
    port = _free_port()
    served = Served("--port", str(port), "--script", str(script), "--cli", "claude_code")
    try:
        url = served.serving()
        assert url == f"http://127.0.0.1:{port}"
        assert served.printed().splitlines()[0] == f"# fake model: {url}"
        assert ask(url, "anthropic", [("user", "hello")]).text == "PONG-7"
        assert served.log_line() == "POST /v1/messages anthropic turn -> Reply"
        assert ask(url, "chat", [("user", "please say cheese")]).text == "said cheese"  # a rule: no script item
        assert served.log_line() == "POST /v1/chat/completions chat turn -> Reply"
        called = ask(url, "responses", [("user", "next")])
        assert (called.tool_name, called.tool_args) == ("Bash", {"command": "ls"})
    finally:
        code = served.stop(signal.SIGINT)
    assert code == 0  # Ctrl-C is how it ends


def test_prints_every_clis_setup_and_echoes_by_default():
    served = Served()
    try:
        url = served.serving()
        text = served.printed()
        for setup in SETUPS.values():  # the same table the real-CLI tests use
            assert f"# {setup.title} (caod provider {setup.provider})" in text
            for key, value in setup.env(url).items():
                assert f"export {key}={shlex.quote(value)}" in text
            assert shlex.join([setup.binary, *setup.args(url)]) in text
            for name, content in setup.files(url).items():
                assert f"cat > {name} <<'EOF'\n{content.rstrip()}\nEOF" in text
        spawn = next(line for line in text.splitlines() if line.startswith("caoctl spawn -p codex "))
        argv = shlex.split(spawn)
        assert "--isolate-home" in argv and "-e" in argv and "OPENAI_API_KEY=sk-e2e-fake" in argv
        assert [a[len("--arg="):] for a in argv if a.startswith("--arg=")] == SETUPS["codex"].args(url)
        assert url in text and "127.0.0.1:9/" in text  # OpenCode's npm registry: a dead local port
        assert ask(url, "gemini", [("user", "hi there")]).text == "fake model: you said: hi there"
    finally:
        code = served.stop(signal.SIGTERM)
    assert code == 0


@pytest.mark.parametrize("content, error", [
    ("{not json", "not JSON"),
    ('[{"say": "x"}]', "an answer needs reply, tool, tool_like or fail"),
    ('{"rules": [{"reply": "x"}]}', 'a rule needs a "match" regex'),
])
def test_a_bad_script_is_one_line(tmp_path, content, error):
    script = tmp_path / "bad.json"
    script.write_text(content)
    r = subprocess.run([sys.executable, "-m", "tests.fakemodel", "--script", str(script)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and error in r.stderr, r.stderr
    assert r.stderr.startswith(f"fakemodel: {script}: ")
