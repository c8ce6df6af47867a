"""caoctl watch / logs / doctor / completion, as a person runs them, on a real daemon."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pyte
from ptyprocess import PtyProcess

SLOW = {"rules": [{"match": r"^slow", "reply": "finally done", "think": 60}]}
MANY = {"rules": [{"match": r"^many (?P<tag>\w+)$", "reply": "\n".join(f"{{tag}} {i:02d}" for i in range(60))}]}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  (debug|info|warning|error) +\S")
ESC = "\x1b"


def _default_sigint() -> None:
    """These tests stop commands with Ctrl-C/SIGINT. A pytest started in the background (`cmd &`)
    ignores SIGINT, and children inherit that: give them the default a person's terminal has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Screen:
    """A command in a PTY, rendered by pyte: what a person would see."""

    def __init__(self, argv, env, rows=30, cols=140):
        self.proc = PtyProcess.spawn(argv, env=env, dimensions=(rows, cols), preexec_fn=_default_sigint)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.closed = False

    def pump(self, until, timeout=20.0) -> bool:
        """Read output until `until(self)` holds; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not until(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.closed:  # the output ended before the process did: let it finish
                time.sleep(0.05)
                continue
            ready, _, _ = select.select([self.proc.fd], [], [], min(left, 0.05))
            if ready:
                try:
                    data = os.read(self.proc.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    self.closed = True
                    continue
                self.raw += data
                self.stream.feed(data)
        return True

    def row_of(self, needle: str) -> str:
        return next((line for line in self.screen.display if needle in line), "")

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)


class Lines:
    """The stdout of a running command, line by line, with timeouts."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_default_sigint)
        self.buf = b""
        self.seen: list[str] = []

    def until(self, pred, timeout=20.0) -> list[str]:
        """Read until `pred(lines so far)`; lines are stripped of the reply indent."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while not pred(self.seen):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; saw {self.seen[-40:]}"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    assert pred(self.seen), f"the command ended; saw {self.seen[-40:]}"
                    break
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                self.seen += [d.decode().strip() for d in done]
        return self.seen

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


def _caoctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "caoctl", *args]


# ---------------------------------------------------------------- watch


def test_watch_once_shows_columns_status_and_inbox_depth(daemon, client, spawn_scripted, wait_status, caoctl,
                                                         caoctl_json):
    busy = spawn_scripted(client, SLOW, name="busy")
    idle = spawn_scripted(client, name="calm")
    wait_status(client, busy.id, "idle", timeout=20)
    wait_status(client, idle.id, "idle", timeout=20)
    # a message the calm agent already took: delivered, so no longer counted in INBOX
    client.call("inbox.send", {"receiver": idle.id, "message": "taken at once"}, timeout=20)
    wait_status(client, idle.id, "completed", timeout=20)
    client.call("agent.send", {"agent": busy.id, "text": "slow job"}, timeout=20)
    wait_status(client, busy.id, "processing", timeout=20)
    for text in ("first queued", "second queued"):  # busy: the messages wait in its inbox
        client.call("inbox.send", {"receiver": busy.id, "message": text}, timeout=20)

    r = caoctl(daemon, "watch", "--once")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["ID", "NAME", "SESSION", "PROFILE", "PROVIDER", "STATUS", "LAST EVENT",
                                            "INBOX"]
    row = next(line for line in lines if line.startswith(busy.id))
    assert re.search(r"\bprocessing \d+s\b", row), row
    assert re.search(r"message queued \d+s ago", row), row  # the latest event
    assert row.split()[-1] == "2", row  # inbox depth
    calm = next(line for line in lines if line.startswith(idle.id))
    assert "completed" in calm and calm.split()[-1] == "0", calm

    rows = caoctl_json(daemon, "watch", "--once")
    assert [r["id"] for r in rows] == [busy.id, idle.id]
    assert set(rows[0]) == {"id", "name", "session", "profile", "role", "provider", "status", "status_since",
                            "status_for_s", "exit_code", "exit_signal", "last_event", "last_event_at", "inbox"}
    assert rows[0]["status"] == "processing" and rows[0]["inbox"] == 2 and rows[0]["name"] == "busy"
    assert rows[0]["last_event"] == "message queued" and rows[0]["status_for_s"] >= 0
    assert rows[1]["inbox"] == 0 and rows[1]["last_event"] == "processing -> completed"


def test_watch_once_filters_by_session_and_rejects_unknown(daemon, caoctl, caoctl_json, one_line_error, tmp_path):
    caoctl(daemon, "spawn", "-p", "scripted")
    r = caoctl(daemon, "launch", "--agents", "developer", "--provider", "scripted", "--session-name", "w1",
               "--working-directory", str(tmp_path), "--headless")
    assert r.returncode == 0, r.stderr
    rows = caoctl_json(daemon, "watch", "--once", "--session", "w1")
    assert [(r["session"], r["profile"]) for r in rows] == [("w1", "developer")]  # not the bare agent
    assert len(caoctl_json(daemon, "watch", "--once")) == 2
    one_line_error(caoctl(daemon, "watch", "--once", "--session", "nosuch"), 1, "no such session")
    one_line_error(caoctl(daemon, "watch", "--json"), 1, "--once")
    one_line_error(caoctl(daemon, "watch"), 1, "needs a terminal")


def test_watch_live_redraws_on_events_and_quits_on_ctrl_c(daemon, client, ready_agent, send):
    agent = ready_agent(client, name="seen")
    term = Screen(_caoctl_argv("watch"), daemon.env)
    assert term.pump(lambda t: "idle" in t.row_of(agent.id)), term.text()
    assert "completed" not in term.row_of(agent.id)
    send(client, agent.id, "make a change")  # idle -> processing -> completed: events, then a redraw
    assert term.pump(lambda t: "completed" in t.row_of(agent.id)), term.text()
    later = ready_agent(client, name="newcomer")  # a new agent appears as well
    assert term.pump(lambda t: "newcomer" in t.row_of(later.id)), term.text()

    term.proc.write(b"\x03")  # Ctrl-C
    assert term.pump(lambda t: not t.proc.isalive(), timeout=20), term.text()
    term.proc.wait()
    assert term.proc.exitstatus == 0, term.raw[-500:]
    assert b"Traceback" not in term.raw
    tail = term.raw[-200:]
    assert b"\x1b[?1049l" in tail and b"\x1b[?25h" in tail  # alternate screen left, cursor shown again


# ---------------------------------------------------------------- logs


def test_logs_prints_the_daemon_log_readably(daemon, caoctl):
    r = caoctl(daemon, "logs")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    ready = next(line for line in lines if "caod ready" in line)
    assert LOG_LINE.match(ready), ready
    assert f"socket={daemon.socket}" in ready and f"pid={daemon.pid}" in ready
    assert "{" not in r.stdout  # JSON was turned into text
    raw = caoctl(daemon, "logs", "--json", "-n", "1").stdout.splitlines()
    assert len(raw) == 1 and "event" in json.loads(raw[0])


def test_logs_follow_prints_new_lines(daemon, caoctl):
    follow = Lines(_caoctl_argv("logs", "-f", "-n", "5"), daemon.env)
    try:
        follow.until(lambda seen: any("caod ready" in s for s in seen))
        daemon.stop()  # the daemon logs its shutdown: new lines in the file
        seen = follow.until(lambda seen: any("caod stopped" in s for s in seen))
        assert any("caod stopping" in s and "agents_live=0" in s for s in seen), seen
        assert all(LOG_LINE.match(s) for s in seen if s), seen
    finally:
        code = follow.stop()
    assert code == 0  # Ctrl-C ends a follow cleanly


def test_logs_agent_renders_the_transcript_as_text(daemon, client, ready_agent, send, caoctl, one_line_error):
    agent = ready_agent(client, name="talker")
    send(client, agent.id, "hello logs")
    r = caoctl(daemon, "logs", "--agent", "talker")
    assert r.returncode == 0, r.stderr
    assert ESC not in r.stdout and "\r" not in r.stdout
    assert "> hello logs" in r.stdout and "● echo: hello logs" in r.stdout
    assert r.stdout.rstrip().endswith("ready · ? for help")
    last = caoctl(daemon, "logs", "--agent", agent.id, "-n", "1").stdout
    assert last.strip() == "ready · ? for help"
    # With the daemon gone, its database and the transcript still tell.
    daemon.stop()
    r = caoctl(daemon, "logs", "--agent", "talker")
    assert r.returncode == 0, r.stderr
    assert "● echo: hello logs" in r.stdout and ESC not in r.stdout
    one_line_error(caoctl(daemon, "logs", "--agent", "nobody"), 1, "no such agent")


def test_logs_follow_agent_prints_lines_as_they_scroll(daemon, client, ready_agent, send, caoctl):
    agent = ready_agent(client, MANY, name="chatty", rows=24, cols=80)
    send(client, agent.id, "many old")  # scrolls: the first lines are in the transcript's scrollback
    follow = Lines(_caoctl_argv("logs", "-f", "--agent", "chatty", "-n", "0"), daemon.env)
    try:
        # The scrollback from before prints first (so the live view is attached by then).
        follow.until(lambda seen: "old 01" in seen)
        send(client, agent.id, "many new")  # these come through the live stream
        seen = follow.until(lambda seen: "new 30" in seen)
        news = [s for s in seen if s.startswith(("● new ", "new "))]
        assert news[:31] == ["● new 00"] + [f"new {i:02d}" for i in range(1, 31)], seen
        assert all(ESC not in s for s in seen)
        assert caoctl(daemon, "kill", "chatty").returncode == 0
        follow.until(lambda seen: "new 59" in seen)  # the last screen is printed when the agent ends
        code = follow.proc.wait(timeout=20)
        assert code == 0
        assert sum(s == "new 40" for s in follow.seen) == 1  # each line once
        assert "> many new" in follow.seen and "● old 00" in follow.seen
        err = follow.proc.stderr.read().decode()
        assert f"[agent {agent.id} exited: " in err, err
    finally:
        follow.stop()
    # Following an agent that has exited prints its transcript and ends.
    r = caoctl(daemon, "logs", "-f", "--agent", "chatty", "-n", "0", timeout=30)
    assert r.returncode == 0 and "new 59" in r.stdout and "has exited" in r.stderr, (r.stdout[-300:], r.stderr)


THINKER = {"rules": [{"match": r"^think (?P<what>\w+)$", "reply": "thought about {what}", "think": 1.5}]}


def test_logs_follow_agent_shows_lines_as_drawn(daemon, client, ready_agent, send, caoctl):
    agent = ready_agent(client, THINKER, name="thinker")  # 40 rows: nothing below scrolls off
    send(client, agent.id, "think before")
    drawn = caoctl(daemon, "logs", "--agent", "thinker").stdout.splitlines()
    follow = Lines(_caoctl_argv("logs", "-f", "--agent", "thinker", "-n", "3"), daemon.env)
    try:
        # the last 3 lines drawn so far, then the live ones
        first = follow.until(lambda seen: len(seen) >= 3)
        assert first[:3] == [line.strip() for line in drawn[-3:]], (first, drawn)
        assert "● thought about before" not in first
        send(client, agent.id, "think now", wait=False)
        seen = follow.until(lambda seen: "● thought about now" in seen, timeout=15)
        # printed while the answer is still on the agent's screen, not a screen later
        screen = client.call("agent.output", {"agent": agent.id}).text
        assert "● thought about now" in screen and "> think now" in seen
        assert not any("Thinking" in line for line in seen), seen  # 15 spinner ticks, none printed
        assert seen.count("● thought about now") == 1 and "● thought about before" not in seen
    finally:
        follow.stop()


# ---------------------------------------------------------------- doctor


def _doctor_lines(out: str) -> dict[str, str]:
    checks = {}
    for line in out.splitlines():
        m = re.match(r"^([✓✗!-]) ([^:]+): (.*)$", line)
        assert m, line
        checks[m.group(2)] = m.group(1) + " " + m.group(3)
    return checks


def test_doctor_all_good(daemon, caoctl, caoctl_json):
    r = caoctl(daemon, "doctor")
    assert r.returncode == 0, (r.stdout, r.stderr)
    checks = _doctor_lines(r.stdout)
    assert checks["daemon"].startswith("✓ caod ") and f"pid {daemon.pid}" in checks["daemon"]
    assert checks["socket folder"].startswith("✓") and checks["socket"].startswith("✓ ")
    assert checks["home"].startswith("✓")
    assert "tmux" in checks and checks["tmux"][0] in "✓!"
    assert checks["provider scripted"].startswith("✓")
    assert "provider claude_code" in checks and "provider codex" in checks
    assert checks["python"].startswith("✓") and "rich" in checks["caod"]
    data = caoctl_json(daemon, "doctor")
    assert all(set(c) == {"check", "ok", "level", "detail", "hint"} for c in data)
    assert all(c["ok"] for c in data)
    assert {c["check"]: c["level"] for c in data}["daemon"] == "ok"


def test_doctor_asks_provider_clis_for_their_version_only(daemon_factory, caoctl, tmp_path):
    calls = tmp_path / "calls"
    for binary, body in (("claude", 'echo "2.0.1 (Claude Code)"'), ("codex", 'echo "boom" >&2; exit 3')):
        script = tmp_path / binary
        script.write_text(f'#!/bin/sh\necho "{binary} $*" >> {calls}\n{body}\n')
        script.chmod(0o755)
    daemon = daemon_factory.new(start=False)  # the CLIs are on the daemon's PATH: where spawn finds them
    daemon.env["PATH"] = f"{tmp_path}:{daemon.env.get('PATH', '')}"
    daemon.start()
    r = caoctl(daemon, "doctor", env={**daemon.env, "PATH": os.environ.get("PATH", "")})
    assert r.returncode == 0, (r.stdout, r.stderr)  # a CLI that fails --version is a warning
    checks = _doctor_lines(r.stdout)
    assert checks["provider claude_code"] == f"✓ 2.0.1 (Claude Code) ({tmp_path / 'claude'})"
    assert checks["provider codex"].startswith("! --version exited 3: boom")
    assert "providers" not in checks  # one real CLI answered
    assert sorted(calls.read_text().splitlines()) == ["claude --version", "codex --version"]


def test_doctor_finds_an_open_socket_folder(daemon, caoctl, caoctl_json):
    os.chmod(daemon.socket_dir, 0o755)
    try:
        r = caoctl(daemon, "doctor")
        assert r.returncode == 1
        line = next(x for x in r.stdout.splitlines() if x.startswith("✗ socket folder"))
        assert "0755" in line and f"chmod 700 {daemon.socket_dir}" in line
        assert "problem" in r.stderr and "Traceback" not in r.stderr
        r = caoctl(daemon, "doctor", "--json")
        assert r.returncode == 1
        bad = [c for c in json.loads(r.stdout) if not c["ok"]]
        assert [c["check"] for c in bad] == ["socket folder"] and bad[0]["level"] == "error"
    finally:
        os.chmod(daemon.socket_dir, 0o700)


def test_doctor_agrees_with_the_daemon_on_shared_sticky_folders_and_open_homes(daemon_factory, caoctl):
    d = daemon_factory.new(start=False)
    os.chmod(d.socket_dir, 0o1777)  # like /tmp: the daemon allows it, so doctor does too
    d.start()
    checks = _doctor_lines(caoctl(d, "doctor").stdout)
    assert checks["socket folder"].startswith("✓") and "shared and sticky" in checks["socket folder"]
    os.chmod(d.home, 0o755)  # the daemon would refuse this home at its next start
    try:
        r = caoctl(d, "doctor")
        assert r.returncode == 1
        assert _doctor_lines(r.stdout)["home"].startswith(f"✗ {d.home} is 0755")
        assert f"chmod 700 {d.home}" in _doctor_lines(r.stdout)["home"]
    finally:
        os.chmod(d.home, 0o700)


def test_doctor_daemon_down(daemon, caoctl):
    daemon.stop()
    r = caoctl(daemon, "doctor")
    assert r.returncode == 1
    checks = _doctor_lines(r.stdout)
    assert checks["daemon"].startswith("✗ no daemon answers") and "caoctl daemon start" in checks["daemon"]


# ---------------------------------------------------------------- completion


def test_completion_scripts(daemon, caoctl):
    marks = {"bash": "complete -o nosort -F _caoctl_completion caoctl", "zsh": "#compdef caoctl",
             "fish": "complete --no-files --command caoctl"}
    for shell, mark in marks.items():
        r = caoctl(daemon, "completion", shell)
        assert r.returncode == 0, r.stderr
        assert mark in r.stdout and "_CAOCTL_COMPLETE" in r.stdout, r.stdout
    assert caoctl(daemon, "completion", "tcsh").returncode == 2


def _complete(daemon, words: str, cword: int) -> subprocess.CompletedProcess:
    env = {**daemon.env, "_CAOCTL_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return subprocess.run(_caoctl_argv(), env=env, capture_output=True, text=True, timeout=30)


def test_dynamic_completion_of_agent_ids(daemon, caoctl):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--name", "comp", "--wait").stdout.strip()
    r = _complete(daemon, "caoctl attach ", 2)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"plain,{agent}", "plain,comp"]
    for cmd in ("send", "status", "kill", "output", "wait"):
        assert f"plain,{agent}" in _complete(daemon, f"caoctl {cmd} ", 2).stdout, cmd
    assert _complete(daemon, "caoctl status co", 2).stdout.splitlines() == ["plain,comp"]
    assert "plain,attach" in _complete(daemon, "caoctl att", 1).stdout  # commands complete too
    daemon.stop()
    r = _complete(daemon, "caoctl attach ", 2)  # no daemon: no completions and no error
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr == ""


def test_completion_of_providers_profiles_and_agents(daemon, caoctl):
    agent = caoctl(daemon, "spawn", "-p", "scripted", "--name", "comp", "--wait").stdout.strip()
    providers = _complete(daemon, "caoctl spawn -p ", 3).stdout.splitlines()
    assert "plain,scripted" in providers and "plain,claude_code" in providers, providers
    assert _complete(daemon, "caoctl launch --provider qw", 3).stdout.splitlines() == ["plain,qwen_code"]
    assert _complete(daemon, "caoctl provider classify --provider scr", 4).stdout.splitlines() == ["plain,scripted"]
    assert _complete(daemon, "caoctl launch --agents ", 3).stdout.splitlines() == [
        "plain,code_supervisor", "plain,developer", "plain,reviewer"]
    assert _complete(daemon, "caoctl profile show dev", 3).stdout.splitlines() == ["plain,developer"]
    assert _complete(daemon, "caoctl events --agent co", 3).stdout.splitlines() == ["plain,comp"]
    assert f"plain,{agent}" in _complete(daemon, "caoctl session send crew hi --agent ", 6).stdout


def test_help_lists_every_command_whole(caoctl, daemon):
    listing = caoctl(daemon, "--help").stdout
    hook = next(line for line in listing.splitlines() if line.strip().startswith("hook "))
    assert "Report an agent CLI's own event" in hook and not hook.rstrip().endswith("(e.g."), hook
    text = caoctl(daemon, "hook", "--help", env={**daemon.env, "COLUMNS": "80"}).stdout
    assert "caoctl hook Stop" in text and "caoctl hook notify PAYLOAD" in text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_watch_names_a_notice_and_a_stall():
    from caoctl.commands.watch import event_text
    from caod.protocol import Event
    from caod.status import EventKind

    notice = Event(7, 0.0, EventKind.MESSAGE, "sup1", detail={"id": 3, "from": "caod", "state": "queued",
                                                                "notice": "waiting", "worker": "w1"})
    assert event_text(notice) == "notice waiting about w1"
    plain = Event(8, 0.0, EventKind.MESSAGE, "sup1", detail={"id": 4, "from": "w1", "state": "queued"})
    assert event_text(plain) == "message queued"
    assert event_text(Event(9, 0.0, EventKind.STALLED, "w1", detail={"after_s": 1.0})) == "stalled"
